"""China's statutory holidays and adjusted working days (调休): the packages, the loaded
official arrangement, the loading service, the command and the admin."""

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.holidays import (
    ADJUSTED_WORKDAY,
    HOLIDAY,
    KINDS,
    WEEKEND,
    WORKDAY,
    DayInfo,
    check_arrangement,
    day_info,
    days_info,
    official_arrangement_load,
    year_status,
)
from booking.models import HolidayYear, OfficialDay
from tests.factories import UserFactory

D = dt.date.fromisoformat

# A made-up 2027 arrangement: National Day week with two worked weekend days around it.
ARRANGEMENT_2027 = [
    (D("2027-09-26"), "workday", "调休上班"),  # Sunday
    *[(D(f"2027-10-0{n}"), "holiday", "国庆节") for n in range(1, 8)],
    (D("2027-10-09"), "workday", ""),  # Saturday, left unnamed
]


# --- what the packages say (no database) ----------------------------------------------------


def test_national_day_2026_is_a_published_holiday():
    info = day_info(D("2026-10-01"))
    assert info == DayInfo(D("2026-10-01"), HOLIDAY, "国庆节", "chinese_calendar", provisional=False)
    assert not info.is_working_day


def test_spring_festival_2026_is_a_holiday():
    info = day_info(D("2026-02-17"))
    assert (info.kind, info.name, info.provisional) == (HOLIDAY, "春节", False)


@pytest.mark.parametrize(
    ("date", "festival"),
    [("2026-01-04", "元旦"), ("2026-02-14", "春节"), ("2026-02-28", "春节"), ("2026-09-20", "国庆节")],
)
def test_a_weekend_worked_in_2026_is_an_adjusted_workday(date, festival):
    info = day_info(D(date))
    assert D(date).weekday() >= 5
    assert info.kind == ADJUSTED_WORKDAY
    assert info.is_working_day
    assert info.name == f"{festival}调休上班"
    assert (info.source, info.provisional) == ("chinese_calendar", False)


def test_a_plain_2026_monday_is_a_workday_and_saturday_a_weekend():
    monday, saturday = day_info(D("2026-03-09")), day_info(D("2026-03-14"))
    assert (monday.kind, monday.name, monday.provisional) == (WORKDAY, "", False)
    assert (saturday.kind, saturday.name, saturday.provisional) == (WEEKEND, "", False)


def test_national_day_2027_is_a_provisional_holiday_from_the_holidays_package():
    info = day_info(D("2027-10-01"))
    assert (info.kind, info.name, info.source, info.provisional) == (HOLIDAY, "国庆节", "holidays", True)


def test_the_holidays_package_gives_no_adjusted_workdays_so_2027_weekends_stay_weekends():
    # It knows the statutory days (and 补假) for 2027, but not which weekends will be worked.
    kinds = {day_info(D("2027-01-01") + dt.timedelta(days=n)).kind for n in range(365)}
    assert ADJUSTED_WORKDAY not in kinds
    assert {HOLIDAY, WORKDAY, WEEKEND} <= kinds


def test_years_before_chinese_calendar_come_from_the_holidays_package():
    info = day_info(D("1995-10-01"))
    assert (info.kind, info.source, info.provisional) == (HOLIDAY, "holidays", True)


def test_years_no_package_knows_fall_back_to_monday_to_friday():
    assert day_info(D("2150-01-01")) == DayInfo(D("2150-01-01"), WORKDAY, "", "weekday", provisional=True)
    assert day_info(dt.date.max).source == "weekday"
    assert day_info(dt.date.min).source == "weekday"


def test_a_datetime_is_read_as_its_date():
    assert day_info(dt.datetime(2026, 10, 1, 9, 30)).date == D("2026-10-01")


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_day_info_never_fails_between_1990_and_2100(date):
    info = day_info(date)
    assert info.date == date
    assert info.kind in KINDS
    if info.kind == ADJUSTED_WORKDAY:
        assert date.weekday() >= 5
    if info.kind == WEEKEND:
        assert date.weekday() >= 5


