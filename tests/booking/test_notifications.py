"""Notifications: the outbox, one e-mail per event, the recipient's language, opt-outs, the .ics
attachment, the sweeper, reminders, and the in-app API."""

import datetime as dt
import logging
import threading
import time

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.utils import translation
from icalendar import Calendar
from kombu.exceptions import OperationalError

from booking import notifications, services
from booking.models import Booking, Notification, NotificationPreference
from booking.notification_tasks import (
    deliver_notification_task,
    deliver_notifications_task,
    send_reminders_task,
    sweep_outbox_task,
)
from tests.booking.conftest import SH, local
from tests.conftest import client_for
from tests.factories import ResourceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _broker_assumed_up():
    notifications._broker_down_until = 0.0
    yield
    notifications._broker_down_until = 0.0


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(
        school=urban_school, shared=True, name="物理实验室A", building="实验楼", room="301"
    )


@pytest.fixture
def approval_lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True, requires_approval=True, name="化学实验室")


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run the after-commit callbacks (delivery) of the block, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def book(actor, resource, day, h0=9, h1=10, **kw):
    return services.booking_create(
        actor=actor, resource=resource, start=local(day, h0), end=local(day, h1), class_size=30, **kw
    )


def prefer(user, language="zh-hans", opt_out=()):
    return NotificationPreference.objects.update_or_create(
        user=user, defaults={"language": language, "email_opt_out": list(opt_out)}
    )[0]


def kinds_emailed():
    ids = [int(m.extra_headers["X-EduShare-Notification"]) for m in mail.outbox]
    kinds = dict(Notification.objects.filter(pk__in=ids).values_list("pk", "kind"))
    return [kinds[i] for i in ids]


class FailingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        raise OSError("SMTP server unreachable")


# --- one e-mail per event -------------------------------------------------------------------


def test_a_confirmed_booking_sends_one_email_with_the_booking_as_ics(county_teacher, lab, day, commit):
    prefer(county_teacher, "en")
    booking = book(county_teacher, lab, day, 9, 10, purpose="分组实验")
    mail.outbox.clear()
    with commit():
        [n] = notifications.notify_booking_created(booking)
    assert n.kind == "booking_confirmed"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [county_teacher.email]
    assert message.subject == f"Booking confirmed: 物理实验室A, {day:%Y-%m-%d} 09:00-10:00"
    assert booking.check_in_code in message.body
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"edushare-booking-{booking.pk}.ics", "text/calendar")
    cal = Calendar.from_ical(content)
    [event] = cal.walk("VEVENT")
    start = event.decoded("dtstart")
    assert start == local(day, 9)
    assert str(start.tzinfo) == "Asia/Shanghai"
    assert f"DTSTART;TZID=Asia/Shanghai:{day:%Y%m%d}T090000" in content
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert str(event["uid"]) == f"booking-{booking.pk}@edushare"
    assert str(event["status"]) == "CONFIRMED"
    n.refresh_from_db()
    assert n.sent_at is not None
    assert n.emailed
    assert n.attempts == 1


def test_a_new_bookings_message_is_rendered_after_commit_at_delivery(county_teacher, lab, day, commit):
    prefer(county_teacher, "en")
    mail.outbox.clear()
    with commit():
        booking = book(county_teacher, lab, day, 9, 10)
        [row] = Notification.objects.filter(booking=booking)
        # Recorded in the booking's transaction, rendered outside it.
        assert (row.subject, row.body) == ("", "")
    row.refresh_from_db()
    assert row.subject == f"Booking confirmed: 物理实验室A, {day:%Y-%m-%d} 09:00-10:00"
    assert "Status: Approved" in row.body
    assert booking.check_in_code in row.body
    assert [(m.subject, m.body) for m in mail.outbox] == [(row.subject, row.body)]


