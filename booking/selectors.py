"""Reads of bookings: scoped lists, free intervals of a resource, and the city-wide search."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection
from django.db.models import Q, QuerySet

from config.db import id_in
from equipment.models import OpeningHours, Resource
from equipment.selectors import resource_list_for
from schools.models import ClassPeriod, School, User

from . import rules
from .calendar import closures_for, dates, local_midnight, local_tz
from .holidays import days_info
from .models import ACTIVE_STATUSES, Booking, EquitySettings

Interval = tuple[dt.datetime, dt.datetime]


def booking_list_for(user: User) -> QuerySet[Booking]:
    """Centre admins: all. School admins: their school's bookings and bookings of their resources.
    Teachers: their school's bookings. Analysts read aggregates only, never bookings."""
    qs = Booking.objects.select_related("resource", "school", "booked_by", "resource__school")
    if user.is_centre_admin:
        return qs
    if user.is_school_admin:
        return qs.filter(Q(school_id=user.school_id) | Q(resource__school_id=user.school_id))
    if user.is_teacher:
        return qs.filter(school_id=user.school_id)
    return qs.none()


def subtract(free: Sequence[Interval], taken: Iterable[Interval]) -> list[Interval]:
    """Intervals of `free` not covered by any of `taken` (all half-open)."""
    result = list(free)
    for t0, t1 in sorted(taken):
        nxt = []
        for f0, f1 in result:
            if t1 <= f0 or f1 <= t0:
                nxt.append((f0, f1))
                continue
            if f0 < t0:
                nxt.append((f0, t0))
            if t1 < f1:
                nxt.append((t1, f1))
        result = nxt
    return result


@dataclass(frozen=True)
class Horizon:
    earliest: dt.datetime
    latest: dt.datetime


def horizon_for(user: User, resource: Resource, equity: EquitySettings, now: dt.datetime) -> Horizon:
    school = user.school
    is_owner = school is not None and school.pk == resource.school_id
    is_county = school is not None and school.district.kind == "county"
    days = rules.advance_horizon_days(
        is_owner=is_owner,
        is_county=is_county,
        resource_days=resource.max_advance_days,
        resource_county_days=resource.county_advance_days,
        urban_days=equity.urban_advance_days,
        county_days=equity.county_advance_days,
    )
    return Horizon(
        earliest=now + dt.timedelta(hours=resource.min_notice_hours), latest=now + dt.timedelta(days=days)
    )


