"""Every write to bookings. One transaction per use case: lock, check, write, record history.

No double booking is guaranteed in two layers: the service locks the resource row and checks
for an overlapping active booking before inserting; on PostgreSQL an exclusion constraint over
(resource, [block_start, block_end)) for the active statuses is the last guard (migration 0003).
On SQLite the IMMEDIATE transaction serialises writers, so the check cannot race.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import operator
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import DurationField, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from config.db import STALE_PREPARED, fetch_prepared, model_columns, model_loader, sqlstate
from config.exceptions import busy_error
from equipment.models import Resource
from schools.models import ClassPeriod, School, TeacherQualification, User
from schools.rules import parse_periods

from . import notifications, rules
from .calendar import day_rules_for, local_tz, month_bounds
from .models import (
    ACTIVE_STATUSES,
    Booking,
    BookingEvent,
    BookingStatus,
    Closure,
    EquitySettings,
    SchoolQuota,
    Series,
    UsageDay,
    WaitlistEntry,
)
from .rules import DayRule

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_ATTEMPTS = 5
# PostgreSQL SQLSTATEs worth retrying: deadlock_detected, serialization_failure.
RETRYABLE = {"40P01", "40001"}
EXCLUSION_VIOLATION = "23P01"


def conflict_error() -> ValidationError:
    return ValidationError(_("That time is already taken for this resource."), code="conflict")


def with_retries(fn: Callable[[], T]) -> T:
    """Run a transaction function, retrying deadlocks and serialization failures a few times.

    Concurrent inserts into an exclusion-constrained table can deadlock (~0.25-1 % on a hot
    resource, measured here); the exclusion violation itself is a lost race: 409 conflict. When
    every attempt deadlocks, the answer is `busy` (503), not a false "taken". Inside a caller's
    transaction (a cancellation offering the freed slot to the waitlist, a series, a plan apply)
    there is no retry: that transaction still holds the locks the deadlock was about, so trying
    again could only deadlock again.
    """
    attempts = 1 if connection.in_atomic_block else MAX_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except IntegrityError as exc:
            if sqlstate(exc) == EXCLUSION_VIOLATION:
                raise conflict_error() from None
            raise
        except OperationalError as exc:
            state = sqlstate(exc)
            locked = "database is locked" in str(exc)  # SQLite busy beyond its timeout
            if (state in RETRYABLE or locked) and attempt < attempts:
                time.sleep(0.005 * attempt)
                continue
            if state in RETRYABLE or locked:
                raise busy_error() from None
            raise
        except DatabaseError as exc:
            # A migration changed a table under a prepared statement: the rollback made psycopg
            # forget its statements, the next attempt prepares them afresh (config.db).
            if sqlstate(exc) in STALE_PREPARED and attempt < attempts:
                continue
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


def time_request(
    *,
    resource: Resource,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    date: dt.date | None = None,
    periods: str = "",
) -> TimeRequest:
    """A booking's time as asked: `date` + `periods` read in the resource school's bell schedule,
    else `start` and `end` (the API, the series and the web pages all accept both)."""
    if periods:
        return resolve_periods(resource=resource, date=date, periods=periods)
    return TimeRequest(start=start, end=end)


def _qualifications_of(user: User, qualification_id: int | None) -> dict[str, dt.date | None]:
    if qualification_id is None:
        return {}
    return dict(
        TeacherQualification.objects.filter(user=user, qualification_id=qualification_id).values_list(
            "qualification__code", "expires_on"
        )
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
    # Summed by the database: one row back, however many bookings the school has this month.
    total = qs.aggregate(total=Sum(F("end") - F("start"), output_field=DurationField()))["total"]
    return int(total.total_seconds() // 60) if total else 0


@dataclass(frozen=True)
class DayFacts:
    """What the rules read besides the resource row, for the booking's local start day."""

    day: dt.date
    rule: DayRule
    weekly: dict[int, list[tuple[dt.time, dt.time]]]
    qualifications: dict[str, dt.date | None]  # the actor's (only the required one may be listed)


def day_facts(actor: User, resource: Resource, day: dt.date) -> DayFacts:
    """The ORM way (a few queries); booking_create on PostgreSQL reads the same in one statement."""
    weekly: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for h in resource.opening_hours.all():
        weekly.setdefault(h.weekday, []).append((h.start, h.end))
    return DayFacts(
        day=day,
        rule=day_rules_for(resource, day, day)[day],
        weekly=weekly,
        # Only the required qualification matters (as the one-statement read returns it); no
        # query when the resource needs none.
        qualifications=_qualifications_of(actor, resource.required_qualification_id),
    )


def check_booking_rules(
    *,
    actor: User,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    class_size: int,
    now: dt.datetime,
    equity: EquitySettings,
    facts: DayFacts | None = None,
) -> None:
    """Every rule that needs no lock, evaluated together so the answer lists every reason.
    `facts` (of the local start day) are read here when not given."""
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
    # Another school's private resource is refused for that alone: nothing about its hours,
    # capacity or calendar is told (on PostgreSQL booking_create does not even read it).
    rules.check_access(
        shared=resource.shared, owner_school_id=resource.school_id, requester_school_id=actor.school_id
    )
    rules.check_range(start, end, now)  # nothing else makes sense on a reversed range
    tz = local_tz()
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    day = local_start.date()
    if facts is None or facts.day != day:
        facts = day_facts(actor, resource, day)
    day_rule = facts.rule
    ranges = rules.opening_ranges_for(
        day,
        day_rule,
        facts.weekly,
        adjusted_mode=equity.adjusted_day_mode,
        adjusted_weekday=equity.adjusted_day_weekday,
    )
    qualification = resource.required_qualification
    rules.collect(
        lambda: rules.check_resource_status(resource.status),
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
            facts.qualifications,
            day,
        ),
    )