def test_a_new_bookings_message_read_before_delivery_is_rendered_once(
    county_teacher, urban_admin, approval_lab, day
):
    # No commit hooks run here: the rows wait for delivery, and the app shows them meanwhile.
    booking = book(county_teacher, approval_lab, day, 9, 10)
    assert booking.status == "pending"
    rows = {n.kind: n for n in Notification.objects.filter(booking=booking)}
    assert set(rows) == {"booking_pending", "approval_requested"}
    assert all(n.subject == "" for n in rows.values())
    listed = client_for(county_teacher).get("/api/v1/notifications/").json()["results"]
    [mine] = [n for n in listed if n["id"] == rows["booking_pending"].pk]
    assert "化学实验室" in mine["subject"]
    assert mine["body"].strip()
    stored = Notification.objects.get(pk=mine["id"])
    assert (stored.subject, stored.body) == (mine["subject"], mine["body"])
    # The owner school's request is rendered in its own row, with the pending status.
    notifications.render_pending([rows["approval_requested"]])
    assert rows["approval_requested"].subject
    assert Notification.objects.filter(booking=booking, subject="").count() == 0


def test_a_deleted_bookings_unrendered_row_still_says_what_it_is(county_teacher, lab, day):
    booking = book(county_teacher, lab, day, 9, 10)
    [row] = Notification.objects.filter(booking=booking)
    Booking.objects.filter(pk=booking.pk).delete()
    row.refresh_from_db()
    assert row.booking_id is None
    notifications.render_pending([row])
    with translation.override("zh-hans"):
        assert row.subject == str(Notification._meta.get_field("kind").flatchoices[0][1])


def test_many_notifications_go_as_few_broker_messages(monkeypatch):
    single, batches = [], []
    monkeypatch.setattr(deliver_notification_task, "apply_async", lambda args, **kw: single.append(args))
    monkeypatch.setattr(deliver_notifications_task, "apply_async", lambda args, **kw: batches.append(args[0]))
    ids = list(range(1, 46))
    assert notifications.enqueue_delivery(ids) == 45
    assert batches == [ids[:20], ids[20:40], ids[40:]]
    assert notifications.enqueue_delivery([7]) == 1
    assert single == [(7,)]


def test_a_batch_delivers_each_notification_even_if_one_fails(county_teacher, lab, day, monkeypatch):
    first = book(county_teacher, lab, day, 9, 10)
    second = book(county_teacher, lab, day, 10, 11)
    ids = list(Notification.objects.filter(booking__in=[first, second]).values_list("pk", flat=True))
    real = notifications.notification_deliver

    def deliver(*, notification_id, now=None):
        if notification_id == ids[0]:
            raise RuntimeError("boom")
        return real(notification_id=notification_id, now=now)

    monkeypatch.setattr(notifications, "notification_deliver", deliver)
    mail.outbox.clear()
    assert deliver_notifications_task(ids) == {"error": 1, "sent": 1}
    assert len(mail.outbox) == 1


def test_the_background_publisher_sends_what_queued_together_as_one_message(monkeypatch, settings):
    settings.NOTIFICATION_PUBLISH_LINGER_MS = 20
    sent = []
    gate = threading.Event()
    taken = threading.Event()

    def slow_enqueue(ids):
        taken.set()
        gate.wait(5)  # the first publish is under way while more ids arrive
        sent.append(list(ids))
        return len(ids)

    monkeypatch.setattr(notifications, "enqueue_delivery", slow_enqueue)
    publisher = notifications._Publisher()
    publisher.put([1])
    assert taken.wait(5)  # the first batch has been taken
    publisher.put([2, 3])
    publisher.put([4])
    gate.set()
    assert publisher.flush(timeout=5)
    assert sent == [[1], [2, 3, 4]]

    def broken(ids):
        raise RuntimeError("broker client bug")

    monkeypatch.setattr(notifications, "enqueue_delivery", broken)
    publisher.put([5])
    assert publisher.flush(timeout=5)
    monkeypatch.setattr(notifications, "enqueue_delivery", slow_enqueue)
    publisher.put([6])  # the thread survived the error
    assert publisher.flush(timeout=5)
    assert sent[-1] == [6]


