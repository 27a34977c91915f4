"""The booking pass and the check-in page its QR code opens (web pages, session), and the pass's
links and QR image in the API."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from booking import checkin
from booking.models import Booking, BookingEvent
from tests.conftest import client_for
from tests.factories import ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True, capacity=40, name="物理实验室")


def booking_at(teacher, lab, start, minutes=45, status="approved", code="A1B2C3"):
    return Booking.objects.create(
        resource=lab, school=teacher.school, booked_by=teacher, start=start,
        end=start + dt.timedelta(minutes=minutes), block_start=start, block_end=start + dt.timedelta(minutes=minutes),
        class_size=30, status=status, is_external=teacher.school_id != lab.school_id, check_in_code=code,
    )  # fmt: skip


@pytest.fixture
def soon(county_teacher, lab):
    """A booking starting in ten minutes: inside the check-in window."""
    return booking_at(county_teacher, lab, timezone.now() + dt.timedelta(minutes=10))


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def link(booking, token=None) -> str:
    return f"/check-in/{booking.pk}/{token or checkin.check_in_token(booking)}/"


# --- the pass ------------------------------------------------------------------------------


def test_the_booker_sees_the_pass_with_code_qr_and_link(county_teacher, soon):
    response = web(county_teacher).get(f"/bookings/{soon.pk}/pass/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "A1B2C3" in page
    assert "<svg" in page
    assert "qrline" in page
    assert f"http://testserver{link(soon)}" in page
    assert "物理实验室" in page


@pytest.mark.parametrize("who", ["colleague", "urban_admin", "centre_admin"])
def test_only_the_booker_sees_the_pass(who, county_teacher, county_school, urban_admin, centre_admin, soon):
    users = {
        "colleague": UserFactory(role="teacher", school=county_school),
        "urban_admin": urban_admin,
        "centre_admin": centre_admin,
    }
    assert web(users[who]).get(f"/bookings/{soon.pk}/pass/").status_code == 404


def test_pages_send_a_visitor_to_sign_in_first(soon):
    response = Client().get(link(soon))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_a_teacher_signs_in_on_the_sign_in_page_and_lands_on_the_link(county_school, lab):
    teacher = UserFactory(role="teacher", school=county_school, username="wang")  # not staff
    booking = booking_at(teacher, lab, timezone.now() + dt.timedelta(minutes=10))
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    wrong = client.post("/accounts/login/", {"username": "wang", "password": "nope", "next": link(booking)})
    assert wrong.status_code == 200
    assert "didn" in wrong.content.decode()
    response = client.post(
        "/accounts/login/", {"username": "wang", "password": PASSWORD, "next": link(booking)}
    )
    assert response.status_code == 302
    assert response["Location"] == link(booking)


# --- the check-in page ----------------------------------------------------------------------


def test_the_owner_school_confirms_arrival_once(urban_admin, soon):
    client = web(urban_admin)
    page = client.get(link(soon))
    assert page.status_code == 200
    assert 'id="confirm-arrival"' in page.content.decode()
    response = client.post(link(soon))
    assert response.status_code == 302
    assert response["Location"] == link(soon)
    soon.refresh_from_db()
    assert soon.status == "checked_in"
    assert soon.checked_in_at is not None
    event = BookingEvent.objects.get(booking=soon, to_status="checked_in")
    assert event.actor == urban_admin
    after = client.get(link(soon)).content.decode()
    assert "Arrival confirmed." in after
    assert 'id="checked-in"' in after
    assert 'id="confirm-arrival"' not in after
    # A second confirmation (a reload, a second scan) changes nothing and says why.
    again = client.post(link(soon))
    assert again.status_code == 409
    assert BookingEvent.objects.filter(booking=soon, to_status="checked_in").count() == 1


def test_the_booker_may_check_in_on_the_same_page(county_teacher, soon):
    response = web(county_teacher).post(link(soon))
    assert response.status_code == 302
    soon.refresh_from_db()
    assert soon.status == "checked_in"


def test_a_link_with_another_token_finds_nothing(urban_admin, soon):
    client = web(urban_admin)
    assert client.get(link(soon, token="f" * 20)).status_code == 404
    assert client.post(link(soon, token="f" * 20)).status_code == 404
    # The spoken code is not the link's secret: a link made of it is no link of ours.
    assert client.get(f"/check-in/{soon.pk}/{soon.check_in_code}/").status_code == 404
    assert client.get(f"/check-in/{soon.pk}/not-a-token/").status_code == 404
    # Another booking's token does not open this one.
    other = booking_at(soon.booked_by, soon.resource, soon.start + dt.timedelta(hours=2), code="D4E5F6")
    assert client.get(f"/check-in/{soon.pk}/{checkin.check_in_token(other)}/").status_code == 404
    # Ids beyond any number the database or Python takes are not found either, never a 500.
    for pk in ("999999", "9223372036854775808", "9" * 5000):
        assert client.get(f"/check-in/{pk}/{checkin.check_in_token(soon)}/").status_code == 404
    soon.refresh_from_db()
    assert soon.status == "approved"


def test_the_token_in_the_link_is_read_in_either_case(urban_admin, soon):
    assert web(urban_admin).get(link(soon, token=checkin.check_in_token(soon).upper())).status_code == 200


def test_the_pages_are_not_kept_in_caches(county_teacher, urban_admin, soon):
    for client, url in ((web(county_teacher), f"/bookings/{soon.pk}/pass/"), (web(urban_admin), link(soon))):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert client.head(url).status_code == 200
    assert web(county_teacher).post(f"/bookings/{soon.pk}/pass/").status_code == 405


def test_the_pass_follows_the_users_role_now(county_teacher, soon):
    county_teacher.role = "analyst"  # analysts read aggregates only, never bookings
    county_teacher.save()
    assert web(county_teacher).get(f"/bookings/{soon.pk}/pass/").status_code == 404


def test_another_school_finds_nothing_even_with_the_right_code(soon):
    stranger = UserFactory(role="school_admin", school=SchoolFactory())
    assert web(stranger).get(link(soon)).status_code == 404
    assert web(stranger).post(link(soon)).status_code == 404
    soon.refresh_from_db()
    assert soon.status == "approved"


def test_the_booking_schools_admin_sees_it_but_cannot_confirm(county_admin, soon):
    # The requesting school's admin sees its bookings (as in the API), but arrival is confirmed by
    # the resource's school or the teacher.
    client = web(county_admin)
    page = client.get(link(soon))
    assert page.status_code == 200
    assert 'id="confirm-arrival"' not in page.content.decode()
    response = client.post(link(soon))
    assert response.status_code == 403
    soon.refresh_from_db()
    assert soon.status == "approved"


def test_too_early_says_when_check_in_opens_and_changes_nothing(county_teacher, urban_admin, lab):
    later = booking_at(county_teacher, lab, timezone.now() + dt.timedelta(hours=3))
    client = web(urban_admin)
    page = client.get(link(later)).content.decode()
    assert 'id="confirm-arrival"' not in page
    assert "Check-in opens 30 minutes before the start." in page
    response = client.post(link(later))
    assert response.status_code == 409
    assert "Check-in opens 30 minutes before the start." in response.content.decode()
    later.refresh_from_db()
    assert later.status == "approved"


def test_a_cancelled_booking_cannot_be_checked_in(county_teacher, urban_admin, lab):
    gone = booking_at(county_teacher, lab, timezone.now() + dt.timedelta(minutes=10), status="cancelled")
    response = web(urban_admin).post(link(gone))
    assert response.status_code == 409
    gone.refresh_from_db()
    assert gone.status == "cancelled"


def test_the_page_speaks_chinese_by_default(urban_admin, soon, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client = web(urban_admin)
    page = client.get(link(soon), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "确认到达" in page
    assert "Confirm arrival" not in page


def test_the_pages_need_a_csrf_token(urban_admin, soon):
    client = Client(enforce_csrf_checks=True)
    client.force_login(urban_admin)
    assert client.post(link(soon)).status_code == 403
    soon.refresh_from_db()
    assert soon.status == "approved"


# --- the API's links and image ----------------------------------------------------------------


def test_the_api_gives_the_booker_the_links_and_no_one_else(county_teacher, urban_admin, soon):
    mine = client_for(county_teacher).get(f"/api/v1/bookings/{soon.pk}/").json()
    assert mine["check_in_url"] == f"http://testserver{link(soon)}"
    assert mine["pass_url"] == f"http://testserver/bookings/{soon.pk}/pass/"
    theirs = client_for(urban_admin).get(f"/api/v1/bookings/{soon.pk}/").json()
    assert theirs["check_in_url"] is None
    assert theirs["pass_url"] is None
    assert theirs["check_in_code"] is None


def test_the_qr_image_holds_the_check_in_link(county_teacher, soon):
    response = client_for(county_teacher).get(f"/api/v1/bookings/{soon.pk}/check-in-qr/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert body.startswith("<?xml")
    assert 'xmlns="http://www.w3.org/2000/svg"' in body
    assert re.search(r"<path[^>]+d=", body)
    assert response.content == checkin.check_in_qr_svg_file(f"http://testserver{link(soon)}")
    # Asked for as an image explicitly, it is still one.
    explicit = client_for(county_teacher).get(
        f"/api/v1/bookings/{soon.pk}/check-in-qr/", HTTP_ACCEPT="image/svg+xml"
    )
    assert explicit.status_code == 200
    assert explicit.content == response.content


def test_the_qr_image_is_the_bookers_only(county_teacher, county_school, urban_admin, soon, api):
    colleague = UserFactory(role="teacher", school=county_school)
    assert client_for(colleague).get(f"/api/v1/bookings/{soon.pk}/check-in-qr/").status_code == 404
    assert client_for(urban_admin).get(f"/api/v1/bookings/{soon.pk}/check-in-qr/").status_code == 404
    assert api.get(f"/api/v1/bookings/{soon.pk}/check-in-qr/").status_code == 401
    missing = client_for(county_teacher).get("/api/v1/bookings/999999/check-in-qr/")
    assert missing.status_code == 404


@pytest.mark.parametrize("prefix", ["/", "/edushare/"])
def test_the_links_are_the_url_patterns_under_any_script_prefix(prefix, soon):
    from django.urls import reverse, set_script_prefix

    try:
        set_script_prefix(prefix)
        assert checkin.check_in_path(soon) == reverse(
            "booking-check-in-page", args=[soon.pk, checkin.check_in_token(soon)]
        )
        assert checkin.pass_path(soon) == reverse("booking-pass", args=[soon.pk])
        assert checkin.pass_path(soon).startswith(prefix)
    finally:
        set_script_prefix("/")


def test_the_qr_images_errors_are_json_like_every_other_endpoint(urban_admin, soon):
    response = client_for(urban_admin).get(f"/api/v1/bookings/{soon.pk}/check-in-qr/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"
