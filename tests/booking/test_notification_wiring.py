"""The booking services tell the right people, once, after commit."""

import datetime as dt

import pytest
from django.core import mail

from booking import services
from booking.models import Notification
from equipment import services as equipment_services
from tests.booking.conftest import SH, local, next_workday
from tests.factories import ResourceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True, max_advance_days=366, min_notice_hours=0)


def kinds(user):
    return sorted(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_a_booking_is_confirmed_by_mail_with_a_calendar_attachment(
    county_teacher, lab, day, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_create(actor=county_teacher, resource=lab, start=local(day, 9), end=local(day, 10),
                                class_size=20)  # fmt: skip
    assert kinds(county_teacher) == ["booking_confirmed"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [county_teacher.email]
    assert any(a[2].startswith("text/calendar") for a in message.attachments)


def test_a_pending_request_asks_the_owner_school_and_the_decision_is_told(
    county_teacher, urban_admin, lab, day, django_capture_on_commit_callbacks
):
    lab.requires_approval = True
    lab.save()
    with django_capture_on_commit_callbacks(execute=True):
        booking = services.booking_create(actor=county_teacher, resource=lab, start=local(day, 9),
                                          end=local(day, 10), class_size=20)  # fmt: skip
        services.booking_reject(actor=urban_admin, booking=booking, reason="当天有校内考试")
    assert kinds(county_teacher) == ["booking_pending", "booking_rejected"]
    assert kinds(urban_admin) == ["approval_requested"]
    rejected = Notification.objects.get(recipient=county_teacher, kind="booking_rejected")
    assert "当天有校内考试" in rejected.body


def test_a_cancellation_by_the_booker_is_told_to_the_owner_school(county_teacher, urban_admin, lab, day):
    booking = services.booking_create(actor=county_teacher, resource=lab, start=local(day, 9), end=local(day, 10),
                                      class_size=20)  # fmt: skip
    services.booking_cancel(actor=county_teacher, booking=booking, reason="大雪封路")
    assert "booking_cancelled" in kinds(urban_admin)
    assert "booking_cancelled" in kinds(county_teacher)


def test_a_series_sends_one_message_not_one_per_occurrence(county_teacher, lab):
    now = dt.datetime(2026, 11, 2, 9, tzinfo=SH)
    first = dt.datetime(2026, 11, 3, 13, 30, tzinfo=SH)
    result = services.series_create(actor=county_teacher, resource=lab, first_start=first,
                                    first_end=first + dt.timedelta(minutes=90), rrule_text="FREQ=WEEKLY;COUNT=6",
                                    class_size=30, now=now)  # fmt: skip
    assert result.series is not None
    assert kinds(county_teacher) == ["booking_confirmed"]


def test_a_waitlist_offer_is_told(county_teacher, urban_teacher, lab, day):
    taken = services.booking_create(actor=urban_teacher, resource=lab, start=local(day, 9), end=local(day, 10),
                                    class_size=20)  # fmt: skip
    services.waitlist_join(
        actor=county_teacher, resource=lab, start=local(day, 9), end=local(day, 10), class_size=20
    )
    services.booking_cancel(actor=urban_teacher, booking=taken)
    assert "waitlist_offer" in kinds(county_teacher)
    offer = Notification.objects.get(recipient=county_teacher, kind="waitlist_offer")
    assert offer.booking.status == "held"


def test_repeated_no_shows_are_told_once(county_teacher, urban_admin, lab):
    from booking.models import EquitySettings

    EquitySettings.objects.update_or_create(pk=1, defaults={"series_no_show_limit": 2})
    now = dt.datetime(2026, 11, 2, 9, tzinfo=SH)
    first = dt.datetime(2026, 11, 3, 9, 30, tzinfo=SH)
    services.series_create(actor=county_teacher, resource=lab, first_start=first,
                           first_end=first + dt.timedelta(minutes=60), rrule_text="FREQ=WEEKLY;COUNT=5",
                           class_size=30, now=now)  # fmt: skip
    services.bookings_mark_no_show(now=dt.datetime(2026, 11, 10, 12, tzinfo=SH))
    assert kinds(county_teacher).count("series_released") == 1
    assert kinds(urban_admin) == ["series_released"]
    assert "booking_cancelled" not in kinds(county_teacher)  # no message per released occurrence


def test_a_lab_taken_out_of_service_tells_its_bookers_with_alternatives(
    county_teacher, urban_teacher, lab, day
):
    ResourceFactory(school=lab.school, shared=True, name="物理实验室(备用)", subject=lab.subject)
    booking = services.booking_create(actor=county_teacher, resource=lab, start=local(day, 9), end=local(day, 10),
                                      class_size=20)  # fmt: skip
    equipment_services.ticket_report(actor=urban_teacher, resource=lab, description="实验台漏电",
                                     takes_out_of_service=True)  # fmt: skip
    assert services.bookings_notify_resources_closed() == 1
    assert services.bookings_notify_resources_closed() == 0  # once per booking
    closed = Notification.objects.get(recipient=county_teacher, kind="resource_closed")
    assert closed.booking == booking
    assert "实验台漏电" in closed.body
    assert "物理实验室(备用)" in closed.body


def test_seeding_sends_nothing(django_capture_on_commit_callbacks):
    from booking import notifications

    user = UserFactory(role="teacher")
    with notifications.suppressed():
        notifications.notify("booking_reminder", recipients=[user], dedupe=str(next_workday()))
    assert Notification.objects.count() == 0
