"""Pure inventory rules: plain values in, a value or ValidationError(code=...) out."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

TICKET_SLA = dt.timedelta(hours=24)
WEEKDAYS_SCHOOL = (0, 1, 2, 3, 4)


def check_opening_hours(ranges: Iterable[tuple[int, dt.time, dt.time]]) -> list[tuple[int, dt.time, dt.time]]:
    """Weekday 0..6 (Monday = 0), start < end, no two ranges of one weekday overlap.

    Touching ranges (08:00-12:00, 12:00-17:00) are fine. Returns the ranges sorted.
    Raises code='invalid_opening_hours' naming the offending range.
    """
    ranges = sorted(ranges)
    for weekday, start, end in ranges:
        if not 0 <= weekday <= 6:
            raise ValidationError(
                _("Weekday must be 0 (Monday) to 6 (Sunday), not %(weekday)s.") % {"weekday": weekday},
                code="invalid_opening_hours",
            )
        if start >= end:
            raise ValidationError(
                _("Opening hours on weekday %(weekday)s end (%(end)s) before they start (%(start)s).")
                % {"weekday": weekday, "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"},
                code="invalid_opening_hours",
            )
    for (w1, s1, e1), (w2, s2, e2) in itertools.pairwise(ranges):
        if w1 == w2 and s2 < e1:
            raise ValidationError(
                _("Opening hours on weekday %(weekday)s overlap: %(a)s and %(b)s.")
                % {"weekday": w1, "a": f"{s1:%H:%M}-{e1:%H:%M}", "b": f"{s2:%H:%M}-{e2:%H:%M}"},
                code="invalid_opening_hours",
            )
    return ranges


def default_opening_hours(
    periods: Sequence[tuple[int, dt.time, dt.time]],
) -> list[tuple[int, dt.time, dt.time]]:
    """The owner school's bell-schedule day, Monday to Friday: first period start to last period end."""
    if not periods:
        return []
    start = min(p[1] for p in periods)
    end = max(p[2] for p in periods)
    return [(weekday, start, end) for weekday in WEEKDAYS_SCHOOL]


def ticket_due_at(reported_at: dt.datetime) -> dt.datetime:
    """Source document 5.4: faults are repaired within 24 hours of the report."""
    return reported_at + TICKET_SLA


def is_within_sla(reported_at: dt.datetime, resolved_at: dt.datetime | None, now: dt.datetime) -> bool | None:
    """True/False once decided; None while open and not yet due."""
    due = ticket_due_at(reported_at)
    if resolved_at is not None:
        return resolved_at <= due
    return False if now > due else None


@dataclass(frozen=True)
class Adapter:
    code: str
    plugs_into: str
    offers: str


@dataclass
class Compatibility:
    """Answer to "can this item work in that space?"."""

    compatible: bool
    missing: list[str] = field(default_factory=list)
    # missing interface -> adapter codes that would bridge it from something the space has
    bridges: dict[str, list[str]] = field(default_factory=dict)
    unbridgeable: list[str] = field(default_factory=list)

    @property
    def compatible_with_adapters(self) -> bool:
        return not self.unbridgeable


def compatibility(
    requires: Iterable[str], provides: Iterable[str], adapters: Iterable[Adapter]
) -> Compatibility:
    """Which required interfaces the space lacks, and which single adapters bridge each gap.

    An adapter bridges a missing interface X when it offers X and plugs into an interface the
    space provides. Adapters are not chained: a chain of converters is not a classroom fix.
    """
    provides = set(provides)
    missing = sorted(set(requires) - provides)
    adapters = list(adapters)
    bridges: dict[str, list[str]] = {}
    unbridgeable: list[str] = []
    for need in missing:
        found = sorted(a.code for a in adapters if a.offers == need and a.plugs_into in provides)
        if found:
            bridges[need] = found
        else:
            unbridgeable.append(need)
    return Compatibility(compatible=not missing, missing=missing, bridges=bridges, unbridgeable=unbridgeable)


def check_kit_fields(*, kind: str, transit_buffer_minutes: int, kit_type_category: str | None) -> None:
    """Transit buffer and kit type belong to mobile kits only; a kit type must be a 'kit' item."""
    if kind != "mobile_kit":
        if transit_buffer_minutes:
            raise ValidationError(
                {
                    "transit_buffer_minutes": ValidationError(
                        _("Only mobile kits have a transit buffer."), code="invalid"
                    )
                }
            )
        if kit_type_category is not None:
            raise ValidationError(
                {"kit_type": ValidationError(_("Only mobile kits have a kit type."), code="invalid")}
            )
    elif kit_type_category is not None and kit_type_category != "kit":
        raise ValidationError(
            {
                "kit_type": ValidationError(
                    _("A kit type must be a catalogue item of category 'kit'."), code="invalid"
                )
            }
        )


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """Escape a cell that a spreadsheet would run as a formula (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
