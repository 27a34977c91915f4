"""The rotation planner core: pure values in and out, no database."""

import dataclasses
import datetime as dt
import math
import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from booking.rotation import planner
from booking.rotation.planner import (
    Kit,
    Placement,
    Plan,
    Request,
    School,
    Settings,
    greedy_plan,
    plan,
    request_weight,
    score,
    transit_days,
    validate_plan,
)

MON = dt.date(2027, 3, 1)  # a Monday
WINDOW = (MON, MON + dt.timedelta(weeks=6) - dt.timedelta(days=3))  # six school weeks, Mon..Fri
FAST = Settings(time_limit_s=2)


def day(n: int) -> dt.date:
    return MON + dt.timedelta(days=n)


def school(id_, lat=45.75, lon=126.65, county=False):
    return School(id_, lat, lon, county)


def kit(id_, depot=1, kit_type="lab", **kw):
    return Kit(
        id_, kit_type, depot, kw.pop("available_from", WINDOW[0]), kw.pop("available_to", WINDOW[1]), **kw
    )


def request(id_, school_id, days, earliest=WINDOW[0], latest_end=WINDOW[1], students=100, kits=(1,), **kw):
    return Request(
        id=id_,
        school_id=school_id,
        kit_type=kw.pop("kit_type", "lab"),
        kit_id=kw.pop("kit_id", None),
        days=days,
        earliest=earliest,
        latest_end=latest_end,
        students=students,
        requested_on=kw.pop("requested_on", WINDOW[0]),
        compatible_kits=kw.pop("compatible_kits", dict.fromkeys(kits)),
    )


def both(kits, schools, requests, s=FAST, window=WINDOW, **kw):
    """Greedy and CP-SAT on one instance, each checked by validate_plan."""
    plans = []
    for make_plan in (greedy_plan, plan):
        p = make_plan(kits, schools, requests, s, window=window, **kw)
        assert validate_plan(p, kits, schools, requests, s, window, **kw) == []
        assert p.objective == score(p, requests, schools, s, window)
        plans.append(p)
    return plans


# --- random instances ------------------------------------------------------------------------


