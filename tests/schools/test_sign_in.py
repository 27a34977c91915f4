"""The sign-in page of the web pages: every role signs in; guessing is limited like the API's."""

import uuid

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def _fresh_limits(settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "5/min"},
    }
    before = SimpleRateThrottle.THROTTLE_RATES  # DRF binds the rates at import
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    yield
    SimpleRateThrottle.THROTTLE_RATES = before


RUN = uuid.uuid4().hex[:8]  # the limits live in the shared cache for a minute: names of this run only


def name(base: str) -> str:
    return f"{base}-{RUN}"


def address(n: int) -> str:
    return f"10.{int(RUN[:2], 16)}.{int(RUN[2:4], 16)}.{n}"


def sign_in(client, username, password, where=1):
    data = {"username": username, "password": password}
    return client.post("/accounts/login/", data, REMOTE_ADDR=address(where))


def test_a_teacher_who_is_not_staff_signs_in_and_lands_on_the_home_page(county_school):
    UserFactory(role="teacher", school=county_school, username=name("zhang"))
    response = sign_in(Client(), name("zhang"), PASSWORD, where=2)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_guessing_one_password_from_many_addresses_stops_at_the_rate(county_school):
    UserFactory(role="teacher", school=county_school, username=name("wang"))
    for i in range(5):
        assert sign_in(Client(), name("wang"), f"guess{i}", where=10 + i).status_code == 200
    blocked = sign_in(Client(), name("WANG") + " ", PASSWORD, where=20)  # even the right one, any spelling
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) >= 1
    assert "Too many sign-in attempts" in blocked.content.decode()
    assert "_auth_user_id" not in blocked.wsgi_request.session
    # Someone else is not locked out by it.
    UserFactory(role="teacher", school=county_school, username=name("li"))
    assert sign_in(Client(), name("li"), PASSWORD, where=21).status_code == 302


def test_one_address_trying_many_usernames_stops_at_the_rate(county_school):
    for i in range(5):
        assert sign_in(Client(), name(f"nobody{i}"), "x", where=30).status_code == 200
    assert sign_in(Client(), name("nobody9"), "x", where=30).status_code == 429
    assert sign_in(Client(), name("nobody9"), "x", where=31).status_code == 200


def test_a_signed_in_page_link_comes_back_after_sign_in(county_school):
    UserFactory(role="teacher", school=county_school, username=name("zhao"))
    client = Client()
    response = client.post(
        "/accounts/login/",
        {"username": name("zhao"), "password": PASSWORD, "next": "//evil.example/x"},
        REMOTE_ADDR=address(40),
    )
    assert response.status_code == 302
    assert response["Location"] == "/"  # never off the site
