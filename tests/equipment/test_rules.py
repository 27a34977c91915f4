"""Pure inventory rules (no database)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from equipment.rules import (
    Adapter,
    check_kit_fields,
    check_opening_hours,
    compatibility,
    default_opening_hours,
    is_within_sla,
    spreadsheet_safe,
    ticket_due_at,
)

T = dt.time


def test_touching_opening_ranges_are_fine_and_sorted():
    ranges = check_opening_hours([(0, T(13), T(17)), (0, T(8), T(12)), (0, T(12), T(13))])
    assert ranges == [(0, T(8), T(12)), (0, T(12), T(13)), (0, T(13), T(17))]


@pytest.mark.parametrize(
    "ranges",
    [
        [(0, T(9), T(8))],
        [(0, T(9), T(9))],
        [(0, T(8), T(12)), (0, T(11, 59), T(13))],
        [(7, T(8), T(12))],
        [(-1, T(8), T(12))],
        [(2, T(8), T(17)), (2, T(9), T(10))],
    ],
)
def test_bad_opening_hours(ranges):
    with pytest.raises(ValidationError) as err:
        check_opening_hours(ranges)
    assert err.value.code == "invalid_opening_hours"


def test_same_times_on_different_days_do_not_overlap():
    check_opening_hours([(0, T(8), T(12)), (1, T(8), T(12))])


def test_default_hours_are_the_bell_day_monday_to_friday():
    periods = [(1, T(7, 50), T(8, 35)), (2, T(8, 45), T(9, 30)), (9, T(17, 15), T(18))]
    assert default_opening_hours(periods) == [(d, T(7, 50), T(18)) for d in range(5)]
    assert default_opening_hours([]) == []


ADAPTERS = [
    Adapter("ADP-VGA", plugs_into="vga", offers="hdmi"),
    Adapter("ADP-VGA2", plugs_into="vga", offers="hdmi"),
    Adapter("ADP-DC12", plugs_into="ac220_cn3", offers="dc12_barrel"),
    Adapter("ADP-DP", plugs_into="displayport", offers="hdmi"),
]


def test_compatible_when_everything_is_there():
    result = compatibility({"ac220_cn3", "hdmi"}, {"ac220_cn3", "hdmi", "rj45"}, ADAPTERS)
    assert result.compatible
    assert result.missing == []


def test_missing_interface_bridged_only_by_adapters_that_plug_into_the_room():
    result = compatibility({"ac220_cn3", "hdmi", "dc12_barrel"}, {"ac220_cn3", "vga"}, ADAPTERS)
    assert not result.compatible
    assert result.compatible_with_adapters
    assert result.missing == ["dc12_barrel", "hdmi"]
    assert result.bridges == {"hdmi": ["ADP-VGA", "ADP-VGA2"], "dc12_barrel": ["ADP-DC12"]}


def test_three_phase_power_cannot_be_bridged():
    result = compatibility({"ac380_3p"}, {"ac220_cn3"}, ADAPTERS)
    assert result.unbridgeable == ["ac380_3p"]
    assert not result.compatible_with_adapters


@given(
    requires=st.sets(st.sampled_from(["a", "b", "c", "d"])),
    provides=st.sets(st.sampled_from(["a", "b", "c", "d"])),
)
def test_compatibility_partitions_the_missing_interfaces(requires, provides):
    adapters = [Adapter("X", plugs_into="a", offers="b"), Adapter("Y", plugs_into="c", offers="d")]
    result = compatibility(requires, provides, adapters)
    assert set(result.missing) == requires - provides
    assert set(result.bridges) | set(result.unbridgeable) == set(result.missing)
    assert not set(result.bridges) & set(result.unbridgeable)
    assert result.compatible == (not result.missing)


def test_ticket_is_due_24_hours_after_report_and_sla():
    reported = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    assert ticket_due_at(reported) == reported + dt.timedelta(hours=24)
    due = ticket_due_at(reported)
    assert is_within_sla(reported, due, due) is True
    assert is_within_sla(reported, due + dt.timedelta(seconds=1), due) is False
    assert is_within_sla(reported, None, due) is None
    assert is_within_sla(reported, None, due + dt.timedelta(minutes=1)) is False


def test_kit_fields_only_on_kits():
    check_kit_fields(kind="mobile_kit", transit_buffer_minutes=240, kit_type_category="kit")
    with pytest.raises(ValidationError):
        check_kit_fields(kind="lab", transit_buffer_minutes=30, kit_type_category=None)
    with pytest.raises(ValidationError):
        check_kit_fields(kind="lab", transit_buffer_minutes=0, kit_type_category="kit")
    with pytest.raises(ValidationError):
        check_kit_fields(kind="mobile_kit", transit_buffer_minutes=0, kit_type_category="physics")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(1)", "'@SUM(1)"),
        ("普通文本", "普通文本"),
        (12, 12),
        (None, None),
    ],
)
def test_spreadsheet_cells_that_look_like_formulas_are_escaped(value, expected):
    assert spreadsheet_safe(value) == expected
