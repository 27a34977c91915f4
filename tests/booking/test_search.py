"""The city-wide availability search: the SQL statement (PostgreSQL) against the Python computation
on the same random cities, pagination of the lazy answer, the travel bounding box, bad input."""

import datetime as dt
import math
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking import search_sql
from booking.calendar import local_tz
from booking.models import Booking, Closure, EquitySettings, HolidayYear, OfficialDay
from booking.selectors import (
    SearchQuery,
    availability_search,
    availability_search_python,
    haversine_km,
    travel_minutes,
)
from equipment.models import OpeningHours, Resource
from schools.models import ClassPeriod
from tests.booking.conftest import SH
from tests.conftest import client_for
from tests.factories import DistrictFactory, KitFactory, ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the SQL search runs on PostgreSQL only"
)

# A fortnight in 2031 whose calendar the test loads itself: Monday 3 March to Sunday 16 March.
FIRST = dt.date(2031, 3, 3)
LAST = dt.date(2031, 3, 16)
HOLIDAYS = [dt.date(2031, 3, 5), dt.date(2031, 3, 11)]  # a Wednesday, a Tuesday
ADJUSTED = [dt.date(2031, 3, 8), dt.date(2031, 3, 15)]  # a Saturday and a Sunday worked
NOW = dt.datetime(2031, 3, 2, 9, 17, tzinfo=SH)

ALL_STATUSES = ["pending", "approved", "rejected", "cancelled", "checked_in", "completed", "no_show", "held"]


def load_calendar():
    year = HolidayYear.objects.create(year=2031)
    OfficialDay.objects.bulk_create(
        [OfficialDay(year=year, date=d, kind="holiday", name="测试假日") for d in HOLIDAYS]
        + [OfficialDay(year=year, date=d, kind="workday", name="调休") for d in ADJUSTED]
    )


def t(hh: int, mm: int = 0) -> dt.time:
    return dt.time(hh, mm)


def random_hours(rng: random.Random) -> list[tuple[int, dt.time, dt.time]]:
    out = []
    for weekday in range(7):
        shape = rng.choice(
            ["day", "day", "split", "adjacent", "none"] if weekday < 5 else ["none", "morning"]
        )
        if shape == "day":
            out.append((weekday, t(8), t(rng.choice([12, 17]))))
        elif shape == "split":
            out += [(weekday, t(8), t(11, 30)), (weekday, t(13, 30), t(17, 15))]
        elif shape == "adjacent":  # two ranges meeting at noon stay two ranges
            out += [(weekday, t(8), t(12)), (weekday, t(12), t(16))]
        elif shape == "morning":
            out.append((weekday, t(9), t(12)))
    return out