def random_instance(seed: int, n_kits: int, n_requests: int):
    rng = random.Random(seed)
    schools = [School(1, 45.75, 126.65, False)]
    for i in range(2, 9):
        if rng.random() < 0.1:
            schools.append(School(i, None, None, True))
        else:
            km = rng.uniform(0, 250)
            schools.append(
                School(
                    i, 45.75 + rng.uniform(-1, 1) * km / 111, 126.65 + rng.uniform(-1, 1) * km / 78, km > 40
                )
            )
    depots = [s.id for s in schools if s.lat is not None][:3]
    kits = []
    for i in range(1, n_kits + 1):
        blocked = ()
        if rng.random() < 0.3:
            b = day(rng.randint(0, 35))
            blocked = ((b, b + dt.timedelta(days=rng.randint(0, 6))),)
        kits.append(
            Kit(
                i,
                rng.choice("ab"),
                rng.choice(depots),
                day(rng.randint(-5, 5)),
                day(rng.randint(30, 50)),
                blocked,
                frozenset(rng.sample(range(1, 9), 5)) if rng.random() < 0.2 else None,
            )
        )
    requests = []
    for i in range(1, n_requests + 1):
        kit_type = rng.choice("abc")  # "c" exists for no kit
        earliest = day(rng.randint(-3, 30))
        requests.append(
            Request(
                id=i,
                school_id=rng.randint(1, 8),
                kit_type=kit_type,
                kit_id=rng.choice([k.id for k in kits]) if rng.random() < 0.1 else None,
                days=rng.randint(1, 8),
                earliest=earliest,
                latest_end=earliest + dt.timedelta(days=rng.randint(0, 20)),
                students=rng.randint(0, 200),
                requested_on=day(-rng.randint(0, 60)),
                compatible_kits={
                    k.id: rng.choice([None, None, "ADP-0001"]) for k in kits if rng.random() < 0.8
                },
            )
        )
    closed = frozenset(day(rng.randint(0, 40)) for _ in range(rng.randint(0, 4)))
    working = frozenset(day(5 + 7 * rng.randint(0, 5)) for _ in range(rng.randint(0, 1)))  # a Saturday
    s = Settings(
        closed_days=closed,
        working_weekend_days=working,
        time_limit_s=2,
        handover_days=rng.randint(0, 2),
        transit_km_per_day=rng.choice([80.0, 150.0]),
        seed=seed % 7,
    )
    return kits, schools, requests, s


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n_kits=st.integers(1, 6), n_requests=st.integers(1, 12))
def test_random_plans_keep_every_rule_and_cp_sat_is_never_behind_greedy(seed, n_kits, n_requests):
    kits, schools, requests, s = random_instance(seed, n_kits, n_requests)
    greedy, cp = both(kits, schools, requests, s)
    assert cp.objective >= greedy.objective
    assert cp.bound >= cp.objective
    assert cp.gap == pytest.approx((cp.bound - cp.objective) / cp.bound if cp.bound else 0.0)
    if cp.status == "OPTIMAL":
        assert cp.gap == 0.0
    assert set(cp.unserved) | {p.request_id for p in cp.placements} == {r.id for r in requests}
    # CP-SAT's other starting point is returned as is when a component finds nothing in time.
    inst = planner._prepare(kits, schools, requests, s, WINDOW, (), ())
    start = planner._build(
        inst, planner._insertion(inst), solver="cp-sat", status="FEASIBLE", bound=None, gap=None, seconds=0
    )
    assert validate_plan(start, kits, schools, requests, s, WINDOW) == []
    assert cp.objective >= start.objective


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n_kits=st.integers(1, 6), n_requests=st.integers(2, 12))
@example(seed=3997, n_kits=6, n_requests=7)  # OR-Tools' presolve failed on this hinted model
def test_re_planning_keeps_pins_and_drops_on_random_instances(seed, n_kits, n_requests):
    kits, schools, requests, s = random_instance(seed, n_kits, n_requests)
    first = greedy_plan(kits, schools, requests, s, window=WINDOW)
    pinned = list(first.placements[:1])
    dropped = {r.id for r in requests if r.id not in {p.request_id for p in pinned}}
    dropped = set(sorted(dropped)[:1])
    greedy, cp = both(kits, schools, requests, s, pinned=pinned, dropped_request_ids=dropped)
    for p in (greedy, cp):
        kept = {(x.request_id, x.kit_id, x.start, x.end) for x in p.placements}
        assert {(x.request_id, x.kit_id, x.start, x.end) for x in pinned} <= kept
        assert all(p.unserved[rid] == "dropped" for rid in dropped)
    assert cp.objective >= greedy.objective


def lp_bound(kits, schools, requests, s, **kw) -> float:
    """The relaxation's bound alone (no deadline), summed over the components."""
    inst = planner._prepare(kits, schools, requests, s, WINDOW, kw.get("pinned", ()), ())
    total = sum(planner._lp_bound(inst, rids, math.inf) for rids in planner._components(inst))
    return total / planner.WEIGHT_SCALE


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n_kits=st.integers(1, 5), n_requests=st.integers(1, 14))
def test_the_relaxation_bounds_the_proven_optimum_and_every_plan(seed, n_kits, n_requests):
    kits, schools, requests, s = random_instance(seed, n_kits, n_requests)
    s = dataclasses.replace(s, time_limit_s=5)
    bound = lp_bound(kits, schools, requests, s)
    greedy, cp = both(kits, schools, requests, s)
    # Proven optimal without any restriction: the relaxation may not be below the optimum.
    if cp.status == "OPTIMAL":
        assert bound >= cp.objective - 1e-9
    assert bound >= greedy.objective - 1e-9
    assert bound >= cp.objective - 1e-9
    assert cp.bound <= bound + 1e-9  # the plan reports the better of its two bounds


