"""Nothing is lost when Redis is down: a booking commits while the broker is unreachable, its
notification waits in the outbox, and once Redis is back the sweeper hands it to a real worker,
which sends exactly one e-mail."""

import time

import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping for the ping check)
import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import transaction

from booking import notifications, services
from booking.models import Booking, Notification
from booking.notification_tasks import deliver_notification_task, sweep_outbox_task
from config.celery import app
from tests.booking.conftest import local, next_workday
from tests.factories import ResourceFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused


def use_broker(url: str) -> None:
    """Point the web side's producer at another broker. kombu keeps one connection pool per URL,
    so dropping the app's references is enough; switching back finds the working pool intact."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def real_celery():
    app.conf.task_always_eager = False
    working = app.conf.broker_url
    notifications._broker_down_until = 0.0
    yield working
    use_broker(working)
    notifications._broker_down_until = 0.0


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_booking_made_while_redis_is_down_is_notified_once_redis_is_back(
    real_celery, county_teacher, urban_school
):
    lab = ResourceFactory(school=urban_school, shared=True)
    day = next_workday()
    mail.outbox.clear()

    # 1. Redis is down while the teacher books. The booking side's transaction commits anyway.
    use_broker(DEAD_BROKER)
    with transaction.atomic():
        booking = services.booking_create(
            actor=county_teacher, resource=lab, start=local(day, 9), end=local(day, 10), class_size=30
        )
        [notification] = notifications.notify_booking_created(booking)
    # The commit hands the ids to the background publisher, which meets the dead broker.
    assert notifications.publisher_flush(timeout=10)
    assert Booking.objects.filter(pk=booking.pk, status="approved").exists()
    notification.refresh_from_db()
    assert notification.sent_at is None
    assert notification.attempts == 0
    assert mail.outbox == []
    # Within the back-off, later commits do not even try the dead broker.
    assert notifications.enqueue_delivery([notification.pk]) == 0

    # 2. Redis is back: the sweeper (beat, every minute) re-enqueues, a real worker delivers.
    use_broker(real_celery)
    Notification.objects.filter(pk=notification.pk).update(
        created_at=notification.created_at - notifications.SWEEP_AFTER * 2
    )
    with start_worker(
        app, pool="threads", concurrency=2, perform_ping_check=True, shutdown_timeout=10, loglevel="WARNING"
    ):
        assert sweep_outbox_task() == 1
        # A duplicate delivery racing the first one (a second sweeper, a redelivered message).
        duplicate = deliver_notification_task.apply_async((notification.pk,), ignore_result=False)
        assert duplicate.get(timeout=20) in {"sent", "skipped"}
        assert wait_until(lambda: Notification.objects.get(pk=notification.pk).sent_at is not None)
        assert sweep_outbox_task() == 0
        again = deliver_notification_task.apply_async((notification.pk,), ignore_result=False)
        assert again.get(timeout=20) == "skipped"

    notification.refresh_from_db()
    assert notification.emailed
    assert notification.last_error == ""
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [county_teacher.email]
    assert mail.outbox[0].attachments