def build_city(rng: random.Random):
    """Schools in an urban and a county district (one without coordinates), resources of several
    kinds with random rules and hours, kits with buffers (one longer than a day), bookings in every
    status around the fortnight, closures of each scope."""
    load_calendar()
    urban = DistrictFactory(kind="urban", zone="core")
    county = DistrictFactory(kind="county", zone="linkage")
    schools = []
    for i in range(9):
        placed = i != 8
        school = SchoolFactory(
            district=county if i % 3 == 0 else urban,
            latitude=Decimal(f"{45.5 + rng.random() * 0.6:.5f}") if placed else None,
            longitude=Decimal(f"{126.3 + rng.random() * 0.9:.5f}") if placed else None,
            bell=i != 4,  # one school has no class periods
        )
        schools.append(school)
    # One school rings differently: period 6 ends later (a 2-hour 5-6) and period 3 is missing.
    ClassPeriod.objects.filter(school=schools[2], number=6).update(end=t(16, 0))
    ClassPeriod.objects.filter(school=schools[2], number=3).delete()
    resources = []
    for i in range(30):
        school = rng.choice(schools)
        common = {
            "school": school,
            "subject": rng.choice(["physics", "chemistry"]),
            "capacity": rng.choice([20, 40, 60]),
            "shared": rng.random() < 0.8,
            "status": rng.choice(["active"] * 8 + ["maintenance", "retired"]),
            "min_minutes": rng.choice([0, 30, 45, 60]),
            "max_minutes": rng.choice([60, 120, 240]),
            "min_notice_hours": rng.choice([0, 24, 72]),
            "max_advance_days": rng.choice([3, 10, 28]),
            "county_advance_days": rng.choice([None, 5, 14]),
            "hours": random_hours(rng),
        }
        if i % 5 == 0:
            resource = KitFactory(transit_buffer_minutes=rng.choice([0, 30, 120, 26 * 60]), **common)
        else:
            resource = ResourceFactory(kind=rng.choice(["lab", "lab", "room"]), **common)
        resources.append(resource)
    teachers = [UserFactory(school=s) for s in schools]
    # Bookings: never overlapping while active (the exclusion constraint), blocks widened by the
    # kit's buffer, from before the fortnight to after it.
    rows = []
    for resource in resources:
        buffer = dt.timedelta(minutes=resource.transit_buffer_minutes)
        taken: list[tuple[dt.datetime, dt.datetime]] = []
        for _ in range(rng.randint(3, 14)):
            day = FIRST + dt.timedelta(days=rng.randint(-3, 16))
            start = dt.datetime.combine(day, t(rng.randint(7, 16), rng.choice([0, 15, 30, 45])), tzinfo=SH)
            end = start + dt.timedelta(minutes=rng.choice([30, 45, 90, 120]))
            status = rng.choice(ALL_STATUSES)
            block = (start - buffer, end + buffer)
            if status in ("pending", "approved", "checked_in", "held"):
                if any(block[0] < b and a < block[1] for a, b in taken):
                    continue
                taken.append(block)
            school = rng.choice(schools)
            rows.append(
                Booking(
                    resource=resource,
                    school=school,
                    booked_by=teachers[schools.index(school)],
                    start=start,
                    end=end,
                    block_start=block[0],
                    block_end=block[1],
                    class_size=20,
                    status=status,
                    check_in_code="ABC123",
                    is_external=school.pk != resource.school_id,
                )
            )
    Booking.objects.bulk_create(rows)
    Closure.objects.create(scope="city", start_date=dt.date(2031, 3, 13), end_date=dt.date(2031, 3, 13))
    Closure.objects.create(
        scope="school", school=schools[1], start_date=FIRST, end_date=FIRST + dt.timedelta(1)
    )
    Closure.objects.create(
        scope="resource", resource=resources[3], start_date=dt.date(2031, 3, 6), end_date=dt.date(2031, 3, 10)
    )
    return schools, resources, teachers


def random_query(rng: random.Random, schools) -> SearchQuery:
    first = FIRST + dt.timedelta(days=rng.randint(0, 10))
    last = min(LAST, first + dt.timedelta(days=rng.randint(0, 8)))
    near = rng.choice([None, None, rng.choice(schools)])
    if near is not None and near.latitude is None and rng.random() < 0.5:
        near = schools[0]
    by_periods = rng.random() < 0.3
    return SearchQuery(
        date_from=first,
        date_to=last,
        kind=rng.choice([None, "lab", "mobile_kit", "room"]),
        subject=rng.choice([None, None, "physics"]),
        duration=None if by_periods else rng.choice([None, 30, 45, 90, 200, 300]),
        periods=rng.choice([(5, 6), (1, 1), (3, 4), (1, 8)]) if by_periods else None,
        capacity_min=rng.choice([None, None, 30, 50]),
        near_school=near,
        max_travel_minutes=rng.choice([None, 0, 10, 25, 60]) if near is not None else None,
    )


def key(results):
    return [(r.resource.pk, r.start, r.end, r.travel_minutes) for r in results]


@postgres_only
@pytest.mark.parametrize(("seed", "mode"), [(1, "open"), (2, "closed"), (3, "open")])
def test_sql_gives_the_python_answer(seed, mode, centre_admin):
    rng = random.Random(seed)
    schools, _resources, teachers = build_city(rng)
    EquitySettings.objects.update_or_create(
        pk=1,
        defaults={
            "urban_advance_days": 7,
            "county_advance_days": 10,
            "adjusted_day_mode": mode,
            "adjusted_day_weekday": rng.randint(0, 4),
            "road_factor": Decimal("1.35"),
            "travel_speed_kmh": 30,
        },
    )
    users = [*teachers, centre_admin]
    nonempty = 0
    for _ in range(60):
        user = rng.choice(users)
        query = random_query(rng, schools)
        expected = key(availability_search_python(user=user, query=query, now=NOW))
        got = availability_search(user=user, query=query, now=NOW)
        assert isinstance(got, search_sql.SearchResults)
        assert got.count() == len(expected), query
        assert key(got) == expected, query
        nonempty += bool(expected)
    assert nonempty >= 15  # the cases say something


