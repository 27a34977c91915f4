"""Build a month's utilisation report now, in this process (the embedded mode has no worker)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from booking import reports
from booking.models import MonthlyReport


class Command(BaseCommand):
    help = "Build the utilisation report of a month that has ended, e.g. `build_monthly_report 2026-10`."

    def add_arguments(self, parser):
        parser.add_argument("month", help="YYYY-MM")
        parser.add_argument("--rebuild", action="store_true", help="replace a report built before")

    def handle(self, *args, month, rebuild, **options):
        try:
            first = reports.parse_month(month)
            if rebuild:
                MonthlyReport.objects.filter(month=first).exclude(status=MonthlyReport.Status.FAILED).update(
                    status=MonthlyReport.Status.FAILED, error="replaced by build_monthly_report --rebuild"
                )
            report, _created = reports.report_request(actor=None, month=first)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        if report.status == MonthlyReport.Status.PENDING:
            reports.report_build(report_id=report.pk)
        report.refresh_from_db()
        city = report.snapshot["city"] if report.snapshot else {}
        self.stdout.write(
            self.style.SUCCESS(
                f"Report {report.month:%Y-%m} (#{report.pk}): {report.status}; "
                f"utilisation {city.get('utilisation')}, idle rate {city.get('idle_rate')}."
            )
        )
