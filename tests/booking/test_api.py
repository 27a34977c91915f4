"""The booking API: create by time or periods, transitions, visibility, bad input, idempotency."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from booking import services
from booking.models import Booking, Closure
from equipment.models import Resource
from tests.booking.conftest import SH, local, next_workday
from tests.conftest import client_for
from tests.factories import ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True, capacity=40)


@pytest.fixture
def private_lab(urban_school):
    return ResourceFactory(school=urban_school, shared=False, capacity=40, name="私有")


def payload(lab, day, h0=9, h1=10, **extra):
    return {
        "resource": lab.id,
        "start": local(day, h0).isoformat(),
        "end": local(day, h1).isoformat(),
        "class_size": 30,
        "purpose": "物理实验",
        **extra,
    }


def test_create_by_time_shows_local_times(county_teacher, lab, day):
    response = client_for(county_teacher).post("/api/v1/bookings/", payload(lab, day))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["start"] == f"{day.isoformat()}T09:00:00+08:00"
    assert body["status"] == "approved"
    assert body["school"] == county_teacher.school_id
    assert body["check_in_code"]
    assert body["series"] is None


def test_create_by_periods_shows_both(county_teacher, lab, day):
    response = client_for(county_teacher).post(
        "/api/v1/bookings/", {"resource": lab.id, "date": day.isoformat(), "periods": "5-6", "class_size": 30}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["periods"] == "5-6"
    assert body["date"] == day.isoformat()
    assert body["start"].endswith("T13:30:00+08:00")
    assert body["end"].endswith("T15:10:00+08:00")


def test_naive_datetimes_are_read_in_shanghai_and_offsets_are_honoured(county_teacher, lab, day):
    client = client_for(county_teacher)
    naive = {**payload(lab, day), "start": f"{day}T09:00:00", "end": f"{day}T10:00:00"}
    assert client.post("/api/v1/bookings/", naive).json()["start"] == f"{day}T09:00:00+08:00"
    # 03:00 UTC is 11:00 in Harbin.
    utc = {**payload(lab, day), "start": f"{day}T03:00:00Z", "end": f"{day}T03:45:00+00:00"}
    body = client.post("/api/v1/bookings/", utc).json()
    assert body["start"] == f"{day}T11:00:00+08:00"
    assert body["end"] == f"{day}T11:45:00+08:00"


def test_a_lost_race_is_409_conflict(county_teacher, urban_teacher, lab, day):
    assert client_for(county_teacher).post("/api/v1/bookings/", payload(lab, day)).status_code == 201
    response = client_for(urban_teacher).post("/api/v1/bookings/", payload(lab, day, 9, 11))
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_rejections_carry_a_code_and_a_message_in_the_callers_language(county_teacher, lab, day):
    client = client_for(county_teacher)
    en = client.post("/api/v1/bookings/", payload(lab, day, 6, 7), HTTP_ACCEPT_LANGUAGE="en").json()
    assert en["code"] == "outside_opening_hours"
    assert "Outside opening hours" in en["detail"]
    zh = client.post("/api/v1/bookings/", payload(lab, day, 6, 7), HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    assert zh["code"] == "outside_opening_hours"
    assert zh["detail"] != en["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "2026-13-45T09:00"}, "start"),
        ({"end": "not a time"}, "end"),
        ({"class_size": 0}, "class_size"),
        ({"class_size": 10**9}, "class_size"),
        ({"class_size": "thirty"}, "class_size"),
        ({"resource": 999999}, "resource"),
        ({"resource": "abc"}, "resource"),
        ({"purpose": "x" * 100_000}, "purpose"),
        ({"periods": "5-6"}, "non_field_errors"),
    ],
)
def test_bad_payloads_are_400_naming_the_field(county_teacher, lab, day, change, field):
    response = client_for(county_teacher).post("/api/v1/bookings/", {**payload(lab, day), **change})
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Booking.objects.count() == 0


@pytest.mark.parametrize(("h0", "h1", "code"), [(10, 9, "invalid_range"), (10, 10, "invalid_range")])
def test_end_before_or_equal_start(county_teacher, lab, day, h0, h1, code):
    response = client_for(county_teacher).post("/api/v1/bookings/", payload(lab, day, h0, h1))
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_far_future_and_past(county_teacher, lab):
    client = client_for(county_teacher)
    far = {
        **payload(lab, next_workday()),
        "start": "2099-01-05T09:00:00+08:00",
        "end": "2099-01-05T10:00:00+08:00",
    }
    assert client.post("/api/v1/bookings/", far).json()["code"] == "too_far_ahead"
    past = {
        **payload(lab, next_workday()),
        "start": "2001-01-05T09:00:00+08:00",
        "end": "2001-01-05T10:00:00+08:00",
    }
    assert client.post("/api/v1/bookings/", past).json()["code"] == "in_past"
    assert Booking.objects.count() == 0


@pytest.mark.parametrize("periods", ["9-10", "0-2", "6-5", "abc", "x" * 100_000])
def test_periods_the_school_does_not_have(county_teacher, lab, day, periods):
    response = client_for(county_teacher).post(
        "/api/v1/bookings/",
        {"resource": lab.id, "date": day.isoformat(), "periods": periods, "class_size": 30},
    )
    assert response.status_code == 400
    assert "periods" in response.json()


def test_another_schools_private_resource_is_not_found(county_teacher, private_lab, day):
    response = client_for(county_teacher).post("/api/v1/bookings/", payload(private_lab, day))
    assert response.status_code == 400
    assert "resource" in response.json()


@pytest.mark.parametrize("role", ["analyst", "centre_admin"])
def test_roles_that_do_not_book(role, lab, day):
    user = UserFactory(role=role, school=None)
    response = client_for(user).post("/api/v1/bookings/", payload(lab, day))
    assert response.status_code == 403


def test_analysts_never_see_bookings(analyst):
    assert client_for(analyst).get("/api/v1/bookings/").status_code == 403


def test_visibility_of_bookings(county_teacher, urban_teacher, urban_admin, county_school, lab, day):
    client_for(county_teacher).post("/api/v1/bookings/", payload(lab, day))
    booking = Booking.objects.get()
    colleague = UserFactory(role="teacher", school=county_school)
    stranger = UserFactory(role="teacher", school=SchoolFactory())
    assert client_for(colleague).get(f"/api/v1/bookings/{booking.id}/").status_code == 200
    assert client_for(colleague).get(f"/api/v1/bookings/{booking.id}/").json()["check_in_code"] is None
    assert client_for(urban_admin).get(f"/api/v1/bookings/{booking.id}/").status_code == 200  # their resource
    assert client_for(urban_teacher).get(f"/api/v1/bookings/{booking.id}/").status_code == 404
    assert client_for(stranger).get(f"/api/v1/bookings/{booking.id}/").status_code == 404
    assert client_for(stranger).get("/api/v1/bookings/").json()["count"] == 0
    # ... but the stranger sees the slot as busy.
    free = (
        client_for(stranger)
        .get(
            f"/api/v1/resources/{lab.id}/availability/?start={local(day, 8).isoformat()}&end={local(day, 12).isoformat()}".replace(
                "+", "%2B"
            )
        )
        .json()["free"]
    )
    assert {"start": local(day, 8).isoformat(), "end": local(day, 9).isoformat()} in free
    assert all(
        not (f["start"] < local(day, 10).isoformat() and f["end"] > local(day, 9).isoformat()) for f in free
    )


def test_transitions_over_http(county_teacher, urban_admin, county_admin, lab, day):
    lab.requires_approval = True
    lab.save()
    booking_id = client_for(county_teacher).post("/api/v1/bookings/", payload(lab, day)).json()["id"]
    assert client_for(county_admin).post(f"/api/v1/bookings/{booking_id}/approve/").status_code == 403
    assert client_for(county_teacher).post(f"/api/v1/bookings/{booking_id}/approve/").status_code == 403
    ok = client_for(urban_admin).post(f"/api/v1/bookings/{booking_id}/approve/", {"reason": "同意"})
    assert ok.status_code == 200
    assert ok.json()["status"] == "approved"
    again = client_for(urban_admin).post(f"/api/v1/bookings/{booking_id}/reject/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    early = client_for(county_teacher).post(f"/api/v1/bookings/{booking_id}/check-in/")
    assert early.status_code == 400
    assert early.json()["code"] == "too_early"
    cancel = client_for(county_teacher).post(f"/api/v1/bookings/{booking_id}/cancel/", {"reason": "x" * 600})
    assert cancel.status_code == 400
    cancel = client_for(county_teacher).post(f"/api/v1/bookings/{booking_id}/cancel/", {"reason": "下雪停课"})
    assert cancel.status_code == 200
    assert client_for(county_teacher).post(f"/api/v1/bookings/{booking_id}/cancel/").status_code == 409
    assert client_for(county_teacher).post("/api/v1/bookings/999999/cancel/").status_code == 404
    assert client_for(county_teacher).get(f"/api/v1/bookings/{booking_id}/cancel/").status_code == 405


def test_idempotency_key(county_teacher, lab, day):
    client = client_for(county_teacher)
    first = client.post("/api/v1/bookings/", payload(lab, day), HTTP_IDEMPOTENCY_KEY="abc-1")
    second = client.post("/api/v1/bookings/", payload(lab, day), HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1
    reused = client.post("/api/v1/bookings/", payload(lab, day, 10, 11), HTTP_IDEMPOTENCY_KEY="abc-1")
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency_key_reused"
    # Keys are scoped to the caller.
    other = UserFactory(role="teacher", school=county_teacher.school)
    mine = client_for(other).post(
        "/api/v1/bookings/", payload(lab, day, 10, 11), HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    assert mine.status_code == 201
    too_long = client.post("/api/v1/bookings/", payload(lab, day, 11, 12), HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert too_long.status_code == 400


def test_booking_filters(county_teacher, lab, day):
    client = client_for(county_teacher)
    client.post("/api/v1/bookings/", payload(lab, day))
    after = local(day, 8).isoformat().replace("+", "%2B")
    assert client.get(f"/api/v1/bookings/?start_after={after}").json()["count"] == 1
    assert client.get(f"/api/v1/bookings/?start_before={after}").json()["count"] == 0
    assert client.get("/api/v1/bookings/?status=approved").json()["count"] == 1
    assert client.get("/api/v1/bookings/?status=weird").status_code == 400
    assert client.get("/api/v1/bookings/?start_after=2026-13-45").status_code == 400


# --- availability ---------------------------------------------------------------------------


def test_resource_availability_is_clipped_to_hours_and_notice(county_teacher, lab, day):
    body = (
        client_for(county_teacher)
        .get(
            f"/api/v1/resources/{lab.id}/availability/",
            {"start": local(day, 0).isoformat(), "end": local(day + dt.timedelta(days=1), 0).isoformat()},
        )
        .json()
    )
    assert body == {
        "resource": lab.id,
        "free": [{"start": local(day, 8).isoformat(), "end": local(day, 17).isoformat()}],
    }


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"start": "2026-12-01T08:00"},
        {"start": "2026-12-01T08:00", "end": "2026-11-01T08:00"},
        {"start": "2026-12-01T08:00", "end": "2027-12-01T08:00"},
        {"start": "garbage", "end": "2026-12-01T08:00"},
    ],
)
def test_resource_availability_bad_input(county_teacher, lab, query):
    assert (
        client_for(county_teacher).get(f"/api/v1/resources/{lab.id}/availability/", query).status_code == 400
    )


def test_city_search_orders_by_start_then_travel(county_teacher, county_school, day):
    near = SchoolFactory(district=county_school.district, latitude=county_school.latitude,
                         longitude=county_school.longitude)  # fmt: skip
    far = SchoolFactory(latitude=45.0, longitude=127.5)
    near_lab = ResourceFactory(school=near, subject="physics")
    far_lab = ResourceFactory(school=far, subject="physics")
    ResourceFactory(school=near, subject="chemistry")
    client = client_for(county_teacher)
    body = client.get(
        "/api/v1/availability/",
        {
            "subject": "physics",
            "date_from": day,
            "date_to": day,
            "duration": 90,
            "near_school": county_school.id,
        },
    ).json()
    rows = body["results"]
    assert [r["resource"] for r in rows] == [near_lab.id, far_lab.id]
    assert rows[0]["travel_minutes"] < rows[1]["travel_minutes"]
    bounded = client.get(
        "/api/v1/availability/",
        {
            "subject": "physics",
            "date_from": day,
            "date_to": day,
            "near_school": county_school.id,
            "max_travel_minutes": 30,
        },
    ).json()
    assert [r["resource"] for r in bounded["results"]] == [near_lab.id]
    by_periods = client.get(
        "/api/v1/availability/", {"subject": "physics", "date_from": day, "date_to": day, "periods": "5-6"}
    ).json()
    assert {r["start"][11:16] for r in by_periods["results"]} == {"13:30"}


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"date_from": "2026-12-01"},
        {"date_from": "2026-12-10", "date_to": "2026-12-01"},
        {"date_from": "2026-12-01", "date_to": "2027-03-01"},
        {"date_from": "2026-13-45", "date_to": "2026-12-01"},
        {"date_from": "2026-12-01", "date_to": "2026-12-02", "kind": "spaceship"},
        {"date_from": "2026-12-01", "date_to": "2026-12-02", "duration": "long"},
        {"date_from": "2026-12-01", "date_to": "2026-12-02", "duration": 45, "periods": "5-6"},
        {"date_from": "2026-12-01", "date_to": "2026-12-02", "periods": "9-1"},
        {"date_from": "2026-12-01", "date_to": "2026-12-02", "near_school": 999999},
        {"date_from": "2026-12-01", "date_to": "2026-12-02", "max_travel_minutes": 30},
    ],
)
def test_city_search_bad_input(county_teacher, query):
    assert client_for(county_teacher).get("/api/v1/availability/", query).status_code == 400


# --- closures -------------------------------------------------------------------------------


def test_closures_api_scopes(urban_admin, county_admin, centre_admin, lab, urban_school):
    d0, d1 = next_workday(), next_workday(min_days=5)
    city = {"scope": "city", "start_date": d0, "end_date": d1, "reason": "寒假", "kind": "term_break"}
    assert client_for(urban_admin).post("/api/v1/closures/", city).status_code == 403
    assert client_for(centre_admin).post("/api/v1/closures/", city).status_code == 201
    mine = {"scope": "resource", "resource": lab.id, "start_date": d0, "end_date": d0, "reason": "检修"}
    assert client_for(urban_admin).post("/api/v1/closures/", mine).status_code == 201
    assert client_for(county_admin).post("/api/v1/closures/", mine).status_code == 403
    theirs = {
        "scope": "school",
        "school": urban_school.id,
        "start_date": d0,
        "end_date": d0,
        "reason": "考试",
    }
    assert client_for(county_admin).post("/api/v1/closures/", theirs).status_code == 403
    bad = {"scope": "school", "start_date": d1, "end_date": d0, "reason": "x"}
    response = client_for(centre_admin).post("/api/v1/closures/", bad)
    assert response.status_code == 400
    assert Closure.objects.count() == 2
    listed = client_for(county_admin).get("/api/v1/closures/").json()
    assert {c["scope"] for c in listed["results"]} == {
        "city",
        "resource",
    }  # the shared lab's closure is visible
    closure_id = Closure.objects.get(scope="resource").id
    assert client_for(county_admin).delete(f"/api/v1/closures/{closure_id}/").status_code == 403
    assert client_for(urban_admin).delete(f"/api/v1/closures/{closure_id}/").status_code == 204


def test_throttle_answers_429(county_teacher, lab, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"booking_write": "2/min", "auth": "100/min"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    before = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        client = client_for(county_teacher)
        day = next_workday()
        statuses = [
            client.post("/api/v1/bookings/", payload(lab, day, 8 + i, 9 + i)).status_code for i in range(3)
        ]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = before
        cache.clear()
    assert statuses[-1] == 429


def test_time_zone_is_shanghai_for_a_dst_observing_client(county_teacher, lab, day):
    # A client in New York (UTC-5 in winter) sends its own offset: the booking lands at 09:00 in Harbin.
    start = dt.datetime.combine(day, dt.time(9), tzinfo=SH).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    response = client_for(county_teacher).post(
        "/api/v1/bookings/",
        {**payload(lab, day), "start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()},
    )
    assert response.json()["start"] == f"{day}T09:00:00+08:00"


# --- The booking POST's lean path (docs/benchmarks.md, booking over HTTP): the usual request is
# read without the serializer and without a visibility query; every answer must stay as it was.


def token_client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_another_schools_private_resource_gives_nothing_away(county_teacher, urban_teacher, private_lab, day):
    # The service refuses a private resource with every broken rule, and a taken slot with 409; the
    # API must answer exactly as for a resource that does not exist.
    assert client_for(urban_teacher).post("/api/v1/bookings/", payload(private_lab, day)).status_code == 201
    client = client_for(county_teacher)
    unknown = client.post("/api/v1/bookings/", {**payload(private_lab, day), "resource": 999999})
    for body in (
        payload(private_lab, day),  # taken
        payload(private_lab, day, 10, 9),  # reversed
        payload(private_lab, day, 6, 7),  # outside its hours
        {**payload(private_lab, day, 11, 12), "class_size": 41},  # over its capacity
    ):
        response = client.post("/api/v1/bookings/", body)
        assert response.status_code == 400, response.content
        assert response.json() == {"resource": [f'Invalid pk "{private_lab.pk}" - object does not exist.']}
    assert unknown.json() == {"resource": ['Invalid pk "999999" - object does not exist.']}
    assert Booking.objects.count() == 1


@pytest.mark.postgres
def test_another_schools_private_resource_leaves_no_trace_in_the_booking_ids(
    county_teacher, urban_school, private_lab, day
):
    # Found in review: the service drew a booking id (a sequence value, never given back) for a
    # private resource it then refused, but not for an unknown one, so the gap between the
    # caller's own next ids told the two apart. It must not even read (or lock) that resource.
    mine = ResourceFactory(school=county_teacher.school, shared=False, capacity=40)
    client = client_for(county_teacher)
    gaps = {}
    hour = 8
    for name, target in (("unknown", 999999), ("private", private_lab.pk)):
        before = client.post("/api/v1/bookings/", payload(mine, day, hour, hour + 1)).json()["id"]
        probe = client.post(
            "/api/v1/bookings/", {**payload(private_lab, day, hour, hour + 1), "resource": target}
        )
        assert probe.status_code == 400
        after = client.post("/api/v1/bookings/", payload(mine, day, hour + 1, hour + 2)).json()["id"]
        gaps[name] = after - before
        hour += 2
    assert gaps["private"] == gaps["unknown"]


def test_the_service_refuses_another_schools_private_resource_without_reading_it(
    county_teacher, private_lab, day
):
    with pytest.raises(ValidationError) as exc:
        services.booking_create(
            actor=county_teacher, resource=private_lab, start=local(day, 9), end=local(day, 10), class_size=20
        )
    assert [e.code for e in exc.value.error_list] == ["not_shared"]
    with pytest.raises(Resource.DoesNotExist):
        services.booking_create(
            actor=county_teacher,
            resource=Resource(pk=999999),
            start=local(day, 9),
            end=local(day, 10),
            class_size=20,
        )


def test_every_bad_field_is_named_together(county_teacher, lab, day):
    body = {**payload(lab, day), "resource": 999999, "class_size": 0, "end": "not a time"}
    response = client_for(county_teacher).post("/api/v1/bookings/", body)
    assert response.status_code == 400
    assert set(response.json()) == {"resource", "class_size", "end"}


def test_other_forms_of_the_request_still_book(county_teacher, lab, day):
    client = client_for(county_teacher)
    as_text = {**payload(lab, day), "resource": str(lab.id), "class_size": "30"}
    assert client.post("/api/v1/bookings/", as_text).status_code == 201
    form = client.post("/api/v1/bookings/", payload(lab, day, 10, 11), format="multipart")
    assert form.status_code == 201, form.content
    padded = client.post("/api/v1/bookings/", payload(lab, day, 11, 12, purpose="  物理  ")).json()
    assert padded["purpose"] == "物理"
    without = {k: v for k, v in payload(lab, day, 12, 13).items() if k != "purpose"}
    assert client.post("/api/v1/bookings/", without).json()["purpose"] == ""


def test_rule_refusals_on_a_visible_resource_keep_their_code(county_teacher, lab, day):
    lab.status = "retired"
    lab.save()
    response = client_for(county_teacher).post("/api/v1/bookings/", payload(lab, day))
    assert response.status_code == 400
    assert response.json()["code"] == "resource_retired"


def test_a_centre_admin_asking_for_an_unknown_resource_is_told_so_first(centre_admin, lab, day):
    response = client_for(centre_admin).post("/api/v1/bookings/", {**payload(lab, day), "resource": 999999})
    assert response.status_code == 400
    assert "resource" in response.json()


def test_the_answer_is_the_output_serializers_fields(county_teacher, urban_admin, lab, day):
    from rest_framework import serializers

    from booking.api.serializers import BookingOutputSerializer

    created = client_for(county_teacher).post("/api/v1/bookings/", payload(lab, day)).json()
    booking = Booking.objects.select_related("booked_by").get(pk=created["id"])
    for user in (county_teacher, urban_admin):
        ser = BookingOutputSerializer(booking, context={"request": request_for(user)})
        # The declared fields, walked the generic way, give what to_representation writes directly.
        assert ser.data == serializers.Serializer.to_representation(ser, booking)
    assert created == BookingOutputSerializer(booking, context={"request": request_for(county_teacher)}).data


def request_for(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/")  # the booker's links are absolute: they need the host
    request.user = user
    return request


def test_token_authentication_loads_user_school_and_district(
    county_teacher, lab, day, django_assert_num_queries
):
    from rest_framework.authtoken.models import Token

    from config.authentication import token_with_user

    client = token_client(county_teacher)
    assert client.post("/api/v1/bookings/", payload(lab, day)).status_code == 201
    expected = Token.objects.select_related("user__school__district").get(user=county_teacher)
    with django_assert_num_queries(1):
        token = token_with_user(expected.key)
        loaded = (token.user, token.user.school, token.user.school.district)

    def fields(obj):
        return {k: v for k, v in vars(obj).items() if k != "_state"}

    for got, want in zip(
        (token, *loaded),
        (expected, expected.user, expected.user.school, expected.user.school.district),
        strict=True,
    ):
        assert fields(got) == fields(want)
        assert got._state.adding is False
    assert token_with_user("nope") is None
    schoolless = UserFactory(role="centre_admin", school=None)
    assert token_client(schoolless).get("/api/v1/bookings/").status_code == 200


def test_token_authentication_refuses_unknown_tokens_and_inactive_users(county_teacher):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/api/v1/bookings/").status_code == 401
    inactive = token_client(county_teacher)
    county_teacher.is_active = False
    county_teacher.save()
    assert inactive.get("/api/v1/bookings/").status_code == 401


def test_throttle_window_slides_and_says_when_to_retry(county_teacher, lab, settings):
    from django.core.cache import cache
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    from booking.api import views

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"booking_write": "2/min", "auth": "100/min"},
    }
    before = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    clock = [1_764_471_234.567891]  # a real time, to the microsecond: the window edge must be exact
    timer = views.BookingWriteThrottle.timer
    views.BookingWriteThrottle.timer = lambda self: clock[0]
    try:
        client = client_for(county_teacher)
        day = next_workday()

        def post(i):
            return client.post("/api/v1/bookings/", payload(lab, day, 8 + i, 9 + i))

        assert post(0).status_code == 201
        clock[0] += 20
        assert post(1).status_code == 201
        clock[0] += 10
        refused = post(2)
        assert refused.status_code == 429
        assert refused["Retry-After"] == "30"  # the first request leaves the window 60 s after it was made
        assert client.get("/api/v1/bookings/").status_code == 200  # reads are not throttled
        clock[0] += 30  # the first request has left the window: one place again
        assert post(2).status_code == 201
        assert post(3).status_code == 429
        other = client_for(UserFactory(role="teacher", school=county_teacher.school))
        assert other.post("/api/v1/bookings/", payload(lab, day, 12, 13)).status_code == 201  # per user
    finally:
        views.BookingWriteThrottle.timer = timer
        SimpleRateThrottle.THROTTLE_RATES = before
        cache.clear()


def test_an_idempotency_key_is_free_again_after_a_day(county_teacher, lab, day):
    from booking.models import IdempotencyRecord

    client = client_for(county_teacher)
    first = client.post("/api/v1/bookings/", payload(lab, day), HTTP_IDEMPOTENCY_KEY="day-1")
    assert first.status_code == 201
    IdempotencyRecord.objects.filter(key="day-1").update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    )
    # Another request with the old key is new: it is booked, not refused as a reused key.
    again = client.post("/api/v1/bookings/", payload(lab, day, 10, 11), HTTP_IDEMPOTENCY_KEY="day-1")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    assert IdempotencyRecord.objects.filter(key="day-1").count() == 1
    replay = client.post("/api/v1/bookings/", payload(lab, day, 10, 11), HTTP_IDEMPOTENCY_KEY="day-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == again.json()