@postgres_only
def test_sql_travel_minutes_equal_python_on_random_coordinates(county_teacher):
    """The SQL haversine mirrors the Python one operation by operation: the same minutes."""
    rng = random.Random(7)
    equity = EquitySettings.current()
    origin = county_teacher.school
    points = [
        (Decimal(f"{44 + rng.random() * 3:.5f}"), Decimal(f"{125 + rng.random() * 4:.5f}"))
        for _ in range(400)
    ]
    params = {
        "lat": float(origin.latitude),
        "lon": float(origin.longitude),
        "road_factor": float(equity.road_factor),
        "speed": equity.travel_speed_kmh,
    }
    sql = "SELECT " + search_sql.TRAVEL + " FROM (VALUES {}) AS s (latitude, longitude)"
    values = ", ".join(f"({lat}::numeric, {lon}::numeric)" for lat, lon in points)
    with connection.cursor() as cursor:
        cursor.execute(sql.format(values), params)
        got = [row[0] for row in cursor.fetchall()]
    expected = [
        travel_minutes(
            haversine_km(float(origin.latitude), float(origin.longitude), float(lat), float(lon)), equity
        )
        for lat, lon in points
    ]
    assert got == expected


def test_bounding_box_holds_every_point_within_the_bound(county_school):
    rng = random.Random(11)
    equity = EquitySettings.current()
    for _ in range(2000):
        county_school.latitude = Decimal(f"{rng.uniform(-70, 70):.5f}")
        county_school.longitude = Decimal(f"{rng.uniform(-179, 179):.5f}")
        limit = rng.choice([0, 1, 15, 60, 240])
        box = search_sql.bounding_box(county_school, limit, equity)
        lat, lon = float(county_school.latitude), float(county_school.longitude)
        # points scattered around the bound's distance
        km = limit * equity.travel_speed_kmh / 60 / float(equity.road_factor)
        bearing, dist = rng.uniform(0, 2 * math.pi), km * rng.uniform(0.9, 1.1)
        plat = lat + math.degrees(dist / 6371.0) * math.cos(bearing)
        plon = lon + math.degrees(dist / 6371.0) * math.sin(bearing) / math.cos(math.radians(lat))
        if not -180 <= plon <= 180:
            continue
        plat, plon = round(plat, 5), round(plon, 5)
        if travel_minutes(haversine_km(lat, lon, plat, plon), equity) <= limit:
            assert box[0] <= plat <= box[1], (lat, lon, plat, plon, limit)
            assert box[2] <= plon <= box[3], (lat, lon, plat, plon, limit)


def test_bounding_box_keeps_far_schools_out_of_the_candidates(county_teacher, county_school):
    near = ResourceFactory(
        school=SchoolFactory(latitude=county_school.latitude, longitude=county_school.longitude)
    )
    ResourceFactory(school=SchoolFactory(latitude=Decimal("47.00000"), longitude=Decimal("130.00000")))
    day = dt.date(2031, 3, 4)
    query = SearchQuery(date_from=day, date_to=day, near_school=county_school, max_travel_minutes=30)
    results = availability_search(user=county_teacher, query=query, now=NOW)
    assert {r.resource.pk for r in results} == {near.pk}
    assert {r.resource.pk for r in availability_search_python(user=county_teacher, query=query, now=NOW)} == {
        near.pk
    }


