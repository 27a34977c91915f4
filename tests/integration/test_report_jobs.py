"""The nightly usage job and the monthly report job on a real Celery worker with Redis: the
snapshot is produced once even when the job runs twice."""

import datetime as dt
from zoneinfo import ZoneInfo

import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping for the ping check)
import pytest
from celery.contrib.testing.worker import start_worker

from booking.models import Booking, DailyUsage, MonthlyReport, UsageDay
from booking.tasks import monthly_report_build_task, usage_store_day_task
from config.celery import app
from equipment.models import OpeningHours, Resource
from tests.factories import ResourceFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def worker():
    app.conf.task_always_eager = False
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=True, shutdown_timeout=10,
                      loglevel="WARNING") as w:  # fmt: skip
        yield w


def test_usage_day_and_monthly_report_on_the_worker(worker, urban_school, county_teacher):
    lab = ResourceFactory(school=urban_school, hours=False)
    Resource.objects.filter(pk=lab.pk).update(created_at=dt.datetime(2025, 9, 1, tzinfo=SH))
    OpeningHours.objects.create(resource=lab, weekday=0, start=dt.time(8), end=dt.time(12))
    s = dt.datetime(2026, 10, 12, 9, tzinfo=SH)  # a Monday
    Booking.objects.create(resource=lab, school=county_teacher.school, booked_by=county_teacher, start=s,
                           end=s + dt.timedelta(hours=1), block_start=s, block_end=s + dt.timedelta(hours=1),
                           class_size=20, status="completed", is_external=True, check_in_code="X")  # fmt: skip

    # The nightly job's unit of work, twice at once: the day is stored once.
    results = [usage_store_day_task.delay("2026-10-12") for _ in range(2)]
    assert [r.get(timeout=30) for r in results] == [1, 1]
    assert DailyUsage.objects.filter(date=dt.date(2026, 10, 12)).count() == 1
    row = DailyUsage.objects.get(date=dt.date(2026, 10, 12))
    assert (row.available_minutes, row.used_minutes, row.county_minutes) == (240, 60, 60)
    assert UsageDay.objects.get(date=dt.date(2026, 10, 12)).dirty is False

    # The monthly report, asked for and then built twice by the worker: one snapshot.
    report = MonthlyReport.objects.create(month=dt.date(2026, 10, 1))
    outcomes = sorted(
        r.get(timeout=60) for r in [monthly_report_build_task.delay(report.pk) for _ in range(2)]
    )
    assert outcomes == ["already built", "ready"]
    report.refresh_from_db()
    assert report.status == "ready"
    assert report.snapshot["city"]["used_minutes"] == 60
    assert MonthlyReport.objects.count() == 1