def test_2099_is_answered():
    assert day_info(D("2099-10-01")).kind == HOLIDAY
    assert day_info(D("2099-06-15")).kind == WORKDAY


# --- the official arrangement, pure ---------------------------------------------------------


def test_an_official_year_overrides_the_packages_for_all_its_days():
    official = {d: (kind, name) for d, kind, name in ARRANGEMENT_2027}
    sunday = day_info(D("2027-09-26"), official, {2027})
    assert (sunday.kind, sunday.name, sunday.source, sunday.provisional) == (
        ADJUSTED_WORKDAY,
        "调休上班",
        "official",
        False,
    )
    assert day_info(D("2027-10-09"), official, {2027}).name == "调休上班"
    # New Year's Day is not in this (partial) list, so the loaded year says it is worked.
    assert day_info(D("2027-01-01"), official, {2027}) == DayInfo(
        D("2027-01-01"), WORKDAY, "", "official", provisional=False
    )
    # Other years are untouched.
    assert day_info(D("2026-10-01"), official, {2027}).source == "chinese_calendar"


def test_official_years_default_to_the_years_of_the_listed_days():
    official = {D("2027-10-01"): ("holiday", "国庆节")}
    assert day_info(D("2027-01-01"), official).source == "official"


def test_a_loaded_year_overrides_chinese_calendar_too():
    info = day_info(D("2026-10-01"), {}, {2026})
    assert (info.kind, info.source) == (WORKDAY, "official")


@pytest.mark.parametrize(
    ("days", "fragment"),
    [
        ([(D("2028-10-01"), "holiday", "国庆节")], "is not in 2027"),
        ([(D("2027-10-01"), "holiday", "国庆节"), (D("2027-10-01"), "holiday", "国庆节")], "listed twice"),
        ([(D("2027-10-01"), "holiday", "国庆节"), (D("2027-10-11"), "workday", "调休上班")], "is a weekday"),
        ([(D("2027-10-01"), "vacation", "国庆节")], "kind"),
        ([(D("2027-10-01"), "holiday", "  ")], "needs a name"),
        ([(D("2027-10-09"), "workday", "调休上班")], "at least one holiday"),
        ([], "at least one holiday"),
    ],
)
def test_check_arrangement_refuses_bad_lists(days, fragment):
    with pytest.raises(ValidationError) as exc:
        check_arrangement(year=2027, days=days)
    assert exc.value.code == "invalid_arrangement"
    assert fragment in exc.value.messages[0]


def test_check_arrangement_names_the_faulty_date():
    with pytest.raises(ValidationError) as exc:
        check_arrangement(year=2027, days=[*ARRANGEMENT_2027, (D("2027-03-08"), "workday", "")])
    assert exc.value.params["date"] == "2027-03-08"


@pytest.mark.parametrize("year", [1989, 2101, "2027"])
def test_check_arrangement_refuses_bad_years(year):
    with pytest.raises(ValidationError) as exc:
        check_arrangement(year=year, days=ARRANGEMENT_2027)
    assert exc.value.code == "invalid_arrangement"


def test_check_arrangement_sorts_and_names_worked_days():
    cleaned = check_arrangement(year=2027, days=list(reversed(ARRANGEMENT_2027)))
    assert [d for d, _k, _n in cleaned] == sorted(d for d, _k, _n in ARRANGEMENT_2027)
    assert cleaned[-1] == (D("2027-10-09"), "workday", "调休上班")


# --- loading it (database) ------------------------------------------------------------------


