"""Stored daily usage per resource, and the monthly report snapshots built from it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from equipment.models import Resource


class DailyUsage(models.Model):
    """One resource on one Asia/Shanghai day, as computed by booking.metrics (replaceable)."""

    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, related_name="usage", verbose_name=_("resource")
    )
    date = models.DateField(_("date"))
    available_minutes = models.PositiveIntegerField(_("available minutes"), default=0)
    booked_minutes = models.PositiveIntegerField(_("booked minutes"), default=0)
    used_minutes = models.PositiveIntegerField(_("used minutes"), default=0)
    external_minutes = models.PositiveIntegerField(_("external minutes"), default=0)
    county_minutes = models.PositiveIntegerField(_("county minutes"), default=0)
    shown = models.PositiveIntegerField(_("bookings used"), default=0)
    no_shows = models.PositiveIntegerField(_("no-shows"), default=0)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        constraints = [
            models.UniqueConstraint(fields=["resource", "date"], name="usage_once_per_resource_day")
        ]
        indexes = [models.Index(fields=["date"], name="usage_date_idx")]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.date}"


class UsageDay(models.Model):
    """A day whose DailyUsage rows are complete for every resource. `dirty` when bookings,
    tickets or closures of that day changed after it was computed: recomputed by the nightly job."""

    date = models.DateField(_("date"), unique=True)
    computed_at = models.DateTimeField(_("computed at"))
    dirty = models.BooleanField(_("needs recomputing"), default=False)

    class Meta:
        verbose_name = _("computed day")
        verbose_name_plural = _("computed days")
        ordering = ["-date"]

    def __str__(self) -> str:
        return str(self.date)


class MonthlyReport(models.Model):
    """A month's figures as of the moment it was built (bookings may change later)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Queued")
        RUNNING = "running", _("Running")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.PENDING)
    snapshot = models.JSONField(_("figures"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("requested by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("monthly report")
        verbose_name_plural = _("monthly reports")
        ordering = ["-month", "-created_at"]
        constraints = [
            # One live report per month: asking twice (or beat running twice) gives the same one.
            models.UniqueConstraint(
                fields=["month"],
                condition=models.Q(status__in=["pending", "running", "ready"]),
                name="report_one_live_per_month",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"
