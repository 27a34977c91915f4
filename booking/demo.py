"""Demo bookings: Harbin's term breaks, and a term of bookings around today (past and future).

Idempotent: closures are upserted by (scope, reason, dates); bookings are generated only when no
demo booking exists yet (a second run changes nothing). Deterministic for a given week: the term
is anchored on the Monday of the week the seed runs in, with a fixed random seed.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from equipment.models import Resource
from schools.models import User

from . import notifications, services
from .calendar import local_tz
from .holidays import day_info
from .models import Booking, BookingEvent, Closure, EquitySettings

DEMO_MARK = "[演示]"
FUTURE_SHARE = 0.12
# The demo's external bookings use at most this share of a school's monthly quota: whoever tries
# the demo as a county teacher must be able to book this month too (with the whole quota spent by
# past demo bookings, every request answered quota_exceeded).
QUOTA_SHARE = 0.5
# Harbin's school year: a long winter vacation (寒假) and a summer vacation (暑假).
TERM_BREAKS = [
    ("寒假 2025-2026", dt.date(2026, 1, 17), dt.date(2026, 3, 1)),
    ("暑假 2026", dt.date(2026, 7, 11), dt.date(2026, 8, 31)),
    ("寒假 2026-2027", dt.date(2027, 1, 16), dt.date(2027, 2, 28)),
    ("暑假 2027", dt.date(2027, 7, 10), dt.date(2027, 8, 31)),
]
PURPOSES = [
    "物理分组实验: 测量重力加速度",
    "化学演示实验: 酸碱中和",
    "生物显微观察",
    "信息科技: 编程入门",
    "创客: 3D 打印",
    "阅读课",
    "篮球训练",
    "音乐合唱排练",
    "科学探究课",
]


def seed_closures(report) -> None:
    for reason, start, end in TERM_BREAKS:
        _obj, created = Closure.objects.get_or_create(
            scope=Closure.Scope.CITY,
            reason=reason,
            start_date=start,
            end_date=end,
            defaults={"kind": Closure.Kind.TERM_BREAK},
        )
        if created:
            report.add("closures", created=True)


def _slots(
    resource: Resource, day: dt.date, rng: random.Random, popularity: float
) -> list[tuple[dt.datetime, dt.datetime]]:
    tz = local_tz()
    hours = [h for h in resource.opening_hours.all() if h.weekday == day.weekday()]
    out = []
    for h in hours:
        start = dt.datetime.combine(day, h.start, tzinfo=tz)
        close = dt.datetime.combine(day, h.end, tzinfo=tz)
        while start + dt.timedelta(minutes=90) <= close:
            if rng.random() < popularity:
                out.append((start, start + dt.timedelta(minutes=rng.choice([45, 90, 90]))))
            start += dt.timedelta(minutes=rng.choice([90, 95, 100]))
    return out


def _external_teacher(resource: Resource, teachers: list[User], rng: random.Random) -> User:
    county = [t for t in teachers if t.school.district.kind == "county" and t.school_id != resource.school_id]
    if resource.shared and county and rng.random() < 0.6:
        return rng.choice(county)
    return _own_teacher(resource, teachers, rng)


def _own_teacher(resource: Resource, teachers: list[User], rng: random.Random) -> User:
    own = [t for t in teachers if t.school_id == resource.school_id]
    return rng.choice(own or teachers)


class _QuotaRoom:
    """External minutes the demo gives each school in this local month and the next, kept under
    QUOTA_SHARE of its monthly quota (0 = no quota: no limit). Earlier months are history and keep
    the demand the reports show."""

    def __init__(self, today: dt.date) -> None:
        self.first = (today.year, today.month)
        self.equity = EquitySettings.current()
        self.used: dict[tuple[int, int, int], int] = {}
        self.limit: dict[int, int | None] = {}

    def take(self, school, start: dt.datetime, end: dt.datetime) -> bool:
        if school.pk not in self.limit:
            hours = services.quota_hours_for(school, self.equity)
            self.limit[school.pk] = int(hours * 60 * QUOTA_SHARE) if hours else None
        limit = self.limit[school.pk]
        if limit is None:
            return True
        local = start.astimezone(local_tz())
        if (local.year, local.month) < self.first:
            return True
        key = (school.pk, local.year, local.month)
        minutes = int((end - start).total_seconds() // 60)
        if self.used.get(key, 0) + minutes > limit:
            return False
        self.used[key] = self.used.get(key, 0) + minutes
        return True


@transaction.atomic
def seed_bookings(report, *, today: dt.date | None = None, weeks_back: int = 9, weeks_ahead: int = 2) -> int:
    if Booking.objects.filter(purpose__startswith=DEMO_MARK).exists():
        return 0
    today = today or timezone.localdate()
    monday = today - dt.timedelta(days=today.weekday())
    rng = random.Random(20261129)
    resources = list(
        Resource.objects.filter(status="active")
        .exclude(kind="mobile_kit")
        .select_related("school")
        .prefetch_related("opening_hours")
        .order_by("pk")
    )
    teachers = list(
        User.objects.filter(role="teacher", is_active=True).select_related("school__district").order_by("pk")
    )
    if not resources or not teachers:
        return 0
    now = timezone.now()
    created = 0
    room = _QuotaRoom(today)
    # Some labs are in demand, some sit idle (source document 7.3: a 35 % idle rate to bring down).
    popularity = {
        r.pk: (rng.uniform(0.0, 0.08) if rng.random() < 0.3 else rng.betavariate(4, 2)) for r in resources
    }
    past_rows, events = [], []
    for offset in range(-7 * weeks_back, 7 * weeks_ahead):
        day = monday + dt.timedelta(days=offset)
        if day_info(day).kind not in ("workday", "adjusted_workday"):
            continue
        if Closure.objects.filter(scope="city", start_date__lte=day, end_date__gte=day).exists():
            continue
        for resource in resources:
            for start, end in _slots(resource, day, rng, popularity[resource.pk]):
                teacher = _external_teacher(resource, teachers, rng)
                if not resource.shared and teacher.school_id != resource.school_id:
                    continue
                if teacher.school_id != resource.school_id and not room.take(teacher.school, start, end):
                    teacher = _own_teacher(resource, teachers, rng)  # that school's share is used up
                size = min(resource.capacity, rng.randint(15, 45))
                purpose = f"{DEMO_MARK} {rng.choice(PURPOSES)}"
                if end < now:
                    # The past is recorded as it happened; the rules apply to new bookings only.
                    status = rng.choices(["completed", "no_show", "cancelled", "rejected"], [82, 7, 7, 4])[0]
                    past_rows.append(
                        Booking(
                            resource=resource,
                            school_id=teacher.school_id,
                            booked_by=teacher,
                            start=start,
                            end=end,
                            block_start=start,
                            block_end=end,
                            class_size=size,
                            purpose=purpose,
                            status=status,
                            is_external=teacher.school_id != resource.school_id,
                            check_in_code=secrets.token_hex(3).upper(),
                            checked_in_at=start if status == "completed" else None,
                            checked_out_at=end if status == "completed" else None,
                        )
                    )
                elif rng.random() < FUTURE_SHARE:
                    # The coming weeks go through the real booking service (all its rules); only
                    # a share of them, so the demo loads in seconds and leaves room to book.
                    try:
                        services.booking_create(
                            actor=teacher,
                            resource=resource,
                            start=start,
                            end=end,
                            class_size=size,
                            purpose=purpose,
                            now=now,
                        )
                        created += 1
                    except ValidationError:
                        continue  # a rule or a conflict: a real teacher would pick another slot
    Booking.objects.bulk_create(past_rows, batch_size=2000)
    for b in past_rows:
        events.append(
            BookingEvent(booking=b, at=b.start - dt.timedelta(days=3), from_status="", to_status="approved")
        )
        if b.status != "approved":
            events.append(BookingEvent(booking=b, at=b.end, from_status="approved", to_status=b.status))
    BookingEvent.objects.bulk_create(events, batch_size=5000)
    created += len(past_rows)
    if created:
        report.created["bookings"] = report.created.get("bookings", 0) + created
    return created


def seed_rotation_requests(report) -> int:
    """County schools ask for mobile kits for the spring term 2027, so the centre can plan."""
    from equipment.models import CatalogItem
    from schools.models import School

    from .models import RotationRequest
    from .rotation import services as rotation_services

    if RotationRequest.objects.filter(reason__startswith=DEMO_MARK).exists():
        return 0
    asks = [
        ("HRB-WC-001", "KIT-0001", 10, 240, "物理分组实验缺少器材"),
        ("HRB-FZ-001", "KIT-0001", 5, 180, "力学单元教学"),
        ("HRB-FZ-001", "KIT-0003", 10, 600, "春季运动会训练"),
        ("HRB-WC-002", "KIT-0004", 5, 120, "职业学校创客周"),
    ]
    created = 0
    for code, kit_code, days, students, why in asks:
        school = School.objects.filter(code=code).first()
        admin = User.objects.filter(school=school, role="school_admin", is_active=True).order_by("pk").first()
        kit_type = CatalogItem.objects.filter(code=kit_code).first()
        if not (school and admin and kit_type):
            continue
        rotation_services.request_create(
            actor=admin,
            data={
                "kit_type": kit_type,
                "days": days,
                "earliest": dt.date(2027, 3, 1),
                "latest_end": dt.date(2027, 5, 28),
                "students": students,
                "reason": f"{DEMO_MARK} {why}",
            },
        )
        created += 1
    if created:
        report.created["kit requests"] = created
    return created


def seed_demo(report) -> None:
    seed_closures(report)
    seed_rotation_requests(report)
    with notifications.suppressed():  # thousands of demo bookings must not mail anyone
        seed_bookings(report)
