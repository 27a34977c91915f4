"""The teacher's web pages to find a free room and book it (/book/) and to see and cancel their own
bookings (/bookings/): session, server-rendered, over the API's selectors and services."""

import contextlib
import datetime as dt
import html
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.checkin import check_in_path
from booking.models import Booking, BookingEvent, Closure, HolidayYear, Notification, OfficialDay, Series
from equipment.models import Resource
from schools.models import ClassPeriod, User
from tests.booking.conftest import local, next_workday
from tests.factories import ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True, capacity=40, name="物理实验室(一)")


@pytest.fixture
def private_lab(urban_school):
    """The urban school's own lab, not shared: no other school sees or books it."""
    return ResourceFactory(school=urban_school, shared=False, capacity=40, name="内部物理实验室")


def web(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def search(day, **extra) -> dict:
    query = {
        "date_from": day.isoformat(),
        "kind": "lab",
        "subject": "physics",
        "periods": "5-6",
        "class_size": 30,
    }
    return {k: v for k, v in (query | extra).items() if v is not None}


def booking_at(user, resource, start, minutes=45, status="approved"):
    end = start + dt.timedelta(minutes=minutes)
    return Booking.objects.create(
        resource=resource, school=user.school, booked_by=user, start=start, end=end, block_start=start,
        block_end=end, class_size=20, status=status, is_external=user.school_id != resource.school_id,
        check_in_code="ABC123",
    )  # fmt: skip


def rows(response) -> list[str]:
    """Each result row's text, tags stripped, whitespace squeezed."""
    page = response.content.decode()
    found = re.findall(r'<tr class="(?:result|booking[^"]*)"[^>]*>(.*?)</tr>', page, re.S)
    # The pages write times as 13:30\u201315:10 (an en dash); compared here with a hyphen.
    return [" ".join(re.sub(r"<[^>]+>", " ", row).replace("\u2013", "-").split()) for row in found]


def errors_for(response) -> list[str]:
    return re.findall(r'id="error-([a-z_]+)"', response.content.decode())


# --- who may use the pages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/book/"), ("post", "/book/"), ("get", "/bookings/"), ("post", "/bookings/1/cancel/")],
)
def test_a_visitor_is_sent_to_sign_in(method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={path}")


@pytest.mark.parametrize("who", ["analyst", "centre_admin"])
def test_who_does_not_book_gets_a_clear_403(who, analyst, centre_admin, lab, day):
    user = {"analyst": analyst, "centre_admin": centre_admin}[who]
    for response in (
        web(user).get("/book/"),
        web(user).get("/book/", search(day)),
        web(user).post(
            "/book/", {"resource": lab.pk, "date": day.isoformat(), "periods": "5-6", "class_size": 30}
        ),
    ):
        assert response.status_code == 403
        assert "Only teachers and school administrators book" in response.content.decode()
    assert Booking.objects.count() == 0


def test_the_links_are_shown_to_those_who_book(county_teacher, urban_admin, analyst):
    for user in (county_teacher, urban_admin):
        page = web(user).get("/").content.decode()
        assert 'href="/book/"' in page
        assert 'href="/bookings/"' in page
    page = web(analyst).get("/").content.decode()
    assert 'href="/book/"' not in page
    assert 'href="/bookings/"' not in page
    assert 'href="/book/"' not in Client().get("/").content.decode()


# --- the search form ------------------------------------------------------------------------


def test_the_empty_form_proposes_tomorrow_and_searches_nothing(county_teacher):
    from booking.forms import tomorrow

    response = web(county_teacher).get("/book/")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'value="{tomorrow().isoformat()}"' in page
    assert 'id="results"' not in page
    assert 'id="result-count"' not in page


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"date_from": "tomorrow"}, "date_from"),
        ({"date_from": "1999-12-01"}, "date_from"),
        ({"date_from": "x" * 100_000}, "date_from"),
        ({"date_to": "+31"}, "date_to"),
        ({"date_to": "-1"}, "date_to"),
        ({"kind": "spaceship"}, "kind"),
        ({"subject": "alchemy"}, "subject"),
        ({"periods": "6-5"}, "periods"),
        ({"periods": "five"}, "periods"),
        ({"periods": "9" * 100_000}, "periods"),
        ({"periods": None}, "periods"),  # neither periods nor duration
        ({"duration": "90"}, "duration"),  # both
        ({"periods": None, "duration": "4"}, "duration"),
        ({"periods": None, "duration": "1441"}, "duration"),
        ({"class_size": "0"}, "class_size"),
        ({"class_size": "lots"}, "class_size"),
        ({"class_size": None}, "class_size"),
        ({"max_travel_minutes": "30"}, "max_travel_minutes"),  # without near
        ({"near": "on", "max_travel_minutes": "-5"}, "max_travel_minutes"),
    ],
)
def test_bad_search_input_is_a_400_naming_the_field(extra, field, county_teacher, lab, day):
    if extra.get("date_to") in ("+31", "-1"):
        extra = {"date_to": (day + dt.timedelta(days=int(extra["date_to"]))).isoformat()}
    response = web(county_teacher).get("/book/", search(day, **extra))
    assert response.status_code == 400
    assert errors_for(response) == [field]
    assert 'id="results"' not in response.content.decode()


def test_near_my_school_needs_the_schools_coordinates(county_teacher, lab, day):
    county_teacher.school.latitude = county_teacher.school.longitude = None
    county_teacher.school.save()
    response = web(county_teacher).get("/book/", search(day, near="on"))
    assert response.status_code == 400
    assert errors_for(response) == ["near"]


