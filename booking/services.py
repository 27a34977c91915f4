"""Every write to bookings. One transaction per use case: lock, check, write, record history.

No double booking is guaranteed in two layers: the service locks the resource row and checks
for an overlapping active booking before inserting; on PostgreSQL an exclusion constraint over
(resource, [block_start, block_end)) for the active statuses is the last guard (migration 0003).
On SQLite the IMMEDIATE transaction serialises writers, so the check cannot race.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from equipment.models import Resource
from schools.models import ClassPeriod, School, TeacherQualification, User
from schools.rules import parse_periods

from . import rules
from .calendar import day_rules_for, local_tz, month_bounds
from .models import (
    ACTIVE_STATUSES,
    Booking,
    BookingEvent,
    BookingStatus,
    Closure,
    EquitySettings,
    SchoolQuota,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 5
# PostgreSQL SQLSTATEs worth retrying: deadlock_detected, serialization_failure.
RETRYABLE = {"40P01", "40001"}
EXCLUSION_VIOLATION = "23P01"


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)


def conflict_error() -> ValidationError:
    return ValidationError(_("That time is already taken for this resource."), code="conflict")


def with_retries(fn: Callable[[], T]) -> T:
    """Run a transaction function, retrying deadlocks and serialization failures a few times.

    Concurrent inserts into an exclusion-constrained table can deadlock (~0.25-1 % on a hot
    resource, measured here); the exclusion violation itself is a lost race: 409 conflict.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return fn()
        except IntegrityError as exc:
            if _sqlstate(exc) == EXCLUSION_VIOLATION:
                raise conflict_error() from None
            raise
        except OperationalError as exc:
            state = _sqlstate(exc)
            locked = "database is locked" in str(exc)  # SQLite busy beyond its timeout
            if (state in RETRYABLE or locked) and attempt < MAX_ATTEMPTS:
                time.sleep(0.005 * attempt)
                continue
            if state in RETRYABLE or locked:
                raise conflict_error() from None
            raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class TimeRequest:
    start: dt.datetime
    end: dt.datetime
    periods: str = ""


def resolve_periods(*, resource: Resource, date: dt.date, periods: str) -> TimeRequest:
    """'5-6' on a date -> [start of period 5, end of period 6) in the resource's school's bell schedule."""
    try:
        first, last = parse_periods(periods)
    except ValidationError as exc:
        raise ValidationError({"periods": exc}) from None
    rows = {
        p.number: p
        for p in ClassPeriod.objects.filter(school_id=resource.school_id, number__in=(first, last))
    }
    missing = [n for n in (first, last) if n not in rows]
    if missing:
        raise ValidationError(
            {
                "periods": ValidationError(
                    _("%(school)s has no period %(number)s.")
                    % {"school": resource.school.name, "number": missing[0]},
                    code="unknown_period",
                )
            }
        )
    tz = local_tz()
    start = dt.datetime.combine(date, rows[first].start, tzinfo=tz)
    end = dt.datetime.combine(date, rows[last].end, tzinfo=tz)
    return TimeRequest(start=start, end=end, periods=f"{first}-{last}" if first != last else str(first))


def _qualifications_of(user: User) -> dict[str, dt.date | None]:
    return dict(
        TeacherQualification.objects.filter(user=user).values_list("qualification__code", "expires_on")
    )


def quota_hours_for(school: School, equity: EquitySettings) -> int:
    override = SchoolQuota.objects.filter(school=school).values_list("monthly_hours", flat=True).first()
    return equity.monthly_quota_hours if override is None else override


