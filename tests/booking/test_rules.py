"""Booking rules, table-driven, no database. `now` is always passed in."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from booking import rules

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=SH)  # a Monday


def at(day, hh, mm=0):
    return dt.datetime(2026, 12, day, hh, mm, tzinfo=SH)


def code_of(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ValidationError as exc:
        return exc.error_list[0].code
    return None


# --- overlap and blocked ranges -------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((8, 9), (9, 10), False),  # touching bookings do not overlap
        ((9, 10), (8, 9), False),
        ((8, 10), (9, 11), True),
        ((8, 12), (9, 10), True),
        ((9, 10), (9, 10), True),
        ((8, 9), (10, 11), False),
    ],
)
def test_overlaps_is_half_open(a, b, expected):
    assert rules.overlaps(at(1, a[0]), at(1, a[1]), at(1, b[0]), at(1, b[1])) is expected


@given(st.integers(0, 1000), st.integers(1, 300), st.integers(0, 1000), st.integers(1, 300))
def test_overlaps_is_symmetric_and_matches_minute_sets(s1, l1, s2, l2):
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    a0, a1 = base + dt.timedelta(minutes=s1), base + dt.timedelta(minutes=s1 + l1)
    b0, b1 = base + dt.timedelta(minutes=s2), base + dt.timedelta(minutes=s2 + l2)
    minutes_a = set(range(s1, s1 + l1))
    minutes_b = set(range(s2, s2 + l2))
    assert rules.overlaps(a0, a1, b0, b1) == rules.overlaps(b0, b1, a0, a1) == bool(minutes_a & minutes_b)


def test_blocked_range_adds_the_transit_buffer_on_both_sides():
    assert rules.blocked_range(at(1, 9), at(1, 10), 120) == (at(1, 7), at(1, 12))
    assert rules.blocked_range(at(1, 9), at(1, 10), 0) == (at(1, 9), at(1, 10))


# --- range, length, notice, advance ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (at(2, 10), at(2, 9), "invalid_range"),
        (at(2, 10), at(2, 10), "invalid_range"),
        (NOW - dt.timedelta(hours=3), NOW - dt.timedelta(hours=2), "in_past"),
        (NOW + dt.timedelta(days=500), NOW + dt.timedelta(days=500, hours=1), "too_far_ahead"),
        (at(2, 9), at(2, 10), None),
    ],
)
def test_check_range(start, end, code):
    assert code_of(rules.check_range, start, end, NOW) == code


def test_naive_times_are_refused_by_the_rules():
    assert (
        code_of(rules.check_range, dt.datetime(2026, 12, 2, 9), dt.datetime(2026, 12, 2, 10), NOW)
        == "invalid_range"
    )


@pytest.mark.parametrize(("minutes", "code"), [(29, "too_short"), (30, None), (240, None), (241, "too_long")])
def test_check_length_boundaries(minutes, code):
    assert code_of(rules.check_length, at(2, 8), at(2, 8) + dt.timedelta(minutes=minutes), 30, 240) == code


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (NOW + dt.timedelta(hours=24), None),  # exactly the last minute of notice
        (NOW + dt.timedelta(hours=24) - dt.timedelta(minutes=1), "insufficient_notice"),
        (NOW + dt.timedelta(hours=2), "insufficient_notice"),
    ],
)
def test_check_notice(start, code):
    assert code_of(rules.check_notice, start, NOW, 24) == code


@pytest.mark.parametrize(
    ("is_owner", "is_county", "resource_days", "resource_county", "expected"),
    [
        (True, False, 28, None, 28),  # the owner school: the resource's own horizon
        (False, False, 28, None, 14),  # urban schools: capped by the city's urban window
        (False, True, 28, None, 28),  # county schools: the county window
        (False, True, 14, None, 28),  # ... even when the resource's own horizon is shorter
        (False, True, 14, 42, 42),  # a per-resource county window
        (False, False, 7, None, 7),  # a short resource horizon binds urban schools
    ],
)
def test_county_priority_window(is_owner, is_county, resource_days, resource_county, expected):
    days = rules.advance_horizon_days(
        is_owner=is_owner,
        is_county=is_county,
        resource_days=resource_days,
        resource_county_days=resource_county,
        urban_days=14,
        county_days=28,
    )
    assert days == expected


def test_too_far_ahead_names_both_windows():
    with pytest.raises(ValidationError) as err:
        rules.check_advance(
            NOW + dt.timedelta(days=20), NOW, 14, is_county=False, urban_days=14, county_days=28
        )
    assert err.value.code == "too_far_ahead"
    assert "28" in err.value.messages[0]
    assert "14" in err.value.messages[0]
    rules.check_advance(NOW + dt.timedelta(days=14), NOW, 14, is_county=False, urban_days=14, county_days=28)


@pytest.mark.parametrize(
    ("size", "code"), [(0, "invalid_class_size"), (1, None), (40, None), (41, "over_capacity")]
)
def test_capacity(size, code):
    assert code_of(rules.check_capacity, size, 40) == code


def test_access_and_status():
    assert code_of(rules.check_access, shared=False, owner_school_id=1, requester_school_id=2) == "not_shared"
    assert code_of(rules.check_access, shared=False, owner_school_id=1, requester_school_id=1) is None
    assert code_of(rules.check_access, shared=True, owner_school_id=1, requester_school_id=2) is None
    assert code_of(rules.check_resource_status, "maintenance") == "in_maintenance"
    assert code_of(rules.check_resource_status, "retired") == "resource_retired"
    assert code_of(rules.check_resource_status, "active") is None


@pytest.mark.parametrize(
    ("held", "code"),
    [
        ({}, "qualification_required"),
        ({"chem": None}, None),
        ({"chem": dt.date(2026, 12, 2)}, None),  # valid through its expiry day
        ({"chem": dt.date(2026, 12, 1)}, "qualification_expired"),
    ],
)
def test_qualification(held, code):
    assert (
        code_of(rules.check_qualification, "chem", "化学实验室安全培训", held, dt.date(2026, 12, 2)) == code
    )
    assert code_of(rules.check_qualification, None, "", {}, dt.date(2026, 12, 2)) is None


# --- calendar and opening hours -------------------------------------------------------------

WEEKLY = {d: [(dt.time(8), dt.time(12)), (dt.time(13, 30), dt.time(17))] for d in range(5)}


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (at(2, 8), at(2, 9), None),  # exactly at opening
        (at(2, 11), at(2, 12), None),  # ends exactly at closing
        (at(2, 7, 59), at(2, 9), "outside_opening_hours"),
        (at(2, 11), at(2, 14), "outside_opening_hours"),  # spans the lunch break
        (at(2, 16), at(2, 17, 1), "outside_opening_hours"),
        (at(2, 23), at(3, 1), "outside_opening_hours"),  # crosses midnight
    ],
)
def test_opening_hours(start, end, code):
    ranges = rules.opening_ranges_for(
        start.date(), rules.DayRule(kind="workday"), WEEKLY, adjusted_mode="open", adjusted_weekday=0
    )
    assert code_of(rules.check_opening_hours, start, end, ranges) == code


def test_a_makeup_working_saturday_opens_like_the_chosen_weekday():
    saturday = dt.date(2026, 12, 5)
    rule = rules.DayRule(kind="adjusted_workday", name="调休上班")
    ranges = rules.opening_ranges_for(saturday, rule, WEEKLY, adjusted_mode="open", adjusted_weekday=0)
    assert ranges == WEEKLY[0]
    assert rules.opening_ranges_for(saturday, rule, WEEKLY, adjusted_mode="closed", adjusted_weekday=0) == []
    assert code_of(rules.check_calendar, rule, saturday, adjusted_mode="closed") == "closed"
    assert code_of(rules.check_calendar, rule, saturday, adjusted_mode="open") is None


def test_an_ordinary_saturday_has_no_hours_and_a_holiday_is_closed():
    saturday = dt.date(2026, 12, 5)
    assert (
        rules.opening_ranges_for(
            saturday, rules.DayRule(kind="weekend"), WEEKLY, adjusted_mode="open", adjusted_weekday=0
        )
        == []
    )
    holiday = rules.DayRule(kind="holiday", name="国庆节")
    assert (
        rules.opening_ranges_for(
            dt.date(2026, 10, 1), holiday, WEEKLY, adjusted_mode="open", adjusted_weekday=0
        )
        == []
    )
    with pytest.raises(ValidationError) as err:
        rules.check_calendar(holiday, dt.date(2026, 10, 1), adjusted_mode="open")
    assert err.value.code == "closed"
    assert "国庆节" in err.value.messages[0]


def test_a_closure_names_its_reason():
    rule = rules.DayRule(kind="workday", closures=("寒假",))
    with pytest.raises(ValidationError) as err:
        rules.check_calendar(rule, dt.date(2027, 1, 20), adjusted_mode="open")
    assert err.value.code == "closed"
    assert "寒假" in err.value.messages[0]


# --- quota, transitions, collect ------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "new", "quota", "code"),
    [
        (0, 90, 0, None),
        (2310, 90, 40, None),
        (2311, 90, 40, "quota_exceeded"),
        (0, 2401, 40, "quota_exceeded"),
    ],
)
def test_quota(used, new, quota, code):
    assert code_of(rules.check_quota, used_minutes=used, new_minutes=new, quota_hours=quota) == code


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        ("pending", "approved", True),
        ("pending", "rejected", True),
        ("pending", "checked_in", False),
        ("approved", "checked_in", True),
        ("approved", "approved", False),
        ("checked_in", "completed", True),
        ("checked_in", "cancelled", False),
        ("cancelled", "approved", False),
        ("rejected", "approved", False),
        ("completed", "cancelled", False),
        ("no_show", "checked_in", False),
    ],
)
def test_transitions(current, target, ok):
    assert (code_of(rules.check_transition, current, target) is None) is ok


def test_collect_reports_every_failure_in_order():
    with pytest.raises(ValidationError) as err:
        rules.collect(
            lambda: rules.check_capacity(50, 40),
            lambda: rules.check_length(at(2, 8), at(2, 8, 10), 30, 240),
            lambda: rules.check_capacity(10, 40),
        )
    assert [e.code for e in err.value.error_list] == ["over_capacity", "too_short"]


def test_check_in_window():
    assert code_of(rules.check_check_in_window, at(2, 9), at(2, 10), at(2, 8, 29)) == "too_early"
    assert code_of(rules.check_check_in_window, at(2, 9), at(2, 10), at(2, 8, 30)) is None
    assert code_of(rules.check_check_in_window, at(2, 9), at(2, 10), at(2, 10)) == "invalid_transition"
