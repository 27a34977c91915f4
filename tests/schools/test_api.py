"""The schools API: districts, schools, bell schedules, users, me, token auth."""

import pytest

from schools.models import ClassPeriod, School, User
from tests.conftest import client_for
from tests.factories import DistrictFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- auth and me ----------------------------------------------------------------------------


def test_token_auth_then_me(api, urban_teacher):
    response = api.post(
        "/api/v1/auth/token/", {"username": urban_teacher.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 200
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get("/api/v1/me/").json()
    assert me["username"] == urban_teacher.username
    assert me["role"] == "teacher"
    assert me["school"] == urban_teacher.school_id
    assert set(me) == {"id", "username", "display_name", "role", "school", "calendar_url"}


def test_wrong_credentials_are_a_400_not_a_token(api, urban_teacher):
    response = api.post("/api/v1/auth/token/", {"username": urban_teacher.username, "password": "no"})
    assert response.status_code == 400
    assert "token" not in response.json()


def test_anonymous_is_401(api):
    assert api.get("/api/v1/me/").status_code == 401
    assert api.get("/api/v1/schools/").status_code == 401


def test_malformed_json_is_a_400(urban_teacher):
    client = client_for(urban_teacher)
    response = client.post("/api/v1/users/", data="{not json", content_type="application/json")
    # A teacher may not manage users at all: permission is checked before parsing.
    assert response.status_code == 403
    admin = client_for(UserFactory(role="centre_admin", school=None))
    response = admin.post("/api/v1/schools/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


# --- districts ------------------------------------------------------------------------------


def test_districts_filter_by_kind_zone_and_code(urban_teacher):
    DistrictFactory(code="230184", kind="county", zone="radiating", name="五常市")
    DistrictFactory(code="230127", kind="county", zone="linkage", name="木兰县")
    client = client_for(urban_teacher)
    counties = client.get("/api/v1/districts/?kind=county").json()
    assert {d["code"] for d in counties["results"]} == {"230184", "230127"}
    linkage = client.get("/api/v1/districts/?zone=linkage").json()
    assert [d["code"] for d in linkage["results"]] == ["230127"]
    by_code = client.get("/api/v1/districts/?code=230184").json()
    assert by_code["count"] == 1
    assert by_code["results"][0]["name"] == "五常市"


@pytest.mark.parametrize("query", ["kind=suburb", "zone=outer"])
def test_districts_invalid_filter_is_a_400_naming_the_field(urban_teacher, query):
    response = client_for(urban_teacher).get(f"/api/v1/districts/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


# --- schools --------------------------------------------------------------------------------


def test_school_filters(urban_school, county_school, urban_teacher):
    client = client_for(urban_teacher)
    county = client.get("/api/v1/schools/?is_county=true").json()["results"]
    assert [s["id"] for s in county] == [county_school.id]
    assert county[0]["is_county"] is True
    urban = client.get("/api/v1/schools/?is_county=false").json()["results"]
    assert urban_school.id in [s["id"] for s in urban]
    assert county_school.id not in [s["id"] for s in urban]
    by_district = client.get(f"/api/v1/schools/?district={county_school.district_id}").json()
    assert [s["id"] for s in by_district["results"]] == [county_school.id]
    search = client.get(f"/api/v1/schools/?search={county_school.name}").json()
    assert [s["id"] for s in search["results"]] == [county_school.id]
    senior = client.get("/api/v1/schools/?level=senior").json()
    assert senior["count"] == 2


@pytest.mark.parametrize(
    "query", ["level=university", "district=abc", "district=999999", "is_county=maybe", "page=0", "page=abc"]
)
def test_school_bad_filters_are_4xx(urban_teacher, query):
    response = client_for(urban_teacher).get(f"/api/v1/schools/?{query}")
    assert response.status_code in (400, 404)
    assert response.status_code != 500


def test_page_size_is_capped_at_200(urban_teacher):
    district = DistrictFactory()
    SchoolFactory.create_batch(205, district=district, bell=False)
    body = client_for(urban_teacher).get("/api/v1/schools/?page_size=1000").json()
    assert len(body["results"]) == 200
    assert body["next"] is not None


def test_only_centre_admin_creates_schools(urban_admin, centre_admin, urban_district):
    payload = {
        "code": "NEW-1",
        "name": "新学校",
        "district": urban_district.id,
        "level": "primary",
        "latitude": 45.7,
        "longitude": 126.6,
    }
    assert client_for(urban_admin).post("/api/v1/schools/", payload).status_code == 403
    response = client_for(centre_admin).post("/api/v1/schools/", payload)
    assert response.status_code == 201, response.json()
    assert response.json()["is_county"] is False
    assert School.objects.filter(code="NEW-1").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"level": "university"}, "level"),
        ({"latitude": 95}, "latitude"),
        ({"latitude": 45.7, "longitude": None}, "__all__"),
        ({"district": 987654}, "district"),
        ({"name": "x" * 100_000}, "name"),
        ({"student_count": -5}, "student_count"),
    ],
)
def test_school_bad_payloads_name_the_field(centre_admin, urban_school, change, field):
    response = client_for(centre_admin).patch(f"/api/v1/schools/{urban_school.id}/", change)
    assert response.status_code == 400
    body = response.json()
    assert field in body or (field == "__all__" and "non_field_errors" in body), body
    urban_school.refresh_from_db()
    assert urban_school.name != "x" * 100_000


