"""The waitlist: a freed slot is held for the first eligible teacher, who confirms or lets it pass."""

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from booking import services
from booking.models import Booking, WaitlistEntry
from tests.booking.conftest import local, next_workday
from tests.conftest import client_for
from tests.factories import ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True)


@pytest.fixture
def slot():
    day = next_workday()
    return local(day, 9), local(day, 10)


@pytest.fixture
def taken(lab, slot, urban_teacher):
    return services.booking_create(
        actor=urban_teacher, resource=lab, start=slot[0], end=slot[1], class_size=20
    )


def join(user, lab, slot):
    return services.waitlist_join(actor=user, resource=lab, start=slot[0], end=slot[1], class_size=25)


def teacher(district):
    return UserFactory(role="teacher", school=SchoolFactory(district=district))


def test_offer_accept(lab, slot, taken, county_teacher, urban_teacher):
    entry = join(county_teacher, lab, slot)
    assert entry.status == "waiting"
    services.booking_cancel(actor=urban_teacher, booking=taken, reason="改期")
    entry.refresh_from_db()
    assert entry.status == "offered"
    held = entry.booking
    assert (held.status, held.booked_by, held.start) == ("held", county_teacher, slot[0])
    assert held.hold_until is not None
    booking = services.waitlist_confirm(actor=county_teacher, entry=entry)
    assert booking.status == "approved"
    entry.refresh_from_db()
    assert entry.status == "booked"
    assert booking.events.filter(from_status="held", to_status="approved").exists()


def test_a_held_slot_is_taken_for_everyone_else(
    lab, slot, taken, county_teacher, urban_teacher, county_school
):
    join(county_teacher, lab, slot)
    services.booking_cancel(actor=urban_teacher, booking=taken)
    with pytest.raises(ValidationError) as err:
        services.booking_create(actor=teacher(county_school.district), resource=lab, start=slot[0], end=slot[1],
                                class_size=10)  # fmt: skip
    assert err.value.error_list[0].code == "conflict"


def test_timeout_passes_the_offer_to_the_next(lab, slot, taken, county_teacher, urban_teacher, county_school):
    first = join(county_teacher, lab, slot)
    second_teacher = teacher(county_school.district)
    second = join(second_teacher, lab, slot)
    services.booking_cancel(actor=urban_teacher, booking=taken)
    first.refresh_from_db()
    assert first.status == "offered"
    later = first.booking.hold_until + dt.timedelta(minutes=1)
    result = services.waitlist_sweep(now=later)
    assert result["offers_lapsed"] == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "expired"
    assert second.status == "offered"
    assert second.booking.booked_by == second_teacher
    with pytest.raises(ValidationError) as err:
        services.waitlist_confirm(actor=county_teacher, entry=first)
    assert err.value.code == "invalid_transition"


def test_decline_passes_the_offer_on(lab, slot, taken, county_teacher, urban_teacher, county_school):
    first = join(county_teacher, lab, slot)
    second = join(teacher(county_school.district), lab, slot)
    services.booking_cancel(actor=urban_teacher, booking=taken)
    first.refresh_from_db()
    services.waitlist_decline(actor=county_teacher, entry=first)
    second.refresh_from_db()
    assert second.status == "offered"


def test_nobody_eligible_the_slot_stays_free(lab, slot, taken, county_teacher, urban_teacher):
    from schools.models import Qualification

    entry = join(county_teacher, lab, slot)
    lab.required_qualification = Qualification.objects.create(code="chem", name="化学实验室安全培训")
    lab.save()
    services.booking_cancel(actor=urban_teacher, booking=taken)
    entry.refresh_from_db()
    assert entry.status == "expired"  # can no longer be served
    assert not Booking.objects.filter(status="held").exists()


def test_join_rules(lab, slot, county_teacher, urban_teacher, taken):
    free_day = next_workday(min_days=3)
    with pytest.raises(ValidationError) as err:
        join(county_teacher, lab, (local(free_day, 9), local(free_day, 10)))
    assert err.value.code == "slot_free"
    with pytest.raises(ValidationError) as err:
        join(urban_teacher, lab, slot)  # they hold it already
    assert err.value.code == "conflict"
    with pytest.raises(ValidationError) as err:
        join(county_teacher, lab, (local(slot[0].date(), 6), local(slot[0].date(), 7)))
    assert err.value.error_list[0].code == "outside_opening_hours"
    assert join(county_teacher, lab, slot).pk == join(county_teacher, lab, slot).pk  # no duplicate


def test_waitlist_api(lab, slot, taken, county_teacher, urban_teacher):
    client = client_for(county_teacher)
    response = client.post("/api/v1/waitlist/", {"resource": lab.id, "start": slot[0].isoformat(),
                                                 "end": slot[1].isoformat(), "class_size": 25})  # fmt: skip
    assert response.status_code == 201, response.content
    entry_id = response.json()["id"]
    assert client.post(f"/api/v1/waitlist/{entry_id}/confirm/").status_code == 409
    services.booking_cancel(actor=urban_teacher, booking=taken)
    listed = client.get("/api/v1/waitlist/").json()["results"]
    assert listed[0]["status"] == "offered"
    assert listed[0]["hold_until"]
    stranger = client_for(UserFactory(role="teacher"))
    assert stranger.post(f"/api/v1/waitlist/{entry_id}/confirm/").status_code == 404
    confirmed = client.post(f"/api/v1/waitlist/{entry_id}/confirm/")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "approved"
    assert client.delete(f"/api/v1/waitlist/{entry_id}/").status_code == 409


def test_leaving_while_waiting(lab, slot, taken, county_teacher):
    entry = join(county_teacher, lab, slot)
    response = client_for(county_teacher).delete(f"/api/v1/waitlist/{entry.pk}/")
    assert response.status_code == 204
    entry.refresh_from_db()
    assert entry.status == "cancelled"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_book_once():
    lab = ResourceFactory()
    owner = UserFactory(role="teacher", school=lab.school)
    waiting = UserFactory(role="teacher", school=SchoolFactory(district=lab.school.district))
    day = next_workday()
    taken = services.booking_create(
        actor=owner, resource=lab, start=local(day, 9), end=local(day, 10), class_size=5
    )
    entry = services.waitlist_join(actor=waiting, resource=lab, start=local(day, 9), end=local(day, 10),
                                   class_size=5)  # fmt: skip
    services.booking_cancel(actor=owner, booking=taken)
    entry.refresh_from_db()
    outcomes = []
    barrier = threading.Barrier(2)

    def confirm():
        try:
            barrier.wait()
            services.waitlist_confirm(actor=waiting, entry=entry)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.error_list[0].code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["invalid_transition", "ok"]
    assert Booking.objects.filter(booked_by=waiting, status="approved").count() == 1
    assert WaitlistEntry.objects.get(pk=entry.pk).status == "booked"