def test_the_relaxation_counts_time_slices_not_only_the_whole_term():
    # One kit at the schools' depot, three requests that all want the same two weeks: only one
    # fits. The kit's six-week term would hold all three (306). Each stay is 8 open days plus a
    # handover day, starting at index 5, 6 or 7, so it lies at least 9 days inside the slice of
    # indices 5..15 (11 days): 11/9 of a request at most, the heaviest first.
    schools = [school(1)]
    kits = [kit(1)]
    requests = [request(i, 1, 8, earliest=day(7), latest_end=day(18), students=100 + i) for i in range(1, 4)]
    assert lp_bound(kits, schools, requests, FAST) == pytest.approx(103 + 102 * 2 / 9, abs=0.002)
    _, cp = both(kits, schools, requests)
    # CP-SAT proves 103, the better of the two bounds.
    assert cp.objective == cp.bound == 103
    assert cp.gap == 0.0


def test_large_components_are_searched_by_neighbourhoods_and_keep_every_rule(monkeypatch):
    # As if every component were too big for one model: the neighbourhood search alone.
    monkeypatch.setattr(planner, "MODEL_SIZE_PER_SECOND", 0)
    for seed in range(3):
        kits, schools, requests, s = random_instance(seed, 6, 40)
        s = dataclasses.replace(s, time_limit_s=3)
        greedy, cp = both(kits, schools, requests, s)
        inst = planner._prepare(kits, schools, requests, s, WINDOW, (), ())
        start = planner._build(
            inst, planner._insertion(inst), solver="", status="", bound=None, gap=None, seconds=0
        )
        assert cp.objective >= max(greedy.objective, start.objective)
        assert cp.status == "FEASIBLE"
        assert cp.bound >= cp.objective
        assert cp.gap is not None
        assert 0 <= cp.gap < 1
        assert cp.travel_bound_km is None
        # Pins are kept through the neighbourhoods too.
        pinned = list(greedy.placements[:2])
        _, cp = both(kits, schools, requests, s, pinned=pinned)
        kept = {(x.request_id, x.kit_id, x.start) for x in cp.placements}
        assert {(x.request_id, x.kit_id, x.start) for x in pinned} <= kept


def test_a_neighbourhood_search_finds_what_the_starting_plan_missed(monkeypatch):
    # The known instance: greedy and the insertion heuristic both take the heavy request, the
    # search must swap it for the two lighter ones that together weigh more.
    monkeypatch.setattr(planner, "MODEL_SIZE_PER_SECOND", 0)
    kits, schools, requests = known_instance()
    _, cp = both(kits, schools, requests)
    assert cp.objective == 120
    assert cp.bound >= 120  # the relaxation's alone: CP-SAT never had the whole model
    assert cp.gap == pytest.approx((cp.bound - 120) / cp.bound)


# --- the checker catches what it must --------------------------------------------------------


@pytest.fixture
def two_schools():
    return [school(1), school(2, 45.75, 128.0, county=True)]  # about 105 km apart, 142 km by road


def test_transit_counts_road_km_and_the_handover():
    s = Settings()
    assert transit_days(0, s) == 1
    assert transit_days(150, s) == 2
    assert transit_days(150.0000001, s) == 2
    assert transit_days(151, s) == 3


def test_checker_rejects_a_kit_in_two_places(two_schools):
    kits = [kit(1)]
    requests = [request(1, 2, 3), request(2, 2, 3)]
    good = greedy_plan(kits, two_schools, requests, FAST, window=WINDOW)
    assert validate_plan(good, kits, two_schools, requests, FAST, WINDOW) == []
    first, second = good.placements
    # Both placements at the same time on the one kit.
    clash = dataclasses.replace(second, start=first.start, end=first.end)
    bad = dataclasses.replace(good, placements=(first, clash))
    errors = validate_plan(bad, kits, two_schools, requests, FAST, WINDOW)
    assert any("transit" in e for e in errors)


