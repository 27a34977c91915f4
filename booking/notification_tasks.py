"""Celery tasks of the notification outbox: thin wrappers over booking.notifications, each safe
to run twice (delivery claims its row with a conditional update)."""

from celery import shared_task

from . import notifications


@shared_task(name="booking.deliver_notification", ignore_result=True)
def deliver_notification_task(notification_id: int) -> str:
    """E-mail one notification (or mark it in-app only). Failures are recorded on the row and
    retried by the sweeper after a back-off, so the task itself never retries."""
    return notifications.notification_deliver(notification_id=notification_id)


@shared_task(name="booking.sweep_outbox")
def sweep_outbox_task() -> int:
    """Every minute: re-enqueue notifications whose delivery was lost or is due for a retry."""
    return notifications.notifications_sweep()


@shared_task(name="booking.send_reminders")
def send_reminders_task() -> int:
    """Daily at 17:00 Asia/Shanghai: remind teachers of tomorrow's approved bookings."""
    return notifications.notifications_send_reminders()


@shared_task(name="booking.deliver_notifications", ignore_result=True)
def deliver_notifications_task(notification_ids: list[int]) -> dict[str, int]:
    """Several notifications in one message (a burst published together). Each is delivered as by
    deliver_notification_task; one failing does not keep the others from going."""
    outcomes: dict[str, int] = {}
    for pk in notification_ids:
        try:
            outcome = notifications.notification_deliver(notification_id=pk)
        except Exception:  # recorded nowhere yet: the sweeper finds the row unsent and retries
            notifications.logger.exception("Delivering notification %s failed; the sweeper will retry", pk)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