def test_kit_buffer_longer_than_a_day_blocks_the_next_days(county_teacher):
    """A booking two days before the window still blocks it through a 3-day buffer (both paths)."""
    load_calendar()
    kit = KitFactory(transit_buffer_minutes=3 * 24 * 60, min_notice_hours=0)
    start = dt.datetime(2031, 3, 4, 10, tzinfo=SH)
    Booking.objects.create(
        resource=kit,
        school=county_teacher.school,
        booked_by=county_teacher,
        start=start,
        end=start + dt.timedelta(hours=1),
        block_start=start - dt.timedelta(days=3),
        block_end=start + dt.timedelta(hours=1, days=3),
        class_size=20,
        status="approved",
        check_in_code="ABC123",
    )
    day = dt.date(2031, 3, 10)  # a Monday: 3 days after the block ends plus the new booking's buffer
    blocked = SearchQuery(date_from=dt.date(2031, 3, 7), date_to=dt.date(2031, 3, 7), kind="mobile_kit")
    free = SearchQuery(date_from=day, date_to=day, kind="mobile_kit")
    assert list(availability_search_python(user=county_teacher, query=blocked, now=NOW)) == []
    assert list(availability_search(user=county_teacher, query=blocked, now=NOW)) == []
    assert len(availability_search(user=county_teacher, query=free, now=NOW)) == 1


@pytest.fixture
def berlin(settings):
    """A zone with summer time (from 02:00 on Sunday 30 March 2031); local_tz() is cached."""
    settings.TIME_ZONE = "Europe/Berlin"
    local_tz.cache_clear()
    yield
    local_tz.cache_clear()


def test_day_bases_fall_back_to_conversions_on_a_dst_change(berlin):
    """A day whose UTC offset changes has no single midnight to add local times to: then every
    local time is converted on its own."""
    saturday, sunday = dt.date(2031, 3, 29), dt.date(2031, 3, 30)
    assert search_sql.day_bases([saturday]) == [dt.datetime(2031, 3, 28, 23, tzinfo=dt.UTC)]
    assert search_sql.day_bases([saturday, sunday]) is None
    assert search_sql.local_clock("h.start", None) == "((d.day + h.start) AT TIME ZONE %(tz)s)"


@postgres_only
@pytest.mark.parametrize("periods", [None, (1, 2)])
def test_sql_gives_the_python_answer_across_a_dst_change(berlin, county_teacher, periods):
    load_calendar()
    lab = ResourceFactory(
        hours=[(d, t(8), t(17)) for d in range(7)], min_notice_hours=0, max_advance_days=60, min_minutes=0
    )
    start = dt.datetime(2031, 3, 30, 10, tzinfo=ZoneInfo("Europe/Berlin"))
    Booking.objects.create(
        resource=lab,
        school=county_teacher.school,
        booked_by=county_teacher,
        start=start,
        end=start + dt.timedelta(hours=1),
        block_start=start,
        block_end=start + dt.timedelta(hours=1),
        class_size=20,
        status="approved",
        check_in_code="ABC123",
    )
    query = SearchQuery(date_from=dt.date(2031, 3, 28), date_to=dt.date(2031, 3, 31), periods=periods)
    expected = key(availability_search_python(user=county_teacher, query=query, now=NOW))
    assert key(availability_search(user=county_teacher, query=query, now=NOW)) == expected
    starts = {r[1].astimezone(dt.UTC) for r in expected}
    if periods is None:  # 08:00 in Berlin: 07:00 UTC in winter, 06:00 UTC from the Sunday on
        assert dt.datetime(2031, 3, 29, 7, tzinfo=dt.UTC) in starts
        assert dt.datetime(2031, 3, 30, 6, tzinfo=dt.UTC) in starts
        assert dt.datetime(2031, 3, 30, 9, tzinfo=dt.UTC) in starts  # after the booking
    else:
        assert len(expected) == 4


# --- pagination ------------------------------------------------------------------------------


@pytest.fixture
def many_slots(county_school):
    """25 labs with split hours Monday to Friday, next week (the API searches with the real clock):
    two slots per lab and working day, 150-250 in all, ordered by start then travel (25 distances)."""
    hours = [(d, t(8), t(11, 30)) for d in range(5)] + [(d, t(13, 30), t(17)) for d in range(5)]
    for i in range(25):
        lat = county_school.latitude + Decimal(i) / 100
        ResourceFactory(
            school=SchoolFactory(latitude=lat, longitude=county_school.longitude),
            hours=hours,
            min_notice_hours=0,
        )
    today = timezone.localdate()
    monday = today + dt.timedelta(days=7 - today.weekday())
    return SearchQuery(date_from=monday, date_to=monday + dt.timedelta(days=6), near_school=county_school)