def test_checker_rejects_too_little_transit_and_wrong_days(two_schools):
    kits = [kit(1)]
    requests = [request(1, 2, 3)]
    good = greedy_plan(kits, two_schools, requests, FAST, window=WINDOW)
    (p,) = good.placements
    # Transit depot -> school 2 is 2 open days, so Wednesday is the first possible start.
    assert p.start == day(2)
    assert p.transit_in_days == 2
    early = dataclasses.replace(p, start=day(1), end=day(3))
    errors = validate_plan(
        dataclasses.replace(good, placements=(early,)), kits, two_schools, requests, FAST, WINDOW
    )
    assert any("transit" in e for e in errors)
    long = dataclasses.replace(p, end=p.end + dt.timedelta(days=3))  # Friday -> Monday
    errors = validate_plan(
        dataclasses.replace(good, placements=(long,)), kits, two_schools, requests, FAST, WINDOW
    )
    assert any("4 open days, requested 3" in e for e in errors)


def test_checker_rejects_incompatible_kits_closed_days_and_double_service(two_schools):
    kits = [kit(1), kit(2)]
    requests = [request(1, 2, 3, kits=(1,))]
    good = greedy_plan(kits, two_schools, requests, FAST, window=WINDOW)
    (p,) = good.placements
    other = dataclasses.replace(p, kit_id=2)
    errors = validate_plan(
        dataclasses.replace(good, placements=(other,)), kits, two_schools, requests, FAST, WINDOW
    )
    assert any("not compatible" in e for e in errors)
    twice = dataclasses.replace(
        good, placements=(p, dataclasses.replace(p, kit_id=1, start=day(14), end=day(16)))
    )
    errors = validate_plan(twice, kits, two_schools, requests, FAST, WINDOW)
    assert any("served twice" in e for e in errors)
    closed = dataclasses.replace(FAST, closed_days=frozenset({p.start}))
    errors = validate_plan(good, kits, two_schools, requests, closed, WINDOW)
    assert any("closed day" in e for e in errors)


# --- known answers ---------------------------------------------------------------------------


def test_cp_sat_finds_the_known_optimum_where_greedy_does_not():
    # One kit at the depot school; the heaviest request takes most of the window, the two lighter
    # ones together weigh more but only fit without it.
    kits, schools, requests = known_instance()
    greedy, cp = both(kits, schools, requests)
    assert greedy.objective == 100
    assert {p.request_id for p in greedy.placements} == {1}
    assert cp.objective == 120
    assert {p.request_id for p in cp.placements} == {2, 3}
    assert cp.status == "OPTIMAL"
    assert cp.gap == 0.0
    assert cp.bound == 120
    assert cp.unserved == {1: "no_capacity"}


def test_cp_sat_sends_the_nearer_kit_once_students_are_settled():
    far = school(3, 46.75, 126.65)  # a depot 111 km north
    schools = [school(1), school(2, 45.76), far]
    kits = [kit(1, depot=3), kit(2, depot=1)]
    requests = [request(1, 2, 5, kits=(1, 2))]
    _, cp = both(kits, schools, requests)
    assert [p.kit_id for p in cp.placements] == [2]
    assert cp.travel_km == pytest.approx(2 * 1.11 * 1.35, abs=0.2)
    assert cp.travel_bound_km == cp.travel_km


def test_weights_favour_county_schools_and_long_waits():
    s = Settings()
    town, county = school(1), school(2, county=True)
    fresh = request(1, 1, 5, students=100, requested_on=WINDOW[0])
    assert request_weight(fresh, town, s, WINDOW[0]) == 100
    assert request_weight(fresh, county, s, WINDOW[0]) == 200
    waited = dataclasses.replace(fresh, requested_on=WINDOW[0] - dt.timedelta(days=20))  # 2 whole weeks
    assert request_weight(waited, county, s, WINDOW[0]) == 240


def test_placements_count_open_days_and_skip_holidays():
    # A Wednesday holiday in the first week: 5 open days from Monday end on the next Monday.
    s = dataclasses.replace(FAST, closed_days=frozenset({day(2)}), handover_days=0)
    schools = [school(1)]
    kits = [kit(1, available_from=day(-7))]
    requests = [request(1, 1, 5, latest_end=day(7))]
    _, cp = both(kits, schools, requests, s)
    (p,) = cp.placements
    assert (p.start, p.end) == (day(0), day(7))