def test_the_publisher_waits_for_more_ids_after_the_first_and_flush_cuts_the_wait(monkeypatch, settings):
    sent = []
    monkeypatch.setattr(notifications, "enqueue_delivery", lambda ids: sent.append(list(ids)) or len(ids))
    settings.NOTIFICATION_PUBLISH_LINGER_MS = 300
    publisher = notifications._Publisher()
    publisher.put([1])
    time.sleep(0.05)
    publisher.put([2, 3])  # within the wait: the same message
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == [[1, 2, 3]]

    # A flush (tests, process exit) publishes at once, however long the configured wait.
    settings.NOTIFICATION_PUBLISH_LINGER_MS = 600_000
    publisher.put([4])
    started = time.monotonic()
    assert publisher.flush(timeout=5)
    assert time.monotonic() - started < 2
    assert sent == [[1, 2, 3], [4]]


def test_the_bookers_email_links_to_the_pass_when_the_site_url_is_known(
    county_teacher, lab, day, commit, settings
):
    prefer(county_teacher, "en")
    settings.SITE_URL = "https://edushare.example.org"
    booking = book(county_teacher, lab, day, 9, 10)
    mail.outbox.clear()
    with commit():
        notifications.notify_booking_created(booking)
    [message] = mail.outbox
    assert f"https://edushare.example.org/bookings/{booking.pk}/pass/" in message.body
    # Unknown (the default): no link, rather than one to the wrong host.
    settings.SITE_URL = ""
    other = book(county_teacher, lab, day, 11, 12)
    mail.outbox.clear()
    with commit():
        notifications.notify_booking_created(other)
    [message] = mail.outbox
    assert "/pass/" not in message.body
    assert other.check_in_code in message.body


def test_publish_runs_the_delivery_in_place_with_eager_celery(county_teacher, lab, day, settings):
    booking = book(county_teacher, lab, day, 9, 10)
    [row] = Notification.objects.filter(booking=booking)
    mail.outbox.clear()
    notifications.publish([row.pk])  # eager (the tests' default): no thread, delivered now
    assert len(mail.outbox) == 1


def test_the_delivery_task_run_twice_sends_one_email(county_teacher, lab, day):
    booking = book(county_teacher, lab, day)
    [n] = notifications.notify_booking_created(booking)  # no commit here: the enqueue never ran
    mail.outbox.clear()
    assert deliver_notification_task(n.pk) == "sent"
    assert deliver_notification_task(n.pk) == "skipped"
    assert len(mail.outbox) == 1


def test_a_second_delivery_while_the_first_is_sending_sends_nothing(county_teacher, lab, day, monkeypatch):
    booking = book(county_teacher, lab, day)
    [n] = notifications.notify_booking_created(booking)
    mail.outbox.clear()
    second = []
    original = mail.EmailMessage.send

    def send_and_race(self, *args, **kwargs):
        # Another worker picks the same notification up while this one talks to the server.
        second.append(notifications.notification_deliver(notification_id=n.pk))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(mail.EmailMessage, "send", send_and_race)
    assert notifications.notification_deliver(notification_id=n.pk) == "sent"
    assert second == ["skipped"]
    assert len(mail.outbox) == 1


def test_notifying_one_event_twice_creates_one_notification_and_one_email(county_teacher, lab, day, commit):
    booking = book(county_teacher, lab, day)
    mail.outbox.clear()
    with commit():
        first = notifications.notify_booking_created(booking)
    with commit():
        again = notifications.notify_booking_created(booking)
    assert [n.pk for n in first] == [n.pk for n in again]
    assert Notification.objects.filter(booking=booking, kind="booking_confirmed").count() == 1
    assert len(mail.outbox) == 1


def test_notify_without_an_event_key_is_a_new_event_each_time(county_teacher):
    context = {"resource": "实验室", "when": "2026-12-01 09:00-10:00", "hold_until": "2026-11-30 12:00"}
    notifications.notify("waitlist_offer", recipients=[county_teacher], context=context)
    notifications.notify("waitlist_offer", recipients=[county_teacher], context=context)
    assert Notification.objects.filter(recipient=county_teacher).count() == 2


