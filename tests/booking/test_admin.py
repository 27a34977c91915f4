"""Back office for bookings, closures and equity settings: scoped, and writing through services."""

import pytest

from booking import services
from booking.models import Booking, Closure, EquitySettings
from tests.booking.conftest import local, next_workday
from tests.factories import ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking(county_teacher, urban_school):
    lab = ResourceFactory(school=urban_school, requires_approval=True)
    day = next_workday()
    return services.booking_create(
        actor=county_teacher, resource=lab, start=local(day, 9), end=local(day, 10), class_size=20
    )


@pytest.mark.parametrize(
    "page",
    [
        "/admin/booking/booking/",
        "/admin/booking/closure/",
        "/admin/booking/closure/add/",
        "/admin/booking/equitysettings/",
        "/admin/booking/schoolquota/",
        "/admin/booking/holidayyear/",
    ],
)
def test_centre_admin_pages(client, centre_admin, booking, page):
    client.force_login(centre_admin)
    assert client.get(page).status_code == 200


def test_school_admin_sees_bookings_of_their_resources_and_approves_through_the_service(
    client, urban_admin, booking
):
    other = UserFactory(role="school_admin", school=SchoolFactory())
    client.force_login(other)
    assert list(client.get("/admin/booking/booking/").context["cl"].result_list) == []
    client.force_login(urban_admin)
    assert list(client.get("/admin/booking/booking/").context["cl"].result_list) == [booking]
    response = client.post(
        "/admin/booking/booking/",
        {"action": "approve_selected", "_selected_action": [booking.pk]},
        follow=True,
    )
    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == "approved"
    assert booking.events.filter(to_status="approved", actor=urban_admin).exists()
    # An impossible transition is reported, not a crash.
    response = client.post(
        "/admin/booking/booking/",
        {"action": "approve_selected", "_selected_action": [booking.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "cannot become" in response.content.decode()


def test_school_admin_cannot_open_equity_settings_or_add_city_closures(client, urban_admin):
    client.force_login(urban_admin)
    assert client.get("/admin/booking/equitysettings/").status_code == 403
    day = next_workday()
    response = client.post(
        "/admin/booking/closure/add/",
        {"scope": "city", "kind": "term_break", "start_date": day, "end_date": day, "reason": "寒假"},
    )
    assert response.status_code == 200  # the form comes back with the error
    assert not Closure.objects.exists()
    ok = client.post(
        "/admin/booking/closure/add/",
        {"scope": "school", "kind": "exam", "school": urban_admin.school_id, "start_date": day, "end_date": day,
         "reason": "期末考试"},
    )  # fmt: skip
    assert ok.status_code == 302
    assert Closure.objects.get().created_by == urban_admin


def test_equity_settings_are_one_row_edited_by_the_centre(client, centre_admin):
    client.force_login(centre_admin)
    client.get("/admin/booking/equitysettings/")
    assert EquitySettings.objects.count() == 1
    assert client.get("/admin/booking/equitysettings/add/").status_code == 403
    assert not Booking.objects.exists()


@pytest.mark.parametrize(
    "page",
    [
        "/admin/booking/rotationrequest/",
        "/admin/booking/rotationplan/",
        "/admin/booking/handover/",
        "/admin/booking/custodyevent/",
        "/admin/booking/monthlyreport/",
    ],
)
def test_rotation_and_report_pages(client, centre_admin, page):
    client.force_login(centre_admin)
    assert client.get(page).status_code == 200