def test_a_working_saturday_counts_as_a_school_day():
    s = dataclasses.replace(FAST, working_weekend_days=frozenset({day(5)}), handover_days=0)
    schools = [school(1)]
    kits = [kit(1, available_from=day(-7))]
    requests = [request(1, 1, 6, latest_end=day(5))]
    _, cp = both(kits, schools, requests, s)
    assert [(p.start, p.end) for p in cp.placements] == [(day(0), day(5))]


def test_transit_is_counted_in_open_days_so_a_weekend_does_not_shorten_it(two_schools):
    # Kit at school 2 (a county school), then back to school 1: 2 open days between the stays.
    kits = [kit(1, depot=2, available_from=day(-7))]
    requests = [
        request(1, 2, 5, latest_end=day(4), students=200),  # Mon..Fri of week 1
        request(2, 1, 1, earliest=day(7), students=10),
    ]
    _, cp = both(kits, two_schools, requests)
    second = next(p for p in cp.placements if p.request_id == 2)
    assert second.start == day(9)  # Wednesday: Monday and Tuesday are the 2 transit days
    assert second.transit_in_days == 2


def test_blocked_ranges_are_avoided_with_time_to_and_from_the_depot(two_schools):
    # Maintenance in week 2 at the depot (school 1); school 2 is 2 open days away each way.
    kits = [kit(1, blocked=((day(7), day(11)),))]
    requests = [request(1, 2, 5, earliest=day(0), latest_end=day(25))]
    _, cp = both(kits, two_schools, requests)
    (p,) = cp.placements
    # Week 1 would need Wed..Tue of week 2: no. Next: the Wednesday after the block.
    assert p.start == day(16)


def test_a_request_for_a_specific_kit_gets_that_kit():
    schools = [school(1)]
    kits = [kit(1), kit(2)]
    requests = [request(1, 1, 3, kit_type=None, kit_id=2, kits=(1, 2))]
    _, cp = both(kits, schools, requests)
    assert [p.kit_id for p in cp.placements] == [2]


def test_the_adapter_a_kit_needs_is_named_in_the_placement():
    schools = [school(1)]
    kits = [kit(1)]
    requests = [request(1, 1, 3, compatible_kits={1: "ADP-0007"})]
    _, cp = both(kits, schools, requests)
    assert [p.adapter for p in cp.placements] == ["ADP-0007"]


# --- review: pin and drop --------------------------------------------------------------------


def known_instance():
    schools = [school(1), school(2, 45.76), school(3, 45.77)]
    kits = [kit(1)]
    requests = [
        request(1, 2, 20, students=100),
        request(2, 3, 5, earliest=day(0), latest_end=day(11), students=60),
        request(3, 3, 5, earliest=day(21), latest_end=WINDOW[1], students=60),
    ]
    return kits, schools, requests


def test_pinned_placements_are_kept_even_when_worse():
    kits, schools, requests = known_instance()
    pin = Placement(request_id=1, kit_id=1, school_id=2, start=day(3), end=day(30))
    greedy, cp = both(kits, schools, requests, pinned=[pin])
    for p in (greedy, cp):
        assert [(x.request_id, x.start) for x in p.placements] == [(1, day(3))]
        assert p.objective == 100


def test_dropped_requests_are_not_served():
    kits, schools, requests = known_instance()
    _, cp = both(kits, schools, requests, dropped_request_ids={2})
    assert cp.unserved[2] == "dropped"
    assert {p.request_id for p in cp.placements} == {1}