@dataclass(frozen=True)
class _Locked:
    resource: Resource  # with .school (pk, name) and .required_qualification loaded
    equity: EquitySettings | None  # None: no policy row yet
    facts: DayFacts
    quota_override: int | None  # the requesting school's own monthly hours, if it has one
    language: str | None  # the actor's notification language, if they chose one
    next_id: int  # a fresh booking id from the table's sequence (unused if the booking is refused)


@functools.cache
def _lock_and_read_sql() -> str:
    """One statement for everything booking_create reads on PostgreSQL: the resource row, locked
    FOR NO KEY UPDATE (only that row), its school's name, its qualification, the city policy, and
    for the start day: opening hours, closures, the loaded holiday arrangement, the actor's
    qualification and the requesting school's quota. The ORM needs eight round trips for this, and
    each costs more CPU than the booking's INSERT (docs/benchmarks.md, booking service)."""
    from equipment.models import OpeningHours
    from schools.models import Qualification

    from .models import HolidayYear, NotificationPreference, OfficialDay

    t = {
        m.__name__: m._meta.db_table
        for m in (Resource, School, Qualification, EquitySettings, OpeningHours, Closure, HolidayYear,
                  OfficialDay, TeacherQualification, SchoolQuota, NotificationPreference)
    }  # fmt: skip
    return f"""
SELECT {model_columns(Resource, "r")}, s."name", q."code", q."name", {model_columns(EquitySettings, "e")},
  ARRAY(SELECT concat_ws(',', h."weekday", h."start", h."end") FROM "{t["OpeningHours"]}" h
        WHERE h."resource_id" = r."id" ORDER BY h."weekday", h."start"),
  ARRAY(SELECT c."reason" FROM "{t["Closure"]}" c
        WHERE c."start_date" <= %(day)s AND c."end_date" >= %(day)s
          AND (c."scope" = 'city' OR (c."scope" = 'school' AND c."school_id" = r."school_id")
               OR (c."scope" = 'resource' AND c."resource_id" = r."id"))
        ORDER BY c."start_date", c."id"),
  EXISTS (SELECT 1 FROM "{t["HolidayYear"]}" y WHERE y."year" = %(year)s),
  (SELECT o."kind" FROM "{t["OfficialDay"]}" o WHERE o."date" = %(day)s),
  (SELECT o."name" FROM "{t["OfficialDay"]}" o WHERE o."date" = %(day)s),
  EXISTS (SELECT 1 FROM "{t["TeacherQualification"]}" tq
          WHERE tq."user_id" = %(user)s AND tq."qualification_id" = r."required_qualification_id"),
  (SELECT tq."expires_on" FROM "{t["TeacherQualification"]}" tq
   WHERE tq."user_id" = %(user)s AND tq."qualification_id" = r."required_qualification_id"),
  (SELECT sq."monthly_hours" FROM "{t["SchoolQuota"]}" sq WHERE sq."school_id" = %(requester)s),
  (SELECT p."language" FROM "{t["NotificationPreference"]}" p WHERE p."user_id" = %(user)s),
  nextval(%(sequence)s::regclass)
FROM "{t["Resource"]}" r
JOIN "{t["School"]}" s ON s."id" = r."school_id"
LEFT JOIN "{t["Qualification"]}" q ON q."id" = r."required_qualification_id"
LEFT JOIN "{t["EquitySettings"]}" e ON e."id" = 1
WHERE r."id" = %(resource)s AND (%(any_school)s OR r."shared" OR r."school_id" = %(requester)s)
FOR NO KEY UPDATE OF r
"""


def _lock_and_read_postgres(
    actor: User, resource_pk: int, day: dt.date, *, any_school: bool = True
) -> _Locked:
    """`any_school=False`: another school's private resource is not read at all — not locked, no
    id drawn, no rule run — so that a caller cannot tell it from a resource that does not exist by
    the gap it would leave in the booking ids, by a lock, or by time (the API books without asking
    first whether the caller may see the resource). It is refused as the access rule would."""
    from schools.models import Qualification

    from .holidays import day_info

    params = {
        "resource": resource_pk, "day": day, "year": day.year, "user": actor.pk, "requester": actor.school_id,
        "sequence": _booking_id_sequence(), "any_school": any_school,
    }  # fmt: skip
    rows = fetch_prepared(_lock_and_read_sql(), params)
    row = rows[0] if rows else None
    if row is None:
        if not any_school and Resource.objects.filter(pk=resource_pk).exists():
            raise rules.not_shared_error()
        raise Resource.DoesNotExist("Resource matching query does not exist.")
    n, load_resource = model_loader(Resource)
    m, load_equity = model_loader(EquitySettings)
    resource = load_resource(row[:n])
    school_name, q_code, q_name = row[n : n + 3]
    resource.school = School.from_db(connection.alias, ["id", "name"], [resource.school_id, school_name])
    resource.required_qualification = (
        Qualification.from_db(connection.alias, ["id", "code", "name"],
                              [resource.required_qualification_id, q_code, q_name])
        if resource.required_qualification_id else None
    )  # fmt: skip
    e_values = row[n + 3 : n + 3 + m]
    equity = load_equity(e_values) if e_values[0] is not None else None
    hours, reasons, official_year, official_kind, official_name, held, expires, quota, language, next_id = (
        row[n + 3 + m :]
    )
    weekly: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for text in hours:
        weekday, opens, closes = text.split(",")
        weekly.setdefault(int(weekday), []).append(
            (dt.time.fromisoformat(opens), dt.time.fromisoformat(closes))
        )
    info = day_info(
        day,
        {day: (official_kind, official_name)} if official_kind else {},
        {day.year} if official_year else set(),
    )
    facts = DayFacts(
        day=day,
        rule=DayRule(kind=info.kind, name=info.name, closures=tuple(reasons)),
        weekly=weekly,
        qualifications={q_code: expires} if held else {},
    )
    return _Locked(
        resource=resource,
        equity=equity,
        facts=facts,
        quota_override=quota,
        language=language,
        next_id=next_id,
    )


