"""Booking rules: pure functions on plain values, `now` passed in. No ORM, no clock, no settings.

Each check raises django.core.exceptions.ValidationError(message, code=...) with a stable
code; `collect` runs several and raises them together, so a rejection says every reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Bookings further out than this are nonsense whatever a resource's policy says.
ABSOLUTE_HORIZON = dt.timedelta(days=400)


def overlaps(a_start: dt.datetime, a_end: dt.datetime, b_start: dt.datetime, b_end: dt.datetime) -> bool:
    """Half-open ranges: [08:00, 09:00) and [09:00, 10:00) do not overlap."""
    return a_start < b_end and b_start < a_end


def blocked_range(
    start: dt.datetime, end: dt.datetime, buffer_minutes: int
) -> tuple[dt.datetime, dt.datetime]:
    """The range kept free for a booking: a mobile kit travels before and after (source doc 7.3)."""
    buffer = dt.timedelta(minutes=buffer_minutes)
    return start - buffer, end + buffer


def collect(*checks: Callable[[], object]) -> None:
    """Run every check; raise one ValidationError carrying all the failures, in order."""
    errors: list[ValidationError] = []
    for check in checks:
        try:
            check()
        except ValidationError as exc:
            errors.extend(exc.error_list)
    if errors:
        raise ValidationError(errors)


def _fmt(value: dt.datetime | dt.time) -> str:
    return value.strftime("%H:%M") if isinstance(value, dt.time) else value.strftime("%Y-%m-%d %H:%M")


def check_range(start: dt.datetime, end: dt.datetime, now: dt.datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError(_("Times must carry a time zone."), code="invalid_range")
    if end <= start:
        raise ValidationError(_("The end must be after the start."), code="invalid_range")
    if start > now + ABSOLUTE_HORIZON:
        raise ValidationError(_("That is too far in the future to book."), code="too_far_ahead")
    if end <= now:
        raise ValidationError(_("That time is in the past."), code="in_past")


def check_length(start: dt.datetime, end: dt.datetime, min_minutes: int, max_minutes: int) -> None:
    minutes = (end - start).total_seconds() / 60
    if minutes < min_minutes:
        raise ValidationError(
            _("A booking of this resource lasts at least %(min)s minutes.") % {"min": min_minutes},
            code="too_short",
        )
    if minutes > max_minutes:
        raise ValidationError(
            _("A booking of this resource lasts at most %(max)s minutes.") % {"max": max_minutes},
            code="too_long",
        )


def check_notice(start: dt.datetime, now: dt.datetime, min_notice_hours: int) -> None:
    if start < now + dt.timedelta(hours=min_notice_hours):
        raise ValidationError(
            _("This resource must be booked at least %(hours)s hours ahead.") % {"hours": min_notice_hours},
            code="insufficient_notice",
        )


def advance_horizon_days(
    *, is_owner: bool, is_county: bool, resource_days: int, resource_county_days: int | None,
    urban_days: int, county_days: int,
) -> int:  # fmt: skip
    """How many days ahead this requester may book (source document 2.1, 5.2: county priority).

    The owner school: the resource's own horizon. Urban schools: no further than the city's urban
    window. County schools: at least the county window (the resource's own, else the city's).
    """
    if is_owner:
        return resource_days
    if is_county:
        return max(resource_days, resource_county_days or county_days)
    return min(resource_days, urban_days)


def check_advance(
    start: dt.datetime,
    now: dt.datetime,
    horizon_days: int,
    *,
    is_county: bool,
    urban_days: int,
    county_days: int,
) -> None:
    if start > now + dt.timedelta(days=horizon_days):
        raise ValidationError(
            _(
                "You may book at most %(days)s days ahead (county schools %(county)s days, "
                "urban schools %(urban)s days: the county priority window)."
            )
            % {"days": horizon_days, "county": county_days, "urban": urban_days},
            code="too_far_ahead",
        )


def check_capacity(class_size: int, capacity: int) -> None:
    if class_size < 1:
        raise ValidationError(_("A class has at least one student."), code="invalid_class_size")
    if class_size > capacity:
        raise ValidationError(
            _("This resource holds %(capacity)s students; the class has %(size)s.")
            % {"capacity": capacity, "size": class_size},
            code="over_capacity",
        )


def not_shared_error() -> ValidationError:
    return ValidationError(_("This resource is not open to other schools."), code="not_shared")


def check_access(*, shared: bool, owner_school_id: int, requester_school_id: int | None) -> None:
    if not shared and owner_school_id != requester_school_id:
        raise not_shared_error()


def check_resource_status(status: str) -> None:
    if status == "maintenance":
        raise ValidationError(_("This resource is out of service for maintenance."), code="in_maintenance")
    if status != "active":
        raise ValidationError(_("This resource is no longer in use."), code="resource_retired")


def check_qualification(
    required: str | None, required_name: str, held: Mapping[str, dt.date | None], on: dt.date
) -> None:
    """`held` maps qualification code to its expiry date (None: never expires)."""
    if not required:
        return
    if required not in held:
        raise ValidationError(
            _("Booking this resource needs the qualification “%(name)s”.") % {"name": required_name},
            code="qualification_required",
        )
    expires = held[required]
    if expires is not None and expires < on:
        raise ValidationError(
            _("Your qualification “%(name)s” expired on %(date)s.")
            % {"name": required_name, "date": expires},
            code="qualification_expired",
        )


@dataclass(frozen=True)
class DayRule:
    """What the calendar says about one local date, as plain values for the rules."""

    kind: str  # workday | weekend | holiday | adjusted_workday
    name: str = ""
    closures: tuple[str, ...] = ()  # reasons of closures covering the date


def opening_ranges_for(
    day: dt.date,
    rule: DayRule,
    weekly: Mapping[int, Sequence[tuple[dt.time, dt.time]]],
    *,
    adjusted_mode: str,
    adjusted_weekday: int,
) -> list[tuple[dt.time, dt.time]]:
    """The opening ranges of one date after the calendar: none on a statutory holiday; a
    调休 working weekend day opens like `adjusted_weekday` (or not at all, as the centre sets)."""
    weekday = hours_weekday_for(day, rule, adjusted_mode=adjusted_mode, adjusted_weekday=adjusted_weekday)
    return [] if weekday is None else list(weekly.get(weekday, ()))


def hours_weekday_for(
    day: dt.date, rule: DayRule, *, adjusted_mode: str, adjusted_weekday: int
) -> int | None:
    """Whose weekly opening hours a date uses (Monday = 0), or None when it is closed."""
    if rule.kind == "holiday" or rule.closures:
        return None
    if rule.kind == "adjusted_workday":
        return adjusted_weekday if adjusted_mode == "open" else None
    return day.weekday()


def check_calendar(rule: DayRule, day: dt.date, *, adjusted_mode: str) -> None:
    if rule.kind == "holiday":
        raise ValidationError(
            _("%(date)s is a public holiday (%(name)s).") % {"date": day, "name": rule.name or _("holiday")},
            code="closed",
        )
    if rule.closures:
        raise ValidationError(
            _("Closed on %(date)s: %(reason)s.") % {"date": day, "reason": "; ".join(rule.closures)},
            code="closed",
        )
    if rule.kind == "adjusted_workday" and adjusted_mode != "open":
        raise ValidationError(
            _("%(date)s is an adjusted working day; the centre does not open resources on it.")
            % {"date": day},
            code="closed",
        )


def check_opening_hours(
    local_start: dt.datetime, local_end: dt.datetime, ranges: Iterable[tuple[dt.time, dt.time]]
) -> None:
    """The booking lies inside one opening range of its (local) day."""
    ranges = list(ranges)
    if local_start.date() != local_end.date() and not (
        local_end.time() == dt.time(0) and local_end.date() == local_start.date() + dt.timedelta(days=1)
    ):
        raise ValidationError(
            _("A booking must start and end on the same day."), code="outside_opening_hours"
        )
    start_t = local_start.time()
    end_t = local_end.time() if local_end.date() == local_start.date() else dt.time.max
    for open_t, close_t in ranges:
        if open_t <= start_t and end_t <= close_t:
            return
    if not ranges:
        raise ValidationError(
            _("This resource is not open on %(date)s.") % {"date": local_start.date()},
            code="outside_opening_hours",
        )
    hours = ", ".join(f"{_fmt(a)}-{_fmt(b)}" for a, b in ranges)
    raise ValidationError(
        _("Outside opening hours (open %(hours)s).") % {"hours": hours}, code="outside_opening_hours"
    )


def check_quota(*, used_minutes: int, new_minutes: int, quota_hours: int) -> None:
    """A school's external bookings in one month stay within its quota (0 = no quota)."""
    if quota_hours and used_minutes + new_minutes > quota_hours * 60:
        remaining = max(0, quota_hours * 60 - used_minutes)
        raise ValidationError(
            _(
                "Your school's quota of %(quota)s hours of external bookings this month would be exceeded "
                "(%(remaining)s minutes left)."
            )
            % {"quota": quota_hours, "remaining": remaining},
            code="quota_exceeded",
        )


# Status machine. Completed/no_show/rejected/cancelled are final.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "held": frozenset({"approved", "pending", "cancelled"}),
    "pending": frozenset({"approved", "rejected", "cancelled"}),
    "approved": frozenset({"cancelled", "checked_in", "no_show", "completed"}),
    "checked_in": frozenset({"completed"}),
    "rejected": frozenset(),
    "cancelled": frozenset(),
    "completed": frozenset(),
    "no_show": frozenset(),
}


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise ValidationError(
            _("A booking that is %(current)s cannot become %(target)s.")
            % {"current": current, "target": target},
            code="invalid_transition",
        )


def check_check_in_window(
    start: dt.datetime, end: dt.datetime, now: dt.datetime, early_minutes: int = 30
) -> None:
    if now < start - dt.timedelta(minutes=early_minutes):
        raise ValidationError(
            _("Check-in opens %(minutes)s minutes before the start.") % {"minutes": early_minutes},
            code="too_early",
        )
    if now >= end:
        raise ValidationError(_("This booking has already ended."), code="invalid_transition")
