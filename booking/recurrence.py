"""RFC 5545 recurrence for booking series: validated, bounded, expanded in local wall-clock time.

Expansion happens on naive Asia/Shanghai wall-clock datetimes with python-dateutil, and only then
are the occurrences made aware: "Tuesdays 13:30" stays 13:30 in Harbin whatever time zone the
teacher's laptop is in, and would survive a DST rule change. Pure: no ORM, no clock.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from config.api import MAX_YEAR

MAX_OCCURRENCES = 100
MAX_RULE_LENGTH = 500
ALLOWED_FREQUENCIES = {"DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY, "YEARLY": YEARLY}
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)


def _invalid(message: str) -> ValidationError:
    return ValidationError({"rrule": ValidationError(message, code="invalid_rrule")})


def parse_rule(text: str, first_local: dt.datetime, tz: ZoneInfo) -> rrule:
    """Parse an RRULE for a series starting at `first_local` (naive wall-clock time in `tz`).

    Needs COUNT or UNTIL (a date, or a UTC date-time as RFC 5545 allows), a frequency of DAILY or
    slower. Raises code='invalid_rrule' naming the problem.
    """
    if not isinstance(text, str) or not text.strip():
        raise _invalid(_("Give a recurrence rule, e.g. FREQ=WEEKLY;COUNT=8."))
    text = text.strip()
    if len(text) > MAX_RULE_LENGTH:
        raise _invalid(_("The recurrence rule is too long."))
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if "\n" in text or "DTSTART" in text.upper():
        raise _invalid(_("Give only the RRULE part; the first occurrence sets the start."))
    parts = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if not sep or not key or not value:
            raise _invalid(_("“%(part)s” is not NAME=VALUE.") % {"part": part[:40]})
        parts[key.upper()] = value
    freq = parts.get("FREQ", "").upper()
    if freq not in ALLOWED_FREQUENCIES:
        raise _invalid(
            _("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY (got “%(freq)s”).") % {"freq": freq[:20] or "-"}
        )
    if "COUNT" not in parts and "UNTIL" not in parts:
        raise _invalid(_("A series needs COUNT or UNTIL: an endless series cannot be booked."))
    if "COUNT" in parts and "UNTIL" in parts:
        raise _invalid(_("Give COUNT or UNTIL, not both."))

    # RFC 5545 lets UNTIL be a UTC date-time; expansion is on naive local times, so convert it.
    def to_local(match: re.Match) -> str:
        utc = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
        return "UNTIL=" + utc.astimezone(tz).replace(tzinfo=None).strftime("%Y%m%dT%H%M%S")

    try:
        text = _UNTIL_UTC.sub(to_local, text)
        rule = rrulestr(text, dtstart=first_local)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _invalid(
            _("The recurrence rule cannot be read: %(error)s") % {"error": str(exc)[:120]}
        ) from None
    if not isinstance(rule, rrule):
        raise _invalid(_("Give a single RRULE."))
    return rule


def expand(rule: rrule, *, limit: int = MAX_OCCURRENCES) -> list[dt.datetime]:
    """The naive local starts of a parsed rule; raises code='too_many_occurrences' beyond `limit`."""
    starts = []
    for start in rule:
        starts.append(start)
        if len(starts) > limit:
            raise ValidationError(
                {
                    "rrule": ValidationError(
                        _("A series has at most %(limit)s occurrences.") % {"limit": limit},
                        code="too_many_occurrences",
                    )
                }
            )
    if not starts:
        raise _invalid(_("The recurrence rule produces no occurrence."))
    return starts


def occurrences(
    text: str, first_start: dt.datetime, first_end: dt.datetime, tz: ZoneInfo
) -> list[tuple[dt.datetime, dt.datetime]]:
    """[(start, end)] aware, for a series whose first occurrence is [first_start, first_end)."""
    if first_end <= first_start:
        raise ValidationError(
            {"end": ValidationError(_("The end must be after the start."), code="invalid_range")}
        )
    local_first = first_start.astimezone(tz).replace(tzinfo=None)
    local_first_end = first_end.astimezone(tz).replace(tzinfo=None)
    duration = local_first_end - local_first
    rule = parse_rule(text, local_first, tz)
    out = []
    for s in expand(rule):
        # A rule may leap centuries (FREQ=YEARLY;INTERVAL=7973): no booking lies beyond the dates
        # the API accepts, and an end past the year 9999 would not even be a datetime.
        if s.year > MAX_YEAR or (s + duration).year > MAX_YEAR:
            raise _invalid(_("The recurrence rule reaches beyond the year %(year)s.") % {"year": MAX_YEAR})
        out.append((s.replace(tzinfo=tz), (s + duration).replace(tzinfo=tz)))
    return out


def weekdays_of(starts: list[tuple[dt.datetime, dt.datetime]]) -> set[int]:
    return {s.weekday() for s, _e in starts}