@functools.cache
def _booking_id_sequence() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Booking._meta.db_table])
        return cursor.fetchone()[0]


def _fields(model, with_pk: bool) -> list:
    return [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]


# Field types whose Python value psycopg writes as Django would (get_db_prep_save returns it as it
# is on PostgreSQL); any other type goes through get_db_prep_save (datetimes too: a naive one is
# read in the current time zone there, with a warning).
_PLAIN_TYPES = frozenset(
    {"AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField", "ForeignKey",
     "IntegerField", "PositiveIntegerField", "TextField"}
)  # fmt: skip


@functools.cache
def _writers(model, with_pk: bool) -> tuple:
    out = []
    for f in _fields(model, with_pk):
        automatic = getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        if f.get_internal_type() in _PLAIN_TYPES and not automatic:
            out.append(operator.attrgetter(f.attname))
        elif f.get_internal_type() == "DateTimeField" and not automatic:
            out.append(_aware_or_through_django(f))
        else:
            out.append(_through_django(f))
    return tuple(out)


def _through_django(field):
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), connection)


def _aware_or_through_django(field):
    """An aware datetime (or None) as it is, as Django would write it; a naive one through Django."""
    attname, slow = field.attname, _through_django(field)

    def write(obj):
        value = getattr(obj, attname)
        return value if value is None or value.tzinfo is not None else slow(obj)

    return write


def _cast(field) -> str:
    return "varchar" if field.get_internal_type() == "CharField" else field.cast_db_type(connection)


def _insert_values(obj, *, with_pk: bool) -> list:
    """A new instance's row as its INSERT would write it (defaults, auto_now, foreign key ids).
    The booking path writes three rows per booking: the generic get_db_prep_save for every field
    was a sixth of its Python CPU."""
    return [write(obj) for write in _writers(type(obj), with_pk)]


@functools.cache
def _insert_booking_sql(notifications_count: int) -> str:
    """One statement writes a new booking (its id drawn beforehand), its history row and its
    notification rows, unless a committed active booking overlaps it: then it writes nothing.
    (As three ORM INSERTs and an overlap read it was four round trips, and more CPU than every
    rule together: docs/benchmarks.md, booking service.)"""
    from .models import Notification

    def row(model, with_pk: bool = False):
        fields = _fields(model, with_pk)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        # Cast to the type without its length: varchar(500) would cut a longer value silently,
        # plain varchar leaves the column to refuse it, as an ORM INSERT does.
        values = ", ".join(f"%s::{_cast(f)}" for f in fields)
        return connection.ops.quote_name(model._meta.db_table), columns, values

    active = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
    bt, bc, bv = row(Booking, with_pk=True)
    et, ec, ev = row(BookingEvent)
    sql = f"""WITH b AS (
    INSERT INTO {bt} ({bc}) SELECT {bv}
    WHERE NOT EXISTS (SELECT 1 FROM {bt} x WHERE x."resource_id" = %s AND x."status" IN ({active})
                      AND x."block_start" < %s AND x."block_end" > %s)
    RETURNING "id"),
  e AS (INSERT INTO {et} ({ec}) SELECT {ev} FROM b)"""
    if not notifications_count:
        return sql + "\nSELECT (SELECT count(*) FROM b), ARRAY[]::text[]"
    nt, nc, nv = row(Notification)
    selects = " UNION ALL ".join(f"SELECT {nv} FROM b" for _ in range(notifications_count))
    return (
        sql
        + f""",
  n AS (INSERT INTO {nt} ({nc}) {selects} RETURNING "id", "dedupe_key")
SELECT (SELECT count(*) FROM b), ARRAY(SELECT concat_ws(' ', "id", "dedupe_key") FROM n)"""
    )


def _insert_booking_postgres(booking: Booking, event: BookingEvent, rows: list) -> bool:
    """Write the booking, its history row and its notification rows in one statement. False, with
    nothing written, when a committed active booking overlaps; an uncommitted one is left to the
    exclusion constraint (23P01). Saved instances get their ids."""
    params = _insert_values(booking, with_pk=True)
    params += [booking.resource_id, booking.block_end, booking.block_start]
    params += _insert_values(event, with_pk=False)
    for n in rows:
        params += _insert_values(n, with_pk=False)
    [(written, ids)] = fetch_prepared(_insert_booking_sql(len(rows)), params)
    if not written:
        return False
    ids_by_key = {key: int(pk) for pk, key in (text.split(" ", 1) for text in ids)}  # "id dedupe_key"
    for obj in (booking, *rows):
        obj._state.adding, obj._state.db = False, connection.alias
    for n in rows:
        n.pk = ids_by_key[n.dedupe_key]
    return True


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
    _usage_changed(booking.start, booking.end)