def test_31_days_are_allowed(county_teacher, lab, day):
    response = web(county_teacher).get(
        "/book/", search(day, date_to=(day + dt.timedelta(days=30)).isoformat())
    )
    assert response.status_code == 200


# --- search results -------------------------------------------------------------------------


def test_a_periods_search_lists_the_free_periods_it_may_book(county_teacher, lab, private_lab, day):
    own = ResourceFactory(school=county_teacher.school, shared=False, name="本校实验室")
    ResourceFactory(school=lab.school, shared=True, subject="chemistry", name="化学实验室")
    ResourceFactory(school=lab.school, shared=True, capacity=20, name="小实验室")  # too small for 30
    taken = ResourceFactory(school=lab.school, shared=True, name="已约实验室")
    booking_at(UserFactory(school=SchoolFactory()), taken, local(day, 13, 30), minutes=100)
    response = web(county_teacher).get("/book/", search(day))
    assert response.status_code == 200
    found = rows(response)
    school = lab.school.name
    assert sorted(found) == sorted(
        [
            f"物理实验室(一) {school} {day.isoformat()} {day:%A} 13:30-15:10 Repeat weekly until Book",
            f"本校实验室 {own.school.name} {day.isoformat()} {day:%A} 13:30-15:10 Repeat weekly until Book",
        ]
    )
    page = response.content.decode()
    assert "内部物理实验室" not in page  # another school's private lab is not there at all
    assert '<input type="hidden" name="periods" value="5-6">' in page
    assert f'<input type="hidden" name="date" value="{day.isoformat()}">' in page
    assert '<input type="hidden" name="class_size" value="30">' in page
    assert "2 free times found" in page


def test_a_duration_search_offers_start_times_in_quarter_hours(county_teacher, lab, day):
    booking_at(UserFactory(school=SchoolFactory()), lab, local(day, 10), minutes=60)
    response = web(county_teacher).get("/book/", search(day, periods=None, duration="90"))
    assert response.status_code == 200
    found = rows(response)
    assert len(found) == 2
    assert "08:00-10:00" in found[0]
    assert "11:00-17:00" in found[1]
    page = response.content.decode()
    forms = re.findall(r'<form method="post"[^>]*class="book">(.*?)</form>', page, re.S)
    first = re.findall(r'<option value="([^"]+)">([0-9:]+)</option>', forms[0])
    assert [label for _value, label in first] == ["08:00", "08:15", "08:30"]  # 08:30 + 90 min = 10:00
    assert first[0][0] == f"{day.isoformat()}T08:00:00+08:00"
    second = [label for _value, label in re.findall(r'<option value="([^"]+)">([0-9:]+)</option>', forms[1])]
    assert second[0] == "11:00"
    assert second[-1] == "15:30"
    assert len(second) == 19
    assert '<input type="hidden" name="duration" value="90">' in forms[0]


