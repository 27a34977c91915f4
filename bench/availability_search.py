"""City-scale availability search: booking.selectors.availability_search vs one hand-written SQL query.

    .venv/bin/python bench/availability_search.py [--schools 2876] [--seed 1] [--repeat 30]

Needs the synthetic city (`manage.py seed_city --schools 2876 --seed 1`; run here when the bench
database has no city of that size) and a month of bookings per resource, generated here in
bulk (COPY) and not measured: from tomorrow, 2-4 bookings per resource per ISO week on distinct
open days, 45/90/120 minutes inside the opening hours, 90 % approved, 5 % pending, 5 % cancelled,
block = start/end (no overlaps). A rerun with the same seed and date reuses them.

As a county teacher, four typical searches run `--repeat` times each (after a warm-up):
physics labs next week for 90 minutes; labs for periods 5-6 next week; labs within 60 minutes'
travel of the teacher's school for 90 minutes next week; every lab in the next 7 days. The same
answer is computed by one SQL query each (free = opening hours per day minus active bookings,
days from generate_series, statutory holidays passed in as date arrays from booking.holidays,
closures, visibility and horizon rules, multirange difference, haversine for travel) as the
limit, and the two answers are compared as sets of (resource, start, end). The slowest search is
profiled with cProfile.

Database: edushare_bench (BENCH_DATABASE), created if missing and migrated. Writes
bench/results/availability_search.json. Goal: p95 < 100 ms and within 3x of the SQL.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

GOAL_P95_MS = 100.0
GOAL_RATIO = 3.0
CITY = "CITY-"


# --- data set-up (not measured) ------------------------------------------------------------


def ensure_city(schools: int, seed: int) -> None:
    from django.core.management import call_command

    from equipment.models import Resource
    from schools.models import School

    have = School.objects.filter(code__startswith=CITY).count()
    resources = Resource.objects.filter(school__code__startswith=CITY).count()
    if have == schools and resources:
        print(f"city: {have} schools, {resources} resources already there")
        return
    started = time.perf_counter()
    call_command("seed_city", schools=schools, seed=seed, verbosity=0)
    print(f"city: seed_city --schools {schools} --seed {seed} in {time.perf_counter() - started:.1f} s")


def set_policy() -> tuple[dict, dict]:
    """The city policy the searches run under: the model's defaults. Returns (defaults, previous)."""
    from booking.models import EquitySettings

    current = EquitySettings.current()
    names = [
        f.name for f in EquitySettings._meta.concrete_fields if not f.primary_key and f.name != "updated_at"
    ]
    previous = {n: getattr(current, n) for n in names}
    defaults = {n: EquitySettings._meta.get_field(n).get_default() for n in names}
    EquitySettings.objects.filter(pk=1).update(**defaults)
    return {k: str(v) for k, v in defaults.items()}, previous


def city_bookings_sql() -> str:
    return f"""SELECT b.id FROM booking_booking b JOIN equipment_resource r ON r.id = b.resource_id
        JOIN schools_school s ON s.id = r.school_id WHERE starts_with(s.code, '{CITY}')"""


