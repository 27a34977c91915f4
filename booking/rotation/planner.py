"""Rotation planner: which mobile kit goes to which school, and when (source document 5.2, 7.3).

Pure: plain values in, plain values out. No ORM, no Django settings, no clock (the only timer
measures how long the planner ran). The services translate rows to these values and back;
`ValueError` means malformed input (the API maps it to 400), while a request that cannot be
served is not an error: it comes back in `Plan.unserved` with a reason code.

Day model (one choice, used everywhere, checked by `validate_plan`):

* An *open* day is Monday to Friday and not in `Settings.closed_days` (holidays, term breaks),
  or any day in `Settings.working_weekend_days` (the weekend days China moves lessons to around
  statutory holidays). Ranges of days are inclusive.
* A placement is a calendar range [start, end] that starts and ends on open days and contains
  exactly `days` open days. The kit stays at the school over the weekends and closed days inside
  it; it is never delivered or collected on a closed day.
* Transit is counted in open days too: between two stays of a kit (placements, or its depot) at
  least `transit_days(km)` = ceil(road km / transit_km_per_day) + handover_days open days must lie
  strictly between the end of one and the start of the next, because each leg is checked out by
  the sending school and checked in by the receiving one (issue 7), which needs both open, and
  the centre's vans run on working days. Road km = haversine km x road_factor.
* The kit is at its depot school before `available_from`, after `available_to` and during each
  `blocked` range (maintenance, the centre's own bookings of the kit), so a placement leaves
  time to travel out of the depot after each of those and back before the next. Existing
  placements *at other schools* are best passed as `pinned` (exact transit); passed as blocked
  ranges they are taken to be at the depot.

Working in open-day indices makes every placement a fixed-size interval and every transit rule
linear, which keeps the CP-SAT model small (see `plan`).

Objective, lexicographic: first maximise the sum over served requests of `request_weight`
(students x county_weight for county schools x (1 + waiting_weight_per_week x whole weeks waited
by the window's start)); then, holding that sum, minimise the road km of all legs, including each
kit's trip out of and back to its depot.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

logger = logging.getLogger(__name__)

MAX_WINDOW_DAYS = 366
EARTH_RADIUS_KM = 6371.0088
# CP-SAT works on integers: weights in thousandths (request_weight rounds to 3 places, so the
# solver's objective and `score` agree exactly) and road km in tenths.
WEIGHT_SCALE = 1000
KM_SCALE = 10
# Share of the time limit for the first (students) stage; the km stage gets what is left.
FIRST_STAGE_SHARE = 0.6
# A component's model (about its number of arcs) may grow this much per second of its time
# budget; beyond it, requests keep fewer candidate kits (measured on 2 cores: about 130,000 arcs
# take 4 s to presolve).
MODEL_SIZE_PER_SECOND = 8000
# Large neighbourhood search (`_lns`), for components too big for one model: kit segments and
# open days per neighbourhood, the model size (`_model_size`) aimed at first, and the time limit
# of one neighbourhood's solve.
LNS_KITS = 4
LNS_WINDOW = 40
LNS_SIZE = 4000
LNS_SOLVE_S = 1.0
LNS_KM_PER_WEIGHT = 1000
LNS_WORKERS = 1
# Share of a component's time that the relaxation behind its bound may take.
BOUND_SHARE = 0.25
# The relaxation behind the bound (`_lp_bound`): its time slices run between points this many
# open days apart (a school week), and each round adds at most this many broken slices per kit
# segment.
SLICE_STEP = 5
SLICES_PER_ROUND = 10
MIN_ROUND_GAIN = 1e-4
# Open days counted beyond the window before a date is taken as "far away" (availability ends).
_FAR = 1_000_000

UNSERVED_REASONS = (
    "no_kit_type",
    "window_too_short",
    "no_compatible_kit",
    "no_coordinates",
    "no_capacity",
    "dropped",
)

DateRange = tuple[dt.date, dt.date]


# --------------------------------------------------------------------------------------------
# Input and output values
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kit:
    id: int
    kit_type: str
    depot_school_id: int
    available_from: dt.date
    available_to: dt.date
    # Inclusive day ranges when the kit is at its depot and not plannable (maintenance, bookings).
    blocked: tuple[DateRange, ...] = ()
    # Schools this kit may be sent to; None means any school.
    provides_ok_for: frozenset[int] | None = None


@dataclass(frozen=True)
class School:
    id: int
    lat: float | None
    lon: float | None
    is_county: bool = False


@dataclass(frozen=True)
class Request:
    id: int
    school_id: int
    kit_type: str | None
    kit_id: int | None  # a specific kit; kit_type, when given too, must be that kit's
    days: int  # open (school) days the kit stays
    earliest: dt.date
    latest_end: dt.date
    students: int
    requested_on: dt.date
    # kit id -> None (fits as is) or the catalogue code of the adapter it needs; absent = incompatible.
    compatible_kits: Mapping[int, str | None] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Settings:
    transit_km_per_day: float = 150.0
    road_factor: float = 1.35
    handover_days: int = 1
    closed_days: frozenset[dt.date] = frozenset()
    working_weekend_days: frozenset[dt.date] = frozenset()
    county_weight: float = 2.0
    waiting_weight_per_week: float = 0.1
    time_limit_s: float = 10.0
    seed: int = 0
    workers: int = 2


@dataclass(frozen=True)
class Placement:
    request_id: int
    kit_id: int
    school_id: int
    start: dt.date
    end: dt.date
    adapter: str | None = None
    transit_in_days: int = 0  # open days the leg into this placement needs
    km_in: float = 0.0  # road km of that leg (from the depot or the previous school)


@dataclass(frozen=True)
class Plan:
    placements: tuple[Placement, ...]  # by kit, then start
    unserved: Mapping[int, str]  # request id -> one of UNSERVED_REASONS
    objective: float  # = score(plan, ...): weighted students served
    bound: float | None  # proven upper bound on `objective` (None: greedy, no bound)
    gap: float | None  # (bound - objective) / bound; 0.0 when proven optimal
    status: str  # "OPTIMAL" (both stages proven) or "FEASIBLE"
    travel_km: float  # every leg, depot out and back included
    solver: str  # "cp-sat" or "greedy"
    seconds: float
    travel_bound_km: float | None = None  # proven lower bound on travel_km at this objective


# --------------------------------------------------------------------------------------------
# Rules (the definitions: the planners and the checker all use these)
# --------------------------------------------------------------------------------------------


def haversine_km(a: School, b: School) -> float:
    """Great-circle distance; both schools must have coordinates."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def road_km(a: School, b: School, settings: Settings) -> float:
    return 0.0 if a.id == b.id else haversine_km(a, b) * settings.road_factor


def transit_days(km: float, settings: Settings) -> int:
    """Open days a leg needs between two stays: driving plus the handover."""
    # The epsilon keeps 300.0000000001 km at 150 km a day at 2 days, not 3.
    return math.ceil(km / settings.transit_km_per_day - 1e-9) + settings.handover_days


def is_open(day: dt.date, settings: Settings) -> bool:
    if day in settings.working_weekend_days:
        return True
    return day.weekday() < 5 and day not in settings.closed_days


def request_weight(request: Request, school: School, settings: Settings, window_start: dt.date) -> float:
    """Students x county weight x (1 + waiting weight x whole weeks waited by the window's start)."""
    weeks = max(0, (window_start - request.requested_on).days) // 7
    county = settings.county_weight if school.is_county else 1.0
    return round(request.students * county * (1 + settings.waiting_weight_per_week * weeks), 3)


def score(
    plan: Plan, requests: Iterable[Request], schools: Iterable[School], settings: Settings, window: DateRange
) -> float:
    """The first-stage objective of any plan: weighted students served. The same for both planners."""
    by_id = {r.id: r for r in requests}
    school_by_id = {s.id: s for s in schools}
    served = {p.request_id for p in plan.placements}
    total = sum(
        request_weight(by_id[rid], school_by_id[by_id[rid].school_id], settings, window[0]) for rid in served
    )
    return round(total, 3)