def test_pinning_a_placement_that_cannot_be_raises():
    kits, schools, requests = known_instance()
    saturday = Placement(request_id=2, kit_id=1, school_id=3, start=day(5), end=day(11))
    with pytest.raises(ValueError, match="not feasible"):
        plan(kits, schools, requests, FAST, window=WINDOW, pinned=[saturday])
    first = Placement(request_id=1, kit_id=1, school_id=2, start=day(2), end=day(29))
    second = Placement(request_id=2, kit_id=1, school_id=3, start=day(7), end=day(11))
    with pytest.raises(ValueError, match="clashes"):
        plan(kits, schools, requests, FAST, window=WINDOW, pinned=[first, second])
    with pytest.raises(ValueError, match="dropped"):
        plan(kits, schools, requests, FAST, window=WINDOW, pinned=[second], dropped_request_ids={2})


# --- requests that cannot be served, and bad input -------------------------------------------


def test_unservable_requests_say_why():
    schools = [school(1), School(2, None, None, True)]
    kits = [kit(1), kit(2, kit_type="sports")]
    requests = [
        request(1, 2, 3),  # school without coordinates
        request(2, 1, 10, earliest=day(0), latest_end=day(8)),  # 7 open days for 10
        request(3, 1, 3, kit_type="planetarium"),
        request(4, 1, 3, kit_type="sports", kits=(1,)),  # only kit 2 is sports, and it does not fit
        request(5, 1, 3, kit_type=None, kit_id=99),
        request(6, 1, 3, earliest=day(60), latest_end=day(70)),  # after the window
    ]
    greedy, cp = both(kits, schools, requests)
    expected = {
        1: "no_coordinates",
        2: "window_too_short",
        3: "no_kit_type",
        4: "no_compatible_kit",
        5: "no_kit_type",
        6: "window_too_short",
    }
    assert greedy.unserved == cp.unserved == expected
    assert cp.placements == ()


def test_more_requests_than_the_kit_can_take_are_no_capacity():
    schools = [school(1)]
    kits = [kit(1)]
    requests = [request(i, 1, 10, students=10 * i) for i in range(1, 6)]
    _, cp = both(kits, schools, requests)
    assert len(cp.placements) == 2  # 28 open days, 10 each plus a handover day between
    assert sorted(cp.unserved.values()) == ["no_capacity"] * 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"window": (MON, MON + dt.timedelta(days=366))}, "at most 366"),
        ({"window": (MON, MON - dt.timedelta(days=1))}, "before it starts"),
        ({"request": {"days": -2}}, "days must be"),
        ({"request": {"days": 0}}, "days must be"),
        ({"request": {"school_id": 99}}, "unknown school"),
        ({"request": {"kit_type": None}}, "name a kit type or a kit"),
        ({"settings": {"transit_km_per_day": 0}}, "transit_km_per_day"),
        ({"settings": {"workers": 0}}, "workers"),
    ],
)
def test_malformed_input_raises_value_error(change, message):
    schools = [school(1)]
    kits = [kit(1)]
    req = dataclasses.replace(request(1, 1, 3), **change.get("request", {}))
    s = dataclasses.replace(FAST, **change.get("settings", {}))
    window = change.get("window", WINDOW)
    for make_plan in (greedy_plan, plan):
        with pytest.raises(ValueError, match=message):
            make_plan(kits, schools, [req], s, window=window)


def test_a_window_of_a_full_leap_year_is_allowed():
    window = (dt.date(2028, 1, 1), dt.date(2028, 12, 31))
    p = plan([kit(1, available_from=window[0], available_to=window[1])], [school(1)], [], FAST, window=window)
    assert p.placements == ()
    assert p.status == "OPTIMAL"


# --- determinism -----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_plan():
    kits, schools, requests, s = random_instance(4242, 5, 12)
    first = plan(kits, schools, requests, s, window=WINDOW)
    second = plan(kits, schools, requests, s, window=WINDOW)
    assert first.status == "OPTIMAL"
    assert first.placements == second.placements
    assert first.travel_km == second.travel_km


def test_a_plan_is_plain_values():
    kits, schools, requests = known_instance()
    p = plan(kits, schools, requests, FAST, window=WINDOW)
    assert isinstance(p, Plan)
    assert all(isinstance(x, Placement) for x in p.placements)
    assert p.solver == "cp-sat"
    assert p.seconds >= 0