def test_duplicate_school_code_is_a_400(centre_admin, urban_school):
    payload = {
        "code": urban_school.code,
        "name": "重复",
        "district": urban_school.district_id,
        "level": "primary",
    }
    response = client_for(centre_admin).post("/api/v1/schools/", payload)
    assert response.status_code == 400
    assert "code" in response.json()


@pytest.mark.parametrize(
    "path", ["/api/v1/schools/999999/", "/api/v1/schools/abc/", "/api/v1/schools/999999/periods/"]
)
def test_unknown_school_is_404(urban_teacher, path):
    assert client_for(urban_teacher).get(path).status_code == 404


def test_schools_wrong_method_is_405(centre_admin, urban_school):
    assert client_for(centre_admin).delete(f"/api/v1/schools/{urban_school.id}/").status_code == 405


# --- bell schedules -------------------------------------------------------------------------


def test_anyone_reads_a_bell_schedule(county_teacher, urban_school):
    periods = client_for(county_teacher).get(f"/api/v1/schools/{urban_school.id}/periods/").json()
    assert periods[0] == {"number": 1, "start": "08:00", "end": "08:45"}
    assert [p["number"] for p in periods] == list(range(1, 9))


def test_school_admin_replaces_own_schedule(urban_admin, urban_school):
    new = [
        {"number": 1, "start": "07:50", "end": "08:35"},
        {"number": 2, "start": "08:45", "end": "09:30"},
    ]
    response = client_for(urban_admin).put(f"/api/v1/schools/{urban_school.id}/periods/", new)
    assert response.status_code == 200, response.json()
    assert response.json() == new
    assert ClassPeriod.objects.filter(school=urban_school).count() == 2


def test_other_schools_admin_and_teachers_cannot_replace_a_schedule(
    county_admin, urban_teacher, urban_school
):
    new = [{"number": 1, "start": "07:50", "end": "08:35"}]
    for user in (county_admin, urban_teacher):
        response = client_for(user).put(f"/api/v1/schools/{urban_school.id}/periods/", new)
        assert response.status_code == 403
    assert ClassPeriod.objects.filter(school=urban_school).count() == 8


@pytest.mark.parametrize(
    "periods",
    [
        [{"number": 1, "start": "09:00", "end": "08:00"}],
        [
            {"number": 1, "start": "08:00", "end": "08:45"},
            {"number": 2, "start": "08:30", "end": "09:15"},
        ],
        [
            {"number": 1, "start": "08:00", "end": "08:45"},
            {"number": 1, "start": "09:00", "end": "09:45"},
        ],
        [{"number": 0, "start": "08:00", "end": "08:45"}],
        [{"number": 1, "start": "25:00", "end": "26:00"}],
        [{"number": 1}],
        {"number": 1},
    ],
)
def test_bad_schedules_are_400_and_change_nothing(urban_admin, urban_school, periods):
    response = client_for(urban_admin).put(
        f"/api/v1/schools/{urban_school.id}/periods/", periods, format="json"
    )
    assert response.status_code == 400, response.content
    assert ClassPeriod.objects.filter(school=urban_school).count() == 8