# --- language, opt-outs ---------------------------------------------------------------------


def test_each_recipient_is_told_in_their_own_language(county_teacher, lab, day, commit):
    english = UserFactory(school=county_teacher.school)
    prefer(english, "en")
    zh_booking = book(county_teacher, lab, day, 9, 10)
    en_booking = book(english, lab, day, 10, 11)
    with commit():
        [zh] = notifications.notify_booking_created(zh_booking)
        [en] = notifications.notify_booking_created(en_booking)
    assert en.language == "en"
    assert en.subject.startswith("Booking confirmed: ")
    assert "Status: Approved" in en.body
    # No preference row: Chinese, the platform's default.
    assert zh.language == "zh-hans"
    assert "已批准" in zh.body  # the status label, from the existing catalogue
    with translation.override("zh-hans"):
        translated = (
            str(notifications.SUBJECTS["booking_confirmed"]) != "Booking confirmed: %(resource)s, %(when)s"
        )
    if translated:
        assert not zh.subject.startswith("Booking confirmed")
    by_address = {m.to[0]: m for m in mail.outbox}
    assert by_address[english.email].subject == en.subject
    assert by_address[county_teacher.email].subject == zh.subject


def test_opting_out_of_an_email_keeps_the_in_app_notification(county_teacher, lab, day, commit):
    prefer(county_teacher, "en", opt_out=["booking_confirmed"])
    booking = book(county_teacher, lab, day)
    mail.outbox.clear()
    with commit():
        [n] = notifications.notify_booking_created(booking)
    assert mail.outbox == []
    n.refresh_from_db()
    assert n.sent_at is not None
    assert not n.emailed
    listed = client_for(county_teacher).get("/api/v1/notifications/").json()["results"]
    assert [item["id"] for item in listed] == [n.pk]


def test_a_user_without_an_address_is_told_in_the_app_only(county_school, lab, day, commit):
    teacher = UserFactory(school=county_school, email="")
    booking = book(teacher, lab, day)
    with commit():
        [n] = notifications.notify_booking_created(booking)
    n.refresh_from_db()
    assert mail.outbox == []
    assert n.sent_at is not None
    assert not n.emailed


# --- who hears about what -------------------------------------------------------------------


def test_a_pending_request_tells_the_teacher_and_asks_the_owner_school(
    county_teacher, urban_admin, approval_lab, day, commit
):
    booking = book(county_teacher, approval_lab, day)
    assert booking.status == "pending"
    with commit():
        sent = notifications.notify_booking_created(booking)
    assert sorted((n.kind, n.recipient_id) for n in sent) == sorted(
        [("booking_pending", county_teacher.pk), ("approval_requested", urban_admin.pk)]
    )
    to_admin = next(m for m in mail.outbox if m.to == [urban_admin.email])
    assert to_admin.attachments == []  # the calendar file is for the booker
    assert county_teacher.school.name in to_admin.body


def test_approval_and_rejection_reach_the_teacher_with_the_reason(
    county_teacher, urban_admin, approval_lab, day, commit
):
    prefer(county_teacher, "en")
    approved = book(county_teacher, approval_lab, day, 9, 10)
    rejected = book(county_teacher, approval_lab, day, 11, 12)
    services.booking_approve(actor=urban_admin, booking=approved, reason="欢迎")
    services.booking_reject(actor=urban_admin, booking=rejected, reason="设备检修")
    mail.outbox.clear()
    with commit():
        [a] = notifications.notify_booking_status(approved)
        [r] = notifications.notify_booking_status(rejected)
    assert (a.kind, r.kind) == ("booking_approved", "booking_rejected")
    assert "Reason: 设备检修" in r.body
    assert {m.subject.split(":")[0] for m in mail.outbox} == {"Booking approved", "Booking rejected"}
    rejected_ics = Calendar.from_ical(
        next(m for m in mail.outbox if "rejected" in m.subject).attachments[0][1]
    )
    assert str(rejected_ics.walk("VEVENT")[0]["status"]) == "CANCELLED"


