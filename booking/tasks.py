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


@shared_task(name="booking.usage_nightly")
def usage_nightly_task() -> int:
    """Store yesterday's usage per resource, and recompute every day marked dirty since."""
    from django.utils import timezone

    from . import metrics

    today = timezone.localdate()
    return sum(metrics.usage_store_day(day) for day in metrics.usage_days_to_compute(today))


@shared_task(name="booking.usage_store_day")
def usage_store_day_task(day: str) -> int:
    """(Re)compute one day for every resource; idempotent: it replaces that day's rows."""
    import datetime as dt

    from . import metrics

    return metrics.usage_store_day(dt.date.fromisoformat(day))


@shared_task(name="booking.monthly_report_build")
def monthly_report_build_task(report_id: int) -> str:
    from . import reports

    report = reports.report_build(report_id=report_id)
    return report.status if report else "already built"


@shared_task(name="booking.monthly_report_previous_month")
def monthly_report_previous_month_task() -> str:
    """The 1st of each month, 02:00 Asia/Shanghai: last month's report (once, even run twice)."""
    from . import reports

    return f"{reports.monthly_report_for_previous_month().month:%Y-%m}"


from . import notification_tasks  # noqa: F401, E402  (registers the notification tasks)