def _usage_changed(start: dt.datetime, end: dt.datetime) -> None:
    """A past day's stored usage is stale now: the nightly job recomputes days marked dirty."""
    tz = local_tz()
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    if first < timezone.localdate():
        UsageDay.objects.filter(date__gte=first, date__lte=last).update(dirty=True)


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
    series: Series | None = None,
    hold_until: dt.datetime | None = None,
    placement: bool = False,
) -> Booking:
    """Book a resource for the actor's school. Raises ValidationError with a code per broken rule
    (400), code='conflict' when the time is taken (409), code='forbidden' for the wrong role (403)."""
    now = now or timezone.now()
    _may_book(actor)
    # A time without an offset is Harbin's wall clock (the API's rule), read once here.
    if timezone.is_naive(start):
        start = timezone.make_aware(start, local_tz())
    if timezone.is_naive(end):
        end = timezone.make_aware(end, local_tz())
    resource_pk = resource.pk
    postgres = connection.vendor == "postgresql"
    day = start.astimezone(local_tz()).date()

    def attempt() -> Booking:
        if not postgres or connection.in_atomic_block:
            with transaction.atomic():
                return decide_and_write()
        with transaction.atomic():
            try:
                return decide_and_write()
            except ValidationError as exc:
                # Refused before anything was written (a rule, the quota, a committed overlap):
                # the transaction ends with COMMIT, as good as a ROLLBACK here, which would make
                # psycopg drop the connection's prepared statements for the next booking to
                # prepare again. (Inside a caller's transaction it is rolled back to its savepoint.)
                refused = exc
        raise refused

    def decide_and_write() -> Booking:
        # One read that also locks: writers of one resource queue here, readers are not blocked.
        # FOR NO KEY UPDATE OF the resource row only (the joined school and qualification stay
        # unlocked: two schools booking each other's rooms must not deadlock), so the rules below
        # see the resource as it is while the booking is written.
        if postgres:
            # A rotation placement is the centre's, for any school's kit; every other booking
            # only reads resources the actor's school may book (see _lock_and_read_postgres).
            read = _lock_and_read_postgres(actor, resource_pk, day, any_school=placement)
            locked, facts = read.resource, read.facts
            equity = read.equity or EquitySettings.current()
            quota = equity.monthly_quota_hours if read.quota_override is None else read.quota_override
            languages = {actor.pk: read.language or notifications.DEFAULT_LANGUAGE}
        else:  # the ORM reads the rest where it is needed
            locked = (
                Resource.objects.select_for_update(no_key=True, of=("self",))
                .select_related("school", "required_qualification")
                .order_by()
                .get(pk=resource_pk)
            )
            equity, facts, quota, languages = EquitySettings.current(), None, None, None
        if placement:
            # A kit's rotation placement (days, planned by the centre): classroom rules such as
            # opening hours and lengths do not apply; the kit must be in service and the time free.
            rules.check_range(start, end, now - dt.timedelta(days=1))
            rules.check_resource_status(locked.status)
        else:
            check_booking_rules(
                actor=actor,
                resource=locked,
                start=start,
                end=end,
                class_size=class_size,
                now=now,
                equity=equity,
                facts=facts,
            )
        is_external = actor.school_id != locked.school_id
        if is_external and not placement:
            if quota is None:
                quota = quota_hours_for(actor.school, equity)
            if quota:
                # Lock the requesting school (after the resource, always in this order): two
                # teachers of one school share its quota.
                list(School.objects.select_for_update(no_key=True).filter(pk=actor.school_id).order_by())
                rules.check_quota(
                    used_minutes=external_minutes_in_month(actor.school_id, start),
                    new_minutes=int((end - start).total_seconds() // 60),
                    quota_hours=quota,
                )
        block_start, block_end = rules.blocked_range(start, end, locked.transit_buffer_minutes)
        if placement:
            status = BookingStatus.APPROVED  # the centre planned it; the owner cannot refuse
        elif locked.requires_approval and is_external:
            status = BookingStatus.PENDING
        else:
            status = BookingStatus.APPROVED
        if hold_until is not None:
            status = BookingStatus.HELD  # a waitlist offer: the slot waits for the teacher's answer
        booking = Booking(
            pk=read.next_id if postgres else None,
            resource=locked,
            school=actor.school,
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
            series=series,
            hold_until=hold_until,
        )
        # The committed bookings decide at once, without waiting. SQLite: the IMMEDIATE
        # transaction serialises writers, so this cannot race. PostgreSQL: the exclusion
        # constraint is the guard (23P01 -> `conflict`), but an INSERT that meets an overlapping
        # booking whose cancellation is not yet committed waits for that transaction, and a
        # cancellation offering the freed slot to the waitlist then waits for this resource
        # row: a deadlock. Reading the overlap as it is now answers 409 instead (on PostgreSQL
        # inside the INSERT statement itself, see _insert_booking_sql).
        # A waitlist offer is told by waitlist_offer_freed, not as a new booking.
        if postgres:
            event = BookingEvent(
                booking=booking, actor=actor, from_status="", to_status=status, reason="", at=now
            )
            rows = (
                notifications.booking_created_rows(booking, languages=languages) if hold_until is None else []
            )
            if not _insert_booking_postgres(booking, event, rows):
                raise conflict_error()
            _usage_changed(start, end)
            notifications.enqueue_after_commit(rows)
            return booking
        clash = Booking.objects.filter(
            resource_id=resource_pk,
            status__in=ACTIVE_STATUSES,
            block_start__lt=block_end,
            block_end__gt=block_start,
        ).exists()
        if clash:
            raise conflict_error()
        booking.save(force_insert=True)
        _record(booking, actor=actor, from_status="", to_status=status, reason="", at=now)
        if hold_until is None:
            notifications.notify_booking_created(booking, fresh=True, languages=languages)
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
            locked = (
                Booking.objects.select_for_update(of=("self",)).select_related("resource").get(pk=booking.pk)
            )
            if not permitted(locked):
                raise ValidationError(_("You may not do this to this booking."), code="forbidden")
            rules.check_transition(locked.status, to)
            previous = locked.status
            locked.status = to
            if extra:
                extra(locked)
            locked.save()
            _record(locked, actor=actor, from_status=previous, to_status=to, reason=reason, at=now)
            notifications.notify_booking_status(locked, reason, actor=actor)
            if previous in ACTIVE_STATUSES and to not in ACTIVE_STATUSES:
                waitlist_offer_freed(locked, now=now)
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

    return _transition(
        booking,
        to=BookingStatus.CANCELLED,
        actor=actor,
        reason=reason,
        now=now,
        permitted=permitted,
        extra=not_started,
    )


def _decide(to: str, *, actor: User, booking: Booking, reason: str, now: dt.datetime | None) -> Booking:
    """The resource's school admin (or the centre) approves or rejects a pending request."""
    return _transition(
        booking,
        to=to,
        actor=actor,
        reason=reason,
        now=now or timezone.now(),
        permitted=_administers_resource(actor),
    )


def booking_approve(
    *, actor: User, booking: Booking, reason: str = "", now: dt.datetime | None = None
) -> Booking:
    return _decide(BookingStatus.APPROVED, actor=actor, booking=booking, reason=reason, now=now)


def booking_reject(
    *, actor: User, booking: Booking, reason: str = "", now: dt.datetime | None = None
) -> Booking:
    return _decide(BookingStatus.REJECTED, actor=actor, booking=booking, reason=reason, now=now)


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

    return _transition(
        booking,
        to=BookingStatus.CHECKED_IN,
        actor=actor,
        reason="",
        now=now,
        permitted=permitted,
        extra=stamp,
    )


def booking_check_out(*, actor: User, booking: Booking, now: dt.datetime | None = None) -> Booking:
    now = now or timezone.now()

    def stamp(b: Booking) -> None:
        b.checked_out_at = now

    return _transition(
        booking,
        to=BookingStatus.COMPLETED,
        actor=actor,
        reason="",
        now=now,
        permitted=_is_booker(actor),
        extra=stamp,
    )


# --- periodic jobs --------------------------------------------------------------------------


def _sweep(qs, *, to: str, reason: str, now: dt.datetime) -> list[int]:
    """Move each booking of `qs` to `to`, claiming each with a conditional update (safe twice).
    A slot that frees is offered to the waitlist in the same transaction."""
    moved = []
    for pk, previous in list(qs.values_list("pk", "status")):
        with transaction.atomic():
            if Booking.objects.filter(pk=pk, status=previous).update(status=to, updated_at=now):
                BookingEvent.objects.create(
                    booking_id=pk, actor=None, from_status=previous, to_status=to, reason=reason, at=now
                )
                span = Booking.objects.filter(pk=pk).values_list("start", "end").first()
                _usage_changed(*span)
                moved.append(pk)
                booking = Booking.objects.get(pk=pk)
                notifications.notify_booking_status(booking, reason)
                if to not in ACTIVE_STATUSES and previous in ACTIVE_STATUSES:
                    waitlist_offer_freed(booking, now=now)
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
    # A kit placement is handed over, not checked in: it is never a no-show.
    qs = Booking.objects.filter(status=BookingStatus.APPROVED, start__lt=now - grace, placement__isnull=True)
    moved = _sweep(
        qs, to=BookingStatus.NO_SHOW, reason=str(_("Not checked in within the grace period.")), now=now
    )
    series_ids = set(
        Booking.objects.filter(pk__in=moved, series__isnull=False).values_list("series_id", flat=True)
    )
    for series_id in sorted(series_ids):
        series_release_if_no_shows(series_id=series_id, now=now)
    return moved


def bookings_complete(*, now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    qs = Booking.objects.filter(end__lte=now).filter(
        Q(status=BookingStatus.CHECKED_IN) | Q(status=BookingStatus.APPROVED, placement__isnull=False)
    )
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
    "series_approve",
    "series_cancel",
    "series_create",
    "series_reject",
    "waitlist_confirm",
    "waitlist_decline",
    "waitlist_join",
    "waitlist_leave",
    "waitlist_sweep",
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
    _closure_changed(closure)
    return closure


def _closure_changed(closure: Closure) -> None:
    UsageDay.objects.filter(date__gte=closure.start_date, date__lte=closure.end_date).update(dirty=True)


@transaction.atomic
def closure_delete(*, actor: User, closure: Closure) -> None:
    target_school = closure.resource.school_id if closure.resource_id else closure.school_id
    if not (
        actor.is_centre_admin
        or (actor.is_school_admin and closure.scope != "city" and target_school == actor.school_id)
    ):
        raise ValidationError(_("You may not remove this closure."), code="forbidden")
    _closure_changed(closure)
    closure.delete()


# --- series ---------------------------------------------------------------------------------


@dataclass
class Occurrence:
    start: dt.datetime
    end: dt.datetime
    booking: int | None = None
    code: str | None = None
    detail: str = ""
    skipped: bool = False  # a closure or holiday: left out, not a problem


@dataclass
class SeriesResult:
    series: Series | None
    occurrences: list[Occurrence]
    complete: bool  # every occurrence that is not a closure was booked (or would be)


class _SeriesFailed(Exception):
    """Raised inside the all-or-nothing transaction to roll every occurrence back."""


def _occurrence_starts(
    *, rrule_text: str, first_start: dt.datetime, first_end: dt.datetime, equity: EquitySettings
) -> list[tuple[dt.datetime, dt.datetime]]:
    from .holidays import days_info
    from .recurrence import occurrences, weekdays_of

    tz = local_tz()
    found = occurrences(rrule_text, first_start, first_end, tz)
    # An adjusted working day (调休) opens like `adjusted_day_weekday`; a series on that weekday
    # books it too, when the centre says so.
    if (
        equity.series_book_adjusted_days
        and equity.adjusted_day_mode == EquitySettings.AdjustedDayMode.OPEN
        and equity.adjusted_day_weekday in weekdays_of(found)
    ):
        first_local, last_local = found[0][0], found[-1][0]
        duration = first_end - first_start
        for day, info in days_info(first_local.date(), last_local.date()).items():
            if info.kind == "adjusted_workday":
                start = dt.datetime.combine(day, first_local.timetz().replace(tzinfo=None), tzinfo=tz)
                found.append((start, start + duration))
        found.sort()
    return found


def _first_code(exc: ValidationError) -> tuple[str, str]:
    errors = (
        exc.error_list if not hasattr(exc, "error_dict") else [e for v in exc.error_dict.values() for e in v]
    )
    first = errors[0]
    message = first.message % first.params if first.params else first.message
    return first.code or "invalid", str(message)


def series_create(
    *,
    actor: User,
    resource: Resource,
    first_start: dt.datetime,
    first_end: dt.datetime,
    rrule_text: str,
    class_size: int,
    purpose: str = "",
    periods: str = "",
    mode: str = Series.Mode.SKIP_CONFLICTS,
    preview: bool = False,
    waitlist_missed: bool = False,
    now: dt.datetime | None = None,
) -> SeriesResult:
    """Expand an RRULE in Asia/Shanghai and book each occurrence through booking_create.

    Closures and holidays are skipped with their reason. `all_or_nothing`: one failure books
    nothing (the result lists every problem); `skip_conflicts`: the free ones are booked.
    `preview`: the same answer, nothing written. `waitlist_missed`: the occurrences lost to a
    conflict wait on the waitlist. Raises ValidationError for a bad rule or role (nothing booked).
    """
    now = now or timezone.now()
    _may_book(actor)
    equity = EquitySettings.current()
    starts = _occurrence_starts(
        rrule_text=rrule_text, first_start=first_start, first_end=first_end, equity=equity
    )
    resource = (
        Resource.objects.select_related("school", "required_qualification")
        .prefetch_related("opening_hours")
        .get(pk=resource.pk)
    )
    occurrences = [Occurrence(start=s, end=e) for s, e in starts]
    if preview:
        _series_preview(actor, resource, occurrences, class_size, equity, now)
        problems = [o for o in occurrences if o.code and not o.skipped]
        return SeriesResult(series=None, occurrences=occurrences, complete=not problems)

    def book_all() -> Series:
        series = Series.objects.create(
            resource=resource,
            school_id=actor.school_id,
            booked_by=actor,
            rrule=rrule_text[:500],
            first_start=first_start,
            first_end=first_end,
            periods=periods,
            class_size=class_size,
            purpose=purpose,
            mode=mode,
        )
        for occ in occurrences:
            try:
                booking = booking_create(
                    actor=actor,
                    resource=resource,
                    start=occ.start,
                    end=occ.end,
                    class_size=class_size,
                    purpose=purpose,
                    periods=periods,
                    now=now,
                    series=series,
                )
                occ.booking = booking.pk
            except ValidationError as exc:
                occ.code, occ.detail = _first_code(exc)
                occ.skipped = occ.code == "closed"
        if mode == Series.Mode.ALL_OR_NOTHING and any(o.code and not o.skipped for o in occurrences):
            raise _SeriesFailed
        if not any(o.booking for o in occurrences):
            raise _SeriesFailed
        return series

    try:
        with transaction.atomic():
            with notifications.suppressed():  # one message for the series, not one per occurrence
                series = book_all()
            first = Booking.objects.filter(series=series).order_by("start").first()
            if first is not None:
                notifications.notify_booking_created(first)
            if waitlist_missed:
                for occ in occurrences:
                    if occ.code == "conflict":
                        WaitlistEntry.objects.create(
                            user=actor,
                            school_id=actor.school_id,
                            resource=resource,
                            start=occ.start,
                            end=occ.end,
                            periods=periods,
                            class_size=class_size,
                            purpose=purpose,
                            series=series,
                        )
    except _SeriesFailed:
        for occ in occurrences:
            occ.booking = None
        return SeriesResult(series=None, occurrences=occurrences, complete=False)
    problems = [o for o in occurrences if o.code and not o.skipped]
    return SeriesResult(series=series, occurrences=occurrences, complete=not problems)


def _series_preview(actor, resource, occurrences, class_size, equity, now) -> None:
    """Evaluate every occurrence as booking_create would, writing nothing (quota included)."""
    is_external = actor.school_id != resource.school_id
    quota = quota_hours_for(actor.school, equity) if is_external else 0
    added: dict[tuple[int, int], int] = {}
    taken: list[tuple[dt.datetime, dt.datetime]] = []
    for occ in occurrences:
        try:
            check_booking_rules(
                actor=actor,
                resource=resource,
                start=occ.start,
                end=occ.end,
                class_size=class_size,
                now=now,
                equity=equity,
            )
            block = rules.blocked_range(occ.start, occ.end, resource.transit_buffer_minutes)
            clash = Booking.objects.filter(
                resource_id=resource.pk,
                status__in=ACTIVE_STATUSES,
                block_start__lt=block[1],
                block_end__gt=block[0],
            ).exists() or any(rules.overlaps(block[0], block[1], a, b) for a, b in taken)
            if clash:
                raise conflict_error()
            if quota:
                local = occ.start.astimezone(local_tz())
                month = (local.year, local.month)
                minutes = int((occ.end - occ.start).total_seconds() // 60)
                rules.check_quota(
                    used_minutes=external_minutes_in_month(actor.school_id, occ.start) + added.get(month, 0),
                    new_minutes=minutes,
                    quota_hours=quota,
                )
                added[month] = added.get(month, 0) + minutes
            taken.append(block)
        except ValidationError as exc:
            occ.code, occ.detail = _first_code(exc)
            occ.skipped = occ.code == "closed"


def _series_bookings(series: Series, *, from_start: dt.datetime | None = None):
    qs = Booking.objects.filter(series=series, status__in=ACTIVE_STATUSES)
    if from_start is not None:
        qs = qs.filter(start__gte=from_start)
    return qs.order_by("start")


def series_cancel(
    *,
    actor: User,
    series: Series,
    from_booking: Booking | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> list[int]:
    """Cancel 'all' remaining occurrences, or 'this and following' from `from_booking` on."""
    now = now or timezone.now()
    if not (
        series.booked_by_id == actor.pk
        or actor.administers(series.resource.school_id)
        or actor.administers(series.school_id)
    ):
        raise ValidationError(_("You may not cancel this series."), code="forbidden")
    start = from_booking.start if from_booking is not None else now
    cancelled = []
    with transaction.atomic():
        for booking in _series_bookings(series, from_start=start):
            booking_cancel(actor=actor, booking=booking, reason=reason, now=now)
            cancelled.append(booking.pk)
        if from_booking is None or from_booking.start <= series.first_start:
            Series.objects.filter(pk=series.pk).update(status=Series.Status.CANCELLED)
        WaitlistEntry.objects.filter(
            series=series, status=WaitlistEntry.Status.WAITING, start__gte=start
        ).update(status=WaitlistEntry.Status.CANCELLED)
    return cancelled


def _series_decide(*, actor: User, series: Series, approve: bool, reason: str, now: dt.datetime) -> list[int]:
    if not actor.administers(series.resource.school_id):
        raise ValidationError(
            _("Only the resource's school administrators decide on this series."), code="forbidden"
        )
    pending = list(Booking.objects.filter(series=series, status=BookingStatus.PENDING).order_by("start"))
    if not pending:
        raise ValidationError(_("This series has nothing waiting for a decision."), code="invalid_transition")
    fn = booking_approve if approve else booking_reject
    with transaction.atomic():
        for booking in pending:
            fn(actor=actor, booking=booking, reason=reason, now=now)
    return [b.pk for b in pending]


def series_approve(
    *, actor: User, series: Series, reason: str = "", now: dt.datetime | None = None
) -> list[int]:
    """Approval applies to the series as a whole: every pending occurrence at once."""
    return _series_decide(actor=actor, series=series, approve=True, reason=reason, now=now or timezone.now())


def series_reject(
    *, actor: User, series: Series, reason: str = "", now: dt.datetime | None = None
) -> list[int]:
    return _series_decide(actor=actor, series=series, approve=False, reason=reason, now=now or timezone.now())


def series_release_if_no_shows(*, series_id: int, now: dt.datetime) -> list[int]:
    """After `series_no_show_limit` no-shows the remaining occurrences are released: no ghosts."""
    limit = EquitySettings.current().series_no_show_limit
    if not limit:
        return []
    series = Series.objects.select_related("resource").get(pk=series_id)
    if series.status != Series.Status.ACTIVE:
        return []
    if Booking.objects.filter(series=series, status=BookingStatus.NO_SHOW).count() < limit:
        return []
    reason = str(_("Released after %(count)s no-shows in this series.") % {"count": limit})
    released = []
    with transaction.atomic():
        if not Series.objects.filter(pk=series.pk, status=Series.Status.ACTIVE).update(
            status=Series.Status.RELEASED
        ):
            return []  # another run got here first
        with notifications.suppressed():  # one message for the whole release, below
            for booking in _series_bookings(series, from_start=now):
                if _sweep(
                    Booking.objects.filter(pk=booking.pk), to=BookingStatus.CANCELLED, reason=reason, now=now
                ):
                    released.append(booking.pk)
        if released:
            notifications.notify_series_released(
                list(Booking.objects.filter(pk__in=released)), series.booked_by, series.resource.school
            )
    logger.info("Series %s released after %s no-shows: %s", series.pk, limit, released)
    return released


# --- waitlist -------------------------------------------------------------------------------


def waitlist_join(
    *,
    actor: User,
    resource: Resource,
    start: dt.datetime,
    end: dt.datetime,
    class_size: int,
    purpose: str = "",
    periods: str = "",
    now: dt.datetime | None = None,
) -> WaitlistEntry:
    """Wait for a taken slot. Every rule but the conflict must hold now (400 otherwise); a free
    slot is booked directly instead (400 slot_free)."""
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
    block = rules.blocked_range(start, end, resource.transit_buffer_minutes)
    taken = Booking.objects.filter(
        resource=resource, status__in=ACTIVE_STATUSES, block_start__lt=block[1], block_end__gt=block[0]
    )
    if not taken.exists():
        raise ValidationError(_("That time is free: book it directly."), code="slot_free")
    if taken.filter(booked_by=actor).exists():
        raise ValidationError(_("You already hold this time."), code="conflict")
    existing = WaitlistEntry.objects.filter(
        user=actor,
        resource=resource,
        start=start,
        end=end,
        status__in=[WaitlistEntry.Status.WAITING, WaitlistEntry.Status.OFFERED],
    ).first()
    if existing:
        return existing
    entry = WaitlistEntry(
        user=actor,
        school_id=actor.school_id,
        resource=resource,
        start=start,
        end=end,
        periods=periods,
        class_size=class_size,
        purpose=purpose,
    )
    entry.full_clean()
    entry.save()
    return entry


def waitlist_offer_freed(booking: Booking, *, now: dt.datetime) -> list[int]:
    """A slot freed: hold it for the first eligible waiting teacher(s), in order of joining.

    Runs inside the transaction that freed the slot, so the hold is atomic with the release.
    """
    hold_minutes = EquitySettings.current().waitlist_hold_minutes
    entries = list(
        WaitlistEntry.objects.select_for_update(of=("self",))
        .filter(
            resource_id=booking.resource_id,
            status=WaitlistEntry.Status.WAITING,
            start__lt=booking.block_end,
            end__gt=booking.block_start,
        )
        .select_related("user", "user__school__district")
        .order_by("created_at", "pk")
    )
    offered = []
    for entry in entries:
        hold_until = min(now + dt.timedelta(minutes=hold_minutes), entry.start)
        try:
            with transaction.atomic():
                held = booking_create(
                    actor=entry.user,
                    resource=entry.resource,
                    start=entry.start,
                    end=entry.end,
                    class_size=entry.class_size,
                    purpose=entry.purpose,
                    periods=entry.periods,
                    now=now,
                    series=entry.series,
                    hold_until=hold_until,
                )
        except ValidationError as exc:
            code, _detail = _first_code(exc)
            # Taken, or contention (busy): it may still be served. Otherwise it never can be
            # (notice passed, quota, ...).
            if code not in ("conflict", "busy"):
                WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.EXPIRED)
            continue
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.OFFERED, booking=held)
        notifications.notify_waitlist_offer(entry.user, held, hold_until)
        offered.append(entry.pk)
    return offered


def waitlist_confirm(*, actor: User, entry: WaitlistEntry, now: dt.datetime | None = None) -> Booking:
    """Take the held slot: it becomes an approved (or, needing approval, pending) booking."""
    now = now or timezone.now()
    with transaction.atomic():
        entry = (
            WaitlistEntry.objects.select_for_update(of=("self",))
            .select_related("booking", "resource")
            .get(pk=entry.pk)
        )
        if entry.user_id != actor.pk:
            raise ValidationError(_("This is not your waitlist entry."), code="forbidden")
        booking = entry.booking
        if (
            entry.status != WaitlistEntry.Status.OFFERED
            or booking is None
            or booking.status != BookingStatus.HELD
        ):
            raise ValidationError(_("There is no offer to confirm."), code="invalid_transition")
        if booking.hold_until and booking.hold_until < now:
            raise ValidationError(_("The offer has expired."), code="invalid_transition")
        target = (
            BookingStatus.PENDING
            if (entry.resource.requires_approval and booking.is_external)
            else BookingStatus.APPROVED
        )
        booking = _transition(
            booking,
            to=target,
            actor=actor,
            reason=str(_("Waitlist offer taken.")),
            now=now,
            permitted=_is_booker(actor),
        )
        Booking.objects.filter(pk=booking.pk).update(hold_until=None)
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.BOOKED)
    return booking


def waitlist_decline(*, actor: User, entry: WaitlistEntry, now: dt.datetime | None = None) -> WaitlistEntry:
    now = now or timezone.now()
    with transaction.atomic():
        entry = (
            WaitlistEntry.objects.select_for_update(of=("self",)).select_related("booking").get(pk=entry.pk)
        )
        if entry.user_id != actor.pk:
            raise ValidationError(_("This is not your waitlist entry."), code="forbidden")
        if entry.status != WaitlistEntry.Status.OFFERED or entry.booking is None:
            raise ValidationError(_("There is no offer to decline."), code="invalid_transition")
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.DECLINED)
        _transition(
            entry.booking,
            to=BookingStatus.CANCELLED,
            actor=actor,
            reason=str(_("Waitlist offer declined.")),
            now=now,
            permitted=_is_booker(actor),
        )
    entry.refresh_from_db()
    return entry


