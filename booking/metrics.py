"""Utilisation and idle-rate metrics (definitions: docs/api.md, "Metrics: definitions").

For each resource and Asia/Shanghai day:
- available: its own opening hours that day (statutory holidays, 调休 rules, closures applied),
  less maintenance downtime (out-of-service tickets, reported until resolved); none before the
  resource existed; retired resources are left out;
- booked: approved, checked-in and completed bookings inside the available time;
- used: checked-in and completed ones (no-shows excluded); external: used by other schools;
  county: external use by county schools.
Days are computed live, or read from DailyUsage when stored (and not dirty): the same numbers.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from config.db import id_in
from equipment.models import MaintenanceTicket, Resource

from .calendar import dates, local_midnight, local_tz, open_days
from .models import Booking, BookingEvent, DailyUsage, EquitySettings, UsageDay, WaitlistEntry
from .selectors import Calendar, subtract

CHUNK = 1000
COUNTED = ("approved", "checked_in", "completed", "no_show")
BOOKED = frozenset({"approved", "checked_in", "completed"})
USED = frozenset({"checked_in", "completed"})


class _Res(NamedTuple):
    pk: int
    school_id: int
    created: dt.date


@dataclass
class Tally:
    available_minutes: int = 0
    booked_minutes: int = 0
    used_minutes: int = 0
    external_minutes: int = 0
    county_minutes: int = 0
    shown: int = 0
    no_shows: int = 0

    def add(self, other: Tally) -> None:
        # Plain sums: called for every resource and day (dataclasses.fields() per call was slow).
        self.available_minutes += other.available_minutes
        self.booked_minutes += other.booked_minutes
        self.used_minutes += other.used_minutes
        self.external_minutes += other.external_minutes
        self.county_minutes += other.county_minutes
        self.shown += other.shown
        self.no_shows += other.no_shows


_US = dt.timedelta(microseconds=1)
_MINUTE_US = 60_000_000


def _overlap_us(intervals: Sequence[tuple[dt.datetime, dt.datetime]], a: dt.datetime, b: dt.datetime) -> int:
    # Whole microseconds, as integers: sums are exact before the floor to minutes (so are the
    # database's, which is why the two paths agree to the minute).
    total = 0
    for s, e in intervals:
        lo, hi = max(s, a), min(e, b)
        if lo < hi:
            total += (hi - lo) // _US
    return total


def compute_days(
    resources: Sequence[_Res], date_from: dt.date, date_to: dt.date, *, equity: EquitySettings | None = None
) -> Iterator[tuple[int, dt.date, Tally]]:
    """Yield (resource id, day, tally) for every resource and day, computed from the source rows:
    in SQL on PostgreSQL, in Python elsewhere (the same numbers; tests compare them)."""
    if connection.vendor == "postgresql":
        return _compute_days_sql(resources, date_from, date_to, equity=equity)
    return _compute_days_python(resources, date_from, date_to, equity=equity)


def _compute_days_python(
    resources: Sequence[_Res], date_from: dt.date, date_to: dt.date, *, equity: EquitySettings | None = None
) -> Iterator[tuple[int, dt.date, Tally]]:
    """Works in chunks of resources with a handful of queries each: memory stays bounded at city scale."""
    equity = equity or EquitySettings.current()
    tz = local_tz()
    w0, w1 = local_midnight(date_from), local_midnight(date_to + dt.timedelta(days=1))
    days = list(dates(date_from, date_to))
    day_starts = [local_midnight(d) for d in days]
    for i in range(0, len(resources), CHUNK):
        chunk = resources[i : i + CHUNK]
        ids = [r.pk for r in chunk]
        cal = Calendar(chunk, date_from, date_to, (w0, w1), with_bookings=False)
        downtime: dict[int, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)
        for rid, reported, resolved in (
            MaintenanceTicket.objects.filter(
                resource_id__in=ids, takes_out_of_service=True, reported_at__lt=w1
            )
            .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=w0))
            .values_list("resource_id", "reported_at", "resolved_at")
        ):
            if resolved is None or resolved > reported:  # a ticket resolved before it was reported: none
                downtime[rid].append((reported, resolved or w1))
        by_day: dict[tuple[int, int], list[tuple]] = defaultdict(list)
        for rid, start, end, status, external, kind in (
            Booking.objects.filter(resource_id__in=ids, status__in=COUNTED, start__lt=w1, end__gt=w0)
            .values_list("resource_id", "start", "end", "status", "is_external", "school__district__kind")
            .iterator(chunk_size=5000)
        ):
            # The day the booking starts in (-1: before the window), then every day it touches.
            local_day = start.astimezone(tz).date()
            k0 = (local_day - date_from).days if local_day >= date_from else -1
            k = max(k0, 0)
            while k < len(days) and day_starts[k] < end:
                by_day[(rid, k)].append((start, end, status, external, kind, k == k0))
                k += 1
        for res in chunk:
            for k, day in enumerate(days):
                tally = Tally()
                if day >= res.created:
                    opened = cal.open_intervals(res, day, equity)
                    if downtime.get(res.pk):
                        opened = subtract(opened, downtime[res.pk])
                    tally.available_minutes = sum((e - s) // _US for s, e in opened) // _MINUTE_US
                    booked = used = external = county = 0
                    for start, end, status, is_external, kind, starts_here in by_day.get((res.pk, k), ()):
                        if starts_here:
                            if status == "no_show":
                                tally.no_shows += 1
                            elif status in USED:
                                tally.shown += 1
                        if status not in BOOKED or not opened:
                            continue
                        us = _overlap_us(opened, start, end)
                        booked += us
                        if status in USED:
                            used += us
                            if is_external:
                                external += us
                                if kind == "county":
                                    county += us
                    tally.booked_minutes = booked // _MINUTE_US
                    tally.used_minutes = used // _MINUTE_US
                    tally.external_minutes = external // _MINUTE_US
                    tally.county_minutes = county // _MINUTE_US
                yield res.pk, day, tally


# The same tallies in one statement (PostgreSQL), per resource and day or summed per resource.
# Open days and the weekday whose hours each uses come from the app's calendar rule (holidays,
# 调休); the rest follows _compute_days_python step by step: opening ranges of the open days
# (none before the resource existed, none on a closure day of the city, its school or itself),
# less out-of-service downtime (a multirange); approved/checked-in/completed bookings cut by
# those intervals on each local day they touch; seconds exact (numeric), floored to whole
# minutes per resource and day; shown/no-shows on the day a booking starts.
_TALLY_CTES = """
WITH pop AS MATERIALIZED (
    SELECT p.id, p.created, r.school_id
    FROM unnest(%(ids)s::bigint[], %(created)s::date[]) AS p(id, created)
    JOIN equipment_resource r ON r.id = p.id
),
days AS MATERIALIZED (
    SELECT d.day, d.weekday FROM unnest(%(open_days)s::date[], %(open_weekdays)s::int[]) AS d(day, weekday)
),
closed AS MATERIALIZED (
    SELECT x.scope,
           CASE x.scope WHEN 'resource' THEN x.resource_id WHEN 'school' THEN x.school_id ELSE 0 END
               AS target,
           g::date AS day
    FROM booking_closure x
    CROSS JOIN LATERAL generate_series(greatest(x.start_date, %(first)s::date),
                                       least(x.end_date, %(last)s::date), interval '1 day') AS g
    WHERE x.start_date <= %(last)s::date AND x.end_date >= %(first)s::date
),
down AS MATERIALIZED (
    SELECT t.resource_id, range_agg(tstzrange(t.reported_at, coalesce(t.resolved_at, %(w1)s), '[)')) AS m
    FROM equipment_maintenanceticket t
    JOIN pop p ON p.id = t.resource_id
    WHERE t.takes_out_of_service AND t.reported_at < %(w1)s
      AND (t.resolved_at IS NULL OR (t.resolved_at > %(w0)s AND t.resolved_at > t.reported_at))
    GROUP BY t.resource_id
),
opened AS (
    SELECT p.id, d.day,
           tstzrange((d.day + h.start) AT TIME ZONE %(tz)s, (d.day + h."end") AT TIME ZONE %(tz)s, '[)') AS r
    FROM pop p
    JOIN equipment_openinghours h ON h.resource_id = p.id
    JOIN days d ON d.weekday = h.weekday AND d.day >= p.created
    WHERE NOT EXISTS (SELECT 1 FROM closed c WHERE c.scope = 'city' AND c.day = d.day)
      AND NOT EXISTS (SELECT 1 FROM closed c
                      WHERE c.scope = 'school' AND c.target = p.school_id AND c.day = d.day)
      AND NOT EXISTS (SELECT 1 FROM closed c
                      WHERE c.scope = 'resource' AND c.target = p.id AND c.day = d.day)
),
avail AS MATERIALIZED (
    SELECT o.id, o.day, o.r FROM opened o
    WHERE NOT EXISTS (SELECT 1 FROM down dn WHERE dn.resource_id = o.id)
    UNION ALL
    SELECT o.id, o.day, x FROM opened o
    JOIN down dn ON dn.resource_id = o.id
    CROSS JOIN LATERAL unnest(tstzmultirange(o.r) - dn.m) AS x
),
county AS MATERIALIZED (
    SELECT s.id FROM schools_school s
    JOIN schools_district dd ON dd.id = s.district_id
    WHERE dd.kind = 'county'
),
touched AS (                  -- each booking on the local day it starts, and later days it reaches
    SELECT b.resource_id, (b.start AT TIME ZONE %(tz)s)::date AS day, b.start, b."end", b.status,
           b.is_external, b.school_id
    FROM booking_booking b
    JOIN pop p ON p.id = b.resource_id
    WHERE b.status IN ('approved', 'checked_in', 'completed') AND b.start < %(w1)s AND b."end" > %(w0)s
    UNION ALL
    SELECT b.resource_id, d.day, b.start, b."end", b.status, b.is_external, b.school_id
    FROM booking_booking b
    JOIN pop p ON p.id = b.resource_id
    JOIN days d ON d.day > (b.start AT TIME ZONE %(tz)s)::date
               AND d.day <= ((b."end" - interval '1 microsecond') AT TIME ZONE %(tz)s)::date
    WHERE b.status IN ('approved', 'checked_in', 'completed') AND b.start < %(w1)s AND b."end" > %(w0)s
      AND ((b."end" - interval '1 microsecond') AT TIME ZONE %(tz)s)::date
          > (b.start AT TIME ZONE %(tz)s)::date
),
cut AS (
    SELECT a.id, a.day, upper(a.r * tstzrange(t.start, t."end", '[)'))
                        - lower(a.r * tstzrange(t.start, t."end", '[)')) AS s,
           t.status IN ('checked_in', 'completed') AS used, t.is_external AS external,
           t.school_id IN (SELECT id FROM county) AS county
    FROM touched t
    JOIN avail a ON a.id = t.resource_id AND a.day = t.day AND a.r && tstzrange(t.start, t."end", '[)')
),
booked AS (                   -- intervals summed exactly (microseconds), floored per day below
    SELECT id, day, sum(s) AS booked, sum(s) FILTER (WHERE used) AS used,
           sum(s) FILTER (WHERE used AND external) AS external,
           sum(s) FILTER (WHERE used AND external AND county) AS county
    FROM cut
    GROUP BY id, day
),
available AS (
    SELECT id, day, sum(upper(r) - lower(r)) AS available FROM avail GROUP BY id, day
),
per_day AS (
    SELECT v.id, v.day, floor(extract(epoch FROM v.available) / 60) AS available,
           floor(extract(epoch FROM coalesce(b.booked, interval '0')) / 60) AS booked,
           floor(extract(epoch FROM coalesce(b.used, interval '0')) / 60) AS used,
           floor(extract(epoch FROM coalesce(b.external, interval '0')) / 60) AS external,
           floor(extract(epoch FROM coalesce(b.county, interval '0')) / 60) AS county
    FROM available v
    LEFT JOIN booked b ON b.id = v.id AND b.day = v.day
),
starts AS (                   -- shown and no-shows on the day a booking starts
    SELECT b.resource_id AS id, {starts_day} AS day,
           count(*) FILTER (WHERE b.status IN ('checked_in', 'completed')) AS shown,
           count(*) FILTER (WHERE b.status = 'no_show') AS no_shows
    FROM booking_booking b
    JOIN pop p ON p.id = b.resource_id
    WHERE b.status IN ('checked_in', 'completed', 'no_show') AND b.start >= %(w0)s AND b.start < %(w1)s
      AND b."end" > %(w0)s AND (b.start AT TIME ZONE %(tz)s)::date >= p.created
    GROUP BY 1, 2
)
"""
_TALLIES_PER_DAY_SQL = (
    _TALLY_CTES.format(starts_day="(b.start AT TIME ZONE %(tz)s)::date")
    + """