class Calendar:
    """Everything the free-interval computation needs for many resources, loaded in a few queries."""

    def __init__(
        self,
        resources: Sequence[Resource],
        first: dt.date,
        last: dt.date,
        window: Interval,
        *,
        with_bookings: bool = True,
    ):
        ids = [r.pk for r in resources]
        self.days = days_info(first, last)
        self._closed_cache: dict[dt.date, tuple[bool, set[int], set[int]]] = {}
        self._open_cache: dict[tuple, list[Interval]] = {}
        self._frozen: dict[int, tuple] = {}
        self.weekly: dict[int, dict[int, list[tuple[dt.time, dt.time]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for rid, weekday, start, end in OpeningHours.objects.filter(id_in("resource_id", ids)).values_list(
            "resource_id", "weekday", "start", "end"
        ):
            self.weekly[rid][weekday].append((start, end))
        self.closures = list(
            closures_for(ids, {r.school_id for r in resources}, first, last).values_list(
                "scope", "school_id", "resource_id", "start_date", "end_date"
            )
        )
        self.blocks: dict[int, list[Interval]] = defaultdict(list)
        if not with_bookings:
            return
        w0, w1 = window
        # A new booking's own buffer must clear existing blocks (see _free), so a kit's buffer (up
        # to 14 days) reaches blocks that far outside the window: load those too.
        reach = dt.timedelta(minutes=max((r.transit_buffer_minutes for r in resources), default=0))
        for rid, b0, b1 in Booking.objects.filter(
            id_in("resource_id", ids),
            status__in=ACTIVE_STATUSES,
            block_start__lt=w1 + reach,
            block_end__gt=w0 - reach,
        ).values_list("resource_id", "block_start", "block_end"):
            self.blocks[rid].append((b0, b1))

    def closed(self, resource: Resource, day: dt.date) -> bool:
        city, schools, resources = self._closed_on(day)
        return city or resource.school_id in schools or resource.pk in resources

    def _closed_on(self, day: dt.date) -> tuple[bool, set[int], set[int]]:
        hit = self._closed_cache.get(day)
        if hit is None:
            city, schools, resources = False, set(), set()
            for scope, school_id, resource_id, s, e in self.closures:
                if s <= day <= e:
                    if scope == "city":
                        city = True
                    elif scope == "school":
                        schools.add(school_id)
                    else:
                        resources.add(resource_id)
            hit = self._closed_cache[day] = (city, schools, resources)
        return hit

    def open_intervals(self, resource: Resource, day: dt.date, equity: EquitySettings) -> list[Interval]:
        """The resource's open [start, end) ranges on `day`, as aware datetimes. Cached by the
        day and the resource's weekly hours: many resources share their school's bell day."""
        closed = self.closed(resource, day)
        weekly = self.weekly.get(resource.pk, {})
        frozen = self._frozen.get(resource.pk)
        if frozen is None:
            frozen = self._frozen[resource.pk] = tuple(sorted((w, tuple(r)) for w, r in weekly.items()))
        key = (day, closed, frozen)
        hit = self._open_cache.get(key)
        if hit is None:
            info = self.days[day]
            rule = rules.DayRule(kind=info.kind, name=info.name, closures=("x",) if closed else ())
            ranges = rules.opening_ranges_for(
                day,
                rule,
                weekly,
                adjusted_mode=equity.adjusted_day_mode,
                adjusted_weekday=equity.adjusted_day_weekday,
            )
            tz = local_tz()
            hit = self._open_cache[key] = [
                (dt.datetime.combine(day, a, tzinfo=tz), dt.datetime.combine(day, b, tzinfo=tz))
                for a, b in ranges
            ]
        return list(hit)


def _free(
    resource: Resource, cal: Calendar, window: Interval, horizon: Horizon, equity: EquitySettings
) -> list[Interval]:
    w0 = max(window[0], horizon.earliest)
    w1 = min(window[1], horizon.latest)
    if w0 >= w1:
        return []
    tz = local_tz()
    opened: list[Interval] = []
    for day in dates(w0.astimezone(tz).date(), (w1 - dt.timedelta(microseconds=1)).astimezone(tz).date()):
        for a, b in cal.open_intervals(resource, day, equity):
            a, b = max(a, w0), min(b, w1)
            if a < b:
                opened.append((a, b))
    buffer = dt.timedelta(minutes=resource.transit_buffer_minutes)
    # A new booking's own buffers must clear existing blocks too: widen them by the buffer.
    taken = [(b0 - buffer, b1 + buffer) for b0, b1 in cal.blocks.get(resource.pk, ())]
    minimum = dt.timedelta(minutes=resource.min_minutes)
    return [(a, b) for a, b in subtract(opened, taken) if b - a >= minimum]


def free_slots_for(
    *, user: User, resource: Resource, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> list[Interval]:
    """Maximal free intervals of one resource in [start, end) that this user could book, clipped
    to opening hours, closures, holidays, and the notice/advance limits. Empty if not bookable."""
    if resource.status != Resource.Status.ACTIVE:
        return []
    if not resource.shared and resource.school_id != user.school_id:
        return []
    equity = EquitySettings.current()
    tz = local_tz()
    cal = Calendar([resource], start.astimezone(tz).date(), end.astimezone(tz).date(), (start, end))
    return _free(resource, cal, (start, end), horizon_for(user, resource, equity, now), equity)


# --- city-wide search -----------------------------------------------------------------------

EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def travel_minutes(km: float, equity: EquitySettings) -> int:
    """Straight-line distance times a road factor, at an average speed (both centre settings)."""
    return math.ceil(km * float(equity.road_factor) / equity.travel_speed_kmh * 60)


class Candidate(NamedTuple):
    """What the search needs of a resource (the attribute names of Resource, so the shared
    free-interval code takes either)."""

    pk: int
    name: str
    school_id: int
    school_name: str
    status: str
    shared: bool
    transit_buffer_minutes: int
    min_minutes: int
    max_minutes: int
    min_notice_hours: int
    max_advance_days: int
    county_advance_days: int | None
    latitude: float | None = None
    longitude: float | None = None

    def __str__(self) -> str:  # where a Resource would show its name (e.g. in notifications)
        return self.name


@dataclass(frozen=True)
class SearchResult:
    resource: Resource
    start: dt.datetime
    end: dt.datetime
    travel_minutes: int | None


@dataclass(frozen=True)
class SearchQuery:
    date_from: dt.date
    date_to: dt.date
    kind: str | None = None
    subject: str | None = None
    duration: int | None = None  # minutes
    periods: tuple[int, int] | None = None
    capacity_min: int | None = None
    near_school: School | None = None
    max_travel_minutes: int | None = None


def availability_search(*, user: User, query: SearchQuery, now: dt.datetime) -> Sequence[SearchResult]:
    """Free slots across the city, ordered by start then travel time (then resource id).

    With `duration`: each free interval at least that long. With `periods`: the resource school's
    own periods on each date, where wholly free.

    On PostgreSQL one SQL statement per page (`search_sql.SearchResults`: lazy, `count()` and
    slices as a paginator asks); elsewhere the Python computation below, which gives the same
    answer (tests compare the two).
    """
    equity = EquitySettings.current()
    if connection.vendor == "postgresql":
        from . import search_sql

        return search_sql.availability_search(user=user, query=query, equity=equity, now=now)
    return availability_search_python(user=user, query=query, now=now, equity=equity)


def availability_search_python(
    *, user: User, query: SearchQuery, now: dt.datetime, equity: EquitySettings | None = None
) -> list[SearchResult]:
    """The search computed in Python, slot by slot (every database; the reference for the SQL)."""
    equity = equity or EquitySettings.current()
    qs = (
        resource_list_for(user)
        .filter(status=Resource.Status.ACTIVE)
        .filter(Q(shared=True) | Q(school_id=user.school_id))
    )
    if query.kind:
        qs = qs.filter(kind=query.kind)
    if query.subject:
        qs = qs.filter(subject=query.subject)
    if query.capacity_min:
        qs = qs.filter(capacity__gte=query.capacity_min)
    if query.near_school is not None and query.max_travel_minutes is not None:
        from .search_sql import bounding_box

        box = bounding_box(query.near_school, query.max_travel_minutes, equity)
        if box is not None:  # a superset: the exact bound is applied below
            qs = qs.filter(
                school__latitude__range=box[:2],
                school__longitude__range=box[2:],
            )
    # Plain rows, not model instances: at city scale building ~2,000 models (with their school
    # and district) costs more than the whole free-interval computation.
    rows = qs.order_by().values_list(
        "pk",
        "name",
        "school_id",
        "school__name",
        "status",
        "shared",
        "transit_buffer_minutes",
        "min_minutes",
        "max_minutes",
        "min_notice_hours",
        "max_advance_days",
        "county_advance_days",
        "school__latitude",
        "school__longitude",
    )
    travel: dict[int, int | None] = {}
    origin = query.near_school
    candidates = []
    for row in rows:
        resource = Candidate(*row)
        minutes = None
        if origin is not None:
            if resource.latitude is None or origin.latitude is None:
                continue  # cannot place it: leave it out of a travel-bounded search
            minutes = travel_minutes(
                haversine_km(
                    float(origin.latitude),
                    float(origin.longitude),
                    float(resource.latitude),
                    float(resource.longitude),
                ),
                equity,
            )
            if query.max_travel_minutes is not None and minutes > query.max_travel_minutes:
                continue
        travel[resource.pk] = minutes
        candidates.append(resource)
    if not candidates:
        return []
    window = (local_midnight(query.date_from), local_midnight(query.date_to + dt.timedelta(days=1)))
    cal = Calendar(candidates, query.date_from, query.date_to, window)  # it reaches as far as buffers do
    periods_by_school: dict[int, dict[int, tuple[dt.time, dt.time]]] = defaultdict(dict)
    if query.periods:
        first, last = query.periods
        for school_id, number, start, end in ClassPeriod.objects.filter(
            school_id__in={r.school_id for r in candidates}, number__in=(first, last)
        ).values_list("school_id", "number", "start", "end"):
            periods_by_school[school_id][number] = (start, end)
    results: list[SearchResult] = []
    tz = local_tz()
    for resource in candidates:
        free = _free(resource, cal, window, horizon_for(user, resource, equity, now), equity)
        if not free:
            continue
        if query.periods:
            first, last = query.periods
            bell = periods_by_school.get(resource.school_id, {})
            if first not in bell or last not in bell:
                continue
            for day in dates(query.date_from, query.date_to):
                s = dt.datetime.combine(day, bell[first][0], tzinfo=tz)
                e = dt.datetime.combine(day, bell[last][1], tzinfo=tz)
                if (
                    any(a <= s and e <= b for a, b in free)
                    and resource.min_minutes <= (e - s).total_seconds() / 60 <= resource.max_minutes
                ):
                    results.append(SearchResult(resource, s, e, travel[resource.pk]))
        else:
            need = dt.timedelta(minutes=query.duration or resource.min_minutes)
            if need > dt.timedelta(minutes=resource.max_minutes):
                continue
            results.extend(
                SearchResult(resource, a, b, travel[resource.pk]) for a, b in free if b - a >= need
            )
    results.sort(
        key=lambda r: (r.start, r.travel_minutes if r.travel_minutes is not None else 0, r.resource.pk)
    )
    return results