def test_near_my_school_shows_the_travel_time_and_bounds_it(county_teacher, lab, day):
    far = SchoolFactory(latitude=44.9, longitude=127.9)  # about 130 km away
    ResourceFactory(school=far, shared=True, name="远方实验室")
    response = web(county_teacher).get("/book/", search(day, near="on"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "远方实验室" in page
    assert re.search(r'<td class="travel">\d+ min</td>', page)
    bounded = web(county_teacher).get("/book/", search(day, near="on", max_travel_minutes="60"))
    assert bounded.status_code == 200
    assert "远方实验室" not in bounded.content.decode()
    assert "物理实验室(一)" in bounded.content.decode()


def test_results_come_50_to_a_page(county_teacher, urban_school, day):
    for _i in range(3):
        ResourceFactory(school=urban_school, shared=True)
    query = search(day, date_to=(day + dt.timedelta(days=30)).isoformat())
    first = web(county_teacher).get("/book/", query)
    count = int(re.search(r'id="result-count">(\d+)', first.content.decode()).group(1))
    assert count > 50
    assert len(rows(first)) == 50
    last_page = (count + 49) // 50
    last = web(county_teacher).get("/book/", query | {"page": last_page})
    assert len(rows(last)) == count - 50 * (last_page - 1)
    assert f"Page {last_page} of {last_page}" in last.content.decode()
    assert "page=" in first.content.decode()


@pytest.mark.postgres
def test_on_postgresql_a_page_of_results_is_one_statement(county_teacher, urban_school, day):
    for _i in range(3):
        ResourceFactory(school=urban_school, shared=True)
    query = search(day, date_to=(day + dt.timedelta(days=30)).isoformat(), page="2")
    client = web(county_teacher)
    client.get("/book/", query)  # the session and user are read as usual; the search is what counts
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/book/", query)
    assert response.status_code == 200
    count = int(re.search(r'id="result-count">(\d+)', response.content.decode()).group(1))
    assert len(rows(response)) == count - 50 > 0
    # The count and the page together (inside the test's transaction the session settings are
    # saved and restored around it, statements of their own; outside, one round trip).
    searches = [q for q in queries.captured_queries if "count(*) AS n FROM res" in q["sql"]]
    assert len(searches) == 1


# --- booking from a result ------------------------------------------------------------------


def book(client, day, resource, follow=False, HTTP_ACCEPT_LANGUAGE=None, **extra):
    body = {"resource": resource.pk, "date": day.isoformat(), "periods": "5-6", "class_size": 30} | extra
    headers = {"HTTP_ACCEPT_LANGUAGE": HTTP_ACCEPT_LANGUAGE} if HTTP_ACCEPT_LANGUAGE else {}
    path = "/book/?" + "&".join(f"{k}={v}" for k, v in search(day).items())
    return client.post(path, body, follow=follow, **headers)


def test_booking_a_result_writes_one_booking_and_lands_on_its_pass(county_teacher, lab, day):
    response = book(web(county_teacher), day, lab, purpose="牛顿第二定律")
    assert response.status_code in (302, 303)
    booking = Booking.objects.get()
    assert response["Location"] == f"/bookings/{booking.pk}/pass/"
    assert (booking.resource, booking.booked_by, booking.school) == (
        lab,
        county_teacher,
        county_teacher.school,
    )
    assert (booking.start, booking.end) == (local(day, 13, 30), local(day, 15, 10))
    assert (booking.periods, booking.class_size, booking.purpose) == ("5-6", 30, "牛顿第二定律")
    assert booking.status == "approved"
    assert list(BookingEvent.objects.values_list("booking_id", "to_status")) == [(booking.pk, "approved")]
    page = web(county_teacher).get(response["Location"])
    assert page.status_code == 200


def test_the_message_says_confirmed_or_pending(county_teacher, lab, urban_school, day):
    client = web(county_teacher)
    client.post("/book/", {"resource": lab.pk, "date": day.isoformat(), "periods": "5-6", "class_size": 30})
    page = client.get(f"/bookings/{Booking.objects.get().pk}/pass/").content.decode()
    assert "confirmed" in page
    approval = ResourceFactory(school=urban_school, shared=True, requires_approval=True, name="审批实验室")
    response = client.post(
        "/book/",
        {"resource": approval.pk, "date": day.isoformat(), "periods": "5-6", "class_size": 30},
        follow=True,
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "pending approval" in page
    assert Booking.objects.get(resource=approval).status == "pending"


def test_a_duration_result_books_from_the_chosen_start(county_teacher, lab, day):
    start = local(day, 9, 15)
    response = web(county_teacher).post(
        "/book/", {"resource": lab.pk, "start": start.isoformat(), "duration": 90, "class_size": 25}
    )
    assert response.status_code == 302
    booking = Booking.objects.get()
    assert (booking.start, booking.end, booking.periods) == (start, start + dt.timedelta(minutes=90), "")
    assert booking.class_size == 25


def test_start_and_end_may_be_given(county_teacher, lab, day):
    response = web(county_teacher).post(
        "/book/",
        {
            "resource": lab.pk,
            "start": local(day, 9).isoformat(),
            "end": local(day, 10).isoformat(),
            "class_size": 25,
        },
    )
    assert response.status_code == 302
    assert (Booking.objects.get().start, Booking.objects.get().end) == (local(day, 9), local(day, 10))


def test_a_taken_time_is_a_409_with_the_search_again_and_nothing_written(county_teacher, lab, day):
    other = UserFactory(school=SchoolFactory())
    booking_at(other, lab, local(day, 14), minutes=30)
    response = book(web(county_teacher), day, lab)
    assert response.status_code == 409
    page = response.content.decode()
    assert "That time is already taken for this resource." in page
    assert 'id="search-form"' in page
    assert f'value="{day.isoformat()}"' in page  # the search is still filled in
    assert Booking.objects.count() == 1
    assert BookingEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"class_size": 41}, "This resource holds 40 students; the class has 41."),
        ({"periods": "9"}, "has no period 9"),
    ],
)
def test_a_broken_rule_is_a_400_with_its_message(extra, message, county_teacher, lab, day):
    response = book(web(county_teacher), day, lab, **extra)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Booking.objects.count() == 0


def test_every_broken_rule_is_listed(county_teacher, lab):
    saturday = next_workday()
    while saturday.weekday() != 5:
        saturday += dt.timedelta(days=1)
    response = book(web(county_teacher), saturday, lab, class_size=41)
    assert response.status_code == 400
    items = re.findall(
        r"<li>(.*?)</li>", response.content.decode().split('id="book-errors"')[1].split("</ul>")[0]
    )
    assert len(items) >= 2
    assert Booking.objects.count() == 0


def test_another_schools_private_resource_answers_like_an_unknown_one(county_teacher, private_lab, day):
    client = web(county_teacher)
    private = book(client, day, private_lab)
    unknown = client.post(
        "/book/", {"resource": 987654321, "date": day.isoformat(), "periods": "5-6", "class_size": 30}
    )
    assert private.status_code == unknown.status_code == 400
    assert "That resource was not found." in private.content.decode()
    assert "That resource was not found." in unknown.content.decode()
    assert "内部物理实验室" not in private.content.decode()
    assert Booking.objects.count() == 0


def test_the_owner_school_books_its_own_private_resource(urban_teacher, private_lab, day):
    assert book(web(urban_teacher), day, private_lab).status_code == 302
    assert Booking.objects.get().resource == private_lab