@pytest.mark.django_db
def test_loading_2027_makes_it_official_and_overrides_the_holidays_package(centre_admin):
    assert year_status([2027]) == [{"year": 2027, "source": "holidays", "provisional": True}]
    loaded = official_arrangement_load(
        actor=centre_admin, year=2027, days=ARRANGEMENT_2027, note="国办发明电"
    )
    assert (loaded.year, loaded.source, loaded.loaded_by, loaded.note) == (
        2027,
        "official",
        centre_admin,
        "国办发明电",
    )
    assert loaded.days.count() == 9

    info = days_info(D("2027-09-25"), D("2027-10-10"))
    assert info[D("2027-09-26")].kind == ADJUSTED_WORKDAY
    assert info[D("2027-10-01")] == DayInfo(D("2027-10-01"), HOLIDAY, "国庆节", "official", provisional=False)
    assert info[D("2027-10-09")].name == "调休上班"
    assert info[D("2027-10-10")].kind == WEEKEND
    assert not any(day.provisional for day in info.values())
    assert year_status([2027]) == [{"year": 2027, "source": "official", "provisional": False}]


@pytest.mark.django_db
def test_days_info_reads_the_arrangement_in_two_queries(centre_admin, django_assert_max_num_queries):
    official_arrangement_load(actor=centre_admin, year=2027, days=ARRANGEMENT_2027)
    with django_assert_max_num_queries(2):
        info = days_info(D("2026-12-25"), D("2027-12-31"))
    assert len(info) == 372
    assert info[D("2026-12-31")].source == "chinese_calendar"
    assert info[D("2027-01-01")].source == "official"


@pytest.mark.django_db
def test_days_info_includes_both_ends_and_is_empty_when_reversed():
    assert list(days_info(D("2026-10-01"), D("2026-10-03"))) == [
        D("2026-10-01"),
        D("2026-10-02"),
        D("2026-10-03"),
    ]
    assert days_info(D("2026-10-03"), D("2026-10-01")) == {}


@pytest.mark.django_db
def test_loading_again_replaces_the_year(centre_admin):
    official_arrangement_load(actor=centre_admin, year=2027, days=ARRANGEMENT_2027)
    official_arrangement_load(actor=centre_admin, year=2027, days=[(D("2027-01-01"), "holiday", "元旦")])
    assert list(OfficialDay.objects.values_list("date", flat=True)) == [D("2027-01-01")]
    assert HolidayYear.objects.count() == 1
    assert days_info(D("2027-10-01"), D("2027-10-01"))[D("2027-10-01")].kind == WORKDAY


@pytest.mark.django_db
def test_a_superuser_may_load(django_user_model):
    root = django_user_model.objects.create_superuser("root", password="x")
    assert official_arrangement_load(actor=root, year=2027, days=ARRANGEMENT_2027).loaded_by == root


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["teacher", "school_admin", "analyst"])
def test_only_centre_admins_may_load(role, urban_school):
    actor = UserFactory(role=role, school=urban_school if role != "analyst" else None)
    with pytest.raises(ValidationError) as exc:
        official_arrangement_load(actor=actor, year=2027, days=ARRANGEMENT_2027)
    assert exc.value.code == "forbidden"
    assert not HolidayYear.objects.exists()


@pytest.mark.django_db
def test_an_inactive_centre_admin_may_not_load(centre_admin):
    centre_admin.is_active = False
    with pytest.raises(ValidationError) as exc:
        official_arrangement_load(actor=centre_admin, year=2027, days=ARRANGEMENT_2027)
    assert exc.value.code == "forbidden"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra",
    [
        (D("2028-01-01"), "holiday", "元旦"),  # outside the year
        (D("2027-01-01"), "holiday", "元旦"),  # duplicate
        (D("2027-10-11"), "workday", "调休上班"),  # a Monday
    ],
)
def test_a_bad_arrangement_leaves_the_loaded_year_alone(centre_admin, extra):
    official_arrangement_load(actor=centre_admin, year=2027, days=ARRANGEMENT_2027)
    with pytest.raises(ValidationError) as exc:
        official_arrangement_load(
            actor=centre_admin, year=2027, days=[(D("2027-01-01"), "holiday", "元旦"), extra]
        )
    assert exc.value.code == "invalid_arrangement"
    assert OfficialDay.objects.count() == 9