# --------------------------------------------------------------------------------------------
# Instance preparation: checks the input, works out every feasible (request, kit) start
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    """One way to serve a request: a kit within one of its depot-to-depot segments, starting on
    any open-day index in [first, last] (the placement then covers `days` open days)."""

    request_id: int
    kit_id: int
    segment: int
    school_id: int
    adapter: str | None
    days: int
    first: int
    last: int


@dataclass
class _Instance:
    settings: Settings
    window: DateRange
    open_dates: list[dt.date]  # open day index -> date
    kits: dict[int, Kit]
    schools: dict[int, School]
    requests: dict[int, Request]
    weights: dict[int, float]
    unserved: dict[int, str]
    candidates: dict[int, list[_Candidate]]  # request id -> candidates (requests that have some)
    pinned: dict[int, tuple[int, int]]  # request id -> (kit id, start index)
    _km: dict[tuple[int, int], float] = field(default_factory=dict)

    def km(self, a: int, b: int) -> float:
        key = (a, b) if a <= b else (b, a)
        if key not in self._km:
            self._km[key] = road_km(self.schools[a], self.schools[b], self.settings)
        return self._km[key]

    def transit(self, a: int, b: int) -> int:
        return transit_days(self.km(a, b), self.settings)

    def open_before(self, day: dt.date) -> int:
        """The open-day index of the first open day on or after `day`: the number of open days
        from the window's start up to `day`, negative before the window."""
        w0, w1 = self.window
        if w0 <= day <= w1 + dt.timedelta(days=1):
            return bisect.bisect_left(self.open_dates, day)
        if day > w1:
            if (day - w1).days > 800:
                return _FAR
            return len(self.open_dates) + _count_open(w1 + dt.timedelta(days=1), day, self.settings)
        if (w0 - day).days > 800:
            return -_FAR
        return -_count_open(day, w0, self.settings)


def _count_open(lo: dt.date, hi: dt.date, settings: Settings) -> int:
    """Open days in [lo, hi)."""
    return sum(is_open(lo + dt.timedelta(days=i), settings) for i in range((hi - lo).days))


def _check_settings(settings: Settings) -> None:
    if not settings.transit_km_per_day > 0:
        raise ValueError("transit_km_per_day must be positive")
    if not settings.road_factor > 0:
        raise ValueError("road_factor must be positive")
    if settings.handover_days < 0:
        raise ValueError("handover_days must not be negative")
    if settings.county_weight < 0 or settings.waiting_weight_per_week < 0:
        raise ValueError("weights must not be negative")
    if not settings.time_limit_s > 0:
        raise ValueError("time_limit_s must be positive")
    if settings.workers < 1:
        raise ValueError("workers must be at least 1")


def _check_window(window: DateRange) -> None:
    start, end = window
    if end < start:
        raise ValueError(f"window ends ({end}) before it starts ({start})")
    days = (end - start).days + 1
    if days > MAX_WINDOW_DAYS:
        raise ValueError(f"window of {days} days: plan at most {MAX_WINDOW_DAYS} days at a time")


def _unique(items: Sequence, what: str) -> dict:
    by_id = {}
    for item in items:
        if item.id in by_id:
            raise ValueError(f"duplicate {what} id {item.id}")
        by_id[item.id] = item
    return by_id


def _check_values(kits: dict[int, Kit], schools: dict[int, School], requests: dict[int, Request]) -> None:
    for s in schools.values():
        if (s.lat is None) != (s.lon is None):
            raise ValueError(f"school {s.id}: give both coordinates or neither")
        if s.lat is not None and not (-90 <= s.lat <= 90 and -180 <= s.lon <= 180):
            raise ValueError(f"school {s.id}: coordinates out of range")
    for k in kits.values():
        if k.depot_school_id not in schools:
            raise ValueError(f"kit {k.id}: unknown depot school {k.depot_school_id}")
        for lo, hi in k.blocked:
            if hi < lo:
                raise ValueError(f"kit {k.id}: blocked range ends ({hi}) before it starts ({lo})")
    for r in requests.values():
        if r.school_id not in schools:
            raise ValueError(f"request {r.id}: unknown school {r.school_id}")
        if isinstance(r.days, bool) or not isinstance(r.days, int) or r.days < 1:
            raise ValueError(f"request {r.id}: days must be a whole number of at least 1, not {r.days!r}")
        if r.students < 0:
            raise ValueError(f"request {r.id}: students must not be negative")
        if r.kit_type is None and r.kit_id is None:
            raise ValueError(f"request {r.id}: name a kit type or a kit")


def _segments(kit: Kit) -> list[DateRange]:
    """The kit's stretches of availability between depot stays (inclusive dates)."""
    lo, hi = kit.available_from, kit.available_to
    segments = []
    for b_lo, b_hi in sorted(kit.blocked):
        if b_hi < lo or b_lo > hi:
            continue
        if b_lo > lo:
            segments.append((lo, b_lo - dt.timedelta(days=1)))
        lo = max(lo, b_hi + dt.timedelta(days=1))
    if lo <= hi:
        segments.append((lo, hi))
    return segments


def _prepare(
    kits: Sequence[Kit],
    schools: Sequence[School],
    requests: Sequence[Request],
    settings: Settings,
    window: DateRange,
    pinned: Sequence[Placement],
    dropped_request_ids: Iterable[int],
) -> _Instance:
    _check_settings(settings)
    _check_window(window)
    kit_by_id, school_by_id, request_by_id = (
        _unique(kits, "kit"),
        _unique(schools, "school"),
        _unique(requests, "request"),
    )
    _check_values(kit_by_id, school_by_id, request_by_id)
    w0, w1 = window
    inst = _Instance(
        settings=settings,
        window=window,
        open_dates=[
            d for d in (w0 + dt.timedelta(days=i) for i in range((w1 - w0).days + 1)) if is_open(d, settings)
        ],
        kits=kit_by_id,
        schools=school_by_id,
        requests=request_by_id,
        weights={
            r.id: request_weight(r, school_by_id[r.school_id], settings, w0) for r in request_by_id.values()
        },
        unserved={},
        candidates={},
        pinned={},
    )
    kits_by_type: dict[str, list[Kit]] = {}
    for k in sorted(kit_by_id.values(), key=lambda k: k.id):
        kits_by_type.setdefault(k.kit_type, []).append(k)
    # Each segment as the open-day indices the kit may occupy, depot transit not yet subtracted.
    segments = {
        k.id: [
            (inst.open_before(lo), inst.open_before(hi + dt.timedelta(days=1)) - 1) for lo, hi in _segments(k)
        ]
        for k in kit_by_id.values()
    }
    dropped = set(dropped_request_ids)

    for r in sorted(request_by_id.values(), key=lambda r: r.id):
        if r.id in dropped:
            inst.unserved[r.id] = "dropped"
            continue
        if r.kit_id is not None:
            kit = kit_by_id.get(r.kit_id)
            pool = [kit] if kit is not None and r.kit_type in (None, kit.kit_type) else []
        else:
            pool = kits_by_type.get(r.kit_type, [])
        if not pool:
            inst.unserved[r.id] = "no_kit_type"
            continue
        if school_by_id[r.school_id].lat is None:
            inst.unserved[r.id] = "no_coordinates"
            continue
        # Open-day indices the placement may cover: [lo, hi].
        lo = inst.open_before(max(w0, r.earliest))
        hi = inst.open_before(min(w1, r.latest_end) + dt.timedelta(days=1)) - 1
        if hi - lo + 1 < r.days:
            inst.unserved[r.id] = "window_too_short"
            continue
        usable = [
            k
            for k in pool
            if k.id in r.compatible_kits and (k.provides_ok_for is None or r.school_id in k.provides_ok_for)
        ]
        if not usable:
            inst.unserved[r.id] = "no_compatible_kit"
            continue
        candidates = []
        for k in usable:
            if school_by_id[k.depot_school_id].lat is None:
                continue  # a kit whose depot has no coordinates cannot be routed anywhere
            t = inst.transit(k.depot_school_id, r.school_id)
            for n, (seg_lo, seg_hi) in enumerate(segments[k.id]):
                first = max(lo, seg_lo + t)
                last = min(hi, seg_hi - t) - r.days + 1
                if first <= last:
                    candidates.append(
                        _Candidate(r.id, k.id, n, r.school_id, r.compatible_kits[k.id], r.days, first, last)
                    )
        if candidates:
            inst.candidates[r.id] = candidates
        else:
            inst.unserved[r.id] = "no_capacity"

    for p in pinned:
        _pin(inst, p)
    return inst