def test_a_cancellation_by_the_teacher_is_also_told_to_the_owner_school(
    county_teacher, urban_admin, lab, day, commit
):
    booking = book(county_teacher, lab, day)
    services.booking_cancel(actor=county_teacher, booking=booking, reason="学生考试")
    with commit():
        sent = notifications.notify_booking_status(booking)
    assert {(n.kind, n.recipient_id) for n in sent} == {
        ("booking_cancelled", county_teacher.pk),
        ("booking_cancelled", urban_admin.pk),
    }
    assert all("学生考试" in n.body for n in sent)


def test_a_cancellation_by_the_owner_school_is_told_to_the_teacher_only(
    county_teacher, urban_admin, lab, day, commit
):
    booking = book(county_teacher, lab, day)
    services.booking_cancel(actor=urban_admin, booking=booking, reason="停电")
    with commit():
        sent = notifications.notify_booking_status(booking)
    assert [(n.kind, n.recipient_id) for n in sent] == [("booking_cancelled", county_teacher.pk)]


def test_a_status_without_a_notification_is_a_no_op(county_teacher, lab, day):
    booking = book(county_teacher, lab, day)
    Booking.objects.filter(pk=booking.pk).update(status="checked_in")
    assert notifications.notify_booking_status(booking) == []


def test_a_closed_resource_offers_the_nearest_free_alternatives(
    county_teacher, urban_school, lab, day, commit
):
    prefer(county_teacher, "en")
    other = ResourceFactory(school=urban_school, shared=True, name="物理实验室B")
    ResourceFactory(school=urban_school, shared=True, subject="music", name="音乐教室")
    booking = book(county_teacher, lab, day)
    with commit():
        [n] = notifications.notify_resource_closed(lab, [booking], reason="漏水维修")
    assert n.kind == "resource_closed"
    assert other.name in n.body
    assert f"{other.name}, {urban_school.name}," in n.body  # with its school
    assert "音乐教室" not in n.body
    assert "漏水维修" in n.body
    # The caller may supply its own alternatives; the same event is not told twice.
    again = notifications.notify_resource_closed(lab, [booking], lambda b: [])
    assert [x.pk for x in again] == [n.pk]


def test_given_alternatives_are_listed(county_teacher, lab, day):
    booking = book(county_teacher, lab, day)
    alt = {"resource": "创客空间", "school": "第三中学", "start": local(day, 9), "end": local(day, 10)}
    [n] = notifications.notify_resource_closed(lab, [booking], lambda b: [alt])
    assert f"创客空间, 第三中学, {day:%Y-%m-%d} 09:00-10:00" in n.body


def test_a_waitlist_offer_names_the_hold_time_once(county_teacher, lab, day):
    hold = local(day - dt.timedelta(days=1), 12)
    slot = (lab, local(day, 14), local(day, 15))
    [n] = notifications.notify_waitlist_offer(county_teacher, slot, hold)
    assert f"{hold:%Y-%m-%d} 12:00" in n.body
    assert notifications.notify_waitlist_offer(county_teacher, slot, hold)[0].pk == n.pk
    assert Notification.objects.filter(kind="waitlist_offer").count() == 1


def test_a_released_series_is_told_to_the_teacher_and_the_owner_school(
    county_teacher, urban_admin, lab, day, commit
):
    bookings = [book(county_teacher, lab, day, 9, 10), book(county_teacher, lab, day, 13, 14)]
    with commit():
        sent = notifications.notify_series_released(bookings, county_teacher, lab.school)
    assert {n.recipient_id for n in sent} == {county_teacher.pk, urban_admin.pk}
    assert all(f"{day:%Y-%m-%d} 13:00-14:00" in n.body for n in sent)
    assert len(mail.outbox) == 2


