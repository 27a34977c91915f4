"""Recurrence: RFC 5545 rules expanded in Asia/Shanghai wall-clock time (pure, no database)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from booking.recurrence import MAX_OCCURRENCES, occurrences

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


def starts(rule, first, minutes=90):
    return [s for s, _e in occurrences(rule, first, first + dt.timedelta(minutes=minutes), SH)]


def test_weekly_tuesdays_periods_5_6_for_eight_weeks():
    first = dt.datetime(2026, 9, 1, 13, 30, tzinfo=SH)  # a Tuesday
    got = starts("FREQ=WEEKLY;COUNT=8", first)
    assert got == [first + dt.timedelta(weeks=i) for i in range(8)]
    assert all(s.tzinfo == SH and s.hour == 13 and s.minute == 30 for s in got)


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=10",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR;UNTIL=20261231",
        "FREQ=MONTHLY;BYDAY=2TU;COUNT=6",
        "FREQ=MONTHLY;BYDAY=-1FR;COUNT=5",
        "FREQ=DAILY;INTERVAL=10;COUNT=5",
        "FREQ=WEEKLY;WKST=SU;BYDAY=TU,TH;UNTIL=20261130",
    ],
)
def test_matches_dateutil_on_naive_local_times(rule):
    """The RFC 5545 examples, expanded by dateutil itself on naive wall-clock times."""
    first = dt.datetime(2026, 9, 1, 8, 0)
    expected = [s.replace(tzinfo=SH) for s in rrulestr(rule, dtstart=first)]
    assert starts(rule, first.replace(tzinfo=SH)) == expected


def test_until_as_a_utc_datetime_is_read_in_local_time():
    first = dt.datetime(2026, 9, 1, 8, 0, tzinfo=SH)
    # 2026-09-15T00:00Z is 08:00 in Harbin: the third Tuesday is still included.
    assert len(starts("FREQ=WEEKLY;UNTIL=20260915T000000Z", first)) == 3
    assert len(starts("FREQ=WEEKLY;UNTIL=20260914T235959Z", first)) == 2


def test_a_dst_observing_requester_does_not_shift_shanghai_occurrences():
    """The teacher sends times from New York (DST ends 2026-11-01); Harbin stays at 13:30."""
    first_local = dt.datetime(2026, 10, 20, 13, 30, tzinfo=SH)
    first_ny = first_local.astimezone(NY)
    got = [
        s for s, _e in occurrences("FREQ=WEEKLY;COUNT=4", first_ny, first_ny + dt.timedelta(minutes=90), SH)
    ]
    assert [s.astimezone(SH).time() for s in got] == [dt.time(13, 30)] * 4
    # ... while in New York the wall clock moves by an hour across its DST change.
    assert len({s.astimezone(NY).hour for s in got}) == 2


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ("", "invalid_rrule"),
        ("FREQ=WEEKLY", "invalid_rrule"),  # unbounded
        ("FREQ=SECONDLY;COUNT=5", "invalid_rrule"),
        ("FREQ=MINUTELY;COUNT=5", "invalid_rrule"),
        ("FREQ=HOURLY;COUNT=5", "invalid_rrule"),
        ("FREQ=WEEKLY;COUNT=5;UNTIL=20261231", "invalid_rrule"),
        ("FREQ=WEEKLY;COUNT=abc", "invalid_rrule"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "invalid_rrule"),
        ("nonsense", "invalid_rrule"),
        ("DTSTART:20260101T000000\nRRULE:FREQ=DAILY;COUNT=2", "invalid_rrule"),
        ("FREQ=DAILY;COUNT=101", "too_many_occurrences"),
        ("FREQ=DAILY;UNTIL=20300101", "too_many_occurrences"),
        ("FREQ=WEEKLY;COUNT=3;" + "BYDAY=MO;" * 100, "invalid_rrule"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3", "invalid_rrule"),
        # leaps past the dates the API accepts, and past the year 9999 (was an OverflowError)
        ("FREQ=YEARLY;INTERVAL=80;COUNT=2", "invalid_rrule"),
        ("FREQ=YEARLY;INTERVAL=7973;COUNT=2", "invalid_rrule"),
    ],
)
def test_bad_rules_name_the_problem(rule, code):
    with pytest.raises(ValidationError) as err:
        starts(rule, dt.datetime(2026, 9, 1, 8, tzinfo=SH))
    assert "rrule" in err.value.message_dict
    assert err.value.error_dict["rrule"][0].code == code


def test_rrule_prefix_is_accepted_and_the_cap_is_exact():
    first = dt.datetime(2026, 9, 1, 8, tzinfo=SH)
    assert len(starts("RRULE:FREQ=DAILY;COUNT=3", first)) == 3
    assert len(starts(f"FREQ=DAILY;COUNT={MAX_OCCURRENCES}", first)) == MAX_OCCURRENCES


@given(
    count=st.integers(1, 20),
    interval=st.integers(1, 3),
    hour=st.integers(7, 16),
    offset=st.sampled_from([-8, -5, 0, 5.5, 8, 9]),
)
def test_every_occurrence_keeps_the_local_time_whatever_the_senders_offset(count, interval, hour, offset):
    first_local = dt.datetime(2026, 11, 2, hour, 15, tzinfo=SH)
    sender = dt.timezone(dt.timedelta(hours=offset))
    first = first_local.astimezone(sender)
    got = occurrences(
        f"FREQ=WEEKLY;INTERVAL={interval};COUNT={count}", first, first + dt.timedelta(hours=1), SH
    )
    assert len(got) == count
    for i, (s, e) in enumerate(got):
        assert s == first_local + dt.timedelta(weeks=i * interval)
        assert e - s == dt.timedelta(hours=1)


def test_an_occurrence_ending_on_the_last_day_the_api_accepts_is_kept_one_after_is_refused():
    first = dt.datetime(2099, 12, 31, 8, tzinfo=SH)
    got = occurrences("FREQ=YEARLY;COUNT=2", first, first + dt.timedelta(hours=1), SH)
    assert got[-1][0].year == 2100
    with pytest.raises(ValidationError) as err:
        occurrences("FREQ=YEARLY;COUNT=3", first, first + dt.timedelta(hours=1), SH)
    assert err.value.error_dict["rrule"][0].code == "invalid_rrule"
