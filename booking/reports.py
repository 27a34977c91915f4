"""Monthly utilisation reports: a snapshot of the month's figures, built by a Celery job.

Services (writes) and the snapshot builder. The snapshot holds aggregates only — no teacher
names or phone numbers (source document 7.4) — so analysts may read every report.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from equipment.models import Resource
from schools.models import User

from . import metrics, notifications
from .calendar import local_tz
from .models import EquitySettings, MonthlyReport

logger = logging.getLogger(__name__)
TOP = 10
TREND_MONTHS = 12


def parse_month(text: str) -> dt.date:
    """'2026-10' -> 2026-10-01. Raises code='invalid_month'."""
    try:
        if not isinstance(text, str) or len(text) != 7 or text[4] != "-":
            raise ValueError
        return dt.date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        raise ValidationError(
            {"month": ValidationError(_("Give a month as YYYY-MM, e.g. 2026-10."), code="invalid_month")}
        ) from None


def month_last_day(first: dt.date) -> dt.date:
    return (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def check_reportable(first: dt.date, today: dt.date) -> None:
    if first >= today.replace(day=1):
        raise ValidationError(
            {
                "month": ValidationError(
                    _("Only a month that has ended can be reported."), code="month_not_over"
                )
            }
        )
    if first.year < 2000:
        raise ValidationError(
            {"month": ValidationError(_("That month is too far back."), code="invalid_month")}
        )


def report_request(
    *, actor: User | None, month: dt.date, now: dt.datetime | None = None
) -> tuple[MonthlyReport, bool]:
    """Ask for a month's report. The live (queued, running or ready) report of that month is
    returned if there is one; else a new one is queued and built after commit by the worker."""
    now = now or timezone.now()
    if actor is not None and not (actor.is_centre_admin or actor.is_analyst):
        raise ValidationError(_("Only the sharing centre and analysts read reports."), code="forbidden")
    check_reportable(month, now.astimezone(local_tz()).date())
    existing = MonthlyReport.objects.filter(month=month).exclude(status=MonthlyReport.Status.FAILED).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            report = MonthlyReport.objects.create(month=month, requested_by=actor)
    except IntegrityError:  # asked twice at once: the other request won
        return MonthlyReport.objects.exclude(status=MonthlyReport.Status.FAILED).get(month=month), False
    from .tasks import monthly_report_build_task

    transaction.on_commit(lambda: _enqueue(monthly_report_build_task, report.pk))
    return report, True


def _enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:  # the broker is down: the monthly job or a manual rebuild picks it up
        logger.exception("Could not enqueue %s%s", task.name, args)


def report_build(*, report_id: int, now: dt.datetime | None = None) -> MonthlyReport | None:
    """Build a queued report once: claimed with a conditional update, so a second run (or a
    second worker) does nothing. Tells the centre admins when it is ready."""
    now = now or timezone.now()
    claimed = MonthlyReport.objects.filter(pk=report_id, status=MonthlyReport.Status.PENDING).update(
        status=MonthlyReport.Status.RUNNING, started_at=now
    )
    if not claimed:
        return None
    report = MonthlyReport.objects.get(pk=report_id)
    try:
        # Stored labels in the default language, whoever triggered the job; the files translate
        # codes (kinds, subjects, zones) into the reader's language at download.
        with translation.override(settings.LANGUAGE_CODE):
            snapshot = build_snapshot(report.month, generated_at=now)
    except Exception as exc:
        MonthlyReport.objects.filter(pk=report_id).update(
            status=MonthlyReport.Status.FAILED, error=repr(exc)[:2000]
        )
        raise
    with transaction.atomic():
        MonthlyReport.objects.filter(pk=report_id).update(
            status=MonthlyReport.Status.READY, snapshot=snapshot, ready_at=timezone.now()
        )
        report.refresh_from_db()
        _tell_ready(report)
    return report


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _tell_ready(report: MonthlyReport) -> None:
    city = report.snapshot["city"]
    recipients = list(User.objects.filter(role=User.Role.CENTRE_ADMIN, is_active=True))
    if report.requested_by and report.requested_by not in recipients:
        recipients.append(report.requested_by)
    notifications.notify(
        "report_ready",
        recipients=recipients,
        context={
            "month": f"{report.month:%Y-%m}",
            "utilisation": _pct(city["utilisation"]),
            "idle_rate": _pct(city["idle_rate"]),
            "county_share": _pct(report.snapshot["equity"]["county_share_of_external"]),
            "report_id": str(report.pk),
        },
        dedupe=f"report-{report.pk}",
    )


def monthly_report_for_previous_month(*, now: dt.datetime | None = None) -> MonthlyReport:
    """The beat job of the 1st, 02:00 Asia/Shanghai: last month's report, built once."""
    now = now or timezone.now()
    first_this = now.astimezone(local_tz()).date().replace(day=1)
    previous = (first_this - dt.timedelta(days=1)).replace(day=1)
    report, _created = report_request(actor=None, month=previous, now=now)
    if report.status == MonthlyReport.Status.PENDING:
        report_build(report_id=report.pk, now=now)
        report.refresh_from_db()
    return report