def waitlist_leave(*, actor: User, entry: WaitlistEntry, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        entry = (
            WaitlistEntry.objects.select_for_update(of=("self",)).select_related("booking").get(pk=entry.pk)
        )
        if entry.user_id != actor.pk:
            raise ValidationError(_("This is not your waitlist entry."), code="forbidden")
        if entry.status == WaitlistEntry.Status.OFFERED and entry.booking_id:
            WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.CANCELLED)
            _transition(
                entry.booking,
                to=BookingStatus.CANCELLED,
                actor=actor,
                reason=str(_("Left the waitlist.")),
                now=now,
                permitted=_is_booker(actor),
            )
        elif entry.status == WaitlistEntry.Status.WAITING:
            WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitlistEntry.Status.CANCELLED)
        else:
            raise ValidationError(_("This entry is no longer waiting."), code="invalid_transition")


def waitlist_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Offers not taken in time pass to the next teacher; entries that can no longer be served expire."""
    now = now or timezone.now()
    lapsed = Booking.objects.filter(status=BookingStatus.HELD, hold_until__lt=now)
    lapsed_ids = list(lapsed.values_list("pk", flat=True))
    WaitlistEntry.objects.filter(booking_id__in=lapsed_ids, status=WaitlistEntry.Status.OFFERED).update(
        status=WaitlistEntry.Status.EXPIRED
    )
    moved = _sweep(
        lapsed, to=BookingStatus.CANCELLED, reason=str(_("Waitlist offer not taken in time.")), now=now
    )
    stale = WaitlistEntry.objects.filter(status=WaitlistEntry.Status.WAITING, start__lte=now).update(
        status=WaitlistEntry.Status.EXPIRED
    )
    return {"offers_lapsed": len(moved), "entries_expired": stale}


def bookings_notify_resources_closed(*, now: dt.datetime | None = None) -> int:
    """Tell the teachers whose coming bookings sit on a resource now out of service (maintenance
    or retired), with the nearest free alternatives; once per booking (the outbox dedupes).

    A periodic job rather than a call from equipment.services: imports point booking -> equipment.
    The bookings stay: the teacher decides whether to move; new bookings are refused by the rules.
    """
    from equipment.models import MaintenanceTicket

    now = now or timezone.now()
    told = 0
    closed = Resource.objects.exclude(status=Resource.Status.ACTIVE).filter(
        bookings__status__in=ACTIVE_STATUSES, bookings__start__gt=now
    )
    for resource in closed.distinct().select_related("school"):
        ticket = (
            MaintenanceTicket.objects.filter(resource=resource)
            .exclude(status=MaintenanceTicket.Status.RESOLVED)
            .order_by("-reported_at")
            .first()
        )
        reason = ticket.description if ticket else resource.get_status_display()
        affected = list(
            Booking.objects.filter(resource=resource, status__in=ACTIVE_STATUSES, start__gt=now)
            .exclude(notifications__kind="resource_closed")  # told already: skip the alternatives search
            .order_by("start")
        )
        if not affected:
            continue
        with transaction.atomic():
            told += len(notifications.notify_resource_closed(resource, affected, reason=str(reason)))
    return told
