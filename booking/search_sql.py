"""The city-wide availability search as one SQL statement (PostgreSQL only).

`booking.selectors.availability_search_python` computes the same answer in Python (the SQLite
path and the reference the tests compare against). Here each opening range minus the union of
the buffer-widened active bookings is computed by PostgreSQL (multirange difference), so no
Python runs per slot; the API asks for one page at a time and gets the count with it from one
statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction

from .calendar import dates, local_midnight, local_tz, open_days
from .models import ACTIVE_STATUSES

if TYPE_CHECKING:
    from schools.models import User

    from .models import EquitySettings
    from .selectors import SearchQuery, SearchResult

# Whole answers sort ~50,000 rows: above the default 4 MB that sort spills to disk. JIT off: the
# planner's estimates for these CTEs can be far too high and compiling would cost more than running.
# A statement timeout (settings.SEARCH_STATEMENT_TIMEOUT_MS): one search must not hold a core for
# long whatever is asked; the answer is then 503 busy (config.exceptions).
SESSION = (
    "SELECT set_config('jit', 'off', true), set_config('work_mem', '32MB', true), "
    "set_config('statement_timeout', %s, true)"
)
SAVE = "SELECT current_setting('jit'), current_setting('work_mem'), current_setting('statement_timeout')"
RESTORE = (
    "SELECT set_config('jit', %s, true), set_config('work_mem', %s, true), "
    "set_config('statement_timeout', %s, true)"
)

# Rows fetched with the count when nobody said which page comes next: the largest page size.
PREFETCH = 200

# Mirrors selectors.haversine_km and travel_minutes operation by operation (same libm functions,
# same order), so the minutes, and the order they give, are identical to the Python path's.
TRAVEL = """ceil((2 * 6371.0)::float8 * asin(sqrt(
        power(sin((radians(s.latitude::float8) - radians(%(lat)s::float8)) / 2), 2)
        + cos(radians(%(lat)s::float8)) * cos(radians(s.latitude::float8))
          * power(sin(radians(s.longitude::float8 - %(lon)s::float8) / 2), 2)))
        * %(road_factor)s::float8 / %(speed)s::float8 * 60)::int"""

# A page number above this gets no hint (no search has that many pages of 1 row).
MAX_HINTED_PAGE = 10**9

CANDIDATES = """
cand AS MATERIALIZED (
    -- [lo, hi): the window clipped to the notice and the horizon; empty leaves the resource out
    SELECT * FROM (
    SELECT r.id, r.school_id, r.min_minutes, r.max_minutes,
           r.transit_buffer_minutes * interval '1 minute' AS buf,
           greatest(%(w0)s::timestamptz, %(now)s::timestamptz + r.min_notice_hours * interval '1 hour') AS lo,
           least(%(w1)s::timestamptz, %(now)s::timestamptz + interval '24 hours' * CASE
               WHEN r.school_id = %(school)s THEN r.max_advance_days
               WHEN %(is_county)s
                   THEN greatest(r.max_advance_days,
                                 coalesce(nullif(r.county_advance_days, 0), %(county_days)s))
               ELSE least(r.max_advance_days, %(urban_days)s) END) AS hi,
           {travel} AS travel,
           {need} AS need
    FROM equipment_resource r
    {schools}
    WHERE r.status = 'active' AND (r.shared OR r.school_id = %(school)s)
      {filters}
    ) c
    WHERE lo < hi
),
days AS (
    -- base: the day's local midnight, when the zone's offset holds all day (see local_clock)
    SELECT day, weekday, base
    FROM unnest(%(days)s::date[], %(weekdays)s::int[], %(bases)s::timestamptz[]) AS t (day, weekday, base)
)"""

# Free pieces of each opening range: its intersections with the gaps between the (widened)
# blocks, as selectors.subtract leaves them. Active blocks of a resource never overlap (the exclusion
# constraint), so in the order of their starts each one's gap runs from its end to the next one's
# start; the index gives them in that order (no sort), the gap before the first comes once per
# candidate. A hash join of the ranges with their resource's gaps replaces the per-range multirange
# difference (range_agg, minus, unnest: "all labs" of the city benchmark took 1.5x as long).
DURATION = """,
blk AS MATERIALIZED (
    -- a new booking's own buffers must clear existing blocks too: widen them by the buffer;
    -- per candidate by the btree (resource, block_start) INCLUDE (block_end) of the active
    -- statuses (migration 0011), an index-only read up to the window's end
    SELECT c.id AS resource_id, c.lo, c.hi, k.s, k.e, k.next_s, k.first
    FROM cand c
    LEFT JOIN LATERAL (
        SELECT k.block_start - c.buf AS s, k.block_end + c.buf AS e,
               lead(k.block_start) OVER w - c.buf AS next_s, row_number() OVER w = 1 AS first
        FROM booking_booking k
        WHERE k.resource_id = c.id AND k.status IN {active}
          AND k.block_end > c.lo - c.buf AND k.block_start < c.hi + c.buf
        WINDOW w AS (ORDER BY k.block_start)
    ) k ON true
),
gaps AS (
    -- the free stretches of [lo, hi): after each block, and before the first one (all of [lo, hi)
    -- for a candidate without any); clipping these, not every opening range, to the notice and
    -- the horizon
    SELECT * FROM (
        SELECT resource_id, greatest(e, lo) AS gs, least(next_s, hi) AS ge FROM blk WHERE e IS NOT NULL
        UNION ALL
        SELECT resource_id, lo, least(s, hi) FROM blk WHERE first IS NOT FALSE
    ) g
    WHERE gs < ge
),
opened AS (
    -- per candidate by index (OFFSET 0 keeps it so), not a hash of the whole city's hours; a and b
    -- computed once per range in the subquery, not again in every comparison of the join below
    SELECT c.id, c.travel, c.need, h.a, h.b
    FROM cand c
    JOIN LATERAL (
        SELECT {open_start} AS a, {open_end} AS b
        FROM equipment_openinghours h
        JOIN days d ON d.weekday = h.weekday
        WHERE h.resource_id = c.id {closed_and}
        OFFSET 0
    ) h
    -- a range shorter than the asked length holds no piece of it
    ON h.a < h.b AND h.a + c.need <= h.b
    -- and read once per candidate, whatever the join below makes of the estimates
    OFFSET 0
),
res AS (
    SELECT o.id, greatest(o.a, g.gs) AS start, least(o.b, g.ge) AS "end", o.travel
    FROM opened o
    JOIN gaps g ON g.resource_id = o.id AND g.gs < o.b AND g.ge > o.a
    WHERE greatest(o.a, g.gs) + o.need <= least(o.b, g.ge)
)"""

# The resource school's own periods on each open day, where wholly inside one (clipped) opening
# range and clear of every widened block.
PERIODS = """,
blk AS MATERIALIZED (
    -- a new booking's own buffers must clear existing blocks too: widen them by the buffer
    SELECT c.id AS resource_id, k.block_start - c.buf AS s, k.block_end + c.buf AS e
    FROM cand c
    -- per candidate, by the btree (resource, block_start) INCLUDE (block_end) of the active
    -- statuses (migration 0011): an index-only read up to the window's end, a fraction of a probe
    -- of the exclusion constraint's GiST index; OFFSET 0 keeps the planner from scanning every
    -- booking of the city instead
    JOIN LATERAL (
        SELECT k.block_start, k.block_end FROM booking_booking k
        WHERE k.resource_id = c.id AND k.status IN {active}
          AND k.block_end > c.lo - c.buf AND k.block_start < c.hi + c.buf
        OFFSET 0
    ) k ON true
),
bell AS (
    SELECT p.school_id, max(p.start) FILTER (WHERE p.number = %(first)s) AS s,
           max(p."end") FILTER (WHERE p.number = %(last)s) AS e
    FROM schools_classperiod p
    WHERE p.number IN (%(first)s, %(last)s) AND p.school_id IN (SELECT school_id FROM cand)
    GROUP BY p.school_id
    HAVING count(*) FILTER (WHERE p.number = %(first)s) > 0
       AND count(*) FILTER (WHERE p.number = %(last)s) > 0
),
asked AS MATERIALIZED (
    -- each period inside one opening range of its day (ranges never overlap: at most one),
    -- compared as local times of day as the Python path's datetimes of one zone compare; the
    -- candidate's hours read once by index, its instants computed once
    SELECT c.id, c.travel, c.lo, c.hi, {period_start} AS s, {period_end} AS e
    FROM cand c
    JOIN bell b ON b.school_id = c.school_id
    JOIN LATERAL (
        SELECT h.weekday, h.start, h."end" FROM equipment_openinghours h
        WHERE h.resource_id = c.id OFFSET 0
    ) h ON h.start <= b.s AND b.e <= h."end"
    JOIN days d ON d.weekday = h.weekday
    WHERE b.e - b.s BETWEEN c.min_minutes * interval '1 minute' AND c.max_minutes * interval '1 minute'
      {closed_and}
),
res AS (
    SELECT q.id, q.s AS start, q.e AS "end", q.travel
    FROM asked q
    WHERE q.lo <= q.s AND q.e <= q.hi
      AND NOT EXISTS (SELECT 1 FROM blk k WHERE k.resource_id = q.id AND k.s < q.e AND k.e > q.s)
)"""

# One statement answers a page and the count: `res` is materialised once (referenced twice). The
# page offset may depend on the count (`?page=last`): NULL offset = the last page. A page in the
# second half is the top of the descending order (re-sorted): the last page costs a sort of its
# own rows, not of the whole answer (the order is total: no two pieces of a resource share a start).
PAGE = """
SELECT t.n, p.* FROM (SELECT count(*) AS n FROM res) t
CROSS JOIN LATERAL (
    SELECT coalesce(%(offset)s::bigint, greatest((t.n - 1) / %(limit)s::bigint * %(limit)s::bigint, 0)) AS off
) o
LEFT JOIN LATERAL (
    SELECT (extract(epoch FROM q.start) * 1000000)::bigint AS start_us,
           (extract(epoch FROM q."end") * 1000000)::bigint AS end_us, q.travel,
           r.id, r.name, r.school_id, s.name, r.status, r.shared, r.transit_buffer_minutes,
           r.min_minutes, r.max_minutes, r.min_notice_hours, r.max_advance_days, r.county_advance_days,
           s.latitude, s.longitude
    FROM (
        (SELECT * FROM res WHERE o.off * 2 <= t.n
         ORDER BY start, coalesce(travel, 0), id
         OFFSET o.off LIMIT %(limit)s::bigint)
        UNION ALL
        (SELECT * FROM res WHERE o.off * 2 > t.n
         ORDER BY start DESC, coalesce(travel, 0) DESC, id DESC
         OFFSET greatest(t.n - o.off - %(limit)s::bigint, 0)
         LIMIT greatest(least(%(limit)s::bigint, t.n - o.off), 0))
    ) q
    JOIN equipment_resource r ON r.id = q.id
    JOIN schools_school s ON s.id = r.school_id
) p ON true
ORDER BY p.start_us, coalesce(p.travel, 0), p.id
"""


def bounding_box(
    origin, max_minutes: int, equity: EquitySettings
) -> tuple[float, float, float, float] | None:
    """(lat_min, lat_max, lon_min, lon_max) holding every point within `max_minutes` of travel from
    `origin` (a superset: the exact haversine bound is applied after), or None when no box helps.

    travel = ceil(km * road_factor / speed * 60) <= T  <=>  km <= T * speed / 60 / road_factor."""
    import math

    factor, speed = float(equity.road_factor), float(equity.travel_speed_kmh)
    if origin is None or origin.latitude is None or factor <= 0 or speed <= 0:
        return None
    km = max_minutes * speed / 60 / factor * 1.001 + 0.01  # margin for rounding
    lat, lon = float(origin.latitude), float(origin.longitude)
    dlat = math.degrees(km / 6371.0)
    lat_min, lat_max = lat - dlat, lat + dlat
    if lat_min <= -89.0 or lat_max >= 89.0:
        return lat_min, lat_max, -180.0, 180.0
    # a degree of longitude is shortest at the box's edge furthest from the equator
    dlon = math.degrees(km / (6371.0 * math.cos(math.radians(max(abs(lat_min), abs(lat_max))))))
    if dlon >= 180.0 or lon - dlon < -180.0 or lon + dlon > 180.0:
        return lat_min, lat_max, -180.0, 180.0  # wraps around the antimeridian: latitude only
    return lat_min, lat_max, lon - dlon, lon + dlon


SHUT = """AND NOT EXISTS (
            SELECT 1 FROM unnest(%({kind})s::bigint[], %({kind}_day)s::date[]) AS x (id, day)
            WHERE x.id = c.{column} AND x.day = d.day)"""


def _closures(first: dt.date, last: dt.date, days: list, weekdays: list) -> tuple[list, list, str, dict]:
    """Closures as the statement wants them: city-wide ones drop their dates, school and resource
    ones become (id, date) pairs for an anti-join, and no clause at all when there are none (the
    usual case: a correlated check per opening range costs more than the rest of the range's row)."""
    from .models import Closure

    city: set[dt.date] = set()
    pairs: dict[str, set] = {"school": set(), "resource": set()}
    for scope, school_id, resource_id, start, end in Closure.objects.filter(
        start_date__lte=last, end_date__gte=first
    ).values_list("scope", "school_id", "resource_id", "start_date", "end_date"):
        for day in dates(max(start, first), min(end, last)):
            if scope == Closure.Scope.CITY:
                city.add(day)
            elif scope == Closure.Scope.SCHOOL:
                pairs["school"].add((school_id, day))
            else:
                pairs["resource"].add((resource_id, day))
    kept = [(d, w) for d, w in zip(days, weekdays, strict=True) if d not in city]
    clauses, params = [], {}
    for kind, column in (("school", "school_id"), ("resource", "id")):
        if pairs[kind]:
            clauses.append(SHUT.format(kind=f"shut_{kind}", column=column))
            ids, on = zip(*sorted(pairs[kind]), strict=True)
            params |= {f"shut_{kind}": list(ids), f"shut_{kind}_day": list(on)}
    return [d for d, _ in kept], [w for _, w in kept], "WHERE true " + "\n        ".join(clauses), params


def day_bases(days: list[dt.date]) -> list[dt.datetime] | None:
    """Each day's local midnight, or None when the zone's UTC offset changes during any of the days
    (a DST transition): then local times are converted one by one (`local_clock`)."""
    bases = []
    for day in days:
        midnight = local_midnight(day).astimezone(dt.UTC)
        offset = midnight.astimezone(local_tz()).utcoffset()
        for hour in range(1, 25):
            if (midnight + dt.timedelta(hours=hour)).astimezone(local_tz()).utcoffset() != offset:
                return None
        bases.append(midnight)
    return bases


def local_clock(time_sql: str, bases) -> str:
    """SQL for the instant of local time-of-day `time_sql` on the row's `d.day`: midnight plus the
    time when the offset holds all day (an addition), else a time zone conversion per value."""
    if bases is not None:
        return f"(d.base + {time_sql}::interval)"
    return f"((d.day + {time_sql}) AT TIME ZONE %(tz)s)"


def search_sql(
    *, user: User, query: SearchQuery, equity: EquitySettings, now: dt.datetime
) -> tuple[str, dict]:
    """The statement's CTEs ending in `res (id, start, "end", travel)` and its parameters."""
    school = user.school
    days, weekdays = open_days(query.date_from, query.date_to, equity)
    days, weekdays, closed, shut = _closures(query.date_from, query.date_to, days, weekdays)
    params: dict = {
        "now": now,
        "w0": local_midnight(query.date_from),
        "w1": local_midnight(query.date_to + dt.timedelta(days=1)),
        "school": user.school_id,
        "is_county": school is not None and school.district.kind == "county",
        "county_days": equity.county_advance_days,
        "urban_days": equity.urban_advance_days,
        "days": days,
        "weekdays": weekdays,
        "tz": str(local_tz()),
        **shut,
    }
    filters = []
    if query.kind:
        filters.append("AND r.kind = %(kind)s")
        params["kind"] = query.kind
    if query.subject:
        filters.append("AND r.subject = %(subject)s")
        params["subject"] = query.subject
    if query.capacity_min:
        filters.append("AND r.capacity >= %(capacity)s")
        params["capacity"] = query.capacity_min
    travel = "NULL::int"
    origin = query.near_school
    if origin is not None:
        if origin.latitude is None:
            filters.append("AND false")  # the Python path cannot place anything either
        else:
            travel = TRAVEL
            params |= {
                "lat": float(origin.latitude),
                "lon": float(origin.longitude),
                "road_factor": float(equity.road_factor),
                "speed": equity.travel_speed_kmh,
            }
            filters.append("AND s.latitude IS NOT NULL")
            if query.max_travel_minutes is not None:
                box = bounding_box(origin, query.max_travel_minutes, equity)
                if box is not None:
                    filters.append(
                        "AND s.latitude BETWEEN %(lat_min)s AND %(lat_max)s "
                        "AND s.longitude BETWEEN %(lon_min)s AND %(lon_max)s"
                    )
                    params |= dict(zip(("lat_min", "lat_max", "lon_min", "lon_max"), box, strict=True))
                filters.append(f"AND {TRAVEL} <= %(max_travel)s")
                params["max_travel"] = query.max_travel_minutes
    if query.periods:
        need = "NULL::interval"
        tail = PERIODS
        params |= {"first": query.periods[0], "last": query.periods[1]}
    else:
        # Pieces shorter than the resource's minimum are dropped, then those shorter than the
        # asked duration; a duration above the resource's maximum leaves it out.
        filters.append("AND coalesce(%(duration)s::int, r.min_minutes) <= r.max_minutes")
        need = "greatest(r.min_minutes, coalesce(%(duration)s::int, r.min_minutes)) * interval '1 minute'"
        params["duration"] = query.duration or None
        tail = DURATION
    # The statuses as literals, as the partial index's predicate spells them, so the planner can use it.
    active = "(" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"
    bases = day_bases(days)
    params["bases"] = bases or [None] * len(days)
    clock = {
        "open_start": local_clock("h.start", bases),
        "open_end": local_clock('h."end"', bases),
        "period_start": local_clock("b.s", bases),
        "period_end": local_clock("b.e", bases),
    }
    # The schools only for their coordinates (travel), not to list every lab of the city.
    schools = "JOIN schools_school s ON s.id = r.school_id" if origin is not None else ""
    ctes = CANDIDATES.format(
        travel=travel, need=need, filters="\n      ".join(filters), schools=schools
    ) + tail.format(active=active, closed=closed, closed_and=closed.removeprefix("WHERE true "), **clock)
    return "WITH " + ctes.lstrip(), params


class SearchResults(Sequence):
    """The search's answer, computed page by page: `count()`/`len()` and slices each run one
    statement (count and page together); iterating fetches the whole answer once.

    `expect_page(size, number)` says which page the paginator will ask for next, so that counting
    fetches exactly that page (`number` "last" included) and the slice costs no second statement."""

    def __init__(self, sql: str, params: dict):
        self.sql, self.params = sql, params
        self._count: int | None = None
        self._rows: dict[int, SearchResult] = {}  # by position in the answer
        self._expect: tuple[int | None, int] = (0, PREFETCH)
        self._all: list[SearchResult] | None = None

    def expect_page(self, size: int | None, number) -> None:
        if not size:
            return
        if number == "last":
            self._expect = (None, size)
            return
        try:
            page = int(number)
        except (TypeError, ValueError):
            return  # the paginator answers 404
        # Beyond any real answer (and beyond bigint for the OFFSET): no hint, the paginator's 404.
        if 1 <= page <= MAX_HINTED_PAGE:
            self._expect = ((page - 1) * size, size)

    def _fetch(self, offset: int | None, limit: int | None) -> None:
        from .selectors import Candidate, SearchResult

        params = self.params | {"offset": offset, "limit": limit}
        timeout = str(int(settings.SEARCH_STATEMENT_TIMEOUT_MS))
        client_side = not connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
        if client_side and connection.get_autocommit() and not connection.in_atomic_block:
            # One round trip: statements sent together run as one implicit transaction, so the
            # settings are local to it (no BEGIN, no COMMIT). Server-side binding would refuse two
            # statements in one query.
            with connection.cursor() as cursor:
                cursor.execute(
                    SESSION.replace("%s", "%(statement_timeout)s") + ";\n" + self.sql + PAGE,
                    params | {"statement_timeout": timeout},
                )
                cursor.nextset()
                rows = cursor.fetchall()
        else:
            outer = connection.in_atomic_block
            with transaction.atomic(), connection.cursor() as cursor:
                if outer:
                    cursor.execute(SAVE)
                    saved = cursor.fetchone()
                cursor.execute(SESSION, [timeout])
                cursor.execute(self.sql + PAGE, params)
                rows = cursor.fetchall()
                if outer:  # SET LOCAL outlives a savepoint: give the caller's transaction its settings back
                    cursor.execute(RESTORE, saved)
        self._count = rows[0][0]
        page = [r for r in rows if r[1] is not None]
        if offset is None:  # the last page
            offset = max(self._count - len(page), 0)
        tz = local_tz()
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        resources: dict[int, Candidate] = {}
        for i, (_n, start, end, travel, *resource) in enumerate(page):
            # Times as integer microseconds since the epoch: a whole answer has ~100,000 of them
            # and Django's timestamptz loader parses text in Python (5 us each).
            candidate = resources.get(resource[0])
            if candidate is None:
                candidate = resources[resource[0]] = Candidate(*resource)
            self._rows[offset + i] = SearchResult(
                candidate,
                (epoch + dt.timedelta(microseconds=start)).astimezone(tz),
                (epoch + dt.timedelta(microseconds=end)).astimezone(tz),
                travel,
            )
        if offset == 0 and limit is None:
            self._all = [self._rows[i] for i in range(len(page))]

    def count(self) -> int:
        if self._count is None:
            self._fetch(*self._expect)
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(self.count())
            if step != 1:
                return list(self)[index]
            if stop <= start:
                return []
            if any(i not in self._rows for i in range(start, stop)):
                self._fetch(start, stop - start)
            return [self._rows[i] for i in range(start, stop)]
        count = self.count()
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError(index)
        if index not in self._rows:
            self._fetch(index, 1)
        return self._rows[index]

    def __iter__(self) -> Iterator[SearchResult]:
        if self._all is None:
            self._fetch(0, None)
        return iter(self._all)

    # Sequence's own versions would run one statement per item.
    def __reversed__(self) -> Iterator[SearchResult]:
        return reversed(list(self))

    def __contains__(self, value) -> bool:
        return value in list(self)

    def index(self, value, start: int = 0, stop: int | None = None) -> int:
        return list(self).index(value, start, len(self) if stop is None else stop)

    def __bool__(self) -> bool:
        return self.count() > 0

    def __repr__(self) -> str:
        return f"<SearchResults count={self._count if self._count is not None else '?'}>"


def availability_search(
    *, user: User, query: SearchQuery, equity: EquitySettings, now: dt.datetime
) -> SearchResults:
    sql, params = search_sql(user=user, query=query, equity=equity, now=now)
    return SearchResults(sql, params)