# --- users ----------------------------------------------------------------------------------


def test_centre_admin_creates_any_account(centre_admin, urban_school):
    client = client_for(centre_admin)
    response = client.post(
        "/api/v1/users/",
        {
            "username": "newadmin",
            "role": "school_admin",
            "school": urban_school.id,
            "password": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 201, response.json()
    user = User.objects.get(username="newadmin")
    assert user.is_staff
    assert user.check_password("a-long-enough-passphrase")
    assert "password" not in response.json()


def test_school_admin_creates_teachers_of_own_school_only(urban_admin, urban_school, county_school):
    client = client_for(urban_admin)
    ok = client.post("/api/v1/users/", {"username": "t-new", "password": "a-long-enough-passphrase"})
    assert ok.status_code == 201, ok.json()
    created = User.objects.get(username="t-new")
    assert created.role == "teacher"
    assert created.school == urban_school
    other_school = client.post(
        "/api/v1/users/",
        {"username": "t-x", "school": county_school.id, "password": "a-long-enough-passphrase"},
    )
    assert other_school.status_code == 403
    promote = client.post(
        "/api/v1/users/", {"username": "t-y", "role": "school_admin", "password": "a-long-enough-passphrase"}
    )
    assert promote.status_code == 403
    centre = client.post(
        "/api/v1/users/",
        {"username": "t-z", "role": "centre_admin", "school": None, "password": "a-long-enough-passphrase"},
    )
    assert centre.status_code in (400, 403)
    assert not User.objects.filter(username__in=["t-x", "t-y", "t-z"]).exists()


def test_school_admin_sees_and_edits_only_own_teachers(urban_admin, urban_teacher, county_teacher):
    client = client_for(urban_admin)
    listed = {u["id"] for u in client.get("/api/v1/users/").json()["results"]}
    assert urban_teacher.id in listed
    assert county_teacher.id not in listed
    assert client.get(f"/api/v1/users/{county_teacher.id}/").status_code == 404
    assert client.patch(f"/api/v1/users/{county_teacher.id}/", {"display_name": "x"}).status_code == 404
    promote = client.patch(f"/api/v1/users/{urban_teacher.id}/", {"role": "school_admin"})
    assert promote.status_code == 403
    urban_teacher.refresh_from_db()
    assert urban_teacher.role == "teacher"
    rename = client.patch(f"/api/v1/users/{urban_teacher.id}/", {"display_name": "王老师"})
    assert rename.status_code == 200
    assert rename.json()["display_name"] == "王老师"


def test_school_admin_cannot_manage_another_admin(urban_admin, urban_school):
    other_admin = UserFactory(role="school_admin", school=urban_school)
    assert client_for(urban_admin).get(f"/api/v1/users/{other_admin.id}/").status_code == 404


@pytest.mark.parametrize("role", ["teacher", "analyst"])
def test_teachers_and_analysts_cannot_list_users(db, role, urban_school):
    user = UserFactory(role=role, school=urban_school if role == "teacher" else None)
    assert client_for(user).get("/api/v1/users/").status_code == 403


@pytest.mark.parametrize("password", ["123", "password", "12345678901"])
def test_weak_passwords_are_refused(centre_admin, urban_school, password):
    response = client_for(centre_admin).post(
        "/api/v1/users/", {"username": "weak", "school": urban_school.id, "password": password}
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="weak").exists()


def test_teacher_needs_a_school(centre_admin):
    response = client_for(centre_admin).post(
        "/api/v1/users/",
        {"username": "lost", "role": "teacher", "password": "a-long-enough-passphrase"},
    )
    assert response.status_code == 400
    assert "school" in response.json()


def test_duplicate_username_is_a_400(centre_admin, urban_teacher):
    response = client_for(centre_admin).post(
        "/api/v1/users/",
        {
            "username": urban_teacher.username,
            "school": urban_teacher.school_id,
            "password": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 400
    assert "username" in response.json()


def test_chinese_messages_by_accept_language(centre_admin):
    response = client_for(centre_admin).post(
        "/api/v1/users/",
        {"username": "lost", "role": "teacher", "password": "a-long-enough-passphrase"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 400
    assert response.json()["school"] == ["教师和学校管理员必须属于一所学校。"]