def delete_city_bookings(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(f"DELETE FROM booking_bookingevent WHERE booking_id IN ({city_bookings_sql()})")
        conn.execute(f"DELETE FROM booking_booking WHERE id IN ({city_bookings_sql()})")


BOOKING_COLUMNS = (
    "resource_id",
    "school_id",
    "booked_by_id",
    "start",
    '"end"',
    "block_start",
    "block_end",
    "class_size",
    "purpose",
    "status",
    "periods",
    "is_external",
    "check_in_code",
    "created_at",
    "updated_at",
)


def generate_bookings(first: dt.date, days: int, seed: int) -> tuple[list[tuple], str]:
    from booking.calendar import local_tz
    from equipment.models import OpeningHours, Resource
    from schools.models import User

    tz = local_tz()
    rng = random.Random(f"bench-availability:{seed}:{first}")
    marker = f"bench-availability seed={seed} first={first}"
    resources = list(
        Resource.objects.filter(school__code__startswith=CITY).order_by("pk").values_list("pk", "school_id")
    )
    hours: dict[int, dict[int, list[tuple[dt.time, dt.time]]]] = defaultdict(lambda: defaultdict(list))
    for rid, weekday, start, end in OpeningHours.objects.filter(
        resource__school__code__startswith=CITY
    ).values_list("resource_id", "weekday", "start", "end"):
        hours[rid][weekday].append((start, end))
    teachers = dict(
        User.objects.filter(school__code__startswith=CITY, username__endswith="-t1").values_list(
            "school_id", "pk"
        )
    )
    school_ids = sorted(teachers)
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    weeks: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
    for d in dates:
        weeks[d.isocalendar()[:2]].append(d)
    now = dt.datetime.now(dt.UTC)
    rows = []
    for rid, owner in resources:
        weekly = hours.get(rid, {})
        for week_days in weeks.values():
            open_days = [d for d in week_days if weekly.get(d.weekday())]
            for day in rng.sample(open_days, min(len(open_days), rng.randint(2, 4))):
                a, b = rng.choice(weekly[day.weekday()])
                length = (b.hour * 60 + b.minute) - (a.hour * 60 + a.minute)
                fitting = [m for m in (45, 90, 120) if m <= length]
                if not fitting:
                    continue
                minutes = rng.choice(fitting)
                offset = 5 * rng.randint(0, (length - minutes) // 5)
                start = dt.datetime.combine(day, a, tzinfo=tz) + dt.timedelta(minutes=offset)
                end = start + dt.timedelta(minutes=minutes)
                roll = rng.random()
                status = "approved" if roll < 0.9 else ("pending" if roll < 0.95 else "cancelled")
                school = owner if rng.random() < 0.7 else rng.choice(school_ids)
                rows.append(
                    (
                        rid,
                        school,
                        teachers[school],
                        start,
                        end,
                        start,
                        end,
                        30,
                        marker,
                        status,
                        "",
                        school != owner,
                        f"{rng.randrange(16**6):06X}",
                        now,
                        now,
                    )
                )
    return rows, marker


def ensure_bookings(url: str, first: dt.date, days: int, seed: int) -> dict:
    started = time.perf_counter()
    rows, marker = generate_bookings(first, days, seed)
    city_bookings = city_bookings_sql()
    with psycopg.connect(url, autocommit=True) as conn:
        have = conn.execute(
            f"SELECT count(*), count(*) FILTER (WHERE b.purpose = %s) FROM ({city_bookings}) x "
            "JOIN booking_booking b USING (id)",
            (marker,),
        ).fetchone()
        if have == (len(rows), len(rows)):
            print(f"bookings: {len(rows):,} for the city already there ({marker})")
            return {"bookings": len(rows), "marker": marker, "reused": True}
        delete_city_bookings(conn)
        with (
            conn.transaction(),
            conn.cursor().copy(f"COPY booking_booking ({', '.join(BOOKING_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    print(f"bookings: {len(rows):,} for the city written in {time.perf_counter() - started:.1f} s ({marker})")
    return {"bookings": len(rows), "marker": marker, "reused": False}


# --- the searches ---------------------------------------------------------------------------


@dataclass
class Search:
    name: str
    label: str
    kwargs: dict
    selector_s: list[float] = field(default_factory=list)
    sql_s: list[float] = field(default_factory=list)
    results: int = 0
    candidates: int = 0


def searches(user, today: dt.date) -> list[Search]:
    monday = today + dt.timedelta(days=7 - today.weekday())  # the next Monday after today
    sunday = monday + dt.timedelta(days=6)
    tomorrow = today + dt.timedelta(days=1)
    return [
        Search(
            "physics_90",
            f"physics labs, {monday}..{sunday}, 90 min",
            {"date_from": monday, "date_to": sunday, "kind": "lab", "subject": "physics", "duration": 90},
        ),
        Search(
            "periods_5_6",
            f"labs, periods 5-6, {monday}..{monday + dt.timedelta(days=4)}",
            {"date_from": monday, "date_to": monday + dt.timedelta(days=4), "kind": "lab", "periods": (5, 6)},
        ),
        Search(
            "near_60min",
            f"labs within 60 min travel, {monday}..{sunday}, 90 min",
            {
                "date_from": monday,
                "date_to": sunday,
                "kind": "lab",
                "duration": 90,
                "near_school": user.school,
                "max_travel_minutes": 60,
            },
        ),
        Search(
            "all_labs_7d",
            f"all labs, {tomorrow}..{tomorrow + dt.timedelta(days=6)}",
            {"date_from": tomorrow, "date_to": tomorrow + dt.timedelta(days=6), "kind": "lab"},
        ),
    ]


SQL = """
WITH cand AS (
    SELECT r.id, r.school_id, r.min_minutes, r.max_minutes,
           make_interval(mins => r.transit_buffer_minutes) AS buf,
           %(now)s::timestamptz + make_interval(hours => r.min_notice_hours) AS earliest,
           %(now)s::timestamptz + make_interval(days => CASE
               WHEN r.school_id = %(school)s THEN r.max_advance_days
               WHEN %(is_county)s
                   THEN greatest(r.max_advance_days, coalesce(r.county_advance_days, %(county_days)s))
               ELSE least(r.max_advance_days, %(urban_days)s) END) AS latest,
           {travel} AS travel
    FROM equipment_resource r
    JOIN schools_school s ON s.id = r.school_id
    WHERE r.status = 'active' AND (r.shared OR r.school_id = %(school)s)
      AND (%(kind)s::text IS NULL OR r.kind = %(kind)s)
      AND (%(subject)s::text IS NULL OR r.subject = %(subject)s)
      AND (%(capacity)s::int IS NULL OR r.capacity >= %(capacity)s)
      {travel_filter}
),
days AS (
    SELECT d::date AS day,
           CASE WHEN d::date = ANY(%(adjusted)s::date[]) THEN %(adjusted_weekday)s
                ELSE extract(isodow FROM d)::int - 1 END AS weekday
    FROM generate_series(%(date_from)s::date, %(date_to)s::date, interval '1 day') AS d
    WHERE NOT d::date = ANY(%(holidays)s::date[])
      AND NOT (d::date = ANY(%(adjusted)s::date[]) AND NOT %(adjusted_open)s)
),
opened AS (
    SELECT c.*, greatest((d.day + h.start) AT TIME ZONE %(tz)s, %(w0)s::timestamptz, c.earliest) AS a,
           least((d.day + h."end") AT TIME ZONE %(tz)s, %(w1)s::timestamptz, c.latest) AS b
    FROM cand c
    JOIN days d ON true
    JOIN equipment_openinghours h ON h.resource_id = c.id AND h.weekday = d.weekday
    WHERE NOT EXISTS (
        SELECT 1 FROM booking_closure x
        WHERE x.start_date <= d.day AND x.end_date >= d.day
          AND (x.scope = 'city' OR (x.scope = 'school' AND x.school_id = c.school_id)
               OR (x.scope = 'resource' AND x.resource_id = c.id)))
),
blocks AS (
    SELECT k.resource_id, range_agg(tstzrange(k.block_start - c.buf, k.block_end + c.buf, '[)')) AS taken
    FROM booking_booking k
    JOIN cand c ON c.id = k.resource_id
    WHERE k.status IN {active}
      AND k.block_start < %(w1)s::timestamptz + interval '1 day' + c.buf
      AND k.block_end > %(w0)s::timestamptz - interval '1 day' - c.buf
    GROUP BY k.resource_id
),
free AS (
    SELECT o.id, o.school_id, o.min_minutes, o.max_minutes, o.travel, f AS slot
    FROM opened o
    LEFT JOIN blocks k ON k.resource_id = o.id
    CROSS JOIN LATERAL unnest(
        tstzmultirange(tstzrange(o.a, o.b, '[)')) - coalesce(k.taken, '{{}}'::tstzmultirange)
    ) AS f
    WHERE o.a < o.b AND upper(f) - lower(f) >= make_interval(mins => o.min_minutes)
)
{tail}
"""

DURATION_TAIL = """
SELECT f.id, lower(f.slot) AS start, upper(f.slot) AS "end", f.travel
FROM free f
WHERE coalesce(%(duration)s::int, f.min_minutes) <= f.max_minutes
  AND upper(f.slot) - lower(f.slot) >= make_interval(mins => coalesce(%(duration)s::int, f.min_minutes))
ORDER BY 2, coalesce(f.travel, 0), 1
"""

PERIODS_TAIL = """
, bell AS (
    SELECT p.school_id, max(p.start) FILTER (WHERE p.number = %(first)s) AS s,
           max(p."end") FILTER (WHERE p.number = %(last)s) AS e
    FROM schools_classperiod p
    WHERE p.number IN (%(first)s, %(last)s) AND p.school_id IN (SELECT school_id FROM cand)
    GROUP BY p.school_id
    HAVING count(*) FILTER (WHERE p.number = %(first)s) > 0
       AND count(*) FILTER (WHERE p.number = %(last)s) > 0
),
asked AS (
    SELECT c.id, c.school_id, c.travel, c.earliest, c.latest, d.day, d.weekday,
           (d.day + b.s) AT TIME ZONE %(tz)s AS s, (d.day + b.e) AT TIME ZONE %(tz)s AS e
    FROM cand c
    JOIN bell b ON b.school_id = c.school_id
    JOIN days d ON true
    WHERE b.e - b.s BETWEEN make_interval(mins => c.min_minutes) AND make_interval(mins => c.max_minutes)
)
-- wholly free = inside one opening range of the day (clipped to the window and the horizon)
-- and clear of every (buffer-widened) active booking
SELECT q.id, q.s AS start, q.e AS "end", q.travel
FROM asked q
JOIN equipment_openinghours h ON h.resource_id = q.id AND h.weekday = q.weekday
LEFT JOIN blocks k ON k.resource_id = q.id
WHERE greatest((q.day + h.start) AT TIME ZONE %(tz)s, %(w0)s::timestamptz, q.earliest) <= q.s
  AND q.e <= least((q.day + h."end") AT TIME ZONE %(tz)s, %(w1)s::timestamptz, q.latest)
  AND (k.taken IS NULL OR NOT k.taken && tstzrange(q.s, q.e, '[)'))
  AND NOT EXISTS (
      SELECT 1 FROM booking_closure x
      WHERE x.start_date <= q.day AND x.end_date >= q.day
        AND (x.scope = 'city' OR (x.scope = 'school' AND x.school_id = q.school_id)
             OR (x.scope = 'resource' AND x.resource_id = q.id)))
ORDER BY 2, coalesce(q.travel, 0), 1
"""

TRAVEL = """ceil(2 * 6371.0 * asin(sqrt(
        power(sin(radians(s.latitude::float8 - %(lat)s) / 2), 2)
        + cos(radians(%(lat)s)) * cos(radians(s.latitude::float8))
          * power(sin(radians(s.longitude::float8 - %(lon)s) / 2), 2)))
        * %(road_factor)s / %(speed)s * 60)::int"""


def sql_for(kwargs: dict, user, equity, now: dt.datetime) -> tuple[str, dict]:
    """The hand-written query and its parameters for one search (calendar facts from booking.holidays)."""
    from booking.calendar import local_midnight, local_tz
    from booking.holidays import ADJUSTED_WORKDAY, HOLIDAY, days_info

    info = days_info(kwargs["date_from"], kwargs["date_to"])
    origin = kwargs.get("near_school")
    travel, travel_filter = "NULL::int", ""
    params = {
        "now": now,
        "school": user.school_id,
        "is_county": user.school.district.kind == "county",
        "county_days": equity.county_advance_days,
        "urban_days": equity.urban_advance_days,
        "kind": kwargs.get("kind"),
        "subject": kwargs.get("subject"),
        "capacity": kwargs.get("capacity_min"),
        "date_from": kwargs["date_from"],
        "date_to": kwargs["date_to"],
        "holidays": [d for d, i in info.items() if i.kind == HOLIDAY],
        "adjusted": [d for d, i in info.items() if i.kind == ADJUSTED_WORKDAY],
        "adjusted_weekday": equity.adjusted_day_weekday,
        "adjusted_open": equity.adjusted_day_mode == "open",
        "tz": str(local_tz()),
        "w0": local_midnight(kwargs["date_from"]),
        "w1": local_midnight(kwargs["date_to"] + dt.timedelta(days=1)),
        "duration": kwargs.get("duration"),
    }
    if origin is not None:
        travel = TRAVEL
        travel_filter = "AND s.latitude IS NOT NULL"
        if kwargs.get("max_travel_minutes") is not None:
            travel_filter += f" AND {TRAVEL} <= %(max_travel)s"
        params |= {
            "lat": float(origin.latitude),
            "lon": float(origin.longitude),
            "road_factor": float(equity.road_factor),
            "speed": equity.travel_speed_kmh,
            "max_travel": kwargs.get("max_travel_minutes"),
        }
    tail = DURATION_TAIL
    if kwargs.get("periods"):
        tail = PERIODS_TAIL
        params |= {"first": kwargs["periods"][0], "last": kwargs["periods"][1]}
    return SQL.format(
        travel=travel, travel_filter=travel_filter, tail=tail, active=common.active_sql()
    ), params


def run_selector(user, kwargs, now):
    from booking.selectors import SearchQuery, availability_search

    return availability_search(user=user, query=SearchQuery(**kwargs), now=now)


def limit_connection(url: str) -> psycopg.Connection:
    """The limit's own connection: binary results (no text parsing of 50,000 timestamps) and no JIT
    (the planner's row estimates for generate_series and CTEs are far too high, so PostgreSQL would
    spend ~0.9 s compiling the plan of the larger searches)."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET jit = off")
    return conn


def run_sql(conn, user, kwargs, equity, now):
    query, params = sql_for(kwargs, user, equity, now)
    with conn.cursor(binary=True) as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def profile(fn) -> str:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


def measure(options, user, today, equity, now, limit):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rows_out = []
    checks = []
    for s in searches(user, today):
        busy = common.wait_for_quiet(options.quiet_wait) if options.quiet_wait else common.cpu_busy()
        got = run_selector(user, s.kwargs, now)  # warm-up, and the answer to compare
        sql_rows = run_sql(limit, user, s.kwargs, equity, now)
        mine = {(r.resource.pk, r.start, r.end) for r in got}
        theirs = {(rid, a, b) for rid, a, b, _travel in sql_rows}
        order_same = [(r.resource.pk, r.start, r.end) for r in got] == [(i, a, b) for i, a, b, _ in sql_rows]
        travel_same = all(r.travel_minutes == t for r, (_i, _a, _b, t) in zip(got, sql_rows, strict=False))
        check = {
            "search": s.name,
            "selector_rows": len(got),
            "sql_rows": len(sql_rows),
            "equal_sets": mine == theirs,
            "same_order": order_same,
            "same_travel_minutes": travel_same,
            "only_selector": sorted(map(str, mine - theirs))[:5],
            "only_sql": sorted(map(str, theirs - mine))[:5],
        }
        checks.append(check)
        with CaptureQueriesContext(connection) as ctx:
            run_selector(user, s.kwargs, now)
        n_queries = len(ctx.captured_queries)
        s.results = len(got)
        s.candidates = len({r.resource.pk for r in got})
        deadline = time.perf_counter() + options.budget
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            selector_backend = cursor.fetchone()[0]
        limit_backend = limit.execute("SELECT pg_backend_pid()").fetchone()[0]
        selector_cpu, sql_cpu = [], []  # CPU ms per run: this thread + the server backend
        for _ in range(options.repeat):
            c0, b0 = time.thread_time(), common.process_cpu_seconds([selector_backend])
            t0 = time.perf_counter()
            run_selector(user, s.kwargs, now)
            s.selector_s.append(time.perf_counter() - t0)
            selector_cpu.append(time.thread_time() - c0 + common.process_cpu_seconds([selector_backend]) - b0)
            if time.perf_counter() > deadline:
                break
        run_sql(limit, user, s.kwargs, equity, now)
        for _ in range(options.repeat):
            c0, b0 = time.thread_time(), common.process_cpu_seconds([limit_backend])
            t0 = time.perf_counter()
            run_sql(limit, user, s.kwargs, equity, now)
            s.sql_s.append(time.perf_counter() - t0)
            sql_cpu.append(time.thread_time() - c0 + common.process_cpu_seconds([limit_backend]) - b0)
        sel, lim = common.summary_ms(s.selector_s), common.summary_ms(s.sql_s)
        sel_cpu, lim_cpu = common.summary_ms(selector_cpu), common.summary_ms(sql_cpu)
        ratio = sel["p95_ms"] / lim["p95_ms"] if lim["p95_ms"] else 0.0
        met = sel["p95_ms"] < GOAL_P95_MS and ratio <= GOAL_RATIO
        rows_out.append(
            {
                "search": s.name,
                "label": s.label,
                "results": s.results,
                "resources_in_results": s.candidates,
                "selector": sel,
                "sql": lim,
                "selector_cpu": sel_cpu,
                "sql_cpu": lim_cpu,
                "ratio_cpu_p50": round(sel_cpu["p50_ms"] / lim_cpu["p50_ms"], 2)
                if lim_cpu["p50_ms"]
                else 0.0,
                "selector_queries": n_queries,
                "ratio_p95": round(ratio, 2),
                "met": met,
                "check": check,
                "machine_busy_before_pct": round(busy, 1),
            }
        )
        print(
            f"{s.name:12} {s.results:6} rows  selector p50 {sel['p50_ms']:8.1f} p95 {sel['p95_ms']:8.1f} ms "
            f"({n_queries} queries, n={sel['n']})  SQL p50 {lim['p50_ms']:7.1f} p95 "
            f"{lim['p95_ms']:7.1f} ms  x{ratio:.1f}  "
            f"CPU p50 {sel_cpu['p50_ms']:.0f} vs {lim_cpu['p50_ms']:.0f} ms  "
            f"same answer: {check['equal_sets']}",
            flush=True,
        )

    slowest = max(rows_out, key=lambda r: r["selector"]["p95_ms"])
    worst = max(rows_out, key=lambda r: r["ratio_p95"])
    profiles = {}
    for name in dict.fromkeys([slowest["search"], worst["search"]]):
        target = next(s for s in searches(user, today) if s.name == name)
        profiles[name] = profile(lambda target=target: run_selector(user, target.kwargs, now))
    target = next(s for s in searches(user, today) if s.name == slowest["search"])
    explain = ""
    if options.explain:
        query, params = sql_for(target.kwargs, user, equity, now)
        explain = "\n".join(r[0] for r in limit.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params))

    return rows_out, profiles, explain


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--schools", type=int, default=2876, help="synthetic city size (default 2876)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the city and of the bookings (1)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per search (default 30)")
    parser.add_argument("--budget", type=float, default=60.0, help="max seconds of selector runs per search")
    parser.add_argument("--days", type=int, default=31, help="days of generated bookings from tomorrow (31)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest search's SQL")
    parser.add_argument(
        "--keep-bookings",
        action="store_true",
        help="leave the generated bookings in place (default: delete them at the end, so other "
        "users of the bench database, e.g. the seed_city timing, see the city as seeded)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each search, wait up to this many s for other work to stop (0: no wait)",
    )
    options = parser.parse_args()

    pg_version = common.ensure_database()
    url = common.database_url()
    common.setup_django(url)
    info = common.machine(pg_version)
    common.print_machine(info)

    from django.utils import timezone

    from booking.calendar import local_tz
    from booking.models import EquitySettings
    from schools.models import User

    ensure_city(options.schools, options.seed)
    policy, policy_before = set_policy()
    today = timezone.now().astimezone(local_tz()).date()
    data = ensure_bookings(url, today + dt.timedelta(days=1), options.days, options.seed)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # fresh planner statistics after the bulk loads (both sides profit)
    user = (
        User.objects.select_related("school__district")
        .filter(
            school__code__startswith=CITY,
            school__district__kind="county",
            school__level="senior",
            username__endswith="-t1",
        )
        .order_by("school__code")
        .first()
    )
    print(f"searching as {user.username} ({user.school.name}, county)")
    equity = EquitySettings.current()
    now = timezone.now()
    limit = limit_connection(url)

    try:
        rows_out, profiles, explain = measure(options, user, today, equity, now, limit)
    finally:
        limit.close()
        if not options.keep_bookings:
            with psycopg.connect(url, autocommit=True) as conn:
                delete_city_bookings(conn)
        from booking.models import EquitySettings as Equity

        Equity.objects.filter(pk=1).update(**policy_before)
    slowest = max(rows_out, key=lambda r: r["selector"]["p95_ms"])

    print()
    print(
        common.table(
            [
                "search",
                "rows",
                "selector p50 ms",
                "selector p95 ms",
                "queries",
                "SQL p50 ms",
                "SQL p95 ms",
                "selector/SQL p95",
                "CPU ms p50 selector / SQL",
                "same answer",
                "goal (p95 < 100 ms, <= 3x)",
            ],
            [
                [
                    r["label"],
                    r["results"],
                    r["selector"]["p50_ms"],
                    r["selector"]["p95_ms"],
                    r["selector_queries"],
                    r["sql"]["p50_ms"],
                    r["sql"]["p95_ms"],
                    r["ratio_p95"],
                    f"{r['selector_cpu']['p50_ms']:.0f} / {r['sql_cpu']['p50_ms']:.0f}",
                    "yes" if r["check"]["equal_sets"] else "NO",
                    "met" if r["met"] else "NOT met",
                ]
                for r in rows_out
            ],
        )
    )
    for name, text in profiles.items():
        print(
            f"\ncProfile of {name} "
            f"({'slowest' if name == slowest['search'] else 'worst selector/SQL ratio'}):\n"
        )
        print(text)
    if explain:
        print(explain)
    command = "BENCH_DATABASE=edushare_bench .venv/bin/python bench/availability_search.py " + " ".join(
        sys.argv[1:]
    )
    path = common.write_results(
        "availability_search",
        {
            "benchmark": "availability_search",
            "command": command.strip(),
            "machine": info,
            "options": vars(options),
            "policy": policy,
            "data": data,
            "user": user.username,
            "now": now.isoformat(),
            "searches": rows_out,
            "slowest": slowest["search"],
            "profiles": profiles,
            "explain": explain,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