SELECT coalesce(d.id, s.id), coalesce(d.day, s.day), coalesce(d.available, 0)::bigint,
       coalesce(d.booked, 0)::bigint, coalesce(d.used, 0)::bigint, coalesce(d.external, 0)::bigint,
       coalesce(d.county, 0)::bigint, coalesce(s.shown, 0), coalesce(s.no_shows, 0)
FROM per_day d
FULL JOIN starts s ON s.id = d.id AND s.day = d.day
"""
)
_TALLIES_PER_RESOURCE_SQL = (
    _TALLY_CTES.format(starts_day="NULL::date")
    + """
SELECT p.id, coalesce(d.available, 0)::bigint, coalesce(d.booked, 0)::bigint, coalesce(d.used, 0)::bigint,
       coalesce(d.external, 0)::bigint, coalesce(d.county, 0)::bigint, coalesce(s.shown, 0),
       coalesce(s.no_shows, 0)
FROM pop p
LEFT JOIN (
    SELECT id, sum(available) AS available, sum(booked) AS booked, sum(used) AS used,
           sum(external) AS external, sum(county) AS county
    FROM per_day GROUP BY id
) d ON d.id = p.id
LEFT JOIN starts s ON s.id = p.id
"""
)
SQL_CHUNK = 20_000  # resources per statement: the city in one


def _tallies_sql(
    resources: Sequence[_Res],
    date_from: dt.date,
    date_to: dt.date,
    *,
    per_day: bool,
    equity: EquitySettings | None = None,
) -> Iterator[tuple]:
    """Rows (id, [day,] available, booked, used, external, county, shown, no_shows) from SQL, for
    the resources and days with anything to count (the rest are zero)."""
    equity = equity or EquitySettings.current()
    open_dates, weekdays = open_days(date_from, date_to, equity)
    params = {
        "first": date_from,
        "last": date_to,
        "open_days": open_dates,
        "open_weekdays": weekdays,
        "tz": str(local_tz()),
        "w0": local_midnight(date_from),
        "w1": local_midnight(date_to + dt.timedelta(days=1)),
    }
    sql = _TALLIES_PER_DAY_SQL if per_day else _TALLIES_PER_RESOURCE_SQL
    for i in range(0, len(resources), SQL_CHUNK):
        chunk = resources[i : i + SQL_CHUNK]
        params.update(ids=[r.pk for r in chunk], created=[r.created for r in chunk])
        with transaction.atomic(), connection.cursor() as cursor:
            # The planner overestimates this statement by far, so PostgreSQL would JIT-compile it:
            # ~1.7 s of compiling for a ~5 s statement at city scale. Off for this statement only.
            cursor.execute("SELECT current_setting('jit'), set_config('jit', 'off', true)")
            jit = cursor.fetchone()[0]
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            cursor.execute("SELECT set_config('jit', %s, true)", [jit])
        yield from rows


def _compute_days_sql(
    resources: Sequence[_Res], date_from: dt.date, date_to: dt.date, *, equity: EquitySettings | None = None
) -> Iterator[tuple[int, dt.date, Tally]]:
    days = list(dates(date_from, date_to))
    step = max(CHUNK, 60_000 // len(days))  # ~60,000 resource-days per statement: one for a city's day
    for i in range(0, len(resources), step):
        chunk = resources[i : i + step]
        found = {
            (row[0], row[1]): Tally(*row[2:])
            for row in _tallies_sql(chunk, date_from, date_to, per_day=True, equity=equity)
        }
        for res in chunk:
            for day in days:
                yield res.pk, day, found.get((res.pk, day)) or Tally()


def _population(resources) -> list[_Res]:
    tz = local_tz()
    rows = resources.exclude(status=Resource.Status.RETIRED).values_list("pk", "school_id", "created_at")
    return [
        _Res(pk, school_id, created.astimezone(tz).date()) for pk, school_id, created in rows.order_by("pk")
    ]


# --- stored days ----------------------------------------------------------------------------


def usage_store_day(day: dt.date, *, now: dt.datetime | None = None) -> int:
    """Compute one day for every resource and store it, replacing what was there (idempotent)."""
    now = now or timezone.now()
    population = _population(Resource.objects.all())
    rows = [
        DailyUsage(resource_id=rid, date=d, computed_at=now, **_tally_fields(t))
        for rid, d, t in compute_days(population, day, day)
    ]
    with transaction.atomic():
        # Two runs for one day (a retried task, two workers) take turns on the day's row.
        try:
            with transaction.atomic():
                UsageDay.objects.get_or_create(date=day, defaults={"computed_at": now, "dirty": True})
        except IntegrityError:
            pass  # the other run created it a moment ago
        UsageDay.objects.select_for_update().get(date=day)
        DailyUsage.objects.filter(date=day).delete()
        DailyUsage.objects.bulk_create(rows, batch_size=5000)
        UsageDay.objects.filter(date=day).update(computed_at=now, dirty=False)
    return len(rows)


def _tally_fields(t: Tally) -> dict:
    return {f.name: getattr(t, f.name) for f in fields(t)}


def usage_mark_dirty(days: Iterable[dt.date]) -> None:
    """A stored day changed under us (a late check-in, a cancelled past booking, a closure)."""
    UsageDay.objects.filter(date__in=list(days)).update(dirty=True)


def usage_days_to_compute(today: dt.date) -> list[dt.date]:
    """Yesterday (if not stored) and every stored day marked dirty."""
    yesterday = today - dt.timedelta(days=1)
    wanted = set(UsageDay.objects.filter(dirty=True, date__lt=today).values_list("date", flat=True))
    if not UsageDay.objects.filter(date=yesterday, dirty=False).exists():
        wanted.add(yesterday)
    return sorted(wanted)


# --- totals per resource over a window (stored + live) --------------------------------------


def resource_totals(resources, date_from: dt.date, date_to: dt.date) -> dict[int, Tally]:
    """Sum per resource over [date_from, date_to]: stored days from DailyUsage, the rest live."""
    population = _population(resources)
    ids = [r.pk for r in population]
    totals: dict[int, Tally] = {r.pk: Tally() for r in population}
    stored = set(
        UsageDay.objects.filter(date__gte=date_from, date__lte=date_to, dirty=False).values_list(
            "date", flat=True
        )
    )
    if stored:
        names = [f.name for f in fields(Tally)]
        for i in range(0, len(ids), 20_000):
            part = ids[i : i + 20_000]
            for row in (
                DailyUsage.objects.filter(resource_id__in=part, date__in=stored)
                .values("resource_id")
                .annotate(**{n: Sum(n) for n in names})
            ):
                totals[row["resource_id"]].add(Tally(**{n: row[n] or 0 for n in names}))
    live = [d for d in dates(date_from, date_to) if d not in stored]
    for run_start, run_end in _runs(live):
        if connection.vendor == "postgresql":  # summed per resource by the database
            for rid, *values in _tallies_sql(population, run_start, run_end, per_day=False):
                totals[rid].add(Tally(*values))
        else:
            for rid, _day, tally in compute_days(population, run_start, run_end):
                totals[rid].add(tally)
    return totals


def _runs(days: list[dt.date]) -> Iterator[tuple[dt.date, dt.date]]:
    """Contiguous runs of days: [(first, last), ...]."""
    start = prev = None
    for d in days:
        if start is None:
            start = prev = d
        elif d == prev + dt.timedelta(days=1):
            prev = d
        else:
            yield start, prev
            start = prev = d
    if start is not None:
        yield start, prev


# --- groups ---------------------------------------------------------------------------------


@dataclass
class Row:
    group: str | int
    group_name: str
    tally: Tally = field(default_factory=Tally)
    resources: int = 0
    idle: int = 0

    def as_dict(self) -> dict:
        t = self.tally
        measured = self.resources
        return {
            "group": self.group,
            "group_name": self.group_name,
            "resources": measured,
            "available_minutes": t.available_minutes,
            "booked_minutes": t.booked_minutes,
            "used_minutes": t.used_minutes,
            "utilisation": round(t.used_minutes / t.available_minutes, 4) if t.available_minutes else None,
            "idle_rate": round(self.idle / measured, 4) if measured else None,
            "external_minutes": t.external_minutes,
            "county_minutes": t.county_minutes,
            "no_show_rate": round(t.no_shows / (t.no_shows + t.shown), 4) if (t.no_shows + t.shown) else None,
        }


GROUPS = ("city", "district", "school", "resource", "kind", "subject")
META_FIELDS = ("pk", "name", "kind", "subject", "school_id", "school__name", "school__district_id",
               "school__district__name")  # fmt: skip


def resource_meta(ids: Iterable[int]) -> dict[int, dict]:
    """Names and groups of these resources, in one query: read once per report, shared by its
    groupings (group_rows) and its resource rows."""
    return {m["pk"]: m for m in Resource.objects.filter(id_in("pk", ids)).order_by().values(*META_FIELDS)}


def _group_key(group_by: str):
    """The group key of a resource's meta row, and the group's display name from it (called once
    per group: labels are translated once, not once per resource)."""
    from django.utils.translation import gettext as _

    from equipment.models import Subject

    if group_by == "city":
        return (lambda m: "city"), (lambda m: _("Harbin (all)"))
    if group_by == "district":
        return (lambda m: m["school__district_id"]), (lambda m: m["school__district__name"])
    if group_by == "school":
        return (lambda m: m["school_id"]), (lambda m: m["school__name"])
    if group_by == "resource":
        return (lambda m: m["pk"]), (lambda m: f"{m['school__name']} · {m['name']}")
    if group_by == "kind":
        kinds = dict(Resource.Kind.choices)
        return (lambda m: m["kind"]), (lambda m: str(kinds.get(m["kind"], m["kind"])))
    if group_by == "subject":
        subjects = dict(Subject.choices)
        return (lambda m: m["subject"]), (lambda m: str(subjects.get(m["subject"], m["subject"])))
    raise ValueError(f"unknown grouping {group_by!r}")


def group_rows(
    totals: dict[int, Tally],
    group_by: str,
    *,
    threshold: Decimal | float | None = None,
    meta: dict[int, dict] | None = None,
) -> list[dict]:
    """Aggregate per-resource totals into rows. Idle: utilisation below `threshold`, among the
    resources that were available at all in the window. `meta`: resource_meta of the totals'
    resources, when the caller groups them several ways."""
    threshold = float(EquitySettings.current().idle_threshold if threshold is None else threshold)
    if meta is None:
        meta = resource_meta(totals)
    key_of, name_of = _group_key(group_by)
    rows: dict = {}
    for rid, tally in totals.items():
        m = meta[rid]
        key = key_of(m)
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(group=key, group_name=name_of(m))
        row.tally.add(tally)
        if tally.available_minutes:
            row.resources += 1
            if tally.used_minutes / tally.available_minutes < threshold:
                row.idle += 1
    return [r.as_dict() for r in sorted(rows.values(), key=lambda r: str(r.group))]


def utilisation(*, resources, date_from: dt.date, date_to: dt.date, group_by: str = "city") -> list[dict]:
    """The metrics endpoint: rows for the groups, stored and live days combined."""
    return group_rows(resource_totals(resources, date_from, date_to), group_by)


# --- service and equity figures -------------------------------------------------------------


def gini(values: Sequence[float]) -> float | None:
    """0 = everyone the same, 1 = one takes all. None without anyone."""
    values = sorted(v for v in values if v >= 0)
    n = len(values)
    total = sum(values)
    if n == 0 or total == 0:
        return None
    weighted = sum((i + 1) * v for i, v in enumerate(values))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 4)


def periods_of(booking_periods: str, minutes: float) -> int:
    """Class periods a booking delivers: its periods ('5-6' = 2), else 45-minute periods."""
    if booking_periods:
        first, _sep, last = booking_periods.partition("-")
        try:
            return int(last or first) - int(first) + 1
        except ValueError:
            pass
    return max(1, round(minutes / 45))


def service_figures(date_from: dt.date, date_to: dt.date) -> dict:
    from equipment.selectors import sla_summary

    w0, w1 = local_midnight(date_from), local_midnight(date_to + dt.timedelta(days=1))
    if connection.vendor == "postgresql":
        latency = _latency_median_sql(w0, w1)
        lab_periods = _lab_periods_sql(w0, w1)
    else:
        latency = _latency_median_python(w0, w1)
        lab_periods = _lab_periods_python(w0, w1)
    unserved = WaitlistEntry.objects.filter(start__gte=w0, start__lt=w1, status="expired").count()
    tickets = MaintenanceTicket.objects.filter(reported_at__gte=w0, reported_at__lt=w1)
    sla = sla_summary(tickets)
    counts = Booking.objects.filter(start__gte=w0, start__lt=w1).aggregate(
        shown=Count("pk", filter=Q(status__in=USED)), no_shows=Count("pk", filter=Q(status="no_show"))
    )
    seen = counts["shown"] + counts["no_shows"]
    return {
        "approval_latency_hours_median": None if latency is None else round(latency, 2),
        "waitlist_unserved": unserved,
        "tickets_reported": sla.reported,
        "tickets_within_24h": sla.resolved_within_24h,
        "sla_compliance": sla.compliance,
        "shared_lab_periods": lab_periods,
        "no_show_rate": round(counts["no_shows"] / seen, 4) if seen else None,
    }


def _decisions(w0: dt.datetime, w1: dt.datetime):
    return BookingEvent.objects.filter(
        at__gte=w0, at__lt=w1, from_status="pending", to_status__in=["approved", "rejected"]
    )


def _hours(latency: dt.timedelta) -> float:
    return latency.total_seconds() / 3600


def _latency_median_python(w0: dt.datetime, w1: dt.datetime) -> float | None:
    """Median hours from a booking's creation to each decision of the window (decisions of
    bookings without a creation event left out; of several creation events the latest counts).
    Decisions are read in chunks, their creation events per chunk; only the floats stay."""
    latencies: list[float] = []
    batch: list[tuple[int, dt.datetime]] = []

    def flush() -> None:
        created = dict(
            BookingEvent.objects.filter(booking_id__in={b for b, _at in batch}, from_status="")
            .order_by("booking_id", "at", "pk")
            .values_list("booking_id", "at")
        )  # fmt: skip
        latencies.extend(_hours(at - created[b]) for b, at in batch if b in created)
        batch.clear()

    for row in _decisions(w0, w1).order_by("pk").values_list("booking_id", "at").iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    return statistics.median(latencies) if latencies else None


# The one or two middle latencies (by rank), for the median: the server sorts, Python averages
# the same floats as statistics.median does (percentile_cont's own interpolation could differ
# in the last bit, and the figure must not depend on the database).
_LATENCY_MIDDLE_SQL = """
WITH decided AS MATERIALIZED (
    SELECT d.booking_id, d.at FROM booking_bookingevent d
    WHERE d.at >= %(w0)s AND d.at < %(w1)s AND d.from_status = 'pending'
      AND d.to_status IN ('approved', 'rejected')
),
latencies AS (  -- of several creation events the latest counts; none: left out
    SELECT d.at - c.at AS latency
    FROM decided d
    CROSS JOIN LATERAL (SELECT max(c.at) AS at FROM booking_bookingevent c
                        WHERE c.booking_id = d.booking_id AND c.from_status = '') c
    WHERE c.at IS NOT NULL
)
SELECT y.latency FROM (
    SELECT latency, row_number() OVER (ORDER BY latency) AS rank, count(*) OVER () AS total FROM latencies
) y
WHERE y.rank IN ((y.total + 1) / 2, y.total / 2 + 1)
ORDER BY y.rank
"""


def _latency_median_sql(w0: dt.datetime, w1: dt.datetime) -> float | None:
    with connection.cursor() as cursor:
        cursor.execute(_LATENCY_MIDDLE_SQL, {"w0": w0, "w1": w1})
        middle = [_hours(latency) for (latency,) in cursor.fetchall()]
    return statistics.median(middle) if middle else None


def _lab_bookings(w0: dt.datetime, w1: dt.datetime):
    """Shared lab use of the window: external checked-in/completed bookings of labs, by start."""
    return Booking.objects.filter(
        status__in=USED, is_external=True, resource__kind="lab", start__gte=w0, start__lt=w1
    )


def _lab_periods_python(w0: dt.datetime, w1: dt.datetime) -> int:
    return sum(
        periods_of(periods, (end - start).total_seconds() / 60)
        for periods, start, end in _lab_bookings(w0, w1)
        .values_list("periods", "start", "end")
        .iterator(chunk_size=5000)
    )


# periods_of in SQL for the usual forms ('', '3', '5-6', '5-'): float8 division and round() (ties to
# even, as Python's round) on the exact duration. Any other text is summed by periods_of itself.
_PERIODS_PATTERN = r"^[0-9]+(-[0-9]*)?$"
_LAB_PERIODS_SQL = """
SELECT coalesce(sum(CASE
    WHEN b.periods = ''
        THEN greatest(1, round(extract(epoch FROM b."end" - b.start)::float8 / 60 / 45))::bigint
    ELSE coalesce(nullif(split_part(b.periods, '-', 2), ''), split_part(b.periods, '-', 1))::bigint
         - split_part(b.periods, '-', 1)::bigint + 1 END), 0)