@pytest.mark.parametrize(
    "body",
    [
        {"resource": "abc"},
        {"resource": "1" * 100_000},
        {"resource": ""},
        {"class_size": "x" * 100_000},
        {"class_size": 0},
        {"purpose": "长" * 501},
        {"periods": "x" * 100_000},
        {"periods": "", "start": "yesterday", "end": "today"},
        {"periods": "", "start": "x" * 100_000, "duration": 60},
        {"periods": "", "start": "START", "end": "START"},  # end <= start
        {"periods": "", "start": "END", "end": "START"},
        {"periods": "", "start": "START"},  # no end, no duration
        {"periods": "", "start": "START", "duration": 10**100},
        {"periods": "", "start": "9999-12-31T23:59:00-12:00", "duration": 60},
        {"periods": "", "start": "START", "end": "x" * 100_000},
        {"date": "x" * 100_000},
        {"date": ""},
    ],
)
def test_tampered_hidden_values_are_a_clear_400(body, county_teacher, lab, day):
    values = {"START": local(day, 9).isoformat(), "END": local(day, 10).isoformat()}
    body = {k: values.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    base = {"resource": lab.pk, "date": day.isoformat(), "periods": "5-6", "class_size": 30}
    response = web(county_teacher).post("/book/", base | body)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="book-errors"' in page
    assert Booking.objects.count() == 0


def test_booking_needs_the_csrf_token(county_teacher, lab, day):
    client = web(county_teacher, enforce_csrf_checks=True)
    response = book(client, day, lab)
    assert response.status_code == 403
    assert Booking.objects.count() == 0
    # With the page's token it goes through.
    page = client.get("/book/", search(day)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(
        "/book/",
        {
            "csrfmiddlewaretoken": token,
            "resource": lab.pk,
            "date": day.isoformat(),
            "periods": "5-6",
            "class_size": 30,
        },
    )
    assert response.status_code == 302
    assert Booking.objects.count() == 1


def test_the_pages_speak_chinese_by_default(county_teacher, lab, day, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client = web(county_teacher)
    page = client.get("/book/", search(day), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "查找空闲场地" in page
    assert "预约" in page
    assert "Find a free room" not in page
    assert "物理实验室(一)" in page
    mine = client.get("/bookings/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我的预约" in mine
    assert "My bookings" not in mine
    refused = client.get("/book/", search(day, class_size="0"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert refused.status_code == 400
    assert "班级人数" in refused.content.decode()


# --- my bookings ----------------------------------------------------------------------------


def test_my_bookings_lists_mine_only_upcoming_first_then_the_past(county_teacher, county_school, lab, day):
    colleague = UserFactory(role="teacher", school=county_school)
    later = booking_at(county_teacher, lab, local(day + dt.timedelta(days=7), 9))
    soon = booking_at(county_teacher, lab, local(day, 9))
    last_week = booking_at(county_teacher, lab, local(day - dt.timedelta(days=14), 9), status="completed")
    last_month = booking_at(county_teacher, lab, local(day - dt.timedelta(days=40), 9), status="cancelled")
    theirs = booking_at(colleague, lab, local(day, 11))
    response = web(county_teacher).get("/bookings/")
    assert response.status_code == 200
    page = response.content.decode()
    order = [int(pk) for pk in re.findall(r'<tr class="booking [a-z]+" id="booking-(\d+)"', page)]
    assert order == [soon.pk, later.pk, last_week.pk, last_month.pk]
    assert f'id="booking-{theirs.pk}"' not in page
    assert f'href="/bookings/{soon.pk}/pass/"' in page
    found = rows(response)
    assert found[0].startswith(f"物理实验室(一) {lab.school.name} {day.isoformat()}")
    assert "09:00-09:45" in found[0]
    assert "Approved" in found[0]
    assert "Completed" in found[2]
    # Active and not started: a Cancel form; finished or cancelled: none.
    assert f'action="/bookings/{soon.pk}/cancel/"' in page
    assert f'action="/bookings/{later.pk}/cancel/"' in page
    assert f'action="/bookings/{last_week.pk}/cancel/"' not in page
    assert f'action="/bookings/{last_month.pk}/cancel/"' not in page


def test_my_bookings_come_50_to_a_page(county_teacher, lab, day):
    for i in range(51):
        booking_at(county_teacher, lab, local(day - dt.timedelta(days=i + 1), 9), status="completed")
    first = web(county_teacher).get("/bookings/")
    assert len(rows(first)) == 50
    second = web(county_teacher).get("/bookings/?page=2")
    assert len(rows(second)) == 1


def test_cancel_works_once_and_a_second_time_is_a_409(county_teacher, lab, day):
    booking = booking_at(county_teacher, lab, local(day, 9))
    client = web(county_teacher)
    response = client.post(f"/bookings/{booking.pk}/cancel/", {"reason": "学生考试"})
    assert response.status_code == 302
    assert response["Location"] == "/bookings/"
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    event = BookingEvent.objects.get(booking=booking, to_status="cancelled")
    assert (event.actor, event.reason) == (county_teacher, "学生考试")
    assert "cancelled" in client.get("/bookings/").content.decode()
    again = client.post(f"/bookings/{booking.pk}/cancel/")
    assert again.status_code == 409
    assert 'id="cancel-error"' in again.content.decode()
    assert BookingEvent.objects.filter(booking=booking, to_status="cancelled").count() == 1


def test_nobody_cancels_someone_elses_booking_here(county_teacher, county_school, urban_admin, lab, day):
    booking = booking_at(county_teacher, lab, local(day, 9))
    colleague = UserFactory(role="teacher", school=county_school)
    for user in (colleague, urban_admin, UserFactory(role="school_admin", school=county_school)):
        assert web(user).post(f"/bookings/{booking.pk}/cancel/").status_code == 404
    assert web(county_teacher).post("/bookings/987654321/cancel/").status_code == 404
    assert web(county_teacher).get(f"/bookings/{booking.pk}/cancel/").status_code == 405
    booking.refresh_from_db()
    assert booking.status == "approved"


def test_a_too_long_reason_is_a_400_and_changes_nothing(county_teacher, lab, day):
    booking = booking_at(county_teacher, lab, local(day, 9))
    response = web(county_teacher).post(f"/bookings/{booking.pk}/cancel/", {"reason": "x" * 501})
    assert response.status_code == 400
    booking.refresh_from_db()
    assert booking.status == "approved"


def test_cancelling_needs_the_csrf_token(county_teacher, lab, day):
    booking = booking_at(county_teacher, lab, local(day, 9))
    assert (
        web(county_teacher, enforce_csrf_checks=True).post(f"/bookings/{booking.pk}/cancel/").status_code
        == 403
    )
    booking.refresh_from_db()
    assert booking.status == "approved"


def test_the_page_shows_what_the_apis_search_answers(county_teacher, lab, private_lab, day):
    from tests.conftest import client_for

    api = (
        client_for(county_teacher)
        .get(
            "/api/v1/availability/",
            {
                "date_from": day.isoformat(),
                "date_to": day.isoformat(),
                "kind": "lab",
                "periods": "5-6",
                "capacity_min": 30,
            },
        )
        .json()
    )
    page = web(county_teacher).get("/book/", search(day, subject=None))
    assert len(rows(page)) == api["count"] == 1
    assert lab.name in rows(page)[0]


# --- limits -----------------------------------------------------------------------------------


@pytest.fixture
def low_limits(settings):
    """Searches and booking writes at 2 a minute (the API's scopes, DEFAULT_THROTTLE_RATES)."""
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "search": "2/min",
            "booking_write": "2/min",
        },
    }
    before = SimpleRateThrottle.THROTTLE_RATES  # DRF binds the rates at import
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    yield
    SimpleRateThrottle.THROTTLE_RATES = before


def forget_limits(user):
    # The windows live in the shared cache for a minute, keyed by user id (ids repeat across runs).
    from django.core.cache import cache

    cache.delete_many([f"throttle_search_{user.pk}", f"throttle_booking_write_{user.pk}"])


def test_searches_are_limited_like_the_apis(low_limits, county_teacher, lab, day):
    forget_limits(county_teacher)
    client = web(county_teacher)
    assert client.get("/book/").status_code == 200  # the empty form is no search
    assert client.get("/book/", search(day)).status_code == 200
    assert client.get("/book/", search(day)).status_code == 200
    refused = client.get("/book/", search(day))
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    page = refused.content.decode()
    assert "Too many searches." in page
    assert 'id="results"' not in page
    forget_limits(county_teacher)


def test_booking_writes_are_limited_like_the_apis(low_limits, county_teacher, lab, day):
    forget_limits(county_teacher)
    client = web(county_teacher)
    first = booking_at(county_teacher, lab, local(day, 9))
    assert client.post(f"/bookings/{first.pk}/cancel/").status_code == 302
    assert (
        client.post(
            "/book/", {"resource": lab.pk, "date": day.isoformat(), "periods": "5-6", "class_size": 30}
        ).status_code
        == 302
    )
    refused = client.post(
        "/book/", {"resource": lab.pk, "date": day.isoformat(), "periods": "1-2", "class_size": 30}
    )
    assert refused.status_code == 429
    assert "Too many booking requests at once." in refused.content.decode()
    assert Booking.objects.count() == 2
    second = Booking.objects.get(periods="5-6")
    again = client.post(f"/bookings/{second.pk}/cancel/")
    assert again.status_code == 429
    assert int(again["Retry-After"]) >= 1
    second.refresh_from_db()
    assert second.status == "approved"
    forget_limits(county_teacher)


# --- the same time every week (a series) ----------------------------------------------------


@pytest.fixture
def term_lab(urban_school):
    """A shared lab bookable a term ahead (the county window is tested in test_rules)."""
    return ResourceFactory(
        school=urban_school, shared=True, capacity=40, name="物理实验室(二)", max_advance_days=366
    )


@pytest.fixture
def plain_calendar(day):
    """The years around `day` loaded as official arrangements without holidays, so a real holiday
    falling in the weeks ahead does not change what these tests book (they add their own)."""
    return {
        year: HolidayYear.objects.create(year=year)
        for year in range(day.year, (day + dt.timedelta(days=800)).year + 1)
    }


def week(day, n: int) -> dt.date:
    return day + dt.timedelta(weeks=n)


def messages_of(response, tag: str) -> list[str]:
    page = response.content.decode()
    found = re.findall(rf'<li class="[^"]*\b{tag}\b[^"]*" role="status">(.*?)</li>', page, re.S)
    return [" ".join(html.unescape(item).split()) for item in found]


def book_errors(response) -> list[str]:
    block = response.content.decode().split('id="book-errors"')[1].split("</ul>")[0]
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", block, re.S)]


def nothing_written():
    assert Series.objects.count() == 0
    assert Booking.objects.filter(series__isnull=False).count() == 0


def test_the_rows_offer_repeat_weekly_until(county_teacher, term_lab, day):
    page = web(county_teacher).get("/book/", search(day)).content.decode()
    after = (day + dt.timedelta(days=1)).isoformat()
    assert f'<input type="date" name="repeat_until" min="{after}"' in page


def test_a_weekly_booking_over_four_weeks_books_four_occurrences(
    county_teacher, term_lab, day, plain_calendar
):
    client = web(county_teacher)
    response = book(client, day, term_lab, purpose="力学实验", repeat_until=week(day, 3).isoformat())
    assert response.status_code == 302
    assert response["Location"] == "/bookings/"
    series = Series.objects.get()
    assert (series.resource, series.booked_by, series.school) == (
        term_lab,
        county_teacher,
        county_teacher.school,
    )
    assert (series.mode, series.periods, series.class_size, series.purpose) == (
        "skip_conflicts", "5-6", 30, "力学实验",
    )  # fmt: skip
    assert series.rrule.startswith("FREQ=WEEKLY;UNTIL=")
    bookings = list(Booking.objects.order_by("start"))
    assert [(b.start, b.end) for b in bookings] == [
        (local(week(day, n), 13, 30), local(week(day, n), 15, 10)) for n in range(4)
    ]  # the last day itself is included
    assert all(b.series_id == series.pk and b.status == "approved" and b.periods == "5-6" for b in bookings)
    assert sorted(BookingEvent.objects.values_list("booking_id", "to_status")) == sorted(
        (b.pk, "approved") for b in bookings
    )
    page = client.get("/bookings/")
    assert messages_of(page, "success") == [
        f"Weekly booking of {term_lab.name}, 13:30 to 15:10: 4 booked, confirmed; 0 not booked."
    ]
    assert messages_of(page, "not-booked") == []
    assert len(rows(page)) == 4


def test_a_duration_row_repeats_from_the_chosen_start(county_teacher, term_lab, day, plain_calendar):
    start = local(day, 9, 15)
    response = web(county_teacher).post(
        "/book/",
        {
            "resource": term_lab.pk,
            "start": start.isoformat(),
            "duration": 90,
            "class_size": 25,
            "repeat_until": week(day, 1).isoformat(),
        },
    )
    assert response.status_code == 302
    assert [(b.start, b.end, b.periods) for b in Booking.objects.order_by("start")] == [
        (s, s + dt.timedelta(minutes=90), "") for s in (start, local(week(day, 1), 9, 15))
    ]
    assert Series.objects.get().periods == ""


def test_a_taken_week_is_skipped_and_reported(county_teacher, term_lab, day, plain_calendar):
    other = booking_at(UserFactory(school=SchoolFactory()), term_lab, local(week(day, 1), 14), minutes=30)
    client = web(county_teacher)
    response = book(client, day, term_lab, repeat_until=week(day, 3).isoformat(), follow=True)
    assert response.status_code == 200
    series = Series.objects.get()
    booked = Booking.objects.filter(series=series).order_by("start")
    assert [b.start.date() for b in booked] == [week(day, n) for n in (0, 2, 3)]
    assert Booking.objects.get(start__date=week(day, 1)) == other
    assert messages_of(response, "success") == [
        f"Weekly booking of {term_lab.name}, 13:30 to 15:10: 3 booked, confirmed; 1 not booked."
    ]
    [skipped] = messages_of(response, "not-booked")
    assert skipped.startswith(f"Not booked: {week(day, 1).isoformat()} {week(day, 1):%A}, 13:30 to 15:10.")
    assert skipped.endswith("That time is already taken for this resource.")
    assert messages_of(client.get("/bookings/"), "not-booked") == []  # told once


def test_a_holiday_and_a_closure_are_skipped_with_their_reason(county_teacher, term_lab, day, plain_calendar):
    holiday = week(day, 1)
    OfficialDay.objects.create(
        year=plain_calendar[holiday.year], date=holiday, kind="holiday", name="测试假日"
    )
    closed = week(day, 2)
    Closure.objects.create(
        scope="city", kind="holiday", start_date=closed, end_date=closed, reason="全市停课"
    )
    response = book(web(county_teacher), day, term_lab, repeat_until=week(day, 3).isoformat(), follow=True)
    assert response.status_code == 200
    assert [b.start.date() for b in Booking.objects.order_by("start")] == [week(day, 0), week(day, 3)]
    assert messages_of(response, "success") == [
        f"Weekly booking of {term_lab.name}, 13:30 to 15:10: 2 booked, confirmed; 2 not booked."
    ]
    first, second = messages_of(response, "not-booked")
    assert first.startswith(f"Not booked: {holiday.isoformat()}")
    assert f"{holiday.isoformat()} is a public holiday (测试假日)." in first
    assert second.startswith(f"Not booked: {closed.isoformat()}")
    assert "全市停课" in second


def test_a_resource_needing_approval_says_pending(county_teacher, urban_school, day, plain_calendar):
    lab = ResourceFactory(school=urban_school, shared=True, requires_approval=True, max_advance_days=366)
    response = book(web(county_teacher), day, lab, repeat_until=week(day, 1).isoformat(), follow=True)
    assert set(Booking.objects.values_list("status", flat=True)) == {"pending"}
    assert "2 requested, pending approval" in messages_of(response, "success")[0]


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (0, "Repeat until a date after the first one"),
        (-7, "Repeat until a date after the first one"),
        (7 * 100, "A series has at most 100 occurrences."),  # 101 Tuesdays
        ("2101-01-01", "Give a date between"),
        ("next term", "Enter a valid date."),
        ("x" * 100_000, "Enter a valid date."),
    ],
)
def test_a_bad_last_date_is_a_400_naming_the_field(
    until, message, county_teacher, term_lab, day, plain_calendar
):
    if isinstance(until, int):
        until = (day + dt.timedelta(days=until)).isoformat()
    response = book(web(county_teacher), day, term_lab, repeat_until=until)
    assert response.status_code == 400
    [error] = book_errors(response)
    assert error.startswith("Repeat weekly until: ")
    assert message in error
    assert 'id="search-form"' in response.content.decode()
    nothing_written()
    assert BookingEvent.objects.count() == 0


def test_no_occurrence_possible_is_a_409_with_every_reason(county_teacher, term_lab, day, plain_calendar):
    other = UserFactory(school=SchoolFactory())
    booking_at(other, term_lab, local(day, 13, 30), minutes=100)
    Closure.objects.create(scope="resource", resource=term_lab, kind="blackout", start_date=week(day, 1),
                           end_date=week(day, 1), reason="设备检修")  # fmt: skip
    response = book(web(county_teacher), day, term_lab, repeat_until=week(day, 1).isoformat())
    assert response.status_code == 409
    errors = book_errors(response)
    assert errors[0] == "No occurrence was booked."
    assert errors[1].startswith(f"Not booked: {day.isoformat()}")
    assert errors[1].endswith("That time is already taken for this resource.")
    assert errors[2].startswith(f"Not booked: {week(day, 1).isoformat()}")
    assert "设备检修" in errors[2]
    assert 'id="no-results"' in response.content.decode()  # the search again: nothing else is free
    nothing_written()
    assert Booking.objects.count() == 1
    assert BookingEvent.objects.count() == 0


def test_a_weekly_booking_needs_the_csrf_token(county_teacher, term_lab, day, plain_calendar):
    client = web(county_teacher, enforce_csrf_checks=True)
    response = book(client, day, term_lab, repeat_until=week(day, 2).isoformat())
    assert response.status_code == 403
    nothing_written()
    assert Booking.objects.count() == 0


def test_a_weekly_booking_is_one_write_of_the_users_limit(
    low_limits, county_teacher, term_lab, day, plain_calendar
):
    forget_limits(county_teacher)
    client = web(county_teacher)
    assert book(client, day, term_lab, repeat_until=week(day, 3).isoformat()).status_code == 302
    assert (
        book(client, day, term_lab, periods="1-2", repeat_until=week(day, 3).isoformat()).status_code == 302
    )
    refused = book(client, day, term_lab, periods="3-4", repeat_until=week(day, 3).isoformat())
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert Series.objects.count() == 2
    assert Booking.objects.count() == 8
    forget_limits(county_teacher)


def test_the_weekly_messages_are_in_chinese(county_teacher, term_lab, day, plain_calendar, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    booking_at(UserFactory(school=SchoolFactory()), term_lab, local(week(day, 1), 14), minutes=30)
    client = web(county_teacher)
    page = client.get("/book/", search(day), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "每周重复至" in page
    response = book(
        client,
        day,
        term_lab,
        repeat_until=week(day, 1).isoformat(),
        follow=True,
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    [success] = messages_of(response, "success")
    assert "已预约 1 次" in success
    assert "1 次未预约" in success
    [skipped] = messages_of(response, "not-booked")
    assert skipped.startswith("未预约")
    assert "Not booked" not in skipped


# --- the database refuses, or the world moves, under a request --------------------------------
# The forms bound every field to its column (a too long purpose or reason is the form's 400, above),
# but between the page's checks and the service's write the data may change, and the database has
# guards of its own. None of that may be a 500: the page says what happened, with an honest
# status, and nothing of the request is written (every service writes in one transaction).

CONFLICT = "The request conflicts with the current state of the data."
BUSY = "The booking system is busy; please try again in a moment."


@contextlib.contextmanager
def between(after: str, before: str, change):
    """Make `change` in the database once, after the first statement whose SQL holds `after` and
    just before the next one holding `before`: what another request could do at that moment. By
    Django's own hook for the statements of this connection (execute_wrapper); nothing of the
    code under test is replaced."""
    state = {"after": False, "done": False}

    def wrapper(execute, sql, params, many, context):
        if state["after"] and not state["done"] and before in sql:
            state["done"] = True
            change()
        result = execute(sql, params, many, context)
        state["after"] = state["after"] or after in sql
        return result

    with connection.execute_wrapper(wrapper):
        yield
    assert state["done"], f"no statement on {before} after one on {after}"


def after_the_page_found_the_resource(change):
    # The page looks the resource up, then reads the class periods (time_request), then the
    # service reads and locks the resource: the change lands between the page's check and the write.
    return between(Resource._meta.db_table, ClassPeriod._meta.db_table, change)


@contextlib.contextmanager
def database_guard(model, column: str, refused: str):
    """A rule only the database knows: a CHECK constraint on PostgreSQL (SQLSTATE 23514), on
    SQLite a trigger aborting with a constraint error. Gone with the test's transaction."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "test_guard" CHECK ("{column}" <> \'{refused}\') NOT VALID'
            )
        else:
            cursor.execute(
                f'CREATE TRIGGER "test_guard" BEFORE INSERT ON "{table}" WHEN NEW."{column}" = \'{refused}\' '
                "BEGIN SELECT RAISE(ABORT, 'test guard'); END"
            )
    yield


def nothing_booked():
    assert Booking.objects.count() == 0
    assert Series.objects.count() == 0
    assert BookingEvent.objects.count() == 0
    assert Notification.objects.count() == 0


WEEKLY = pytest.mark.parametrize("weekly", [False, True], ids=["once", "weekly"])


def repeat(day, weekly: bool) -> dict:
    return {"repeat_until": week(day, 3).isoformat()} if weekly else {}


@WEEKLY
def test_a_resource_deleted_after_the_page_found_it_is_a_400_and_nothing_written(
    weekly, county_teacher, term_lab, day, plain_calendar
):
    """Deleted (by its school's admin) after the page found it, before the service read it: the
    answer a moment later would have been, not a 500."""
    with after_the_page_found_the_resource(lambda: Resource.objects.filter(pk=term_lab.pk).delete()):
        response = book(web(county_teacher), day, term_lab, **repeat(day, weekly))
    assert response.status_code == 400
    assert book_errors(response) == ["That resource was not found."]
    assert 'id="search-form"' in response.content.decode()
    assert not Resource.objects.filter(pk=term_lab.pk).exists()
    nothing_booked()


def test_a_resource_retired_after_the_page_found_it_is_a_400_with_the_rule(county_teacher, lab, day):
    with after_the_page_found_the_resource(
        lambda: Resource.objects.filter(pk=lab.pk).update(status="retired")
    ):
        response = book(web(county_teacher), day, lab)
    assert response.status_code == 400
    assert book_errors(response) == ["This resource is no longer in use."]
    nothing_booked()


@WEEKLY
def test_a_database_guard_the_services_do_not_check_is_a_409_and_nothing_written(
    weekly, county_teacher, term_lab, day, plain_calendar
):
    """An integrity error other than the overlap constraint (here a check constraint, 23514 on
    PostgreSQL): the API's 409 `conflict`, on the page; a weekly booking is rolled back whole."""
    with database_guard(Booking, "purpose", "guarded"):
        response = book(web(county_teacher), day, term_lab, purpose="guarded", **repeat(day, weekly))
    assert response.status_code == 409
    assert book_errors(response) == [CONFLICT, "Nothing was booked."]
    assert 'id="search-form"' in response.content.decode()
    nothing_booked()


@WEEKLY
@pytest.mark.django_db(transaction=True)  # a foreign key is checked when the transaction commits
def test_the_account_deleted_while_booking_is_a_409_and_nothing_written(
    weekly, county_teacher, term_lab, day, plain_calendar
):
    """The teacher's account deleted (committed) while their booking is being written: the
    booking's foreign key fails at COMMIT (23503 on PostgreSQL) and the transaction rolls back; a
    weekly booking meets the missing row already when it reads its first booking back."""
    client = web(county_teacher)
    with after_the_page_found_the_resource(lambda: User.objects.filter(pk=county_teacher.pk).delete()):
        response = book(client, day, term_lab, **repeat(day, weekly))
    assert response.status_code == 409
    assert book_errors(response) == [CONFLICT, "Nothing was booked."]
    assert not User.objects.filter(pk=county_teacher.pk).exists()
    nothing_booked()


@pytest.mark.postgres  # statement_timeout is PostgreSQL's
@pytest.mark.django_db(transaction=True)  # another connection holds the resource's row
def test_a_booking_that_waits_past_the_statement_timeout_is_a_503_to_try_again(county_teacher, lab, day):
    """Another transaction holds the resource's row longer than the statement timeout allows:
    the API's 503 busy (nothing was decided; try again), with Retry-After."""
    import psycopg

    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"], dbname=db["NAME"]
    )
    try:
        other.execute(f'SELECT 1 FROM "{Resource._meta.db_table}" WHERE id = %s FOR UPDATE', [lab.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 300")
        try:
            response = book(web(county_teacher), day, lab)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET statement_timeout")
    finally:
        other.rollback()
        other.close()
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert book_errors(response) == [BUSY, "Nothing was booked."]
    nothing_booked()
    assert book(web(county_teacher), day, lab).status_code == 302  # and when it is free again


@pytest.mark.postgres  # statement_timeout is PostgreSQL's
def test_a_search_past_its_statement_timeout_is_a_503_to_try_again(county_teacher, day, settings):
    for _i in range(60):
        ResourceFactory(shared=True, max_advance_days=60)
    query = search(day, periods=None, duration=45, date_to=(day + dt.timedelta(days=20)).isoformat())
    settings.SEARCH_STATEMENT_TIMEOUT_MS = 1
    response = web(county_teacher).get("/book/", query)
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    page = response.content.decode()
    assert f'<p class="error" role="alert" id="search-error">{BUSY}</p>' in page
    assert 'id="search-form"' in page  # the search is still filled in, to send again
    assert 'id="results"' not in page
    settings.SEARCH_STATEMENT_TIMEOUT_MS = 20_000
    assert web(county_teacher).get("/book/", query).status_code == 200


def test_a_database_guard_refusing_a_cancellation_is_a_409_and_changes_nothing(county_teacher, lab, day):
    booking = booking_at(county_teacher, lab, local(day, 9))
    with database_guard(BookingEvent, "reason", "guarded"):
        response = web(county_teacher).post(f"/bookings/{booking.pk}/cancel/", {"reason": "guarded"})
    assert response.status_code == 409
    page = html.unescape(response.content.decode())
    assert f'id="cancel-error">{CONFLICT} Nothing was changed.</p>' in page
    booking.refresh_from_db()
    assert booking.status == "approved"
    assert not BookingEvent.objects.exists()


def test_a_database_guard_refusing_a_check_in_is_a_409_and_changes_nothing(county_teacher, lab):
    booking = booking_at(county_teacher, lab, timezone.now() + dt.timedelta(minutes=10))
    with database_guard(BookingEvent, "to_status", "checked_in"):
        response = web(county_teacher).post(check_in_path(booking))
    assert response.status_code == 409
    page = html.unescape(response.content.decode())
    assert f'id="check-in-error">{CONFLICT} Nothing was changed.</p>' in page
    booking.refresh_from_db()
    assert (booking.status, booking.checked_in_at) == ("approved", None)
    assert not BookingEvent.objects.exists()


def test_what_the_database_refused_is_said_in_chinese(county_teacher, lab, day, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    with database_guard(Booking, "purpose", "guarded"):
        response = book(web(county_teacher), day, lab, purpose="guarded", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 409
    assert book_errors(response) == ["请求与数据的当前状态冲突。", "未进行任何预约。"]
    nothing_booked()
