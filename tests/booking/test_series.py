"""Series through the booking service: holidays, breaks, modes, preview, cancel scopes, approval,
no-show release. `now` is fixed in September 2026 so the national calendar is known."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from booking import services
from booking.models import Booking, Closure, EquitySettings, Series, WaitlistEntry
from tests.booking.conftest import SH
from tests.conftest import client_for
from tests.factories import ResourceFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 9, 1, 9, 0, tzinfo=SH)


def at(y, m, d, hh, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


@pytest.fixture
def lab(urban_school):
    # A long horizon so a whole term fits; the county window is tested in test_rules.
    return ResourceFactory(school=urban_school, shared=True, max_advance_days=366, min_notice_hours=0)


FIRST = at(2026, 9, 15, 13, 30)  # a Tuesday


def create(actor, lab, rule, first=FIRST, minutes=90, **kw):
    return services.series_create(
        actor=actor, resource=lab, first_start=first, first_end=first + dt.timedelta(minutes=minutes),
        rrule_text=rule, class_size=30, now=NOW, **kw,
    )  # fmt: skip


def test_tuesdays_across_the_national_day_week_skip_the_holiday(urban_teacher, lab):
    result = create(urban_teacher, lab, "FREQ=WEEKLY;BYDAY=TU;COUNT=6")
    by_date = {o.start.date(): o for o in result.occurrences}
    assert by_date[dt.date(2026, 10, 6)].code == "closed"  # 国庆节
    assert by_date[dt.date(2026, 10, 6)].skipped
    assert (
        "国庆" in by_date[dt.date(2026, 10, 6)].detail or "National" in by_date[dt.date(2026, 10, 6)].detail
    )
    booked = [o for o in result.occurrences if o.booking]
    assert len(booked) == 5
    assert result.complete  # a skipped holiday is not a problem
    assert Booking.objects.filter(series=result.series).count() == 5
    assert {b.start.astimezone(SH).time() for b in Booking.objects.all()} == {dt.time(13, 30)}


def test_the_winter_break_is_skipped_with_its_reason(urban_teacher, lab):
    Closure.objects.create(scope="city", kind="term_break", start_date=dt.date(2027, 1, 16),
                           end_date=dt.date(2027, 2, 28), reason="寒假")  # fmt: skip
    result = create(urban_teacher, lab, "FREQ=WEEKLY;COUNT=10", first=at(2027, 1, 5, 9))
    skipped = [o for o in result.occurrences if o.skipped]
    assert {o.start.date() for o in skipped} >= {dt.date(2027, 1, 19), dt.date(2027, 2, 23)}
    assert all("寒假" in o.detail for o in skipped if o.start.date() != dt.date(2027, 2, 9))


def test_adjusted_working_days_follow_the_centre_setting(urban_teacher, lab):
    # 2026-10-10 (a Saturday) is a 调休 working day. With the setting on and Saturday opening
    # like a Monday, a Monday series books it as well.
    EquitySettings.objects.update_or_create(
        pk=1, defaults={"series_book_adjusted_days": True, "adjusted_day_weekday": 0}
    )
    result = create(urban_teacher, lab, "FREQ=WEEKLY;BYDAY=MO;COUNT=6", first=at(2026, 9, 14, 9))
    dates = {o.start.date() for o in result.occurrences if o.booking}
    assert dt.date(2026, 10, 10) in dates
    assert dt.date(2026, 9, 20) in dates  # the Sunday before National Day is a working day too
    EquitySettings.objects.filter(pk=1).update(series_book_adjusted_days=False)
    Booking.objects.all().delete()
    result = create(urban_teacher, lab, "FREQ=WEEKLY;BYDAY=MO;COUNT=6", first=at(2026, 9, 14, 9))
    assert dt.date(2026, 10, 10) not in {o.start.date() for o in result.occurrences}


def test_all_or_nothing_books_nothing_and_lists_every_problem(urban_teacher, county_teacher, lab):
    services.booking_create(actor=county_teacher, resource=lab, start=at(2026, 9, 22, 13, 30),
                            end=at(2026, 9, 22, 15), class_size=20, now=NOW)  # fmt: skip
    services.booking_create(actor=county_teacher, resource=lab, start=at(2026, 10, 13, 14),
                            end=at(2026, 10, 13, 15), class_size=20, now=NOW)  # fmt: skip
    result = create(urban_teacher, lab, "FREQ=WEEKLY;COUNT=6", mode="all_or_nothing")
    assert result.series is None
    assert not result.complete
    assert [o.start.date() for o in result.occurrences if o.code == "conflict"] == [
        dt.date(2026, 9, 22), dt.date(2026, 10, 13)
    ]  # fmt: skip
    assert Series.objects.count() == 0
    assert Booking.objects.filter(booked_by=urban_teacher).count() == 0


def test_skip_conflicts_books_the_free_ones_and_can_wait_for_the_rest(urban_teacher, county_teacher, lab):
    taken = services.booking_create(actor=county_teacher, resource=lab, start=at(2026, 9, 22, 13, 30),
                                    end=at(2026, 9, 22, 15), class_size=20, now=NOW)  # fmt: skip
    result = create(urban_teacher, lab, "FREQ=WEEKLY;COUNT=3", waitlist_missed=True)
    assert [bool(o.booking) for o in result.occurrences] == [True, False, True]
    assert result.occurrences[1].code == "conflict"
    entry = WaitlistEntry.objects.get(series=result.series)
    assert entry.start == at(2026, 9, 22, 13, 30)
    # The taken occurrence frees: it is held for the series' teacher.
    services.booking_cancel(actor=county_teacher, booking=taken, reason="改期", now=NOW)
    entry.refresh_from_db()
    assert entry.status == "offered"
    assert entry.booking.status == "held"
    assert entry.booking.series == result.series


def test_preview_writes_nothing_and_predicts_conflicts_within_the_series(urban_teacher, lab):
    result = create(urban_teacher, lab, "FREQ=DAILY;COUNT=3", preview=True, minutes=60)
    assert result.series is None
    assert [o.code for o in result.occurrences] == [None, None, None]
    assert Booking.objects.count() == 0
    assert Series.objects.count() == 0


def test_preview_reports_the_quota_the_series_would_exceed(county_teacher, lab):
    EquitySettings.objects.update_or_create(pk=1, defaults={"monthly_quota_hours": 3})
    result = create(county_teacher, lab, "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=4", preview=True, minutes=90)
    assert [o.code for o in result.occurrences] == [None, None, "quota_exceeded", "quota_exceeded"]
    real = create(county_teacher, lab, "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=4", minutes=90)
    assert [o.code for o in real.occurrences] == [None, None, "quota_exceeded", "quota_exceeded"]


def test_cancel_this_following_and_all(urban_teacher, lab):
    result = create(urban_teacher, lab, "FREQ=WEEKLY;COUNT=5", first=at(2026, 11, 3, 9))
    bookings = list(Booking.objects.filter(series=result.series).order_by("start"))
    services.booking_cancel(actor=urban_teacher, booking=bookings[0], now=NOW)  # this one
    services.series_cancel(actor=urban_teacher, series=result.series, from_booking=bookings[3], now=NOW)
    statuses = [b.status for b in Booking.objects.filter(series=result.series).order_by("start")]
    assert statuses == ["cancelled", "approved", "approved", "cancelled", "cancelled"]
    assert Series.objects.get(pk=result.series.pk).status == "active"
    services.series_cancel(actor=urban_teacher, series=result.series, now=NOW)
    assert set(Booking.objects.filter(series=result.series).values_list("status", flat=True)) == {"cancelled"}
    assert Series.objects.get(pk=result.series.pk).status == "cancelled"


def test_approval_applies_to_the_series_as_a_whole(county_teacher, urban_admin, county_admin, lab):
    lab.requires_approval = True
    lab.save()
    result = create(county_teacher, lab, "FREQ=WEEKLY;COUNT=4")
    assert set(Booking.objects.filter(series=result.series).values_list("status", flat=True)) == {"pending"}
    with pytest.raises(ValidationError) as err:
        services.series_approve(actor=county_admin, series=result.series, now=NOW)
    assert err.value.code == "forbidden"
    approved = services.series_approve(actor=urban_admin, series=result.series, now=NOW)
    assert len(approved) == 3  # the fourth Tuesday, 2026-10-06, is National Day
    assert set(Booking.objects.filter(series=result.series).values_list("status", flat=True)) == {"approved"}
    with pytest.raises(ValidationError) as err:
        services.series_reject(actor=urban_admin, series=result.series, now=NOW)
    assert err.value.code == "invalid_transition"


def test_repeated_no_shows_release_the_rest_of_the_series(county_teacher, lab):
    EquitySettings.objects.update_or_create(pk=1, defaults={"series_no_show_limit": 2})
    result = create(county_teacher, lab, "FREQ=WEEKLY;COUNT=6", first=at(2026, 9, 1, 9, 30))
    first_two_done = at(2026, 9, 8, 11)
    services.bookings_mark_no_show(now=first_two_done)
    statuses = [b.status for b in Booking.objects.filter(series=result.series).order_by("start")]
    # Six Tuesdays from 1 September; 6 October (National Day) is skipped.
    assert statuses == ["no_show", "no_show", "cancelled", "cancelled", "cancelled"]
    assert Series.objects.get(pk=result.series.pk).status == "released"
    assert services.series_release_if_no_shows(series_id=result.series.pk, now=first_two_done) == []


def test_series_api(county_teacher, lab, urban_admin):
    client = client_for(county_teacher)
    body = {"resource": lab.id, "start": "2026-12-01T13:30:00", "end": "2026-12-01T15:00:00",
            "rrule": "FREQ=WEEKLY;COUNT=3", "class_size": 30, "preview": True}  # fmt: skip
    preview = client.post("/api/v1/series/", body, format="json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["id"] is None
    assert len(preview.json()["occurrences"]) == 3
    assert Booking.objects.count() == 0


@pytest.mark.parametrize(
    ("rrule", "code"),
    [
        ("FREQ=WEEKLY", "invalid_rrule"),
        ("FREQ=SECONDLY;COUNT=3", "invalid_rrule"),
        ("FREQ=DAILY;COUNT=500", "too_many_occurrences"),
        ("garbage", "invalid_rrule"),
    ],
)
def test_series_api_bad_rules(county_teacher, lab, rrule, code):
    body = {"resource": lab.id, "start": "2026-12-01T13:30:00", "end": "2026-12-01T15:00:00", "rrule": rrule,
            "class_size": 30}  # fmt: skip
    response = client_for(county_teacher).post("/api/v1/series/", body, format="json")
    assert response.status_code == 400
    assert "rrule" in response.json()
    assert Booking.objects.count() == 0


def test_series_api_all_or_nothing_is_409_with_the_list(county_teacher, urban_teacher, lab):
    client = client_for(county_teacher)
    day = dt.datetime.now(SH).date() + dt.timedelta(days=3)
    while day.weekday() != 1:
        day += dt.timedelta(days=1)
    services.booking_create(actor=urban_teacher, resource=lab, start=dt.datetime.combine(day, dt.time(13, 30), SH),
                            end=dt.datetime.combine(day, dt.time(15), SH), class_size=20)  # fmt: skip
    body = {"resource": lab.id, "date": day.isoformat(), "periods": "5-6", "rrule": "FREQ=WEEKLY;COUNT=2",
            "class_size": 30, "mode": "all_or_nothing"}  # fmt: skip
    response = client.post("/api/v1/series/", body, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert response.json()["occurrences"][0]["code"] == "conflict"
    assert Booking.objects.filter(booked_by=county_teacher).count() == 0


def test_series_across_a_retirement_books_nothing_with_a_reason(county_teacher, lab):
    lab.status = "retired"
    lab.save()
    result = create(county_teacher, lab, "FREQ=WEEKLY;COUNT=3", mode="all_or_nothing")
    assert result.series is None
    assert {o.code for o in result.occurrences} == {"resource_retired"}


def test_someone_elses_series_is_404(county_teacher, lab):
    result = create(county_teacher, lab, "FREQ=WEEKLY;COUNT=2")
    stranger = UserFactory(role="teacher")
    assert client_for(stranger).get(f"/api/v1/series/{result.series.pk}/").status_code == 404
    mine = client_for(county_teacher).get(f"/api/v1/series/{result.series.pk}/").json()
    assert len(mine["occurrences"]) == 2