def _pin(inst: _Instance, p: Placement) -> None:
    """Restrict a pinned request to its one placement (request, kit and start: the end follows from
    the days); ValueError when that is not feasible."""
    where = f"pinned placement of request {p.request_id} on kit {p.kit_id} from {p.start}"
    if p.request_id not in inst.requests:
        raise ValueError(f"{where}: unknown request")
    if p.request_id in inst.pinned:
        raise ValueError(f"{where}: request pinned twice")
    if p.request_id in inst.unserved:
        raise ValueError(f"{where}: request cannot be served ({inst.unserved[p.request_id]})")
    start = inst.open_before(p.start)
    if 0 <= start < len(inst.open_dates) and inst.open_dates[start] == p.start:
        for c in inst.candidates[p.request_id]:
            if c.kit_id == p.kit_id and c.first <= start <= c.last:
                inst.candidates[p.request_id] = [
                    _Candidate(
                        c.request_id, c.kit_id, c.segment, c.school_id, c.adapter, c.days, start, start
                    )
                ]
                inst.pinned[p.request_id] = (p.kit_id, start)
                return
    raise ValueError(
        f"{where}: not feasible (kit incompatible, a closed day, outside the window, the request's "
        "window or the kit's availability, or too close to a blocked range)"
    )


# --------------------------------------------------------------------------------------------
# From chosen (candidate, start) pairs to a Plan
# --------------------------------------------------------------------------------------------


def _build(
    inst: _Instance,
    chosen: Sequence[tuple[_Candidate, int]],
    *,
    solver: str,
    status: str,
    bound: float | None,
    gap: float | None,
    seconds: float,
    travel_bound_km: float | None = None,
) -> Plan:
    by_segment: dict[tuple[int, int], list[tuple[int, _Candidate]]] = {}
    for c, start in chosen:
        by_segment.setdefault((c.kit_id, c.segment), []).append((start, c))
    placements, travel = [], 0.0
    for (kit_id, _), stays in sorted(by_segment.items()):
        depot = inst.kits[kit_id].depot_school_id
        here = depot
        for start, c in sorted(stays, key=lambda x: x[0]):
            km = inst.km(here, c.school_id)
            travel += km
            placements.append(
                Placement(
                    request_id=c.request_id,
                    kit_id=kit_id,
                    school_id=c.school_id,
                    start=inst.open_dates[start],
                    end=inst.open_dates[start + c.days - 1],
                    adapter=c.adapter,
                    transit_in_days=transit_days(km, inst.settings),
                    km_in=round(km, 1),
                )
            )
            here = c.school_id
        travel += inst.km(here, depot)
    served = {p.request_id for p in placements}
    unserved = dict(inst.unserved)
    for rid in inst.candidates:
        if rid not in served:
            unserved[rid] = "no_capacity"
    placements.sort(key=lambda p: (p.kit_id, p.start))
    return Plan(
        placements=tuple(placements),
        unserved=dict(sorted(unserved.items())),
        objective=round(sum(inst.weights[rid] for rid in served), 3),
        bound=bound,
        gap=gap,
        status=status,
        travel_km=round(travel, 1),
        solver=solver,
        seconds=round(seconds, 3),
        # The solver counts each leg rounded to 0.1 km, so its bound can pass the exact sum by a hair.
        travel_bound_km=None if travel_bound_km is None else min(travel_bound_km, round(travel, 1)),
    )


# --------------------------------------------------------------------------------------------
# Greedy baseline
# --------------------------------------------------------------------------------------------


def _greedy(inst: _Instance) -> list[tuple[_Candidate, int]]:
    """Pinned first; then by priority (weight, then earliest, then id) the first kit that fits,
    nearest depot first, at its earliest feasible start. ValueError when pinned placements clash."""
    # (kit, segment) -> its stays sorted by start: parallel lists of starts and (end, school).
    starts: dict[tuple[int, int], list[int]] = {}
    stays: dict[tuple[int, int], list[tuple[int, int]]] = {}
    chosen: list[tuple[_Candidate, int]] = []

    def earliest_fit(c: _Candidate) -> int | None:
        seq_starts, seq = starts.get((c.kit_id, c.segment), []), stays.get((c.kit_id, c.segment), [])
        s = c.first
        while s <= c.last:
            i = bisect.bisect_right(seq_starts, s)
            if i < len(seq) and s + c.days + inst.transit(c.school_id, seq[i][1]) > seq_starts[i]:
                # Clashes with the next stay: try right after it.
                end, school = seq[i]
                s = max(s, end + 1 + inst.transit(school, c.school_id))
                continue
            if i > 0 and s < seq[i - 1][0] + 1 + inst.transit(seq[i - 1][1], c.school_id):
                end, school = seq[i - 1]
                s = end + 1 + inst.transit(school, c.school_id)
                continue
            return s
        return None

    def place(c: _Candidate, s: int) -> None:
        key = (c.kit_id, c.segment)
        i = bisect.bisect_right(starts.setdefault(key, []), s)
        starts[key].insert(i, s)
        stays.setdefault(key, []).insert(i, (s + c.days - 1, c.school_id))
        chosen.append((c, s))

    for rid in sorted(inst.pinned):
        (c,) = inst.candidates[rid]
        if earliest_fit(c) != c.first:
            raise ValueError(
                f"pinned placement of request {rid} on kit {c.kit_id} clashes with another pinned placement"
            )
        place(c, c.first)

    order = sorted(
        (rid for rid in inst.candidates if rid not in inst.pinned),
        key=lambda rid: (-inst.weights[rid], inst.requests[rid].earliest, rid),
    )
    for rid in order:
        cands = sorted(
            inst.candidates[rid],
            key=lambda c: (inst.km(inst.kits[c.kit_id].depot_school_id, c.school_id), c.kit_id, c.segment),
        )
        for c in cands:
            s = earliest_fit(c)
            if s is not None:
                place(c, s)
                break
    return chosen


def _insertion(inst: _Instance) -> list[tuple[_Candidate, int]]:
    """A stronger construction than the baseline, used only as CP-SAT's starting point: the same
    priority order, but each request goes where it adds the fewest km among all kits and all
    positions in their sequences, and the stays already placed may move within their windows to
    make room (insertion with time windows: earliest and latest starts of each sequence, forward
    and backward). Starts are the earliest ones at the end."""
    # (kit, segment) -> the candidates on it, in order; with earliest and latest starts.
    seqs: dict[tuple[int, int], list[_Candidate]] = {}
    early: dict[tuple[int, int], list[int]] = {}
    late: dict[tuple[int, int], list[int]] = {}

    def gap(a: _Candidate, b: _Candidate) -> int:
        return a.days + inst.transit(a.school_id, b.school_id)

    def refresh(key: tuple[int, int]) -> None:
        seq = seqs[key]
        es = [seq[0].first]
        for a, b in itertools.pairwise(seq):
            es.append(max(b.first, es[-1] + gap(a, b)))
        ls = [seq[-1].last]
        for a, b in itertools.pairwise(reversed(seq)):
            ls.append(min(b.last, ls[-1] - gap(b, a)))
        early[key], late[key] = es, ls[::-1]

    def best_place(c: _Candidate) -> tuple[float, int] | None:
        key = (c.kit_id, c.segment)
        depot = inst.kits[c.kit_id].depot_school_id
        seq, es, ls = seqs.get(key, []), early.get(key, []), late.get(key, [])
        best = None
        for p in range(len(seq) + 1):
            s = c.first if p == 0 else max(c.first, es[p - 1] + gap(seq[p - 1], c))
            if s > c.last or (p < len(seq) and s + gap(c, seq[p]) > ls[p]):
                continue
            before = depot if p == 0 else seq[p - 1].school_id
            after = depot if p == len(seq) else seq[p].school_id
            added = inst.km(before, c.school_id) + inst.km(c.school_id, after) - inst.km(before, after)
            if best is None or added < best[0]:
                best = (added, p)
        return best

    def insert(c: _Candidate, p: int) -> None:
        key = (c.kit_id, c.segment)
        seqs.setdefault(key, []).insert(p, c)
        refresh(key)

    for rid in sorted(inst.pinned):
        (c,) = inst.candidates[rid]
        placed = best_place(c)
        if placed is None:
            raise ValueError(
                f"pinned placement of request {rid} on kit {c.kit_id} clashes with another pinned placement"
            )
        insert(c, placed[1])
    order = sorted(
        (rid for rid in inst.candidates if rid not in inst.pinned),
        key=lambda rid: (-inst.weights[rid], inst.requests[rid].earliest, rid),
    )
    for rid in order:
        options = []
        for c in inst.candidates[rid]:
            placed = best_place(c)
            if placed is not None:
                options.append((placed[0], c.kit_id, c.segment, placed[1], c))
        if options:
            _, _, _, p, c = min(options, key=lambda o: o[:3])
            insert(c, p)
    return [(c, s) for key, seq in seqs.items() for c, s in zip(seq, early[key], strict=True)]


