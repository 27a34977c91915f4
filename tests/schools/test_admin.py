"""The back office: usable by a centre admin, scoped for a school admin, closed to teachers."""

import pytest

from schools.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/",
    "/admin/schools/district/",
    "/admin/schools/school/",
    "/admin/schools/user/",
    "/admin/schools/classperiod/",
    "/admin/schools/school/?district__kind__exact=county",
    "/admin/schools/school/?q=测试",
    "/admin/schools/user/?role__exact=teacher",
]


@pytest.mark.parametrize("page", PAGES)
def test_centre_admin_without_superuser_flag_uses_every_page(client, centre_admin, urban_school, page):
    assert not centre_admin.is_superuser
    client.force_login(centre_admin)
    assert client.get(page).status_code == 200


def test_centre_admin_edits_a_school_page(client, centre_admin, urban_school):
    client.force_login(centre_admin)
    response = client.get(f"/admin/schools/school/{urban_school.pk}/change/")
    assert response.status_code == 200
    assert (
        "作息时间表"
        in client.get(
            f"/admin/schools/school/{urban_school.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
        ).content.decode()
    )


def test_school_admin_sees_only_their_school_and_teachers(client, urban_admin, county_school, urban_teacher):
    county_teacher = UserFactory(role="teacher", school=county_school)
    client.force_login(urban_admin)
    schools = client.get("/admin/schools/school/").content.decode()
    assert urban_admin.school.name in schools
    assert county_school.name not in schools
    users = client.get("/admin/schools/user/").content.decode()
    assert urban_teacher.username in users
    assert county_teacher.username not in users
    assert client.get(f"/admin/schools/user/{county_teacher.pk}/change/").status_code in (302, 404)
    assert client.get("/admin/schools/district/add/").status_code == 403


def test_school_admin_cannot_promote_a_teacher_in_the_admin(client, urban_admin, urban_teacher):
    client.force_login(urban_admin)
    url = f"/admin/schools/user/{urban_teacher.pk}/change/"
    form = client.get(url).context["adminform"].form
    assert [value for value, _ in form.fields["role"].choices] == ["teacher"]
    data = {
        "username": urban_teacher.username,
        "display_name": "x",
        "role": "centre_admin",
        "school": urban_teacher.school_id,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, data)
    assert response.status_code == 200  # the form comes back with an error
    urban_teacher.refresh_from_db()
    assert urban_teacher.role == "teacher"


def test_teachers_and_analysts_cannot_enter_the_back_office(client, urban_teacher, analyst):
    for user in (urban_teacher, analyst):
        client.force_login(user)
        response = client.get("/admin/")
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_createsuperuser_noinput_gives_a_centre_admin(monkeypatch):
    from django.core.management import call_command

    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root2")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-passphrase")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root2@example.org")
    call_command("createsuperuser", "--noinput", verbosity=0)
    user = User.objects.get(username="root2")
    assert user.is_superuser
    assert user.role == "centre_admin"
    assert user.is_centre_admin