# --- the outbox: broker down, SMTP errors, the sweeper --------------------------------------


def test_a_broker_error_at_commit_is_logged_not_raised(county_teacher, lab, day, commit, monkeypatch, caplog):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(deliver_notification_task, "apply_async", broker_down)
    booking = book(county_teacher, lab, day)
    with caplog.at_level(logging.WARNING, logger="booking.notifications"), commit():
        [n] = notifications.notify_booking_created(booking)
    assert "left to the sweeper" in caplog.text
    n.refresh_from_db()
    assert n.sent_at is None
    assert mail.outbox == []


def test_the_sweeper_delivers_what_was_not_enqueued_once(county_teacher, lab, day):
    booking = book(county_teacher, lab, day)
    [n] = notifications.notify_booking_created(booking)  # the enqueue after commit was lost
    assert sweep_outbox_task() == 0  # fresh rows are left to the normal path
    Notification.objects.filter(pk=n.pk).update(created_at=n.created_at - dt.timedelta(minutes=2))
    assert sweep_outbox_task() == 1
    assert sweep_outbox_task() == 0
    assert len(mail.outbox) == 1


def test_an_smtp_error_is_recorded_and_retried_after_a_back_off(county_teacher, lab, day, settings):
    booking = book(county_teacher, lab, day)
    [n] = notifications.notify_booking_created(booking)
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    assert notifications.notification_deliver(notification_id=n.pk) == "failed"
    n.refresh_from_db()
    assert n.sent_at is None
    assert n.sending_at is None
    assert "unreachable" in n.last_error
    assert n.attempts == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = n.created_at + dt.timedelta(minutes=1, seconds=30)
    assert notifications.notifications_sweep(now=later) == 0  # still backing off
    assert notifications.notifications_sweep(now=n.retry_after + dt.timedelta(seconds=1)) == 1
    n.refresh_from_db()
    assert n.sent_at is not None
    assert n.last_error == ""
    assert n.attempts == 2
    assert len(mail.outbox) == 1


def test_a_stale_claim_of_a_dead_worker_is_taken_over(county_teacher, lab, day):
    booking = book(county_teacher, lab, day)
    [n] = notifications.notify_booking_created(booking)
    long_ago = n.created_at - dt.timedelta(minutes=30)
    Notification.objects.filter(pk=n.pk).update(sending_at=long_ago, created_at=long_ago)
    assert notifications.notifications_sweep() == 1
    assert len(mail.outbox) == 1


# --- reminders ------------------------------------------------------------------------------


def test_reminders_go_the_evening_before_once(county_teacher, approval_lab, lab, day, commit):
    booking = book(county_teacher, lab, day, 9, 10)
    pending = book(county_teacher, approval_lab, day, 11, 12)
    assert pending.status == "pending"
    evening_before = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(17), tzinfo=SH)
    mail.outbox.clear()
    with commit():
        assert notifications.notifications_send_reminders(now=evening_before) == 1
        assert notifications.notifications_send_reminders(now=evening_before) == 1
    assert [n.booking_id for n in Notification.objects.filter(kind="booking_reminder")] == [booking.pk]
    assert kinds_emailed() == ["booking_reminder"]
    assert mail.outbox[0].attachments
    # Two days before: nothing yet.
    assert notifications.notifications_send_reminders(now=evening_before - dt.timedelta(days=1)) == 0


def test_the_periodic_jobs_include_the_outbox_and_reminders(capsys):
    call_command("run_periodic_jobs", only=["booking-sweep-outbox", "booking-send-reminders"])
    out = capsys.readouterr().out
    assert "booking-sweep-outbox: 0" in out
    assert "booking-send-reminders: 0" in out
    assert send_reminders_task.name == "booking.send_reminders"


# --- the in-app API -------------------------------------------------------------------------


def _note(user, subject="s", **kw):
    return Notification.objects.create(
        recipient=user, kind="booking_confirmed", language="en", subject=subject, body="b",
        dedupe_key=f"test:{user.pk}:{subject}", **kw,
    )  # fmt: skip