def greedy_plan(
    kits: Sequence[Kit],
    schools: Sequence[School],
    requests: Sequence[Request],
    settings: Settings = Settings(),
    *,
    window: DateRange,
    pinned: Sequence[Placement] = (),
    dropped_request_ids: Iterable[int] = (),
) -> Plan:
    """The baseline: the same rules and result as `plan`, no search, no bound."""
    t0 = time.perf_counter()
    inst = _prepare(kits, schools, requests, settings, window, pinned, dropped_request_ids)
    chosen = _greedy(inst)
    return _build(
        inst,
        chosen,
        solver="greedy",
        status="FEASIBLE",
        bound=None,
        gap=None,
        seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------------------------
# CP-SAT
# --------------------------------------------------------------------------------------------


def plan(
    kits: Sequence[Kit],
    schools: Sequence[School],
    requests: Sequence[Request],
    settings: Settings = Settings(),
    *,
    window: DateRange,
    pinned: Sequence[Placement] = (),
    dropped_request_ids: Iterable[int] = (),
) -> Plan:
    """The optimising planner. Raises ValueError on malformed input or clashing pinned placements.

    Requests and kits fall apart into independent components (usually one per kit type: no
    request can use another type's kit); each is its own CP-SAT model, solved in turn, smallest
    first, each with a share of what is left of `time_limit_s`: proportional to its size, and
    at least an equal share (a small component proven early hands the rest on). Smaller models
    leave CP-SAT's search more of the time (presolve and the LP grow faster than linearly), and
    one component's hard tail cannot starve the others.

    Model, in open-day indices: per (request, kit, depot segment) an optional fixed-size interval
    (`days` long) whose start ranges over the precomputed feasible starts; at most one per
    request. Per kit segment a circuit through the depot and the present intervals orders the
    stays: arc i -> j means j is the next stay after i and carries start_j >= end_i + 1 +
    transit(i, j) and the leg's km, so the km objective counts exactly the legs driven (out of
    the depot, school to school, back). Arcs that time windows rule out are never created, and
    arcs whose transit always holds carry no constraint. NoOverlap per kit segment is implied by
    the circuit but propagates better; a cumulative over the whole fleet (see
    `_add_fleet_cumulative`) is redundant too and is what gives the LP a usable bound.

    Lexicographic objective in two solves of one model: (1) maximise weighted students;
    (2) add `weighted students >= the value found in (1)` and minimise km. Holding the value found
    (not the bound) keeps (2) feasible and never trades students for km, with no big-M weight to
    prove. (1) starts from a complete hint, the better of the greedy plan and `_insertion`'s,
    and (2) from (1)'s solution, so CP-SAT never ends behind greedy on students.

    A component whose model is too big for its time (at city scale, a kit type with hundreds of
    requests) is searched by neighbourhoods instead (`_lns`), from the same starting plan.

    `bound` is, per component, the better of two proven upper bounds on weighted students, summed:
    a linear relaxation of the whole component (`_lp_bound`, always; it may take `BOUND_SHARE` of
    the component's time) and CP-SAT's bound from (1) when it had the whole model. `gap` =
    (bound - objective) / bound. `travel_bound_km` is (2)'s: a lower bound on km at the students
    found (None when a component was searched by neighbourhoods or fell back).

    The same seed gives the same plan when every component is solved to optimality; otherwise
    how far the search gets in `time_limit_s` depends on the machine (CP-SAT's own time-limited
    search with several workers does too).
    """
    # Imported here: ortools (with numpy and pandas) costs ~0.4 s that web processes, which only
    # need the values above, should not pay at start-up.
    from ortools.sat.python import cp_model

    t0 = time.perf_counter()
    inst = _prepare(kits, schools, requests, settings, window, pinned, dropped_request_ids)
    # Starting points: the baseline and the insertion heuristic; per component the better one.
    starts = (_greedy(inst), _insertion(inst))
    components = _components(inst)
    sizes = [_model_size(inst, rids) for rids in components]
    size_left = sum(sizes)
    chosen: list[tuple[_Candidate, int]] = []
    best = bound = 0
    travel_bound: int | None = 0
    optimal = True
    ordered = sorted(zip(components, sizes, strict=True), key=lambda x: (x[1], min(x[0])))
    for n, (rids, size) in enumerate(ordered):
        # At least an equal share: a small component that is proven early hands the rest on.
        share = max(size / size_left, 1 / (len(ordered) - n))
        budget = max(0.05, settings.time_limit_s - (time.perf_counter() - t0)) * share
        size_left -= size
        start = max(
            ([(c, s) for c, s in chosen_by if c.request_id in rids] for chosen_by in starts),
            key=lambda chosen_by: sum(inst.weights[c.request_id] for c, _ in chosen_by),
        )
        t1 = time.perf_counter()
        # Valid for the whole problem whatever the search below does; CP-SAT's own bound is
        # too, when it had the whole component's model.
        component_bound = _lp_bound(inst, rids, t1 + budget * BOUND_SHARE)
        budget -= time.perf_counter() - t1
        if size <= MODEL_SIZE_PER_SECOND * budget:
            result = _solve_component(
                cp_model, inst, {rid: inst.candidates[rid] for rid in rids}, start, budget
            )
            chosen += result.chosen
            best += result.best
            component_bound = min(component_bound, result.bound)
            optimal = optimal and result.optimal
            if travel_bound is not None:
                travel_bound = None if result.travel_bound is None else travel_bound + result.travel_bound
        else:
            # Too big to build and search in time as one model: neighbourhood by neighbourhood.
            rng = random.Random(settings.seed * 1_000_003 + min(rids))
            found = _lns(cp_model, inst, rids, start, time.perf_counter() + budget, rng, settings.workers)
            chosen += found
            best += sum(round(inst.weights[c.request_id] * WEIGHT_SCALE) for c, _ in found)
            optimal, travel_bound = False, None
        bound += component_bound
    return _build(
        inst,
        chosen,
        solver="cp-sat",
        status="OPTIMAL" if optimal else "FEASIBLE",
        bound=bound / WEIGHT_SCALE,
        gap=(bound - best) / bound if bound else 0.0,
        seconds=time.perf_counter() - t0,
        travel_bound_km=None if travel_bound is None else round(travel_bound / KM_SCALE, 1),
    )


def _components(inst: _Instance) -> list[set[int]]:
    """Request ids grouped so that no two groups can use the same kit."""
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def root(x: tuple[str, int]) -> tuple[str, int]:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for rid, cands in inst.candidates.items():
        for c in cands:
            parent[root(("r", rid))] = root(("k", c.kit_id))
    groups: dict[tuple[str, int], set[int]] = {}
    for rid in inst.candidates:
        groups.setdefault(root(("r", rid)), set()).add(rid)
    return list(groups.values())


def _model_size(inst: _Instance, rids: Iterable[int], candidates=None) -> int:
    """About the number of arcs, which the solve time grows with."""
    candidates = inst.candidates if candidates is None else candidates
    per_segment: dict[tuple[int, int], int] = {}
    for rid in rids:
        for c in candidates[rid]:
            per_segment[(c.kit_id, c.segment)] = per_segment.get((c.kit_id, c.segment), 0) + 1
    return sum(n * n + 3 * n for n in per_segment.values())


@dataclass(frozen=True)
class _Node:
    """A candidate's variables in the model."""

    candidate: _Candidate
    present: object
    start: object
    interval: object


@dataclass(frozen=True)
class _Result:
    chosen: list[tuple[_Candidate, int]]
    best: int  # weighted students x WEIGHT_SCALE
    bound: int
    optimal: bool  # both stages proven
    travel_bound: int | None  # km x KM_SCALE


def _solve(solver, m) -> int:
    """solver.solve(m), once more without the hint if OR-Tools' presolve trips over it.

    OR-Tools 9.15 raises `IndexError: absl::btree_map::at` from presolve on some hinted models
    (found by the property tests: seed 3997, 6 kits, 7 requests, a pinned placement). The same
    model solves without the hint; the starting plan is still compared with the result after."""
    try:
        return solver.solve(m)
    except IndexError:
        logger.warning("CP-SAT failed on a hinted model; solving it again without the hint", exc_info=True)
        m.clear_hints()
        return solver.solve(m)


def _solve_component(
    cp_model,
    inst: _Instance,
    candidates: dict[int, list[_Candidate]],
    start,
    budget: float,
    ends: Mapping[tuple[int, int], tuple[int, int]] | None = None,
) -> _Result | None:
    """Both stages for one component within `budget` seconds, building the model included.

    `ends` (for `_lns`): per kit segment the schools its route starts from and must reach, when
    not its depot (the stays kept before and after a neighbourhood; the candidates' starts
    already leave the transit from and to them). With `ends`, None when no solution came back."""
    t0 = time.perf_counter()
    settings = inst.settings
    m = cp_model.CpModel()
    nodes: list[_Node] = []
    weight_terms, km_terms = [], []
    groups: dict[tuple[int, int], list[int]] = {}
    for rid in sorted(candidates):
        w = round(inst.weights[rid] * WEIGHT_SCALE)
        present_of_request = []
        for c in candidates[rid]:
            name = f"{rid}_{c.kit_id}_{c.segment}"
            p = m.new_bool_var(f"p_{name}")
            s = m.new_int_var(c.first, c.last, f"s_{name}")
            interval = m.new_optional_fixed_size_interval_var(s, c.days, p, f"i_{name}")
            if rid in inst.pinned:
                m.add(p == 1)
            groups.setdefault((c.kit_id, c.segment), []).append(len(nodes))
            nodes.append(_Node(c, p, s, interval))
            present_of_request.append(p)
            weight_terms.append(w * p)
        m.add_at_most_one(present_of_request)

    arcs_by_group: dict[tuple[int, int], dict[tuple[int, int], object]] = {}
    neighbourhood, ends = ends is not None, ends or {}
    for key, members in sorted(groups.items()):
        depot = inst.kits[key[0]].depot_school_id
        origin, dest = ends.get(key, (depot, depot))
        arcs = {(0, 0): m.new_bool_var(f"unused_{key[0]}_{key[1]}")}
        if origin != dest:
            km_terms.append(round(inst.km(origin, dest) * KM_SCALE) * arcs[(0, 0)])
        for a, n in enumerate(members, start=1):
            node = nodes[n]
            m.add_implication(node.present, ~arcs[(0, 0)])
            school = node.candidate.school_id
            for tail, head, km in ((0, a, inst.km(origin, school)), (a, 0, inst.km(school, dest))):
                arcs[(tail, head)] = lit = m.new_bool_var("")
                if round(km * KM_SCALE):
                    km_terms.append(round(km * KM_SCALE) * lit)
        for (a, n), (b, n2) in itertools.permutations(enumerate(members, start=1), 2):
            ci, cj = nodes[n].candidate, nodes[n2].candidate
            if ci.request_id == cj.request_id:
                continue
            gap_days = ci.days + inst.transit(ci.school_id, cj.school_id)  # start_j - start_i at least
            if cj.last < ci.first + gap_days:
                continue  # j can never come after i
            arcs[(a, b)] = lit = m.new_bool_var("")
            if cj.first < ci.last + gap_days:  # otherwise it always holds
                m.add(nodes[n2].start >= nodes[n].start + gap_days).only_enforce_if(lit)
            km = round(inst.km(ci.school_id, cj.school_id) * KM_SCALE)
            if km:
                km_terms.append(km * lit)
        self_loops = [(a, a, ~nodes[n].present) for a, n in enumerate(members, start=1)]
        m.add_circuit([(t, h, lit) for (t, h), lit in arcs.items()] + self_loops)
        m.add_no_overlap([nodes[n].interval for n in members])
        arcs_by_group[key] = arcs
    weighted, travel = sum(weight_terms), sum(km_terms)
    variables = [v for n in nodes for v in (n.present, n.start)]
    variables += [lit for arcs in arcs_by_group.values() for lit in arcs.values()]
    # (Not worth its size in a small neighbourhood, whose proof comes from the search.)
    derived = {} if neighbourhood else _add_fleet_cumulative(m, inst, nodes, groups, ends)
    variables += list(derived)

    def hint(values: Mapping[object, int]) -> None:
        m.clear_hints()
        for var in variables:
            m.add_hint(var, values[var])

    solver = cp_model.CpSolver()
    solver.parameters.random_seed = settings.seed
    solver.parameters.num_workers = settings.workers
    # Probing costs seconds on these circuit models and buys little: the search gets the time.
    solver.parameters.cp_model_probing_level = 0

    start_best = sum(round(inst.weights[c.request_id] * WEIGHT_SCALE) for c, _ in start)
    values = _hint_values(start, nodes, groups, arcs_by_group)
    values.update({var: rule(values) for var, rule in derived.items()})
    if neighbourhood:
        # A neighbourhood: one solve, weight first by far (a weighted student is worth
        # LNS_KM_PER_WEIGHT km), then km; `_lns` keeps only what is better on both, in order.
        m.maximize(weighted * (LNS_KM_PER_WEIGHT * KM_SCALE // WEIGHT_SCALE) - travel)
        hint(values)
        solver.parameters.num_workers = LNS_WORKERS or settings.workers
        solver.parameters.max_time_in_seconds = max(0.01, budget - (time.perf_counter() - t0))
        status = _solve(solver, m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        chosen = [(n.candidate, solver.value(n.start)) for n in nodes if solver.value(n.present)]
        return _Result(chosen, round(solver.value(weighted)), 0, status == cp_model.OPTIMAL, None)

    # Stage 1: students, from the starting plan.
    m.maximize(weighted)
    hint(values)
    solver.parameters.max_time_in_seconds = max(0.01, budget * FIRST_STAGE_SHARE - (time.perf_counter() - t0))
    status1 = _solve(solver, m)
    if status1 == cp_model.INFEASIBLE:
        raise ValueError("pinned placements cannot all be kept")
    if status1 not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # Nothing in time (presolve alone can take that long on a huge model): the starting plan.
        return _Result(start, start_best, _all_served(inst, candidates), False, None)
    # Until the LP has run, the solver's bound counts every candidate, several per request.
    bound = max(
        start_best, min(_all_served(inst, candidates), math.floor(solver.best_objective_bound + 1e-6))
    )
    if round(solver.objective_value) < start_best:  # the hint is a solution, so not expected
        return _Result(start, start_best, bound, False, None)
    best = round(solver.objective_value)
    bound = max(bound, best)
    values = {v: solver.value(v) for v in variables}

    # Stage 2: km, holding the students found, from stage 1's solution.
    hint(values)
    m.add(weighted >= best)
    m.minimize(travel)
    solver.parameters.max_time_in_seconds = max(0.01, budget - (time.perf_counter() - t0))
    status2 = _solve(solver, m)
    travel_bound = None
    if status2 in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = {v: solver.value(v) for v in variables}
        travel_bound = math.ceil(solver.best_objective_bound - 1e-6)
    return _Result(
        [(n.candidate, values[n.start]) for n in nodes if values[n.present]],
        best,
        bound,
        status1 == cp_model.OPTIMAL and status2 == cp_model.OPTIMAL,
        travel_bound,
    )


def _all_served(inst: _Instance, rids: Iterable[int]) -> int:
    """The trivial bound: every request served."""
    return sum(round(inst.weights[rid] * WEIGHT_SCALE) for rid in rids)


def _add_fleet_cumulative(m, inst: _Instance, nodes: list[_Node], groups, ends) -> dict[object, Callable]:
    """A redundant constraint for a stronger LP bound: the component's requests, each stretched
    by the least transit that must follow it, never use more kits at once than the component has
    (CP-SAT's energy cuts then see the fleet's capacity, which the circuits' LP hardly does).
    Returns the new variables, each with the rule giving its value from the others (for hints)."""
    by_request: dict[int, list[_Node]] = {}
    for node in nodes:
        by_request.setdefault(node.candidate.request_id, []).append(node)
    schools = Counter(its[0].candidate.school_id for its in by_request.values())
    depots = {ends.get(key, (0, inst.kits[key[0]].depot_school_id))[1] for key in groups}
    derived: dict[object, Callable] = {}
    intervals = []
    for rid, its in sorted(by_request.items()):
        school = its[0].candidate.school_id
        # After it the kit goes on to another request's school, or home.
        nexts = depots | {x for x, count in schools.items() if x != school or count > 1}
        tail = min(inst.transit(school, x) for x in nexts)
        present = m.new_bool_var(f"served_{rid}")
        m.add(present == sum(n.present for n in its))
        start = m.new_int_var(
            min(n.candidate.first for n in its), max(n.candidate.last for n in its), f"at_{rid}"
        )
        for n in its:
            m.add(start == n.start).only_enforce_if(n.present)
        intervals.append(
            m.new_optional_fixed_size_interval_var(start, its[0].candidate.days + tail, present, "")
        )
        derived[present] = lambda v, its=its: sum(v[n.present] for n in its)
        derived[start] = lambda v, its=its: next(
            (v[n.start] for n in its if v[n.present]), min(n.candidate.first for n in its)
        )
    m.add_cumulative(intervals, [1] * len(intervals), len({k for k, _ in groups}))
    return derived


def _hint_values(start, nodes, groups, arcs_by_group) -> dict[object, int]:
    """Every model variable's value in the starting plan: a complete hint is a first solution."""
    chosen = {(c.request_id, c.kit_id, c.segment): s for c, s in start}
    values: dict[object, int] = {}
    for node in nodes:
        c = node.candidate
        start = chosen.get((c.request_id, c.kit_id, c.segment))
        values[node.present] = int(start is not None)
        values[node.start] = c.first if start is None else start
    for key, members in groups.items():
        arcs = arcs_by_group[key]
        values.update(dict.fromkeys(arcs.values(), 0))
        route = sorted(
            (values[nodes[n].start], a) for a, n in enumerate(members, start=1) if values[nodes[n].present]
        )
        stops = [0, *(a for _, a in route), 0]
        for tail, head in itertools.pairwise(stops):
            values[arcs[(tail, head)]] = 1
    return values


def _lns(cp_model, inst: _Instance, rids: set[int], start, deadline: float, rng: random.Random, workers: int):
    """Large neighbourhood search, for a component too big to solve as one model: from `start`,
    free a window of open days on a few kit segments (the stays inside it), add the requests
    left unserved that could go there, and let CP-SAT re-plan just that, with the stays kept
    before and after as the routes' fixed ends; keep the result when it serves more weight, or
    the same for fewer km. Each neighbourhood is anchored on a request left unserved (drawn by
    weight) and on kits it could use, so the search goes where students wait. A neighbourhood's
    model has every rule of the full one, so each kept step is a valid plan. Neighbourhoods are
    sized by `_model_size`, aiming at what CP-SAT proves in a fraction of `LNS_SOLVE_S`: larger
    after a proof, smaller after a timeout. `workers` neighbourhoods at a time, on disjoint kits
    and requests, each solved by one CP-SAT worker in a thread of its own (the solver releases
    the GIL; small models gain more from a second neighbourhood than from a second worker)."""
    original = {(c.request_id, c.kit_id, c.segment): c for rid in rids for c in inst.candidates[rid]}
    on_segment: dict[tuple[int, int], list[_Candidate]] = {}
    for c in original.values():
        on_segment.setdefault((c.kit_id, c.segment), []).append(c)
    routes: dict[tuple[int, int], list[tuple[int, _Candidate]]] = {key: [] for key in on_segment}
    for c, s in start:
        routes[(c.kit_id, c.segment)].append((s, original[(c.request_id, c.kit_id, c.segment)]))
    for route in routes.values():
        route.sort(key=lambda x: x[0])
    served = {c.request_id for c, _ in start}
    order = sorted(rids)
    size_goal = LNS_SIZE
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while time.perf_counter() < deadline - 0.1:
            waiting = [rid for rid in order if rid not in served]
            batch: list[_Hood] = []
            kits_taken: set[int] = set()
            requests_taken: set[int] = set()
            for _ in range(3 * workers):  # a few draws to find `workers` disjoint ones
                if len(batch) == workers:
                    break
                hood = _neighbourhood(
                    inst, rng, order, waiting, routes, on_segment, served, size_goal, kits_taken
                )
                if hood is None or requests_taken & set(hood.sub):
                    continue
                batch.append(hood)
                kits_taken |= {kit for kit, _ in hood.ends}
                requests_taken |= set(hood.sub)
            if not batch:
                continue
            t0 = time.perf_counter()
            budget = min(LNS_SOLVE_S, deadline - t0)
            futures = [
                pool.submit(_solve_component, cp_model, inst, h.sub, h.hint, budget, h.ends) for h in batch
            ]
            results = [f.result() for f in futures]
            if all(r is not None and r.optimal for r in results) and time.perf_counter() - t0 < budget / 4:
                size_goal = min(LNS_SIZE * 8, size_goal * 1.1)
            elif not all(r is not None and r.optimal for r in results):
                size_goal = max(LNS_SIZE / 8, size_goal * 0.8)
            for hood, result in zip(batch, results, strict=True):
                if result is None:
                    continue
                if (result.best, -_routes_km(inst, hood.ends, result.chosen)) <= (hood.weight, -hood.km):
                    continue
                served -= {c.request_id for c, _ in hood.hint}
                new: dict[tuple[int, int], list[tuple[int, _Candidate]]] = {}
                for c, s in result.chosen:
                    new.setdefault((c.kit_id, c.segment), []).append(
                        (s, original[(c.request_id, c.kit_id, c.segment)])
                    )
                    served.add(c.request_id)
                for key, (before, after) in hood.kept.items():
                    routes[key] = before + sorted(new.get(key, []), key=lambda x: x[0]) + after
    return [(c, s) for route in routes.values() for s, c in route]


@dataclass(frozen=True)
class _Hood:
    """One neighbourhood: its requests' candidates (restricted to it), the current plan's stays
    in it as a hint, per kit segment the route's fixed ends and the stays kept before and after,
    and the current weight (x WEIGHT_SCALE) and km inside it."""

    sub: dict[int, list[_Candidate]]
    hint: list[tuple[_Candidate, int]]
    ends: dict[tuple[int, int], tuple[int, int]]
    kept: dict[tuple[int, int], tuple[list, list]]
    weight: int
    km: float


def _neighbourhood(
    inst: _Instance, rng, order, waiting, routes, on_segment, served, size_goal, kits_taken
) -> _Hood | None:
    """Draw one neighbourhood for `_lns` on kits not in `kits_taken`; None when it has nothing to
    offer (or, not expected, a kept stay does not fit its own neighbourhood)."""
    if waiting and rng.random() < 0.9:
        anchor = rng.choices(waiting, weights=[inst.weights[rid] + 0.001 for rid in waiting])[0]
    else:
        anchor = rng.choice(order)  # also re-plans where all are served: fewer km
    cands = inst.candidates[anchor]
    keys = sorted({(c.kit_id, c.segment) for c in cands if c.kit_id not in kits_taken})
    keys = rng.sample(keys, min(LNS_KITS, len(keys)))
    lo = min(c.first for c in cands)
    hi = max(c.last + c.days - 1 for c in cands)
    length = max(LNS_WINDOW, max(c.days for c in cands))
    span = hi - lo + 1
    a = rng.randint(lo, hi - length + 1) if span > length else lo - (length - span) // 2
    b = a + length - 1

    ends, hint, sub, kept = {}, [], {}, {}
    for key in keys:
        route = routes[key]
        inside = [(s, c) for s, c in route if s >= a and s + c.days - 1 <= b]
        if any(c.request_id in inst.pinned for _, c in inside):
            continue
        before = [(s, c) for s, c in route if s < a]
        after = [(s, c) for s, c in route if s >= a and s + c.days - 1 > b]
        depot = inst.kits[key[0]].depot_school_id
        prev = before[-1] if before else None
        nxt = after[0] if after else None
        ends[key] = (prev[1].school_id if prev else depot, nxt[1].school_id if nxt else depot)
        kept[key] = (before, after)
        free = {c.request_id for _, c in inside}
        for c in on_segment[key]:
            if c.request_id in served and c.request_id not in free:
                continue
            first, last = max(c.first, a), min(c.last, b - c.days + 1)
            if prev:
                first = max(first, prev[0] + prev[1].days + inst.transit(prev[1].school_id, c.school_id))
            if nxt:
                last = min(last, nxt[0] - inst.transit(c.school_id, nxt[1].school_id) - c.days)
            if first <= last:
                sub.setdefault(c.request_id, []).append(replace(c, first=first, last=last))
        for s, c in inside:
            mine = [x for x in sub.get(c.request_id, []) if (x.kit_id, x.segment) == key]
            if not mine or not mine[0].first <= s <= mine[0].last:
                return None
            hint.append((mine[0], s))
    if not ends:
        return None
    # Over the size aimed at: leave out the lightest of the waiting requests.
    fixed = {c.request_id for c, _ in hint}
    optional = sorted((rid for rid in sub if rid not in fixed), key=lambda rid: (-inst.weights[rid], rid))
    while optional and _model_size(inst, sub, sub) > size_goal:
        del sub[optional.pop()]
    if waiting and all(rid in fixed for rid in sub):
        return None  # nothing to add here
    weight = sum(round(inst.weights[rid] * WEIGHT_SCALE) for rid in fixed)
    return _Hood(sub, hint, ends, kept, weight, _routes_km(inst, ends, hint))


def _routes_km(inst: _Instance, ends, chosen) -> float:
    """The km of the routes through `chosen` from and to their ends (per kit segment)."""
    by_key: dict[tuple[int, int], list[tuple[int, _Candidate]]] = {}
    for c, s in chosen:
        by_key.setdefault((c.kit_id, c.segment), []).append((s, c))
    total = 0.0
    for key, (origin, dest) in ends.items():
        here = origin
        for _, c in sorted(by_key.get(key, []), key=lambda x: x[0]):
            total += inst.km(here, c.school_id)
            here = c.school_id
        total += inst.km(here, dest)
    return round(total, 6)


# --------------------------------------------------------------------------------------------
# Upper bound: a linear relaxation of the whole problem
# --------------------------------------------------------------------------------------------


def _lp_bound(inst: _Instance, rids: Iterable[int], deadline: float) -> int:
    """A proven upper bound (x WEIGHT_SCALE) on the weighted students that any plan can serve
    from the component `rids`. It relaxes the full problem (every candidate kit and start), so it
    holds whatever the search was restricted to, unlike the bound of a restricted model.

    Variables y_c in [0, 1] per candidate (request, kit segment), worth the request's weight;
    sum of y_c over a request's candidates <= 1. The stays on one kit segment, each stretched by
    the least transit that must follow it (to another candidate's school, or home to the depot
    before the segment ends), never overlap; so for any slice T of open days, sum over the
    segment's candidates of y_c x (the least part of c's stretched stay that lies in T, over all
    of c's starts) <= |T|. Slices run between the points of a weekly grid and are added where the
    LP breaks them (row generation: each LP on the way relaxes the problem too). The bound is
    recomputed from the LP's duals u >= 0 as sum u_i b_i + sum_c max(0, w_c - sum_i u_i a_ic),
    which holds for any u >= 0: neither the LP's tolerances nor the deadline can make it wrong."""
    import numpy as np
    from ortools.linear_solver import pywraplp

    trivial = _all_served(inst, rids)
    cands = [c for rid in sorted(rids) for c in inst.candidates[rid]]
    if not cands:
        return 0
    weight = np.array([inst.weights[c.request_id] for c in cands])
    lp = pywraplp.Solver.CreateSolver("GLOP")
    if lp is None:
        return trivial
    lp.SetNumThreads(1)
    y = [lp.NumVar(0.0, 1.0, "") for _ in cands]
    objective = lp.Objective()
    for var, w in zip(y, weight, strict=True):
        objective.SetCoefficient(var, float(w))
    objective.SetMaximization()
    of_request: dict[int, list[int]] = {}
    by_group: dict[tuple[int, int], list[int]] = {}
    for i, c in enumerate(cands):
        of_request.setdefault(c.request_id, []).append(i)
        by_group.setdefault((c.kit_id, c.segment), []).append(i)
    request_rows = []
    for members in of_request.values():
        row = lp.Constraint(-lp.infinity(), 1.0)
        for i in members:
            row.SetCoefficient(y[i], 1.0)
        request_rows.append((row, np.array(members)))

    # Per kit segment: every grid slice's coefficients (slices x candidates) and capacity.
    groups = []
    for key, members in sorted(by_group.items()):
        depot = inst.kits[key[0]].depot_school_id
        tail = _least_transit_after(inst, depot, Counter(cands[i].school_id for i in members))
        first = np.array([cands[i].first for i in members])
        last = np.array([cands[i].last for i in members])
        length = np.array([cands[i].days + tail[cands[i].school_id] for i in members])
        lo, hi = int(first.min()), int((last + length - 1).max())
        points = [*range(lo, hi + 1, SLICE_STEP), hi + 1]
        a = np.array([p for n, p in enumerate(points) for _ in points[n + 1 :]])[:, None]
        b = np.array([q - 1 for n, _ in enumerate(points) for q in points[n + 1 :]])[:, None]

        def inside(s, a=a, b=b, length=length):
            return np.clip(np.minimum(b, s + length - 1) - np.maximum(a, s) + 1, 0, None)

        coef = np.minimum(inside(first), inside(last)).astype(float)
        groups.append(
            {"members": np.array(members), "coef": coef, "cap": (b - a + 1)[:, 0].astype(float), "rows": {}}
        )

    def add_row(g: dict, s: int) -> None:
        row = lp.Constraint(-lp.infinity(), float(g["cap"][s]))
        for j in np.flatnonzero(g["coef"][s]):
            row.SetCoefficient(y[g["members"][j]], float(g["coef"][s][j]))
        g["rows"][s] = row

    for g in groups:
        add_row(g, int(np.argmax(g["cap"])))  # the whole segment
    best, idle = math.inf, 0
    while True:
        if lp.Solve() != pywraplp.Solver.OPTIMAL:
            break
        # The dual bound: valid for any u >= 0, so clip what the LP's tolerances let through.
        reduced = weight.copy()
        total = 0.0
        for row, members in request_rows:
            u = max(0.0, row.dual_value())
            total += u
            reduced[members] -= u
        for g in groups:
            for s, row in g["rows"].items():
                u = max(0.0, row.dual_value())
                total += u * g["cap"][s]
                reduced[g["members"]] -= u * g["coef"][s]
        total += np.clip(reduced, 0, None).sum()
        # Stop when rounds no longer pay (the last rows cost the most and move the bound least).
        idle = idle + 1 if total > best * (1 - MIN_ROUND_GAIN) else 0
        best = min(best, total)
        if idle >= 2 or time.perf_counter() > deadline:
            break
        values = np.array([v.solution_value() for v in y])
        added = 0
        for g in groups:
            broken = g["coef"] @ values[g["members"]] - g["cap"]
            broken[list(g["rows"])] = 0
            for s in np.argsort(-broken)[:SLICES_PER_ROUND]:
                if broken[s] > 1e-6:
                    add_row(g, int(s))
                    added += 1
        if not added:
            break
    if best == math.inf:
        return trivial
    return min(trivial, math.ceil(best * WEIGHT_SCALE * (1 + 1e-9) + 1e-6))


def _least_transit_after(inst: _Instance, depot: int, at_school: Mapping[int, int]) -> dict[int, int]:
    """Per school of a kit segment's candidates (school -> how many): the fewest transit days
    that must follow a stay there, to another candidate's school or home to the depot."""
    import numpy as np

    schools = list(at_school)
    lat, lon = (np.radians([getattr(inst.schools[x], f) for x in schools]) for f in ("lat", "lon"))
    h = (
        np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
        + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin((lon[:, None] - lon[None, :]) / 2) ** 2
    )
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))
    np.fill_diagonal(km, np.inf)
    tail = {}
    for n, school in enumerate(schools):
        nexts = [depot] + ([school] if at_school[school] > 1 else [])
        # The nearest other schools by this sum, then exactly by `transit` (no rounding can differ).
        row = km[n]
        if len(schools) > 1:
            nexts += [schools[j] for j in np.flatnonzero(row <= row.min() + 1e-6)]
        tail[school] = min(inst.transit(school, x) for x in nexts)
    return tail


# --------------------------------------------------------------------------------------------
# Independent checker
# --------------------------------------------------------------------------------------------


def validate_plan(
    plan: Plan,
    kits: Sequence[Kit],
    schools: Sequence[School],
    requests: Sequence[Request],
    settings: Settings,
    window: DateRange,
    *,
    pinned: Sequence[Placement] = (),
    dropped_request_ids: Iterable[int] = (),
) -> list[str]:
    """Every broken rule of `plan`, as sentences; [] means valid. Recomputes everything from the
    input (not from the planner's precomputed starts), so tests and the apply step can trust it."""
    errors: list[str] = []
    kit_by_id = {k.id: k for k in kits}
    school_by_id = {s.id: s for s in schools}
    request_by_id = {r.id: r for r in requests}
    dropped = set(dropped_request_ids)

    def km(a: int, b: int) -> float:
        return road_km(school_by_id[a], school_by_id[b], settings)

    seen: set[int] = set()
    per_kit: dict[int, list[Placement]] = {}
    for p in plan.placements:
        where = f"request {p.request_id} on kit {p.kit_id} {p.start}..{p.end}"
        r, k = request_by_id.get(p.request_id), kit_by_id.get(p.kit_id)
        if r is None or k is None:
            errors.append(f"{where}: unknown request or kit")
            continue
        if p.request_id in seen:
            errors.append(f"{where}: request served twice")
        seen.add(p.request_id)
        if p.request_id in dropped:
            errors.append(f"{where}: request was dropped")
        if p.school_id != r.school_id:
            errors.append(f"{where}: placed at school {p.school_id}, requested by {r.school_id}")
        if school_by_id[r.school_id].lat is None:
            errors.append(f"{where}: school has no coordinates")
        if (r.kit_id is not None and r.kit_id != k.id) or (
            r.kit_type is not None and r.kit_type != k.kit_type
        ):
            errors.append(f"{where}: wrong kit")
        if k.id not in r.compatible_kits:
            errors.append(f"{where}: kit not compatible")
        elif r.compatible_kits[k.id] != p.adapter:
            errors.append(f"{where}: adapter {p.adapter!r}, needs {r.compatible_kits[k.id]!r}")
        if k.provides_ok_for is not None and r.school_id not in k.provides_ok_for:
            errors.append(f"{where}: kit may not go to school {r.school_id}")
        if not (window[0] <= p.start <= p.end <= window[1]):
            errors.append(f"{where}: outside the window {window[0]}..{window[1]}")
        if p.start < r.earliest or p.end > r.latest_end:
            errors.append(f"{where}: outside the request's window {r.earliest}..{r.latest_end}")
        if not (is_open(p.start, settings) and is_open(p.end, settings)):
            errors.append(f"{where}: starts or ends on a closed day")
        n_open = sum(
            is_open(p.start + dt.timedelta(days=i), settings) for i in range((p.end - p.start).days + 1)
        )
        if n_open != r.days:
            errors.append(f"{where}: {n_open} open days, requested {r.days}")
        per_kit.setdefault(k.id, []).append(p)

    # Each kit's stays in time order, the depot ones included: before availability, the blocked
    # ranges, after availability. Consecutive stays need the transit between their places, in
    # open days strictly between them.
    travel = 0.0
    far_past, far_future = dt.date.min, dt.date.max
    for kit_id, placements in sorted(per_kit.items()):
        k = kit_by_id[kit_id]
        depot = k.depot_school_id
        at_depot = sorted(
            [
                (far_past, k.available_from - dt.timedelta(days=1)),
                *k.blocked,
                (k.available_to + dt.timedelta(days=1), far_future),
            ]
        )
        merged: list[list[dt.date]] = []
        for lo, hi in at_depot:  # merged, so that a placement can only hide behind one depot stay
            if merged and (lo - merged[-1][1]).days <= 1:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        stays = [(lo, hi, depot, None) for lo, hi in merged]
        stays += [(p.start, p.end, p.school_id, p) for p in placements]
        stays.sort(key=lambda x: (x[0], x[1]))
        for (_, a_end, a_school, a), (b_start, _, b_school, b) in itertools.pairwise(stays):
            if a is None and b is None:
                continue
            leg = km(a_school, b_school)
            travel += leg
            need = transit_days(leg, settings)
            if a_end >= b_start or not _open_between_at_least(a_end, b_start, need, settings):
                what = f"kit {kit_id}: {a_school} until {a_end} then {b_school} from {b_start}"
                errors.append(f"{what}: needs {need} open transit days in between")
            if b is not None and (b.transit_in_days != need or abs(b.km_in - leg) > 0.051):
                errors.append(
                    f"kit {kit_id} into request {b.request_id}: says {b.transit_in_days} days, "
                    f"{b.km_in} km; is {need} days, {leg:.1f} km"
                )
    if abs(plan.travel_km - travel) > 0.051:
        errors.append(f"travel_km {plan.travel_km}, legs add up to {travel:.1f}")

    for rid in request_by_id:
        if rid in seen and rid in plan.unserved:
            errors.append(f"request {rid}: both served and unserved")
        if rid not in seen and rid not in plan.unserved:
            errors.append(f"request {rid}: neither served nor unserved")
        if rid in dropped and plan.unserved.get(rid) != "dropped":
            errors.append(f"request {rid}: dropped but not reported so")
    for rid, reason in plan.unserved.items():
        if reason not in UNSERVED_REASONS:
            errors.append(f"request {rid}: unknown reason {reason!r}")
    placed = {(p.request_id, p.kit_id, p.start) for p in plan.placements}
    for p in pinned:
        if (p.request_id, p.kit_id, p.start) not in placed:
            errors.append(f"pinned placement of request {p.request_id} on kit {p.kit_id} from {p.start} lost")
    return errors


def _open_between_at_least(a: dt.date, b: dt.date, need: int, settings: Settings) -> bool:
    """At least `need` open days strictly between a and b (a < b)."""
    day, found = a + dt.timedelta(days=1), 0
    while found < need and day < b:
        found += is_open(day, settings)
        day += dt.timedelta(days=1)
    return found >= need
