"""Pure rules: no database."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from schools.rules import check_bell_schedule, check_user_management, parse_periods

T = dt.time


@pytest.mark.parametrize(
    ("actor", "actor_school", "role", "school", "ok"),
    [
        ("centre_admin", None, "school_admin", 1, True),
        ("centre_admin", None, "analyst", None, True),
        ("centre_admin", None, "centre_admin", None, True),
        ("school_admin", 1, "teacher", 1, True),
        ("school_admin", 1, "teacher", 2, False),
        ("school_admin", 1, "school_admin", 1, False),
        ("school_admin", 1, "centre_admin", None, False),
        ("school_admin", 1, "analyst", None, False),
        ("teacher", 1, "teacher", 1, False),
        ("analyst", None, "teacher", 1, False),
    ],
)
def test_who_may_manage_which_account(actor, actor_school, role, school, ok):
    if ok:
        check_user_management(
            actor_role=actor, actor_school_id=actor_school, target_role=role, target_school_id=school
        )
    else:
        with pytest.raises(ValidationError) as err:
            check_user_management(
                actor_role=actor, actor_school_id=actor_school, target_role=role, target_school_id=school
            )
        codes = {e.code for errs in getattr(err.value, "error_dict", {}).values() for e in errs}
        assert codes == {"forbidden"} or err.value.code == "forbidden"


def test_school_staff_need_a_school():
    with pytest.raises(ValidationError):
        check_user_management(
            actor_role="centre_admin", actor_school_id=None, target_role="teacher", target_school_id=None
        )


def test_back_to_back_periods_are_fine():
    check_bell_schedule([(1, T(8), T(8, 45)), (2, T(8, 45), T(9, 30))])


@pytest.mark.parametrize(
    "periods",
    [
        [(1, T(8), T(8))],
        [(1, T(8), T(8, 45)), (2, T(8, 44), T(9, 30))],
        [(1, T(8), T(8, 45)), (1, T(9), T(9, 45))],
        [(21, T(8), T(8, 45))],
        [(2, T(8), T(8, 45)), (1, T(8, 30), T(9))],
    ],
)
def test_bad_schedules(periods):
    with pytest.raises(ValidationError) as err:
        check_bell_schedule(periods)
    assert err.value.code == "invalid_schedule"


@pytest.mark.parametrize(("text", "expected"), [("5-6", (5, 6)), ("3", (3, 3)), (" 1-8 ", (1, 8))])
def test_parse_periods(text, expected):
    assert parse_periods(text) == expected


@pytest.mark.parametrize("text", ["", "6-5", "0-2", "a-b", "1-2-3", "5-", "-5", "1-21", "x" * 100_000])
def test_parse_periods_refuses_nonsense(text):
    with pytest.raises(ValidationError) as err:
        parse_periods(text)
    assert err.value.code == "invalid_periods"