# --- the snapshot ---------------------------------------------------------------------------


def build_snapshot(first: dt.date, *, generated_at: dt.datetime | None = None) -> dict:
    """Every figure of the month, as plain JSON: aggregates only, no personal data."""
    generated_at = generated_at or timezone.now()
    last = month_last_day(first)
    equity = EquitySettings.current()
    resources = Resource.objects.all()
    totals = metrics.resource_totals(resources, first, last)
    threshold = float(equity.idle_threshold)
    meta = metrics.resource_meta(totals)  # read once for every grouping below

    def rows(group_by):
        return metrics.group_rows(totals, group_by, threshold=threshold, meta=meta)

    city = rows("city")
    city_row = city[0] if city else metrics.Row(group="city", group_name=_("Harbin (all)")).as_dict()
    by_resource = rows("resource")
    for row in by_resource:
        m = meta[row["group"]]
        row.update(group_name=m["name"], school_name=m["school__name"], kind=m["kind"], subject=m["subject"])
    measured = [r for r in by_resource if r["utilisation"] is not None]
    ranked = sorted(measured, key=lambda r: (-r["utilisation"], r["group"]))
    idle = [r for r in measured if r["utilisation"] < threshold]
    districts = _district_rows(rows("district"))
    schools = _school_rows(rows("school"))
    snapshot = {
        "month": f"{first:%Y-%m}",
        "generated_at": generated_at.astimezone(local_tz()).isoformat(),
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
        "idle_threshold": threshold,
        "city": city_row,
        "by_district": districts,
        "by_school": schools,
        "by_kind": rows("kind"),
        "by_subject": rows("subject"),
        "top_resources": ranked[:TOP],
        "bottom_resources": list(reversed(ranked[-TOP:])) if ranked else [],
        "idle_resources": sorted(idle, key=lambda r: (r["utilisation"], r["group"])),
        "equity": metrics.equity_figures(first, last, city_row),
        "service": metrics.service_figures(first, last),
    }
    snapshot["trend"] = _trend(first, snapshot)
    return snapshot


def _district_rows(rows: list[dict]) -> list[dict]:
    from schools.models import District

    info = {d.pk: d for d in District.objects.all()}
    for row in rows:
        d = info[row["group"]]
        row.update(code=d.code, kind=d.kind, zone=d.zone)
    return sorted(rows, key=lambda r: r["code"])


def _school_rows(rows: list[dict]) -> list[dict]:
    from schools.models import School

    info = {
        s.pk: s for s in School.objects.select_related("district").filter(pk__in=[r["group"] for r in rows])
    }
    for row in rows:
        s = info[row["group"]]
        row.update(district_name=s.district.name, is_county=s.district.kind == "county")
    return rows


def _trend(first: dt.date, current: dict) -> list[dict]:
    """This month and up to eleven before it, from the reports built for them (oldest first)."""
    months = []
    month = first
    for _i in range(TREND_MONTHS - 1):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        months.append(month)
    earlier = {
        r.month: r.snapshot
        for r in MonthlyReport.objects.filter(month__in=months, status=MonthlyReport.Status.READY).order_by(
            "created_at"
        )
    }
    points = []
    for m in sorted(earlier):
        snap = earlier[m]
        points.append(
            {
                "month": f"{m:%Y-%m}",
                "utilisation": snap["city"]["utilisation"],
                "idle_rate": snap["city"]["idle_rate"],
                "county_share": snap["equity"]["county_share_of_external"],
            }
        )
    points.append(
        {
            "month": current["month"],
            "utilisation": current["city"]["utilisation"],
            "idle_rate": current["city"]["idle_rate"],
            "county_share": current["equity"]["county_share_of_external"],
        }
    )
    return points