FROM booking_booking b JOIN equipment_resource r ON r.id = b.resource_id
WHERE b.status IN ('checked_in', 'completed') AND b.is_external AND r.kind = 'lab'
  AND b.start >= %(w0)s AND b.start < %(w1)s AND (b.periods = '' OR b.periods ~ %(pattern)s)
"""


def _lab_periods_sql(w0: dt.datetime, w1: dt.datetime) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_LAB_PERIODS_SQL, {"w0": w0, "w1": w1, "pattern": _PERIODS_PATTERN})
        total = int(cursor.fetchone()[0])
    odd = _lab_bookings(w0, w1).exclude(periods="").exclude(periods__regex=_PERIODS_PATTERN)
    for periods, start, end in odd.values_list("periods", "start", "end").iterator(chunk_size=5000):
        total += periods_of(periods, (end - start).total_seconds() / 60)
    return total


def equity_figures(date_from: dt.date, date_to: dt.date, city_row: dict) -> dict:
    """Who gets the shared resources: used minutes per student by district (by the booking
    schools' district), the county share of external use, and the spread (Gini) of external
    use per student across every school."""
    from schools.models import District, School

    w0, w1 = local_midnight(date_from), local_midnight(date_to + dt.timedelta(days=1))
    used = Booking.objects.filter(status__in=USED, start__gte=w0, start__lt=w1)
    per_school_all = defaultdict(float)
    per_school_external = defaultdict(float)
    for school_id, external, duration in used.values_list("school_id", "is_external").annotate(
        d=Sum(F("end") - F("start"))
    ):
        minutes = duration.total_seconds() / 60 if duration else 0
        per_school_all[school_id] += minutes
        if external:
            per_school_external[school_id] += minutes
    schools = list(School.objects.values_list("pk", "district_id", "student_count"))
    by_district = defaultdict(lambda: [0.0, 0])
    for pk, district_id, students in schools:
        by_district[district_id][0] += per_school_all.get(pk, 0)
        by_district[district_id][1] += students
    districts = {d.pk: d for d in District.objects.all()}
    minutes_per_student = [
        {
            "group": district_id,
            "group_name": districts[district_id].name,
            "kind": districts[district_id].kind,
            "minutes_per_student": round(minutes / students, 4) if students else 0.0,
        }
        for district_id, (minutes, students) in sorted(by_district.items())
    ]
    spread = gini(
        [per_school_external.get(pk, 0) / students if students else 0 for pk, _d, students in schools]
    )
    external = city_row["external_minutes"]
    return {
        "minutes_per_student": minutes_per_student,
        "county_share_of_external": round(city_row["county_minutes"] / external, 4) if external else None,
        "borrowing_schools": sum(1 for v in per_school_external.values() if v > 0),
        "gini": spread,
    }
