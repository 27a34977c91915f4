"""Celery tasks of the booking app: thin, idempotent wrappers over services."""

from celery import shared_task

from . import services


@shared_task(name="booking.expire_pending")
def bookings_expire_pending_task() -> int:
    """Pending requests not decided in time are rejected and the slot frees."""
    return len(services.bookings_expire_pending())


@shared_task(name="booking.mark_no_shows")
def bookings_mark_no_show_task() -> int:
    """Approved bookings not checked in within the grace period become no-shows."""
    return len(services.bookings_mark_no_show())


@shared_task(name="booking.complete_finished")
def bookings_complete_task() -> int:
    """Checked-in bookings past their end are completed."""
    return len(services.bookings_complete())


@shared_task(name="booking.notify_resources_closed")
def bookings_notify_resources_closed_task() -> int:
    """Tell teachers whose coming bookings sit on a resource out of service, with alternatives."""
    return services.bookings_notify_resources_closed()


@shared_task(name="booking.waitlist_sweep")
def waitlist_sweep_task() -> dict:
    """Offers not taken in time pass to the next teacher; entries that cannot be served expire."""
    return services.waitlist_sweep()


from . import notification_tasks  # noqa: F401, E402  (registers the notification tasks)