def test_lazy_pages_concatenate_to_the_full_ordered_answer(county_teacher, many_slots):
    now = timezone.now()
    full = key(availability_search_python(user=county_teacher, query=many_slots, now=now))
    assert len(full) >= 150
    results = availability_search(user=county_teacher, query=many_slots, now=now)
    assert len(results) == len(full)
    pages = []
    for offset in range(0, len(full), 37):
        pages += key(results[offset : offset + 37])
    assert pages == full
    assert key([results[0], results[-1], results[17]]) == [full[0], full[-1], full[17]]
    assert key(results[150:1000]) == full[150:]
    assert results[5:5] == []
    assert results[10:3] == []
    assert key(results[::50]) == full[::50]
    with pytest.raises(IndexError):
        results[len(full)]


@postgres_only
def test_count_and_page_come_from_one_statement(county_teacher, many_slots):
    now = timezone.now()
    total = len(availability_search_python(user=county_teacher, query=many_slots, now=now))
    last_start = (total - 1) // 50 * 50
    for number, size, start in [(1, 50, 0), (3, 30, 60), ("last", 50, last_start), ("last", 400, 0)]:
        results = availability_search(user=county_teacher, query=many_slots, now=now)
        results.expect_page(size, number)
        with CaptureQueriesContext(connection) as ctx:
            assert results.count() == total
            end = min(start + size, total)
            page = results[start:end]
        assert len(page) == end - start
        assert sum("WITH cand" in q["sql"] for q in ctx.captured_queries) == 1, number


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_one_round_trip_gives_the_pages(county_teacher, many_slots):
    """The API runs in autocommit: the settings and the statement go in one round trip (one implicit
    transaction); the pages are the Python answer's, and the settings end with the statement."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('work_mem'), current_setting('statement_timeout')")
        before = cursor.fetchone()
    now = timezone.now()
    full = key(availability_search_python(user=county_teacher, query=many_slots, now=now))
    assert connection.get_autocommit()
    assert not connection.in_atomic_block
    results = availability_search(user=county_teacher, query=many_slots, now=now)
    results.expect_page(50, "last")
    last_start = (len(full) - 1) // 50 * 50
    with CaptureQueriesContext(connection) as ctx:
        assert results.count() == len(full)
        assert key(results[last_start : len(full)]) == full[last_start:]
    assert len(ctx.captured_queries) == 1
    assert key(results[0:37]) == full[:37]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('work_mem'), current_setting('statement_timeout')")
        assert cursor.fetchone() == before


def test_api_pages_concatenate_to_the_full_answer(county_teacher, many_slots):
    client = client_for(county_teacher)
    params = {
        "date_from": many_slots.date_from,
        "date_to": many_slots.date_to,
        "near_school": many_slots.near_school.pk,
    }
    full = availability_search_python(user=county_teacher, query=many_slots, now=timezone.now())
    rows, page = [], 1
    while True:
        body = client.get("/api/v1/availability/", {**params, "page": page, "page_size": 70}).json()
        assert body["count"] == len(full)
        rows += body["results"]
        if body["next"] is None:
            break
        page += 1
    assert page == math.ceil(len(full) / 70)
    assert [(r["resource"], r["start"], r["end"], r["travel_minutes"]) for r in rows] == [
        (
            r.resource.pk,
            r.start.astimezone(SH).isoformat(),
            r.end.astimezone(SH).isoformat(),
            r.travel_minutes,
        )
        for r in full
    ]
    last = client.get("/api/v1/availability/", {**params, "page": "last", "page_size": 70}).json()
    assert last["results"] == rows[(page - 1) * 70 :]
    assert last["next"] is None
    assert (last["previous"] is not None) == (page > 1)
    assert (
        client.get("/api/v1/availability/", {**params, "page": page + 1, "page_size": 70}).status_code == 404
    )
    assert client.get("/api/v1/availability/", {**params, "page": "x"}).status_code == 404
    big = client.get("/api/v1/availability/", {**params, "page_size": 1000}).json()
    assert len(big["results"]) == min(200, len(full))


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2031-02-30", "date_to": "2031-03-02"},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "duration": 0},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "duration": -30},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "duration": 99999},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "capacity_min": "many"},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "capacity_min": 0},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "near_school": "abc"},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "near_school": -1},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "near_school": 2**70},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "max_travel_minutes": -5},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "periods": "5-"},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "periods": "0-2"},
        {"date_from": "2031-03-03", "date_to": "2031-03-04", "subject": "alchemy"},
    ],
)
def test_bad_input_is_400(county_teacher, query):
    assert client_for(county_teacher).get("/api/v1/availability/", query).status_code == 400


def test_near_school_without_coordinates_is_400(county_teacher):
    nowhere = SchoolFactory(latitude=None, longitude=None)
    query = {"date_from": "2031-03-03", "date_to": "2031-03-04", "near_school": nowhere.pk}
    assert client_for(county_teacher).get("/api/v1/availability/", query).status_code == 400


def test_own_private_resource_found_by_its_school_only(county_teacher, urban_teacher):
    load_calendar()
    private = ResourceFactory(school=county_teacher.school, shared=False, min_notice_hours=0)
    day = dt.date(2031, 3, 4)
    query = SearchQuery(date_from=day, date_to=day)
    assert {r.resource.pk for r in availability_search(user=county_teacher, query=query, now=NOW)} == {
        private.pk
    }
    assert list(availability_search(user=urban_teacher, query=query, now=NOW)) == []
    OpeningHours.objects.filter(resource=private).delete()
    assert list(availability_search(user=county_teacher, query=query, now=NOW)) == []
    assert Resource.objects.filter(pk=private.pk).exists()


def test_edge_inputs_of_the_search_api_answer_4xx(county_teacher):
    """Far-future dates, a 32-day window, pages beyond bigint, negative pages: 400 or 404, never 500."""
    client = client_for(county_teacher)
    base = {"date_from": "2026-12-07", "date_to": "2026-12-08", "duration": 45}

    def get(**kw):
        return client.get("/api/v1/availability/", {**base, **kw})

    for far in ("9999-12-31", "1900-01-01"):
        r = get(date_from=far, date_to=far)
        assert r.status_code == 400, r.content
        assert "date_from" in r.json()
    assert get(date_from="2027-01-01", date_to="2027-02-01").status_code == 400  # 32 days
    assert get(date_from="2027-01-01", date_to="2027-01-31").status_code == 200  # 31 days
    for page in (str(10**17), "9223372036854775808", "-1", "0", "abc"):
        assert get(page=page, page_size=200).status_code == 404, page


def test_the_search_is_throttled_per_user(county_teacher):
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()
    rates = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = {**rates, "search": "2/min"}
    try:
        client = client_for(county_teacher)
        query = {"date_from": "2026-12-07", "date_to": "2026-12-08", "duration": 45}
        codes = [client.get("/api/v1/availability/", query).status_code for _ in range(3)]
    finally:
        ScopedRateThrottle.THROTTLE_RATES = rates
        cache.clear()
    assert codes == [200, 200, 429]


@pytest.mark.postgres  # statement_timeout is PostgreSQL's
@pytest.mark.parametrize(
    "db_mode",
    [
        pytest.param("atomic", marks=pytest.mark.django_db),
        pytest.param("autocommit", marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_a_search_past_its_statement_timeout_is_503_busy(county_teacher, settings, db_mode):
    """The search's statement runs under a timeout on PostgreSQL; running past it is a 503 that
    may be retried, not a 500."""
    for _ in range(60):
        ResourceFactory(shared=True, max_advance_days=60)
    settings.SEARCH_STATEMENT_TIMEOUT_MS = 1
    client = client_for(county_teacher)
    day = timezone.localdate() + dt.timedelta(days=3)
    r = client.get(
        "/api/v1/availability/",
        {"date_from": day.isoformat(), "date_to": (day + dt.timedelta(days=20)).isoformat(), "duration": 45},
    )
    assert r.status_code == 503, r.content
    assert r.json()["code"] == "busy"
    assert r["Retry-After"] == "1"
    settings.SEARCH_STATEMENT_TIMEOUT_MS = 20_000
    assert (
        client.get(
            "/api/v1/availability/",
            {"date_from": day.isoformat(), "date_to": day.isoformat(), "duration": 45},
        ).status_code
        == 200
    )
