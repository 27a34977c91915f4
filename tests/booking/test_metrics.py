"""Metrics against an independent brute force, minute by minute, on small random worlds."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking import metrics
from booking.models import Booking, Closure, DailyUsage, UsageDay
from equipment.models import MaintenanceTicket, OpeningHours, Resource
from tests.conftest import ON_POSTGRES
from tests.factories import DistrictFactory, ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
# Friday 30 October .. Monday 2 November 2026: a weekend and a month boundary, no holidays.
FIRST, LAST = dt.date(2026, 10, 30), dt.date(2026, 11, 2)
W0 = dt.datetime.combine(FIRST, dt.time(), tzinfo=SH)
MINUTES = ((LAST - FIRST).days + 1) * 24 * 60
STATUSES = ["approved", "checked_in", "completed", "no_show", "cancelled", "pending"]


def minute(m: int) -> dt.datetime:
    return W0 + dt.timedelta(minutes=m)


ranges = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 24 * 60 - 2), st.integers(1, 600)), min_size=0, max_size=6
)
bookings = st.lists(
    st.tuples(
        st.integers(0, 1),  # resource
        st.integers(0, 2),  # booking school: 0 owner, 1 urban other, 2 county
        st.integers(-300, MINUTES - 1),  # start minute (may begin before the window)
        st.integers(1, 900),  # length: may cross midnight and the month boundary
        st.sampled_from(STATUSES),
    ),
    max_size=10,
)
downtime = st.lists(
    st.tuples(st.integers(0, 1), st.integers(-500, MINUTES), st.integers(1, 2000)), max_size=2
)
closures = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3)), max_size=2)


@pytest.fixture
def world(db):
    district = DistrictFactory(kind="urban")
    owner = SchoolFactory(district=district)
    others = [SchoolFactory(district=district), SchoolFactory(district=DistrictFactory(kind="county"))]
    resources = [ResourceFactory(school=owner, hours=False) for _ in range(2)]
    Resource.objects.filter(pk__in=[r.pk for r in resources]).update(created_at=W0 - dt.timedelta(days=400))
    teachers = [UserFactory(role="teacher", school=s) for s in [owner, *others]]
    return resources, teachers


def brute_force(resources, weekly, booking_rows, downs, closed_days):
    """Minute by minute: is it open, is it booked, by whom. Independent of booking.metrics."""
    out = {}
    for r_index, resource in enumerate(resources):
        t = {"available": 0, "booked": 0, "used": 0, "external": 0, "county": 0}
        for m in range(MINUTES):
            when = minute(m)
            day = when.date()
            t_of_day = when.hour * 60 + when.minute
            open_now = any(
                w == day.weekday() and a <= t_of_day < min(a + length, 24 * 60)
                for w, a, length in weekly[r_index]
            )
            if (r_index, (day - FIRST).days) in closed_days:
                open_now = False
            if any(dr == r_index and d0 <= m < d0 + dl for dr, d0, dl in downs):
                open_now = False
            if not open_now:
                continue
            t["available"] += 1
            for rr, school, start, length, status in booking_rows:
                if rr != r_index or not (start <= m < start + length):
                    continue
                if status in ("approved", "checked_in", "completed"):
                    t["booked"] += 1
                if status in ("checked_in", "completed"):
                    t["used"] += 1
                    if school != 0:
                        t["external"] += 1
                        if school == 2:
                            t["county"] += 1
        out[resource.pk] = t
    return out


def non_overlapping(rows):
    """The engine never lets active bookings of one resource overlap; keep the data that way."""
    kept, taken = [], {0: [], 1: []}
    for row in rows:
        r, _school, start, length, status = row
        if status in ("approved", "checked_in", "completed", "pending", "no_show"):
            if any(start < e and s < start + length for s, e in taken[r]):
                continue
            taken[r].append((start, start + length))
        kept.append(row)
    return kept


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(weekly0=ranges, weekly1=ranges, booking_rows=bookings, downs=downtime, closed=closures)
def test_metrics_equal_a_minute_by_minute_brute_force(world, weekly0, weekly1, booking_rows, downs, closed):
    resources, teachers = world
    booking_rows = non_overlapping(booking_rows)
    with transaction.atomic():
        weekly = [[], []]
        for r_index, spec in enumerate((weekly0, weekly1)):
            placed: dict[int, list[tuple[int, int]]] = {}
            for w, a, length in spec:
                b = min(a + length, 24 * 60 - 1)
                if any(a < e and s < b for s, e in placed.get(w, [])):
                    continue  # opening ranges of one weekday never overlap (a rule)
                placed.setdefault(w, []).append((a, b))
                weekly[r_index].append((w, a, b - a))
                OpeningHours.objects.create(
                    resource=resources[r_index], weekday=w,
                    start=dt.time(a // 60, a % 60), end=dt.time(b // 60, b % 60),
                )  # fmt: skip
        for rr, school, start, length, status in booking_rows:
            s, e = minute(start), minute(start + length)
            Booking.objects.create(
                resource=resources[rr], school=teachers[school].school, booked_by=teachers[school],
                start=s, end=e, block_start=s, block_end=e, class_size=1, status=status,
                is_external=school != 0, check_in_code="T",
            )  # fmt: skip
        for dr, d0, dl in downs:
            MaintenanceTicket.objects.create(
                resource=resources[dr], school=resources[dr].school, description="x", takes_out_of_service=True,
                reported_by=teachers[0], reported_at=minute(d0), due_at=minute(d0) + dt.timedelta(hours=24),
                status="resolved", resolved_at=minute(d0 + dl),
            )  # fmt: skip
        for cr, cd in closed:
            day = FIRST + dt.timedelta(days=cd)
            Closure.objects.create(
                scope="resource", resource=resources[cr], start_date=day, end_date=day, reason="x"
            )

        expected = brute_force(resources, weekly, booking_rows, downs, set(closed))
        qs = Resource.objects.filter(pk__in=[r.pk for r in resources])
        # On PostgreSQL the SQL path (live totals and stored days); the Python path on both.
        live = metrics.resource_totals(qs, FIRST, LAST)
        python = {r.pk: metrics.Tally() for r in resources}
        for rid, _day, tally in metrics._compute_days_python(metrics._population(qs), FIRST, LAST):
            python[rid].add(tally)
        assert {k: vars(v) for k, v in python.items()} == {k: vars(v) for k, v in live.items()}
        for r in resources:
            got, want = live[r.pk], expected[r.pk]
            assert (got.available_minutes, got.booked_minutes, got.used_minutes, got.external_minutes,
                    got.county_minutes) == (want["available"], want["booked"], want["used"], want["external"],
                                            want["county"])  # fmt: skip
        # Stored days give the same answer as live ones, and a mix of both too.
        metrics.usage_store_day(FIRST + dt.timedelta(days=1))
        metrics.usage_store_day(FIRST + dt.timedelta(days=2))
        mixed = metrics.resource_totals(qs, FIRST, LAST)
        assert {k: vars(v) for k, v in mixed.items()} == {k: vars(v) for k, v in live.items()}
        transaction.set_rollback(True)


def test_idle_rate_and_groups(world):
    resources, teachers = world
    for r in resources:
        OpeningHours.objects.create(resource=r, weekday=4, start=dt.time(8), end=dt.time(18))  # Friday 10 h
    s = dt.datetime(2026, 10, 30, 9, tzinfo=SH)
    Booking.objects.create(resource=resources[0], school=teachers[2].school, booked_by=teachers[2], start=s,
                           end=s + dt.timedelta(hours=2), block_start=s, block_end=s + dt.timedelta(hours=2),
                           class_size=1, status="completed", is_external=True, check_in_code="T")  # fmt: skip
    Booking.objects.create(resource=resources[1], school=teachers[0].school, booked_by=teachers[0], start=s,
                           end=s + dt.timedelta(minutes=30), block_start=s, block_end=s + dt.timedelta(minutes=30),
                           class_size=1, status="no_show", check_in_code="T")  # fmt: skip
    qs = Resource.objects.filter(pk__in=[r.pk for r in resources])
    [city] = metrics.utilisation(resources=qs, date_from=FIRST, date_to=FIRST)
    assert city["available_minutes"] == 1200
    assert city["used_minutes"] == 120
    assert city["utilisation"] == 0.1
    assert city["idle_rate"] == 0.5  # resource 2 used 0 % < 10 %; resource 1 exactly 20 % is not idle
    assert city["external_minutes"] == city["county_minutes"] == 120
    assert city["no_show_rate"] == 0.5
    by_resource = metrics.utilisation(resources=qs, date_from=FIRST, date_to=FIRST, group_by="resource")
    assert [r["utilisation"] for r in by_resource] == [0.2, 0.0]


def test_a_dirty_day_is_recomputed_by_the_nightly_job(world):
    from booking.tasks import usage_nightly_task

    resources, _teachers = world
    for r in resources:
        OpeningHours.objects.create(resource=r, weekday=4, start=dt.time(8), end=dt.time(18))
    metrics.usage_store_day(FIRST)
    assert DailyUsage.objects.filter(date=FIRST).count() == 2
    metrics.usage_mark_dirty([FIRST])
    assert FIRST in metrics.usage_days_to_compute(dt.date(2026, 11, 29))
    assert usage_nightly_task.delay().get() >= 2
    assert not UsageDay.objects.filter(dirty=True).exists()


def test_gini_and_periods():
    assert metrics.gini([]) is None
    assert metrics.gini([0, 0]) is None
    assert metrics.gini([5, 5, 5]) == 0.0
    assert metrics.gini([0, 0, 0, 10]) == 0.75
    assert metrics.periods_of("5-6", 90) == 2
    assert metrics.periods_of("3", 45) == 1
    assert metrics.periods_of("", 90) == 2


PERIOD_TEXTS = ["", "", "", "1-2", "3", "5-", "6-5", " 5-6", "x", "1-2-3", "07-08", "-3"]
# 22.5 and 112.5 minutes are half-periods: round() goes to the even number, in SQL as in Python.
LENGTHS_S = [22.5 * 60, 30 * 60, 45 * 60, 67.5 * 60, 90 * 60, 112.5 * 60, 120 * 60, 157.5 * 60, 61.000001]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_service_figures_equal_a_plain_computation(world, seed):
    """Approval latency median and shared lab periods, on random bookings and events: the same
    figures as computing them row by row (on PostgreSQL both the SQL and the chunked path)."""
    import random
    import statistics

    from booking.models import BookingEvent

    rng = random.Random(seed)
    resources, teachers = world
    room = ResourceFactory(school=resources[0].school, kind="room", hours=False)
    span = (LAST - FIRST).days + 1
    W1 = W0 + dt.timedelta(days=span)
    cursor = {r.pk: W0 - dt.timedelta(days=1) for r in [*resources, room]}
    expected_periods, latencies = 0, []
    for _ in range(60):
        resource = rng.choice([*resources, room])
        start = cursor[resource.pk] + dt.timedelta(
            minutes=rng.randint(0, 300), microseconds=rng.choice([0, 250])
        )
        end = start + dt.timedelta(seconds=rng.choice(LENGTHS_S))
        cursor[resource.pk] = end
        school = rng.randint(0, 2)
        status = rng.choice(STATUSES)
        periods = rng.choice(PERIOD_TEXTS)
        booking = Booking.objects.create(
            resource=resource, school=teachers[school].school, booked_by=teachers[school], start=start, end=end,
            block_start=start, block_end=end, class_size=1, status=status, is_external=school != 0,
            check_in_code="T", periods=periods,
        )  # fmt: skip
        if (
            status in ("checked_in", "completed") and school != 0 and resource.kind == "lab"
            and W0 <= start < W1
        ):  # fmt: skip
            expected_periods += metrics.periods_of(periods, (end - start).total_seconds() / 60)
        created = [start - dt.timedelta(seconds=rng.randint(60, 5 * 86400), microseconds=rng.randint(0, 999999))
                   for _ in range(rng.choice([0, 1, 1, 1, 2]))]  # fmt: skip
        for at in created:
            BookingEvent.objects.create(booking=booking, at=at, from_status="", to_status="pending")
        for _ in range(rng.choice([0, 1, 1, 2])):
            at = W0 + dt.timedelta(
                seconds=rng.randint(-86400, (span + 1) * 86400), microseconds=rng.randint(0, 9)
            )
            frm = rng.choice(["pending", "pending", "pending", "approved"])
            to = rng.choice(["approved", "rejected", "cancelled"])
            BookingEvent.objects.create(booking=booking, at=at, from_status=frm, to_status=to)
            if W0 <= at < W1 and frm == "pending" and to in ("approved", "rejected") and created:
                latencies.append((at - max(created)).total_seconds() / 3600)
    service = metrics.service_figures(FIRST, LAST)
    assert len(latencies) > 5
    assert service["approval_latency_hours_median"] == round(statistics.median(latencies), 2)
    assert service["shared_lab_periods"] == expected_periods
    w0, w1 = metrics.local_midnight(FIRST), metrics.local_midnight(LAST + dt.timedelta(days=1))
    assert metrics._latency_median_python(w0, w1) == statistics.median(latencies)
    assert metrics._lab_periods_python(w0, w1) == expected_periods
    if ON_POSTGRES:
        assert metrics._latency_median_sql(w0, w1) == statistics.median(latencies)
        assert metrics._lab_periods_sql(w0, w1) == expected_periods


def test_service_figures_without_decisions(world):
    service = metrics.service_figures(FIRST, LAST)
    assert service["approval_latency_hours_median"] is None
    assert service["shared_lab_periods"] == 0


def test_groupings_from_one_read_of_the_resources(world, django_assert_num_queries):
    resources, teachers = world
    other = ResourceFactory(school=teachers[2].school, kind="room", subject="chemistry", hours=False)
    Resource.objects.filter(pk=other.pk).update(created_at=W0 - dt.timedelta(days=400))
    for r in [*resources, other]:
        OpeningHours.objects.create(resource=r, weekday=4, start=dt.time(8), end=dt.time(18))
    s = dt.datetime(2026, 10, 30, 9, tzinfo=SH)
    Booking.objects.create(resource=other, school=teachers[2].school, booked_by=teachers[2], start=s,
                           end=s + dt.timedelta(hours=5), block_start=s, block_end=s + dt.timedelta(hours=5),
                           class_size=1, status="completed", check_in_code="T")  # fmt: skip
    qs = Resource.objects.filter(pk__in=[r.pk for r in [*resources, other]])
    totals = metrics.resource_totals(qs, FIRST, FIRST)
    meta = metrics.resource_meta(totals)
    owner, county = resources[0].school, teachers[2].school
    expected = {
        "city": [("city", "Harbin (all)", 3, 2)],
        "district": sorted(
            [
                (owner.district_id, owner.district.name, 2, 2),
                (county.district_id, county.district.name, 1, 0),
            ],
            key=lambda r: str(r[0]),
        ),
        "school": sorted(
            [(owner.pk, owner.name, 2, 2), (county.pk, county.name, 1, 0)], key=lambda r: str(r[0])
        ),
        "resource": sorted(
            [(r.pk, f"{r.school.name} · {r.name}", 1, int(r != other)) for r in [*resources, other]],
            key=lambda r: str(r[0]),
        ),
        "kind": [("lab", "Laboratory", 2, 2), ("room", "Room", 1, 0)],
        "subject": [("chemistry", "Chemistry", 1, 0), ("physics", "Physics", 2, 2)],
    }
    for group_by, rows in expected.items():
        with django_assert_num_queries(0):  # the meta read once, the threshold given
            got = metrics.group_rows(totals, group_by, threshold=0.1, meta=meta)
        assert [
            (r["group"], r["group_name"], r["resources"], round(r["idle_rate"] * r["resources"])) for r in got
        ] == rows
        assert metrics.group_rows(totals, group_by, threshold=0.1) == got


# Monday 28 September .. Monday 12 October 2026: National Day 1-7 October (closed) and the
# adjusted working days around it (调休), in the centre's two settings.
HOLIDAY_FIRST, HOLIDAY_LAST = dt.date(2026, 9, 28), dt.date(2026, 10, 12)


@pytest.mark.postgres
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), adjusted_open=st.booleans(), adjusted_weekday=st.integers(0, 6))
def test_sql_and_python_tallies_are_identical(world, seed, adjusted_open, adjusted_weekday):
    """Random resources (own hours, created mid-window, one retired), closures of the city, a
    school and a resource, tickets to the microsecond (some still open), bookings of every status
    crossing midnight and the window's ends: every resource-day the same in SQL and in Python."""
    import random

    from booking.models import EquitySettings

    rng = random.Random(seed)
    resources, teachers = world
    w0 = dt.datetime.combine(HOLIDAY_FIRST, dt.time(), tzinfo=SH)
    span = (HOLIDAY_LAST - HOLIDAY_FIRST).days + 1
    with transaction.atomic():
        EquitySettings.objects.update_or_create(
            pk=EquitySettings.current().pk,
            defaults={"adjusted_day_mode": "open" if adjusted_open else "closed",
                      "adjusted_day_weekday": adjusted_weekday},
        )  # fmt: skip
        extra = [ResourceFactory(school=teachers[rng.randint(0, 2)].school, hours=False) for _ in range(3)]
        everything = [*resources, *extra]
        for i, r in enumerate(everything):
            created = w0 + dt.timedelta(days=rng.choice([-400, -400, 3, 9]), hours=rng.randint(0, 23))
            Resource.objects.filter(pk=r.pk).update(
                created_at=created, status="retired" if i == len(everything) - 1 else "active"
            )
            for w in range(7):
                minute_of_day = 0
                for _ in range(rng.randint(0, 2)):
                    a = minute_of_day + rng.randint(0, 400)
                    b = a + rng.randint(1, 600)
                    if b >= 24 * 60:
                        break
                    OpeningHours.objects.create(
                        resource=r, weekday=w, start=dt.time(a // 60, a % 60), end=dt.time(b // 60, b % 60)
                    )
                    minute_of_day = b
            taken = []
            for _ in range(rng.randint(0, 25)):
                start = w0 + dt.timedelta(
                    minutes=rng.randint(-600, span * 24 * 60), seconds=rng.randint(0, 59),
                    microseconds=rng.choice([0, 0, rng.randint(0, 999_999)]),
                )  # fmt: skip
                end = start + dt.timedelta(minutes=rng.randint(1, 1500), microseconds=rng.randint(0, 999_999))
                status = rng.choice(STATUSES)
                if status != "cancelled":  # active bookings of a resource never overlap
                    if any(start < e and s < end for s, e in taken):
                        continue
                    taken.append((start, end))
                school = rng.randint(0, 2)
                Booking.objects.create(
                    resource=r, school=teachers[school].school, booked_by=teachers[school], start=start,
                    end=end, block_start=start, block_end=end, class_size=1, status=status,
                    is_external=teachers[school].school_id != r.school_id, check_in_code="T",
                )  # fmt: skip
            for _ in range(rng.randint(0, 2)):
                reported = w0 + dt.timedelta(
                    seconds=rng.randint(-86400, span * 86400), microseconds=rng.randint(0, 9)
                )
                resolved = (
                    reported + dt.timedelta(seconds=rng.randint(1, 3 * 86400)) if rng.random() < 0.7 else None
                )
                MaintenanceTicket.objects.create(
                    resource=r, school=r.school, description="x", takes_out_of_service=rng.random() < 0.8,
                    reported_by=teachers[0], reported_at=reported, due_at=reported + dt.timedelta(hours=24),
                    status="resolved" if resolved else "open", resolved_at=resolved,
                )  # fmt: skip
        day = lambda: HOLIDAY_FIRST + dt.timedelta(days=rng.randint(-1, span))  # noqa: E731
        d0 = day()
        Closure.objects.create(scope="city", start_date=d0, end_date=d0, reason="x")
        d0 = day()
        Closure.objects.create(
            scope="school", school=resources[0].school, start_date=d0, end_date=d0 + dt.timedelta(days=1),
            reason="x",
        )  # fmt: skip
        d0 = day()
        Closure.objects.create(scope="resource", resource=rng.choice(everything), start_date=d0, end_date=d0,
                               reason="x")  # fmt: skip

        population = metrics._population(Resource.objects.filter(pk__in=[r.pk for r in everything]))
        assert len(population) == len(everything) - 1  # the retired one is left out
        python = {
            (rid, d): vars(t)
            for rid, d, t in metrics._compute_days_python(population, HOLIDAY_FIRST, HOLIDAY_LAST)
        }
        sql = {
            (rid, d): vars(t)
            for rid, d, t in metrics._compute_days_sql(population, HOLIDAY_FIRST, HOLIDAY_LAST)
        }
        assert sql == python
        totals = metrics.resource_totals(Resource.objects.filter(pk__in=[r.pk for r in everything]),
                                         HOLIDAY_FIRST, HOLIDAY_LAST)  # fmt: skip
        for res in population:
            want = metrics.Tally()
            for d in metrics.dates(HOLIDAY_FIRST, HOLIDAY_LAST):
                want.add(metrics.Tally(**python[(res.pk, d)]))
            assert vars(totals[res.pk]) == vars(want)
        transaction.set_rollback(True)
