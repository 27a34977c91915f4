"""Rotation of mobile kits between schools (source document 5.2, 7.3: 巡回流动): requests,
plans of placements, and the handovers of each leg with their condition checklists."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from equipment.models import Asset, CatalogItem, MaintenanceTicket, Resource
from schools.models import School

from .bookings import Booking


class RotationRequest(models.Model):
    """A school asks for a kit type (or a specific kit) for some school days within a window."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PLANNED = "planned", _("Planned")
        CANCELLED = "cancelled", _("Cancelled")

    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="kit_requests", verbose_name=_("school")
    )
    kit_type = models.ForeignKey(
        CatalogItem, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        limit_choices_to={"category": "kit"}, verbose_name=_("kit type"),
    )  # fmt: skip
    kit = models.ForeignKey(
        Resource, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        limit_choices_to={"kind": "mobile_kit"}, verbose_name=_("specific kit"),
    )  # fmt: skip
    days = models.PositiveSmallIntegerField(
        _("school days"), validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    earliest = models.DateField(_("earliest start"))
    latest_end = models.DateField(_("latest end"))
    students = models.PositiveIntegerField(_("students served"), validators=[MinValueValidator(1)])
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)

    class Meta:
        verbose_name = _("kit request")
        verbose_name_plural = _("kit requests")
        ordering = ["earliest", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kit_type__isnull=False) | Q(kit__isnull=False),
                name="rotation_request_names_a_kit",
            ),
            models.CheckConstraint(
                condition=Q(earliest__lte=F("latest_end")), name="rotation_request_window"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.school} · {self.kit_type or self.kit}"


class RotationPlan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Proposed")
        APPLIED = "applied", _("Applied")
        DISCARDED = "discarded", _("Discarded")

    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    solver = models.CharField(_("solver"), max_length=10, default="cp-sat")
    solver_status = models.CharField(_("solver status"), max_length=20, blank=True)
    objective = models.FloatField(_("objective"), null=True, blank=True)
    bound = models.FloatField(_("best bound"), null=True, blank=True)
    gap = models.FloatField(_("gap"), null=True, blank=True)
    travel_km = models.FloatField(_("travel (km)"), null=True, blank=True)
    seconds = models.FloatField(_("solve time (s)"), null=True, blank=True)
    unserved = models.JSONField(_("unserved requests"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rotation plan")
        verbose_name_plural = _("rotation plans")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(date_from__lte=F("date_to")), name="rotation_plan_window")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.date_from} - {self.date_to}"


class Placement(models.Model):
    """A kit at a school from a start day to an end day (inclusive), in a plan."""

    plan = models.ForeignKey(
        RotationPlan, on_delete=models.CASCADE, related_name="placements", verbose_name=_("plan")
    )
    request = models.ForeignKey(RotationRequest, on_delete=models.CASCADE, related_name="placements")
    kit = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="placements", verbose_name=_("kit")
    )
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+", verbose_name=_("school"))
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    adapter = models.CharField(_("adapter needed"), max_length=20, blank=True)
    transit_in_days = models.PositiveSmallIntegerField(_("transit days before"), default=0)
    km_in = models.FloatField(_("km travelled to get there"), default=0)
    pinned = models.BooleanField(_("pinned"), default=False)
    booking = models.OneToOneField(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="placement",
        verbose_name=_("booking"),
    )

    class Meta:
        verbose_name = _("placement")
        verbose_name_plural = _("placements")
        ordering = ["kit", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lte=F("end")), name="placement_days_ordered")
        ]

    def __str__(self) -> str:
        return f"{self.kit} @ {self.school} {self.start}..{self.end}"


class Handover(models.Model):
    """One leg of a kit's journey: checked out by the sending school, checked in by the receiving one."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_TRANSIT = "in_transit", _("In transit")
        RECEIVED = "received", _("Received complete")
        INCOMPLETE = "incomplete", _("Received incomplete")
        CLEARED = "cleared", _("Cleared")

    kit = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="handovers", verbose_name=_("kit")
    )
    placement = models.OneToOneField(Placement, on_delete=models.CASCADE, related_name="handover")
    from_school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="+", verbose_name=_("from")
    )
    to_school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+", verbose_name=_("to"))
    sequence = models.PositiveIntegerField(_("leg"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PLANNED)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checked_out_at = models.DateTimeField(_("checked out at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_reason = models.CharField(_("override reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("handover")
        verbose_name_plural = _("handovers")
        ordering = ["kit", "sequence"]
        constraints = [models.UniqueConstraint(fields=["kit", "sequence"], name="handover_sequence_per_kit")]

    def __str__(self) -> str:
        return f"{self.kit} #{self.sequence}: {self.from_school} → {self.to_school}"


class HandoverCheck(models.Model):
    """One asset of the kit at check-out or check-in: there, and in what condition."""

    class Stage(models.TextChoices):
        OUT = "out", _("Check-out")
        IN = "in", _("Check-in")

    handover = models.ForeignKey(Handover, on_delete=models.CASCADE, related_name="checks")
    stage = models.CharField(_("stage"), max_length=3, choices=Stage.choices)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    present = models.BooleanField(_("present"))
    condition = models.CharField(_("condition"), max_length=8, choices=Asset.Condition.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    ticket = models.ForeignKey(
        MaintenanceTicket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("handover check")
        verbose_name_plural = _("handover checks")
        constraints = [
            models.UniqueConstraint(
                fields=["handover", "stage", "asset"], name="handover_check_once_per_asset"
            )
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.stage} {'ok' if self.present else 'missing'}"


class CustodyEvent(models.Model):
    """Who had a kit (or one of its assets), from when: the custody history."""

    kit = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="custody", verbose_name=_("kit"))
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, null=True, blank=True, related_name="custody")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="+", verbose_name=_("school"))
    event = models.CharField(_("event"), max_length=20)
    at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handover = models.ForeignKey(
        Handover, on_delete=models.SET_NULL, null=True, blank=True, related_name="custody"
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("custody event")
        verbose_name_plural = _("custody history")
        ordering = ["kit", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.kit_id} {self.event} @ {self.school_id}"
