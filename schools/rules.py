"""Pure rules about schools and accounts: plain values in, ValidationError out."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

TEACHER = "teacher"
SCHOOL_ADMIN = "school_admin"
CENTRE_ADMIN = "centre_admin"
ANALYST = "analyst"
SCHOOL_ROLES = frozenset({TEACHER, SCHOOL_ADMIN})


def check_user_management(
    *, actor_role: str, actor_school_id: int | None, target_role: str, target_school_id: int | None
) -> None:
    """May an actor create or manage an account with this role and school?

    Centre admins manage every account; school admins only teachers of their own school.
    Raises code='forbidden' otherwise, and code='school_required' for school staff without one.
    """
    if target_role in SCHOOL_ROLES and target_school_id is None:
        raise ValidationError(
            {
                "school": ValidationError(
                    _("Teachers and school administrators must belong to a school."), code="school_required"
                )
            }
        )
    if actor_role == CENTRE_ADMIN:
        return
    if actor_role == SCHOOL_ADMIN:
        if target_role != TEACHER:
            raise ValidationError(
                {
                    "role": ValidationError(
                        _("School administrators may only manage teacher accounts."), code="forbidden"
                    )
                }
            )
        if target_school_id != actor_school_id:
            raise ValidationError(
                {
                    "school": ValidationError(
                        _("School administrators may only manage their own school's teachers."),
                        code="forbidden",
                    )
                }
            )
        return
    raise ValidationError(_("You may not manage user accounts."), code="forbidden")


def check_bell_schedule(periods: Sequence[tuple[int, dt.time, dt.time]]) -> None:
    """Periods have distinct numbers 1..20, start before they end, and do not overlap in time.

    Raises code='invalid_schedule' naming the first offending period.
    """
    seen: set[int] = set()
    for number, start, end in periods:
        if not 1 <= number <= 20:
            raise ValidationError(
                _("Period numbers run from 1 to 20 (got %(number)s).") % {"number": number},
                code="invalid_schedule",
            )
        if number in seen:
            raise ValidationError(
                _("Period %(number)s appears twice.") % {"number": number}, code="invalid_schedule"
            )
        seen.add(number)
        if start >= end:
            raise ValidationError(
                _("Period %(number)s ends before it starts.") % {"number": number},
                code="invalid_schedule",
            )
    by_number = sorted(periods)
    for (n1, _s1, e1), (n2, s2, _e2) in itertools.pairwise(by_number):
        if s2 < e1:
            raise ValidationError(
                _("Period %(second)s starts before period %(first)s ends.") % {"first": n1, "second": n2},
                code="invalid_schedule",
            )


def parse_periods(text: str) -> tuple[int, int]:
    """'5-6' -> (5, 6); '3' -> (3, 3). Raises code='invalid_periods'."""
    text = (text or "").strip()
    parts = text.split("-")
    try:
        if len(parts) == 1:
            first = last = int(parts[0])
        elif len(parts) == 2:
            first, last = int(parts[0]), int(parts[1])
        else:
            raise ValueError
    except ValueError:
        raise ValidationError(_("Periods are written like '5-6' or '3'."), code="invalid_periods") from None
    if not (1 <= first <= last <= 20):
        raise ValidationError(
            _("Periods are written like '5-6' or '3', first not after last."),
            code="invalid_periods",
        )
    return first, last
