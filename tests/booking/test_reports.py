"""Metrics endpoint and monthly reports: access, bad input, snapshot once, no personal data."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from booking import reports
from booking.models import Booking, MonthlyReport, Notification
from equipment.models import OpeningHours, Resource
from tests.conftest import client_for
from tests.factories import ResourceFactory, UserFactory

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def october(urban_school, county_teacher):
    """One lab, open Monday-Friday 08:00-17:00 since 2025, used twice in October 2026 by a county school."""
    lab = ResourceFactory(school=urban_school, hours=False, name="物理实验室")
    Resource.objects.filter(pk=lab.pk).update(created_at=dt.datetime(2025, 9, 1, tzinfo=SH))
    for d in range(5):
        OpeningHours.objects.create(resource=lab, weekday=d, start=dt.time(8), end=dt.time(17))
    for day, status in ((12, "completed"), (13, "no_show"), (14, "completed")):
        s = dt.datetime(2026, 10, day, 9, tzinfo=SH)
        Booking.objects.create(resource=lab, school=county_teacher.school, booked_by=county_teacher, start=s,
                               end=s + dt.timedelta(hours=2), block_start=s, block_end=s + dt.timedelta(hours=2),
                               class_size=30, status=status, is_external=True, check_in_code="X", periods="1-2")  # fmt: skip
    return lab


def test_metrics_endpoint(october, centre_admin, analyst):
    for user in (centre_admin, analyst):
        rows = (
            client_for(user)
            .get("/api/v1/metrics/utilisation/?date_from=2026-10-01&date_to=2026-10-31")
            .json()
        )
        [city] = rows
        # October 2026: 22 weekdays, minus National Day 1-7 October (5 weekdays), plus Saturday
        # 10 October, an adjusted working day (调休) that opens like a Monday: 18 days x 540 min.
        assert city["available_minutes"] == 18 * 540
        assert city["used_minutes"] == 240
        assert city["external_minutes"] == city["county_minutes"] == 240
        assert city["no_show_rate"] == round(1 / 3, 4)
        assert set(city) == {
            "group", "group_name", "resources", "available_minutes", "booked_minutes", "used_minutes",
            "utilisation", "idle_rate", "external_minutes", "county_minutes", "no_show_rate",
        }  # fmt: skip


@pytest.mark.parametrize("group_by", ["city", "district", "school", "resource", "kind", "subject"])
def test_metrics_groupings(october, centre_admin, group_by):
    response = client_for(centre_admin).get(
        f"/api/v1/metrics/utilisation/?date_from=2026-10-01&date_to=2026-10-31&group_by={group_by}"
    )
    assert response.status_code == 200
    assert sum(r["used_minutes"] for r in response.json()) == 240


def test_metrics_access(october, urban_admin, county_admin, urban_teacher):
    assert (
        client_for(urban_teacher)
        .get("/api/v1/metrics/utilisation/?date_from=2026-10-01&date_to=2026-10-31")
        .status_code
        == 403
    )
    own = (
        client_for(urban_admin)
        .get("/api/v1/metrics/utilisation/?date_from=2026-10-01&date_to=2026-10-31")
        .json()
    )
    assert own[0]["used_minutes"] == 240
    other = (
        client_for(county_admin)
        .get("/api/v1/metrics/utilisation/?date_from=2026-10-01&date_to=2026-10-31")
        .json()
    )
    assert other == []  # a school admin sees their own school's figures only


@pytest.mark.parametrize(
    "query",
    [
        "",
        "date_from=2026-10-01",
        "date_from=2026-13-01&date_to=2026-10-31",
        "date_from=2026-10-31&date_to=2026-10-01",
        "date_from=2020-01-01&date_to=2026-10-31",
        "date_from=2026-10-01&date_to=2026-10-31&group_by=planet",
        "date_from=2026-10-01&date_to=2026-10-31&school=abc",
        "date_from=2026-10-01&date_to=2026-10-31&kind=spaceship",
    ],
)
def test_metrics_bad_input(centre_admin, query):
    assert client_for(centre_admin).get(f"/api/v1/metrics/utilisation/?{query}").status_code == 400


def test_report_request_builds_once_and_tells_the_centre(
    october, centre_admin, analyst, django_capture_on_commit_callbacks
):
    client = client_for(analyst)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/api/v1/reports/", {"month": "2026-10"})
    assert first.status_code == 201, first.content
    again = client.post("/api/v1/reports/", {"month": "2026-10"})
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert MonthlyReport.objects.count() == 1
    report = MonthlyReport.objects.get()
    assert report.status == "ready"  # eager Celery in unit tests
    assert Notification.objects.filter(kind="report_ready", recipient=centre_admin).count() == 1
    assert reports.report_build(report_id=report.pk) is None  # a second run does nothing
    detail = client.get(f"/api/v1/reports/{report.pk}/").json()
    snapshot = detail["snapshot"]
    assert snapshot["month"] == "2026-10"
    assert snapshot["city"]["used_minutes"] == 240
    assert snapshot["service"]["shared_lab_periods"] == 4
    assert snapshot["equity"]["county_share_of_external"] == 1.0
    assert [r["group_name"] for r in snapshot["top_resources"]] == ["物理实验室"]
    assert set(detail["downloads"]) == {"csv", "xlsx", "pdf"}


def test_reports_hold_no_personal_data(october, analyst, county_teacher, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(analyst).post("/api/v1/reports/", {"month": "2026-10"})
    text = json.dumps(MonthlyReport.objects.get().snapshot, ensure_ascii=False)
    for personal in (county_teacher.username, county_teacher.display_name, county_teacher.email):
        assert personal not in text


@pytest.mark.parametrize("month", ["2026-13", "26-10", "october", "", "2099-01"])
def test_report_bad_months(centre_admin, month):
    response = client_for(centre_admin).post("/api/v1/reports/", {"month": month})
    assert response.status_code == 400
    assert "month" in response.json()


def test_the_current_month_cannot_be_reported(centre_admin):
    month = dt.datetime.now(SH).strftime("%Y-%m")
    assert client_for(centre_admin).post("/api/v1/reports/", {"month": month}).status_code == 400


@pytest.mark.parametrize("role", ["teacher", "school_admin"])
def test_reports_are_for_the_centre_and_analysts(role, urban_school):
    user = UserFactory(role=role, school=urban_school)
    assert client_for(user).get("/api/v1/reports/").status_code == 403
    assert client_for(user).post("/api/v1/reports/", {"month": "2026-10"}).status_code == 403


def test_unknown_report_and_format(centre_admin, october):
    client = client_for(centre_admin)
    assert client.get("/api/v1/reports/999/").status_code == 404
    report_id = client.post("/api/v1/reports/", {"month": "2026-10"}).json()["id"]
    assert client.get(f"/api/v1/reports/{report_id}/download/?format=doc").status_code == 400


def test_monthly_beat_job_builds_last_month_once(october):
    now = dt.datetime(2026, 11, 1, 2, 0, tzinfo=SH)
    first = reports.monthly_report_for_previous_month(now=now)
    second = reports.monthly_report_for_previous_month(now=now)
    assert first.pk == second.pk
    assert f"{first.month:%Y-%m}" == "2026-10"
    assert MonthlyReport.objects.count() == 1


def test_build_monthly_report_command(october, capsys):
    call_command("build_monthly_report", "2026-10")
    assert "ready" in capsys.readouterr().out
    call_command("build_monthly_report", "2026-10", "--rebuild")
    assert MonthlyReport.objects.filter(status="ready").count() == 1
    with pytest.raises(CommandError):
        call_command("build_monthly_report", "2026-13")


def test_stored_days_give_the_same_report(october):
    from booking import metrics

    live = reports.build_snapshot(dt.date(2026, 10, 1))
    for day in range(1, 32):
        metrics.usage_store_day(dt.date(2026, 10, day))
    stored = reports.build_snapshot(dt.date(2026, 10, 1))
    for key in ("city", "by_district", "by_school", "by_kind", "top_resources", "idle_resources"):
        assert live[key] == stored[key], key


def test_downloads_in_three_formats(october, centre_admin, django_capture_on_commit_callbacks):
    import csv
    import io

    import openpyxl

    client = client_for(centre_admin)
    with django_capture_on_commit_callbacks(execute=True):
        report_id = client.post("/api/v1/reports/", {"month": "2026-10"}).json()["id"]
    csv_response = client.get(f"/api/v1/reports/{report_id}/download/?format=csv")
    assert csv_response.status_code == 200
    assert csv_response["Content-Type"].startswith("text/csv")
    assert "edushare-2026-10.csv" in csv_response["Content-Disposition"]
    text = csv_response.content.decode("utf-8-sig")
    assert "240" in [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    xlsx = client.get(f"/api/v1/reports/{report_id}/download/?format=xlsx")
    assert xlsx.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert len(book.sheetnames) >= 5
    pdf = client.get(f"/api/v1/reports/{report_id}/download/?format=pdf", HTTP_ACCEPT_LANGUAGE="en")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert client.get(f"/api/v1/reports/{report_id}/download/").status_code == 400


def test_metrics_dates_outside_the_supported_years_are_400(centre_admin):
    client = client_for(centre_admin)
    for first, last in (
        ("9999-12-31", "9999-12-31"),
        ("1900-01-01", "1900-01-31"),
        ("2026-10-01", "9999-12-31"),
    ):
        r = client.get(f"/api/v1/metrics/utilisation/?date_from={first}&date_to={last}")
        assert r.status_code == 400, r.content
        assert r.json()["date_from" if first != "2026-10-01" else "date_to"]
