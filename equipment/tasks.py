"""Celery tasks of the equipment app: thin and idempotent."""

from celery import shared_task

from . import services


@shared_task(name="equipment.maintenance_flag_overdue")
def maintenance_flag_overdue_task() -> int:
    """Periodic (see CELERY_BEAT_SCHEDULE): flag tickets past their 24-hour due time."""
    return len(services.tickets_flag_overdue())