def test_the_list_is_mine_only_newest_first_and_filters_unread(county_teacher, urban_teacher):
    old = _note(county_teacher, "old")
    new = _note(county_teacher, "new")
    Notification.objects.filter(pk=old.pk).update(created_at=old.created_at - dt.timedelta(hours=1))
    _note(urban_teacher, "theirs")
    client = client_for(county_teacher)
    body = client.get("/api/v1/notifications/").json()
    assert [n["id"] for n in body["results"]] == [new.pk, old.pk]
    assert body["results"][0]["unread"] is True
    assert client.post(f"/api/v1/notifications/{old.pk}/read/").json()["unread"] is False
    assert [n["id"] for n in client.get("/api/v1/notifications/?unread=true").json()["results"]] == [new.pk]
    assert [n["id"] for n in client.get("/api/v1/notifications/?unread=false").json()["results"]] == [old.pk]
    bad = client.get("/api/v1/notifications/?unread=maybe")
    assert bad.status_code == 400
    assert "unread" in bad.json()


def test_reading_someone_elses_notification_is_a_404(county_teacher, urban_teacher):
    theirs = _note(urban_teacher)
    client = client_for(county_teacher)
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    assert client.post("/api/v1/notifications/abc/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_read_all_marks_only_mine(county_teacher, urban_teacher):
    _note(county_teacher, "a")
    _note(county_teacher, "b")
    theirs = _note(urban_teacher)
    response = client_for(county_teacher).post("/api/v1/notifications/read-all/")
    assert response.json() == {"updated": 2}
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_wrong_methods_and_anonymous(api, county_teacher):
    client = client_for(county_teacher)
    assert client.get("/api/v1/notifications/read-all/").status_code == 405
    assert client.post("/api/v1/notifications/").status_code == 405
    assert client.delete("/api/v1/notifications/preferences/").status_code == 405
    assert api.get("/api/v1/notifications/").status_code == 401


def test_preferences_default_then_update(county_teacher):
    client = client_for(county_teacher)
    body = client.get("/api/v1/notifications/preferences/").json()
    assert body["language"] == "zh-hans"
    assert body["email_opt_out"] == []
    assert "booking_reminder" in body["kinds"]
    response = client.put(
        "/api/v1/notifications/preferences/", {"language": "en", "email_opt_out": ["booking_reminder"]}
    )
    assert response.status_code == 200, response.content
    pref = NotificationPreference.objects.get(user=county_teacher)
    assert (pref.language, pref.email_opt_out) == ("en", ["booking_reminder"])


def test_unknown_kinds_and_languages_are_a_400_naming_them(county_teacher):
    client = client_for(county_teacher)
    response = client.put(
        "/api/v1/notifications/preferences/", {"email_opt_out": ["booking_reminder", "spam", "junk"]}
    )
    assert response.status_code == 400
    assert "spam, junk" in response.json()["email_opt_out"][0]
    response = client.put("/api/v1/notifications/preferences/", {"language": "fr"})
    assert response.status_code == 400
    assert "language" in response.json()
    assert not NotificationPreference.objects.filter(user=county_teacher).exists()


def test_a_page_of_unrendered_rows_is_rendered_without_a_read_per_row(county_teacher, lab, day):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for hour in range(8, 16):
        book(county_teacher, lab, day, hour, hour + 1)  # no commit hooks: nothing delivered
    assert Notification.objects.filter(recipient=county_teacher, subject="").count() == 8
    with CaptureQueriesContext(connection) as ctx:
        body = client_for(county_teacher).get("/api/v1/notifications/").json()
    assert len(body["results"]) == 8
    assert all(n["subject"] for n in body["results"])
    booking_reads = [q for q in ctx.captured_queries if 'FROM "booking_booking"' in q["sql"]]
    assert len(booking_reads) == 1
    assert Notification.objects.filter(recipient=county_teacher, subject="").count() == 0
