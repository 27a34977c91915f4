"""City-scale availability search: what the API does for a page, the full answer, and one hand-written
SQL query as the limit.

    BENCH_DATABASE=edushare_bench_search .venv/bin/python bench/availability_search.py [--explain]

Needs the synthetic city (`manage.py seed_city --schools 2876 --seed 1`; run here when the bench
database has no city of that size) and a month of bookings per resource, generated here in
bulk (COPY) and not measured: from tomorrow, 2-4 bookings per resource per ISO week on distinct
open days, 45/90/120 minutes inside the opening hours, 90 % approved, 5 % pending, 5 % cancelled,
block = start/end (no overlaps). A rerun with the same seed and date reuses them.

As a county teacher, four typical searches run `--repeat` times each (after a warm-up):
physics labs next week for 90 minutes; labs for periods 5-6 next week; labs within 60 minutes'
travel of the teacher's school for 90 minutes next week; every lab in the next 7 days. Timed for
each: the API's work for the first page (`booking.selectors.availability_search`, then the count
and the first 50 rows as the view's paginator asks for them) and for the last page; the whole
answer through the same selector; the Python computation (`availability_search_python`, the
SQLite path and the previous PostgreSQL one; `--python-repeat` runs); and the limit, one
hand-written SQL query per search (free = opening hours per day minus active bookings, days from
generate_series, statutory holidays passed in as date arrays from booking.holidays, closures,
visibility and horizon rules, multirange difference, haversine for travel) returning the whole
answer. All answers are compared with the limit's: same rows, same order, same travel minutes;
the pages with its first and last 50.

Database: edushare_bench (BENCH_DATABASE), created if missing and migrated. Writes
bench/results/availability_search.json. Goal: the API's p95 < 100 ms and within 3x of the SQL.
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

    tz = local_tz()
    rng = random.Random(f"bench-availability:{seed}:{first}")
    marker = f"bench-availability seed={seed} first={first}"
    resources, hours, teachers = common.city_inventory(CITY)
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


PAGE = 50  # the API's default page size

# What is timed for each search, in this order: (key, label).
PATHS = (
    ("page1", "API first page (count + 50 rows)"),
    ("last", "API last page"),
    ("full", "whole answer (selector)"),
    ("python", "whole answer (Python path)"),
    ("sql", "SQL limit (whole answer)"),
)


@dataclass
class Search:
    name: str
    label: str
    kwargs: dict
    seconds: dict = field(default_factory=dict)
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

    return list(availability_search(user=user, query=SearchQuery(**kwargs), now=now))


def run_python(user, kwargs, now):
    from booking.selectors import SearchQuery, availability_search_python

    return availability_search_python(user=user, query=SearchQuery(**kwargs), now=now)


def run_page(user, kwargs, now, number):
    """What AvailabilitySearchApi does for `?page=number` (50 rows): the selector, the page hint,
    then Django's paginator (count, then the slice), as DRF's PageNumberPagination calls it."""
    from django.core.paginator import Paginator

    from booking.selectors import SearchQuery, availability_search

    results = availability_search(user=user, query=SearchQuery(**kwargs), now=now)
    if hasattr(results, "expect_page"):
        results.expect_page(PAGE, number)
    paginator = Paginator(results, PAGE)
    page = paginator.page(paginator.num_pages if number == "last" else number)
    return paginator.count, list(page)


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


def search_sql_digest() -> str:
    """booking/search_sql.py is measured too (common.git_state hashes the other app files)."""
    import hashlib

    return hashlib.sha256((common.ROOT / "booking" / "search_sql.py").read_bytes()).hexdigest()[:12]


def key_of(results) -> list[tuple]:
    return [(r.resource.pk, r.start, r.end, r.travel_minutes) for r in results]


def measure(options, user, today, equity, now, limit):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rows_out = []
    for s in searches(user, today):
        busy = common.wait_for_quiet(options.quiet_wait) if options.quiet_wait else common.cpu_busy()
        sql_rows = run_sql(limit, user, s.kwargs, equity, now)  # warm-up, and the reference answer
        theirs = [(i, a, b, t) for i, a, b, t in sql_rows]
        full = key_of(run_selector(user, s.kwargs, now))
        python = key_of(run_python(user, s.kwargs, now))
        count, first = run_page(user, s.kwargs, now, 1)
        count_last, last = run_page(user, s.kwargs, now, "last")
        last_start = (max(len(theirs), 1) - 1) // PAGE * PAGE
        check = {
            "search": s.name,
            "sql_rows": len(theirs),
            "selector_rows": len(full),
            "python_rows": len(python),
            "selector_same_as_sql": full == theirs,
            "python_same_as_sql": python == theirs,
            "count_same": count == count_last == len(theirs),
            "first_page_same": key_of(first) == theirs[:PAGE],
            "last_page_same": key_of(last) == theirs[last_start:],
            "only_selector": sorted(map(str, set(full) - set(theirs)))[:5],
            "only_sql": sorted(map(str, set(theirs) - set(full)))[:5],
        }
        check["equal"] = all(v for k, v in check.items() if k.endswith("_same") or k.endswith("_as_sql"))
        queries = {}
        for name, fn in (
            ("page1", lambda s=s: run_page(user, s.kwargs, now, 1)),
            ("full", lambda s=s: run_selector(user, s.kwargs, now)),
            ("python", lambda s=s: run_python(user, s.kwargs, now)),
        ):
            with CaptureQueriesContext(connection) as ctx:
                fn()
            queries[name] = len(ctx.captured_queries)
        s.results = len(theirs)
        s.candidates = len({r[0] for r in theirs})
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            app_backend = cursor.fetchone()[0]
        limit_backend = limit.execute("SELECT pg_backend_pid()").fetchone()[0]
        runs = {
            "page1": (lambda s=s: run_page(user, s.kwargs, now, 1), app_backend, options.repeat),
            "last": (lambda s=s: run_page(user, s.kwargs, now, "last"), app_backend, options.repeat),
            "full": (lambda s=s: run_selector(user, s.kwargs, now), app_backend, options.repeat),
            "python": (lambda s=s: run_python(user, s.kwargs, now), app_backend, options.python_repeat),
            "sql": (lambda s=s: run_sql(limit, user, s.kwargs, equity, now), limit_backend, options.repeat),
        }
        timing, cpu = {}, {}
        for name, (fn, backend, repeat) in runs.items():
            fn()  # warm
            wall, used = [], []  # CPU ms per run: this thread + the server backend
            deadline = time.perf_counter() + options.budget
            for _ in range(repeat):
                c0, b0 = time.thread_time(), common.process_cpu_seconds([backend])
                t0 = time.perf_counter()
                fn()
                wall.append(time.perf_counter() - t0)
                used.append(time.thread_time() - c0 + common.process_cpu_seconds([backend]) - b0)
                if time.perf_counter() > deadline:
                    break
            s.seconds[name] = wall
            timing[name], cpu[name] = common.summary_ms(wall), common.summary_ms(used)
        lim = timing["sql"]["p95_ms"]
        ratios = {name: round(timing[name]["p95_ms"] / lim, 2) if lim else 0.0 for name in timing}
        met = {
            name: timing[name]["p95_ms"] < GOAL_P95_MS and ratios[name] <= GOAL_RATIO
            for name in ("page1", "last", "full")
        }
        rows_out.append(
            {
                "search": s.name,
                "label": s.label,
                "results": s.results,
                "resources_in_results": s.candidates,
                "timing": timing,
                "cpu": cpu,
                "ratio_p95_to_sql": ratios,
                "ratio_cpu_p50_to_sql": {
                    name: round(cpu[name]["p50_ms"] / cpu["sql"]["p50_ms"], 2)
                    if cpu["sql"]["p50_ms"]
                    else 0.0
                    for name in cpu
                },
                "queries": queries,
                "met": met,
                "check": check,
                "machine_busy_before_pct": round(busy, 1),
            }
        )
        print(
            f"{s.name:12} {s.results:6} rows  "
            + "  ".join(f"{n} p50 {timing[n]['p50_ms']:.0f} p95 {timing[n]['p95_ms']:.0f}" for n in timing)
            + f" ms  page1/SQL x{ratios['page1']:.2f}  same answer: {check['equal']}",
            flush=True,
        )

    slowest = max(rows_out, key=lambda r: r["timing"]["page1"]["p95_ms"])
    target = next(s for s in searches(user, today) if s.name == slowest["search"])
    profiles = {
        f"{target.name} first page": profile(lambda: run_page(user, target.kwargs, now, 1)),
        f"{target.name} whole answer": profile(lambda: run_selector(user, target.kwargs, now)),
    }
    explain = {}
    if options.explain:
        from django.conf import settings

        from booking import search_sql
        from booking.selectors import SearchQuery

        sql, params = search_sql.search_sql(
            user=user, query=SearchQuery(**target.kwargs), equity=equity, now=now
        )
        with limit.transaction():
            limit.execute(search_sql.SESSION, [str(int(settings.SEARCH_STATEMENT_TIMEOUT_MS))])
            explain["app_first_page"] = "\n".join(
                r[0]
                for r in limit.execute(
                    "EXPLAIN (ANALYZE, BUFFERS) " + sql + search_sql.PAGE,
                    params | {"offset": 0, "limit": PAGE},
                )
            )
        query, params = sql_for(target.kwargs, user, equity, now)
        explain["sql_limit"] = "\n".join(
            r[0] for r in limit.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params)
        )
    floors = ready_pieces_floor(options, user, today, equity, now, rows_out) if options.floor else []
    return rows_out, profiles, explain, floors


# A design study, not a path of the app: what would a search cost if the free pieces were ready,
# kept per resource by the booking service (docs/benchmarks.md, "what is left")? The answer of each
# search is stored in a temporary table indexed by (resource, start) and read back two ways. Both
# are lower bounds of such a layer: its rows would still need the notice, horizon, length and
# closure filters and a fallback for resources changed since they were computed.
FLOOR_READS = (
    (
        "ready_answer",
        "count + 50 rows of the ready answer (no candidates)",
        "SELECT (SELECT count(*) FROM floor_answer), p.* FROM ("
        " SELECT * FROM floor_answer ORDER BY start, coalesce(travel, 0), id LIMIT 50) p",
    ),
    (
        "ready_pieces",
        "the search's candidates, then their ready pieces by index, count + 50 rows",
        "{cand},\nres AS MATERIALIZED (SELECT a.* FROM cand c JOIN LATERAL ("
        " SELECT * FROM floor_answer a WHERE a.id = c.id OFFSET 0) a ON true)\n"
        "SELECT (SELECT count(*) FROM res), p.* FROM ("
        " SELECT * FROM res ORDER BY start, coalesce(travel, 0), id LIMIT 50) p",
    ),
)


def ready_pieces_floor(options, user, today, equity, now, rows_out) -> list[dict]:
    from django.db import connection

    from booking import search_sql
    from booking.selectors import SearchQuery

    out = []
    app_p95 = {r["search"]: r["timing"]["page1"]["p95_ms"] for r in rows_out}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
        cursor.execute("SET jit = off; SET work_mem = '32MB'")  # as search_sql.SESSION sets them
        for s in searches(user, today):
            sql, params = search_sql.search_sql(
                user=user, query=SearchQuery(**s.kwargs), equity=equity, now=now
            )
            cursor.execute("DROP TABLE IF EXISTS floor_answer")
            cursor.execute("CREATE TEMP TABLE floor_answer AS " + sql + " SELECT * FROM res", params)
            cursor.execute("CREATE INDEX ON floor_answer (id, start); ANALYZE floor_answer")
            cand = sql.split(",\ndays AS (")[0]
            row = {"search": s.name, "app_first_page_p95_ms": app_p95.get(s.name)}
            for key, _label, read in FLOOR_READS:
                statement = read.format(cand=cand)
                if options.quiet_wait:
                    common.wait_for_quiet(options.quiet_wait)
                cursor.execute(statement, params)  # warm
                cursor.fetchall()
                wall, used = [], []
                for _ in range(options.repeat):
                    c0, b0 = time.thread_time(), common.process_cpu_seconds([backend])
                    t0 = time.perf_counter()
                    cursor.execute(statement, params)
                    cursor.fetchall()
                    wall.append(time.perf_counter() - t0)
                    used.append(time.thread_time() - c0 + common.process_cpu_seconds([backend]) - b0)
                row[key] = {"timing": common.summary_ms(wall), "cpu": common.summary_ms(used)}
            print(
                f"floor {s.name:12} "
                + "  ".join(
                    f"{k} p50 {row[k]['timing']['p50_ms']:.0f} p95 {row[k]['timing']['p95_ms']:.0f}"
                    for k, _l, _r in FLOOR_READS
                )
                + f" ms (app first page p95 {row['app_first_page_p95_ms']:.0f})",
                flush=True,
            )
            out.append(row)
        cursor.execute("DROP TABLE IF EXISTS floor_answer")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--schools", type=int, default=2876, help="synthetic city size (default 2876)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the city and of the bookings (1)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per search (default 30)")
    parser.add_argument(
        "--python-repeat", type=int, default=10, help="timed runs of the Python path per search (default 10)"
    )
    parser.add_argument("--budget", type=float, default=60.0, help="max seconds of runs per search and path")
    parser.add_argument("--days", type=int, default=31, help="days of generated bookings from tomorrow (31)")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the slowest search's app statement and limit"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time each search's answer read back from a ready, indexed table: the lower bound "
        "of keeping free pieces ready (a design study, docs/benchmarks.md)",
    )
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
        # Fresh planner statistics after the bulk loads (both sides profit), and the visibility map
        # autovacuum keeps in steady state (index-only scans of the bookings need it).
        conn.execute("VACUUM ANALYZE")
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
        rows_out, profiles, explain, floors = measure(options, user, today, equity, now, limit)
    finally:
        limit.close()
        if not options.keep_bookings:
            with psycopg.connect(url, autocommit=True) as conn:
                delete_city_bookings(conn)
        from booking.models import EquitySettings as Equity

        Equity.objects.filter(pk=1).update(**policy_before)
    slowest = max(rows_out, key=lambda r: r["timing"]["page1"]["p95_ms"])

    print()
    headers = ["search", "rows"]
    for _name, label in PATHS:
        headers += [f"{label} p50 ms", f"{label} p95 ms"]
    headers += ["first page / SQL, p95", "CPU ms p50 first page / SQL", "same answer", "goal (first page)"]
    print(
        common.table(
            headers,
            [
                [r["label"], r["results"]]
                + [x for name, _ in PATHS for x in (r["timing"][name]["p50_ms"], r["timing"][name]["p95_ms"])]
                + [
                    r["ratio_p95_to_sql"]["page1"],
                    f"{r['cpu']['page1']['p50_ms']:.0f} / {r['cpu']['sql']['p50_ms']:.0f}",
                    "yes" if r["check"]["equal"] else "NO",
                    "met" if r["met"]["page1"] else "NOT met",
                ]
                for r in rows_out
            ],
        )
    )
    for name, text in profiles.items():
        print(f"\ncProfile of {name}:\n")
        print(text)
    for name, text in explain.items():
        print(f"\nEXPLAIN ANALYZE, {name}:\n{text}")
    if floors:
        print("\nReady free pieces, lower bounds (ms):")
        print(
            common.table(
                ["search", "app first page p95"] + [f"{label} p50 / p95" for _k, label, _r in FLOOR_READS],
                [
                    [f["search"], f["app_first_page_p95_ms"]]
                    + [
                        f"{f[k]['timing']['p50_ms']} / {f[k]['timing']['p95_ms']}"
                        for k, _l, _r in FLOOR_READS
                    ]
                    for f in floors
                ],
            )
        )
    command = f"BENCH_DATABASE={common.DATABASE} .venv/bin/python bench/availability_search.py " + " ".join(
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
            "sha256_of_search_sql": search_sql_digest(),
            "profiles": profiles,
            "explain": explain,
            "ready_pieces_floor": floors,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