def external_minutes_in_month(school_id: int, when: dt.datetime, *, exclude_pk: int | None = None) -> int:
    """Minutes of a school's external bookings (holding or used) starting in `when`'s local month."""
    month_start, month_end = month_bounds(when)
    qs = Booking.objects.filter(
        school_id=school_id,
        is_external=True,
        start__gte=month_start,
        start__lt=month_end,
        status__in=[*ACTIVE_STATUSES, BookingStatus.COMPLETED],
    )
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return int(sum((e - s).total_seconds() for s, e in qs.values_list("start", "end")) // 60)


def check_booking_rules(
    *,
    actor: User,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    class_size: int,
    now: dt.datetime,
    equity: EquitySettings,
) -> None:
    """Every rule that needs no lock, evaluated together so the answer lists every reason."""
    school = actor.school
    is_owner = school is not None and school.pk == resource.school_id
    is_county = school is not None and school.district.kind == "county"
    horizon = rules.advance_horizon_days(
        is_owner=is_owner,
        is_county=is_county,
        resource_days=resource.max_advance_days,
        resource_county_days=resource.county_advance_days,
        urban_days=equity.urban_advance_days,
        county_days=equity.county_advance_days,
    )
    rules.check_range(start, end, now)  # nothing else makes sense on a reversed range
    tz = local_tz()
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    day = local_start.date()
    day_rule = day_rules_for(resource, day, day)[day]
    weekly: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for h in resource.opening_hours.all():
        weekly.setdefault(h.weekday, []).append((h.start, h.end))
    ranges = rules.opening_ranges_for(
        day,
        day_rule,
        weekly,
        adjusted_mode=equity.adjusted_day_mode,
        adjusted_weekday=equity.adjusted_day_weekday,
    )
    qualification = resource.required_qualification
    rules.collect(
        lambda: rules.check_resource_status(resource.status),
        lambda: rules.check_access(
            shared=resource.shared, owner_school_id=resource.school_id, requester_school_id=actor.school_id
        ),
        lambda: rules.check_calendar(day_rule, day, adjusted_mode=equity.adjusted_day_mode),
        lambda: (
            rules.check_opening_hours(local_start, local_end, ranges)
            if ranges or not day_rule.closures
            else None
        ),
        lambda: rules.check_length(start, end, resource.min_minutes, resource.max_minutes),
        lambda: rules.check_notice(start, now, resource.min_notice_hours),
        lambda: rules.check_advance(
            start,
            now,
            horizon,
            is_county=is_county,
            urban_days=equity.urban_advance_days,
            county_days=resource.county_advance_days or equity.county_advance_days,
        ),
        lambda: rules.check_capacity(class_size, resource.capacity),
        lambda: rules.check_qualification(
            qualification.code if qualification else None,
            qualification.name if qualification else "",
            _qualifications_of(actor),
            day,
        ),
    )


def _may_book(actor: User) -> None:
    if not (actor.is_teacher or actor.is_school_admin) or actor.school_id is None:
        raise ValidationError(
            _("Only teachers and school administrators book, for their own school."), code="forbidden"
        )


def _record(
    booking: Booking, *, actor: User | None, from_status: str, to_status: str, reason: str, at: dt.datetime
):
    BookingEvent.objects.create(
        booking=booking, actor=actor, from_status=from_status, to_status=to_status, reason=reason[:500], at=at
    )


def booking_create(
    *,
    actor: User,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    class_size: int,
    purpose: str = "",
    periods: str = "",
    now: dt.datetime | None = None,
) -> Booking:
    """Book a resource for the actor's school. Raises ValidationError with a code per broken rule
    (400), code='conflict' when the time is taken (409), code='forbidden' for the wrong role (403)."""
    now = now or timezone.now()
    _may_book(actor)
    equity = EquitySettings.current()
    resource = (
        Resource.objects.select_related("school", "required_qualification")
        .prefetch_related("opening_hours")
        .get(pk=resource.pk)
    )
    check_booking_rules(
        actor=actor, resource=resource, start=start, end=end, class_size=class_size, now=now, equity=equity
    )
    is_external = actor.school_id != resource.school_id
    block_start, block_end = rules.blocked_range(start, end, resource.transit_buffer_minutes)
    status = BookingStatus.PENDING if (resource.requires_approval and is_external) else BookingStatus.APPROVED

    def attempt() -> Booking:
        with transaction.atomic():
            if is_external:
                quota = quota_hours_for(actor.school, equity)
                if quota:
                    # Lock the requesting school: two teachers of one school share its quota.
                    School.objects.select_for_update().filter(pk=actor.school_id).first()
                    rules.check_quota(
                        used_minutes=external_minutes_in_month(actor.school_id, start),
                        new_minutes=int((end - start).total_seconds() // 60),
                        quota_hours=quota,
                    )
            # Lock the resource row: writers of one resource queue here, readers are not blocked.
            Resource.objects.select_for_update().filter(pk=resource.pk).first()
            clash = Booking.objects.filter(
                resource_id=resource.pk,
                status__in=ACTIVE_STATUSES,
                block_start__lt=block_end,
                block_end__gt=block_start,
            ).exists()
            if clash:
                raise conflict_error()
            booking = Booking(
                resource=resource,
                school_id=actor.school_id,
                booked_by=actor,
                start=start,
                end=end,
                block_start=block_start,
                block_end=block_end,
                class_size=class_size,
                purpose=purpose,
                periods=periods,
                status=status,
                is_external=is_external,
                check_in_code=secrets.token_hex(3).upper(),
            )
            booking.save()
            _record(booking, actor=actor, from_status="", to_status=status, reason="", at=now)
            return booking

    return with_retries(attempt)


# --- transitions ----------------------------------------------------------------------------


def _transition(
    booking: Booking,
    *,
    to: str,
    actor: User | None,
    reason: str,
    now: dt.datetime,
    permitted: Callable[[Booking], bool],
    extra: Callable[[Booking], None] | None = None,
) -> Booking:
    def attempt() -> Booking:
        with transaction.atomic():
            locked = Booking.objects.select_for_update().select_related("resource").get(pk=booking.pk)
            if not permitted(locked):
                raise ValidationError(_("You may not do this to this booking."), code="forbidden")
            rules.check_transition(locked.status, to)
            previous = locked.status
            locked.status = to
            if extra:
                extra(locked)
            locked.save()
            _record(locked, actor=actor, from_status=previous, to_status=to, reason=reason, at=now)
            return locked

    return with_retries(attempt)


def _is_booker(actor: User) -> Callable[[Booking], bool]:
    return lambda b: b.booked_by_id == actor.pk


def _administers_resource(actor: User) -> Callable[[Booking], bool]:
    return lambda b: actor.administers(b.resource.school_id)


def booking_cancel(
    *, actor: User, booking: Booking, reason: str = "", now: dt.datetime | None = None
) -> Booking:
    """The booker, an admin of the booking school, or the resource's admins cancel (with a reason)."""
    now = now or timezone.now()

    def permitted(b: Booking) -> bool:
        return (
            b.booked_by_id == actor.pk
            or actor.administers(b.resource.school_id)
            or actor.administers(b.school_id)
        )

    def not_started(b: Booking) -> None:
        if b.start <= now and b.booked_by_id == actor.pk and not actor.is_centre_admin:
            raise ValidationError(
                _("A booking that has started can no longer be cancelled."), code="invalid_transition"
            )

    return _transition(booking, to=BookingStatus.CANCELLED, actor=actor, reason=reason, now=now,
                       permitted=permitted, extra=not_started)  # fmt: skip


def booking_approve(
    *, actor: User, booking: Booking, reason: str = "", now: dt.datetime | None = None
) -> Booking:
    now = now or timezone.now()
    return _transition(booking, to=BookingStatus.APPROVED, actor=actor, reason=reason, now=now,
                       permitted=_administers_resource(actor))  # fmt: skip


def booking_reject(
    *, actor: User, booking: Booking, reason: str = "", now: dt.datetime | None = None
) -> Booking:
    now = now or timezone.now()
    return _transition(booking, to=BookingStatus.REJECTED, actor=actor, reason=reason, now=now,
                       permitted=_administers_resource(actor))  # fmt: skip


def booking_check_in(
    *, actor: User, booking: Booking, code: str | None = None, now: dt.datetime | None = None
) -> Booking:
    """The booker checks in on arrival; the owner school's admin may confirm with the code."""
    now = now or timezone.now()

    def permitted(b: Booking) -> bool:
        if b.booked_by_id == actor.pk:
            return True
        return actor.administers(b.resource.school_id) and code is not None

    def stamp(b: Booking) -> None:
        if b.booked_by_id != actor.pk and (code or "").strip().upper() != b.check_in_code:
            raise ValidationError({"code": ValidationError(_("Wrong check-in code."), code="wrong_code")})
        rules.check_check_in_window(b.start, b.end, now)
        b.checked_in_at = now

    return _transition(booking, to=BookingStatus.CHECKED_IN, actor=actor, reason="", now=now,
                       permitted=permitted, extra=stamp)  # fmt: skip


def booking_check_out(*, actor: User, booking: Booking, now: dt.datetime | None = None) -> Booking:
    now = now or timezone.now()

    def stamp(b: Booking) -> None:
        b.checked_out_at = now

    return _transition(booking, to=BookingStatus.COMPLETED, actor=actor, reason="", now=now,
                       permitted=_is_booker(actor), extra=stamp)  # fmt: skip


# --- periodic jobs --------------------------------------------------------------------------


def _sweep(qs, *, to: str, reason: str, now: dt.datetime) -> list[int]:
    """Move each booking of `qs` to `to`, claiming each with a conditional update (safe twice)."""
    moved = []
    for pk, previous in list(qs.values_list("pk", "status")):
        with transaction.atomic():
            if Booking.objects.filter(pk=pk, status=previous).update(status=to, updated_at=now):
                BookingEvent.objects.create(
                    booking_id=pk, actor=None, from_status=previous, to_status=to, reason=reason, at=now
                )
                moved.append(pk)
    return moved


def bookings_expire_pending(*, now: dt.datetime | None = None) -> list[int]:
    """Pending requests not decided within the configured time are rejected; the slot frees."""
    now = now or timezone.now()
    hours = EquitySettings.current().pending_expiry_hours
    qs = Booking.objects.filter(status=BookingStatus.PENDING).filter(
        Q(created_at__lt=now - dt.timedelta(hours=hours)) | Q(start__lte=now)
    )
    return _sweep(qs, to=BookingStatus.REJECTED, reason=str(_("Not decided in time; expired.")), now=now)


def bookings_mark_no_show(*, now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    grace = dt.timedelta(minutes=EquitySettings.current().no_show_grace_minutes)
    qs = Booking.objects.filter(status=BookingStatus.APPROVED, start__lt=now - grace)
    return _sweep(
        qs, to=BookingStatus.NO_SHOW, reason=str(_("Not checked in within the grace period.")), now=now
    )


def bookings_complete(*, now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    qs = Booking.objects.filter(status=BookingStatus.CHECKED_IN, end__lte=now)
    return _sweep(qs, to=BookingStatus.COMPLETED, reason=str(_("Ended.")), now=now)


__all__ = [
    "DatabaseError",
    "booking_approve",
    "booking_cancel",
    "booking_check_in",
    "booking_check_out",
    "booking_create",
    "booking_reject",
    "bookings_complete",
    "bookings_expire_pending",
    "bookings_mark_no_show",
]


# --- closures -------------------------------------------------------------------------------


def closure_validate(*, actor: User, closure: Closure) -> None:
    """Centre admins close anything; a school admin closes their own school or its resources."""
    if not actor.is_centre_admin:
        if not actor.is_school_admin:
            raise ValidationError(_("Only administrators set closures."), code="forbidden")
        if closure.scope == Closure.Scope.CITY:
            raise ValidationError(_("Only the sharing centre sets city-wide closures."), code="forbidden")
        target_school = closure.resource.school_id if closure.resource_id else closure.school_id
        if target_school != actor.school_id:
            raise ValidationError(_("You may only close your own school or its resources."), code="forbidden")
    closure.full_clean()


@transaction.atomic
def closure_create(*, actor: User, data: dict) -> Closure:
    closure = Closure(created_by=actor, **data)
    closure_validate(actor=actor, closure=closure)
    closure.save()
    return closure


@transaction.atomic
def closure_delete(*, actor: User, closure: Closure) -> None:
    target_school = closure.resource.school_id if closure.resource_id else closure.school_id
    if not (
        actor.is_centre_admin
        or (actor.is_school_admin and closure.scope != "city" and target_school == actor.school_id)
    ):
        raise ValidationError(_("You may not remove this closure."), code="forbidden")
    closure.delete()