@pytest.mark.django_db
def test_year_status_tells_official_published_provisional_and_unknown_years(centre_admin):
    official_arrangement_load(actor=centre_admin, year=2028, days=[(D("2028-10-02"), "holiday", "国庆节")])
    assert year_status([2150, 2026, 2027, 2028, 2026]) == [
        {"year": 2026, "source": "chinese_calendar", "provisional": False},
        {"year": 2027, "source": "holidays", "provisional": True},
        {"year": 2028, "source": "official", "provisional": False},
        {"year": 2150, "source": "weekday", "provisional": True},
    ]


# --- the command ----------------------------------------------------------------------------

GOOD_CSV = (
    "date,kind,name\n2027-09-26,workday,调休上班\n"
    + "".join(f"2027-10-0{n},holiday,国庆节\n" for n in range(1, 8))
    + "2027/10/9,班,\n"
)


def _csv(tmp_path, text, encoding="utf-8"):
    path = tmp_path / "arrangement.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


def _load(*args):
    out = StringIO()
    call_command("load_holidays", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_the_command_loads_a_csv_as_the_first_centre_admin(tmp_path, centre_admin, encoding):
    UserFactory(role="centre_admin", school=None)
    out = _load("2027", _csv(tmp_path, GOOD_CSV, encoding))
    assert "7 holidays, 2 adjusted working days" in out
    loaded = HolidayYear.objects.get(year=2027)
    assert loaded.loaded_by == centre_admin
    assert OfficialDay.objects.get(date=D("2027-10-09")).name == "调休上班"
    assert OfficialDay.objects.get(date=D("2027-10-01")).name == "国庆节"


@pytest.mark.django_db
def test_the_command_loads_as_the_named_actor(tmp_path, centre_admin):
    other = UserFactory(role="centre_admin", school=None)
    _load("2027", _csv(tmp_path, GOOD_CSV), "--actor", other.username, "--note", "国办发明电 2026 年 12 号")
    loaded = HolidayYear.objects.get(year=2027)
    assert (loaded.loaded_by, loaded.note) == (other, "国办发明电 2026 年 12 号")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD_CSV + "2027-13-01,holiday,国庆节\n", "Row 11: '2027-13-01' is not a date"),
        (GOOD_CSV + "2027-10-12,vacation,国庆节\n", "Row 11: kind 'vacation'"),
        (GOOD_CSV + "2027-10-12\n", "Row 11: expected date,kind,name"),
        (GOOD_CSV + "2027-10-01,holiday,国庆节\n", "Row 11: 2027-10-01 is listed twice (also on row 3)"),
        (GOOD_CSV.replace("2027-09-26,workday", "2027-09-27,workday"), "Row 2: 2027-09-27 is a weekday"),
        (GOOD_CSV + "2028-01-01,holiday,元旦\n", "Row 11: 2028-01-01 is not in 2027"),
        ("date,kind,name\n", "no rows"),
    ],
)
def test_the_command_names_the_bad_row_and_loads_nothing(tmp_path, centre_admin, text, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        _load("2027", _csv(tmp_path, text))
    assert not HolidayYear.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("year", ["twenty", "1800", "2101"])
def test_the_command_refuses_a_bad_year(tmp_path, centre_admin, year):
    with pytest.raises(CommandError, match="Bad year"):
        _load(year, _csv(tmp_path, GOOD_CSV))


@pytest.mark.django_db
def test_the_command_refuses_a_missing_file(tmp_path, centre_admin):
    with pytest.raises(CommandError, match="No such file"):
        _load("2027", str(tmp_path / "nope.csv"))


@pytest.mark.django_db
def test_the_command_needs_a_year_and_a_file():
    with pytest.raises(CommandError, match=r"Give YEAR and FILE\.csv"):
        _load("2027")


@pytest.mark.django_db
def test_the_command_refuses_a_teacher_actor_and_unknown_users(tmp_path, urban_teacher, centre_admin):
    path = _csv(tmp_path, GOOD_CSV)
    with pytest.raises(CommandError, match="Only centre administrators"):
        _load("2027", path, "--actor", urban_teacher.username)
    with pytest.raises(CommandError, match="No user 'ghost'"):
        _load("2027", path, "--actor", "ghost")
    assert not HolidayYear.objects.exists()


@pytest.mark.django_db
def test_the_command_needs_some_centre_admin(tmp_path, urban_teacher):
    with pytest.raises(CommandError, match="No centre administrator"):
        _load("2027", _csv(tmp_path, GOOD_CSV))


@pytest.mark.django_db
def test_the_command_prints_the_status_of_last_year_to_three_years_ahead(centre_admin):
    this_year = timezone.localdate().year
    official_arrangement_load(
        actor=centre_admin, year=this_year + 1, days=[(dt.date(this_year + 1, 10, 1), "holiday", "国庆节")]
    )
    lines = _load("--status").splitlines()
    assert [int(line.split()[0]) for line in lines] == list(range(this_year - 1, this_year + 4))
    assert lines[2].split()[1:] == ["official", "final"]


# --- the admin ------------------------------------------------------------------------------

CHANGELIST = "/admin/booking/holidayyear/"


@pytest.mark.django_db
def test_the_changelist_shows_the_year_status_box(client, centre_admin):
    official_arrangement_load(actor=centre_admin, year=2027, days=ARRANGEMENT_2027)
    client.force_login(centre_admin)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    this_year = timezone.localdate().year
    status = response.context["year_status"]
    assert [row["year"] for row in status] == list(range(this_year - 1, this_year + 4))
    page = response.content.decode()
    assert 'id="holiday-year-status"' in page
    assert "Provisional" in page


@pytest.mark.django_db
@pytest.mark.parametrize("page", [CHANGELIST, f"{CHANGELIST}add/"])
def test_school_admins_may_not_open_the_holiday_admin(client, urban_admin, page):
    client.force_login(urban_admin)
    assert client.get(page).status_code in (403, 404)


@pytest.mark.django_db
def test_the_admin_index_hides_holidays_from_school_admins(client, urban_admin, centre_admin):
    client.force_login(urban_admin)
    assert CHANGELIST not in client.get("/admin/").content.decode()
    client.force_login(centre_admin)
    assert CHANGELIST in client.get("/admin/").content.decode()


def _admin_post(year, days):
    data = {
        "year": year,
        "note": "",
        "days-TOTAL_FORMS": len(days),
        "days-INITIAL_FORMS": 0,
        "days-MIN_NUM_FORMS": 0,
        "days-MAX_NUM_FORMS": 1000,
    }
    for i, (date, kind, name) in enumerate(days):
        data |= {f"days-{i}-date": date, f"days-{i}-kind": kind, f"days-{i}-name": name}
    return data


@pytest.mark.django_db
def test_the_admin_adds_a_year_with_its_days(client, centre_admin):
    client.force_login(centre_admin)
    response = client.post(
        f"{CHANGELIST}add/",
        _admin_post(2028, [("2028-10-02", "holiday", "国庆节"), ("2028-10-07", "workday", "调休上班")]),
    )
    assert response.status_code == 302, response.content.decode()
    loaded = HolidayYear.objects.get(year=2028)
    assert loaded.loaded_by == centre_admin
    assert loaded.days.count() == 2


@pytest.mark.django_db
def test_the_admin_refuses_a_weekday_worked_day(client, centre_admin):
    client.force_login(centre_admin)
    response = client.post(
        f"{CHANGELIST}add/",
        _admin_post(2028, [("2028-10-02", "holiday", "国庆节"), ("2028-10-09", "workday", "调休上班")]),
    )
    assert response.status_code == 200
    assert "is a weekday" in response.content.decode()
    assert not HolidayYear.objects.exists()
