"""WHAT: bookable spaces and mobile kits, the standard equipment catalogue, assets, faults."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from schools.models import Qualification, School

# Source document 5.4: equipment faults are repaired within 24 hours.
TICKET_SLA = dt.timedelta(hours=24)


class Interface(models.Model):
    """One interface of the standard catalogue (source document 6.3): a socket, port or utility."""

    class Kind(models.TextChoices):
        POWER = "power", _("Power")
        DATA = "data", _("Data")
        VIDEO = "video", _("Video")
        NETWORK = "network", _("Network")
        AUDIO = "audio", _("Audio")
        UTILITY = "utility", _("Lab utility")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150)

    class Meta:
        verbose_name = _("interface")
        verbose_name_plural = _("interfaces")
        ordering = ["kind", "code"]

    def __str__(self) -> str:
        return self.name


class CatalogItem(models.Model):
    """A standard equipment type. Adapters bridge a space's interface to the one a device needs."""

    class Category(models.TextChoices):
        PHYSICS = "physics", _("Physics")
        CHEMISTRY = "chemistry", _("Chemistry")
        BIOLOGY = "biology", _("Biology")
        SCIENCE = "science", _("Primary science")
        COMPUTING = "computing", _("Computing")
        AV = "av", _("Audio-visual")
        MAKER = "maker", _("Maker / technology")
        SPORTS = "sports", _("Sports")
        MUSIC = "music", _("Music")
        ART = "art", _("Art")
        READING = "reading", _("Reading")
        ADAPTER = "adapter", _("Adapter")
        KIT = "kit", _("Mobile kit")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150)
    category = models.CharField(_("category"), max_length=12, choices=Category.choices)
    requires = models.ManyToManyField(
        Interface, blank=True, related_name="required_by", verbose_name=_("requires")
    )
    adapter_from = models.ForeignKey(
        Interface,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adapters_from",
        verbose_name=_("adapter plugs into"),
    )
    adapter_to = models.ForeignKey(
        Interface,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adapters_to",
        verbose_name=_("adapter offers"),
    )
    unit_value_cny = models.DecimalField(
        _("unit value (CNY)"), max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )

    class Meta:
        verbose_name = _("catalogue item")
        verbose_name_plural = _("standard catalogue")
        ordering = ["code"]
        constraints = [
            # An adapter has both ends; nothing else has either.
            models.CheckConstraint(
                condition=(
                    Q(category="adapter", adapter_from__isnull=False, adapter_to__isnull=False)
                    | (~Q(category="adapter") & Q(adapter_from__isnull=True, adapter_to__isnull=True))
                ),
                name="catalog_adapter_ends",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class KitTypeContent(models.Model):
    """What a standard kit type (catalogue category 'kit') contains."""

    kit_type = models.ForeignKey(
        CatalogItem, on_delete=models.CASCADE, related_name="contents", verbose_name=_("kit type")
    )
    item = models.ForeignKey(
        CatalogItem, on_delete=models.PROTECT, related_name="in_kit_types", verbose_name=_("item")
    )
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("kit type content")
        verbose_name_plural = _("kit type contents")
        constraints = [
            models.UniqueConstraint(fields=["kit_type", "item"], name="kit_type_item_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="kit_type_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.item} x {self.quantity}"


class Subject(models.TextChoices):
    PHYSICS = "physics", _("Physics")
    CHEMISTRY = "chemistry", _("Chemistry")
    BIOLOGY = "biology", _("Biology")
    SCIENCE = "science", _("General science")
    COMPUTING = "computing", _("Computing")
    MAKER = "maker", _("Maker / STEM")
    MUSIC = "music", _("Music")
    ART = "art", _("Art")
    SPORTS = "sports", _("Sports")
    READING = "reading", _("Reading")
    GENERAL = "general", _("General")


class Resource(models.Model):
    """Something a teacher books: a lab, a library, a venue, a room, or a mobile kit."""

    class Kind(models.TextChoices):
        LAB = "lab", _("Laboratory")
        LIBRARY = "library", _("Library")
        VENUE = "venue", _("Sports venue")
        ROOM = "room", _("Room")
        MOBILE_KIT = "mobile_kit", _("Mobile kit")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        MAINTENANCE = "maintenance", _("In maintenance")
        RETIRED = "retired", _("Retired")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=12, choices=Subject.choices, default=Subject.GENERAL)
    # For a mobile kit this is its home depot school.
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="resources", verbose_name=_("school")
    )
    capacity = models.PositiveIntegerField(
        _("capacity (students)"), validators=[MinValueValidator(1), MaxValueValidator(5000)]
    )
    shared = models.BooleanField(_("open to other schools"), default=False)
    requires_approval = models.BooleanField(_("requires approval"), default=False)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE)
    building = models.CharField(_("building"), max_length=60, blank=True)
    room = models.CharField(_("room"), max_length=30, blank=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    min_notice_hours = models.PositiveIntegerField(
        _("minimum notice (hours)"), default=24, validators=[MaxValueValidator(24 * 90)]
    )
    max_advance_days = models.PositiveIntegerField(
        _("maximum advance (days)"), default=28, validators=[MinValueValidator(1), MaxValueValidator(366)]
    )
    county_advance_days = models.PositiveIntegerField(
        _("county schools may book this many days ahead"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(366)],
        help_text=_("The county priority window for this resource; empty: the city-wide setting."),
    )
    min_minutes = models.PositiveIntegerField(
        _("minimum length (minutes)"),
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
    )
    max_minutes = models.PositiveIntegerField(
        _("maximum length (minutes)"),
        default=240,
        validators=[MinValueValidator(5), MaxValueValidator(60 * 24 * 60)],
    )
    required_qualification = models.ForeignKey(
        Qualification,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resources",
        verbose_name=_("required qualification"),
    )
    provides = models.ManyToManyField(
        Interface, blank=True, related_name="provided_by", verbose_name=_("interfaces provided")
    )
    # Mobile kits only.
    kit_type = models.ForeignKey(
        CatalogItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="kits",
        limit_choices_to={"category": "kit"},
        verbose_name=_("kit type"),
    )
    transit_buffer_minutes = models.PositiveIntegerField(
        _("transit buffer (minutes)"),
        default=0,
        validators=[MaxValueValidator(14 * 24 * 60)],
        help_text=_("Mobile kits: time blocked before and after each booking for transport."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("bookable resource")
        verbose_name_plural = _("bookable resources")
        ordering = ["school", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gte=1), name="resource_capacity_positive"),
            models.CheckConstraint(
                condition=Q(min_minutes__lte=F("max_minutes")), name="resource_min_le_max"
            ),
            models.CheckConstraint(condition=Q(max_advance_days__gte=1), name="resource_advance_positive"),
            models.CheckConstraint(
                condition=Q(kind="mobile_kit") | Q(transit_buffer_minutes=0, kit_type__isnull=True),
                name="resource_kit_fields_only_on_kits",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "maintenance", "retired"]), name="resource_status_valid"
            ),
            models.UniqueConstraint(fields=["school", "name"], name="resource_name_unique_per_school"),
        ]
        indexes = [
            models.Index(fields=["kind", "subject", "status"]),
            models.Index(fields=["shared", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.school.name} · {self.name}" if self.school_id else self.name

    @property
    def is_kit(self) -> bool:
        return self.kind == self.Kind.MOBILE_KIT


class OpeningHours(models.Model):
    """One weekly opening range of a resource. Several per weekday are allowed, not overlapping."""

    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, related_name="opening_hours", verbose_name=_("resource")
    )
    weekday = models.PositiveSmallIntegerField(
        _("weekday"),
        choices=[
            (0, _("Monday")),
            (1, _("Tuesday")),
            (2, _("Wednesday")),
            (3, _("Thursday")),
            (4, _("Friday")),
            (5, _("Saturday")),
            (6, _("Sunday")),
        ],
    )
    start = models.TimeField(_("opens"))
    end = models.TimeField(_("closes"))

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["resource", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="opening_start_before_end"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="opening_weekday_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class Asset(models.Model):
    """One physical item, tagged. It sits in a space, in a kit, or in the store (neither)."""

    class Status(models.TextChoices):
        IN_SERVICE = "in_service", _("In service")
        IN_REPAIR = "in_repair", _("In repair")
        LOST = "lost", _("Lost")
        RETIRED = "retired", _("Retired")

    class Condition(models.TextChoices):
        NEW = "new", _("New")
        GOOD = "good", _("Good")
        FAIR = "fair", _("Fair")
        POOR = "poor", _("Poor")
        BROKEN = "broken", _("Broken")

    tag = models.CharField(_("asset tag"), max_length=40, unique=True)
    catalog_item = models.ForeignKey(
        CatalogItem, on_delete=models.PROTECT, related_name="assets", verbose_name=_("catalogue item")
    )
    serial_number = models.CharField(_("serial number"), max_length=60, blank=True)
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="assets", verbose_name=_("owner school")
    )
    space = models.ForeignKey(
        Resource,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assets",
        limit_choices_to=~Q(kind="mobile_kit"),
        verbose_name=_("in space"),
    )
    kit = models.ForeignKey(
        Resource,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kit_contents",
        limit_choices_to={"kind": "mobile_kit"},
        verbose_name=_("in kit"),
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.IN_SERVICE)
    condition = models.CharField(
        _("condition"), max_length=8, choices=Condition.choices, default=Condition.GOOD
    )
    purchase_date = models.DateField(_("purchase date"), null=True, blank=True)
    value_cny = models.DecimalField(
        _("value (CNY)"), max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("asset")
        verbose_name_plural = _("assets")
        ordering = ["tag"]
        constraints = [
            models.CheckConstraint(
                condition=Q(space__isnull=True) | Q(kit__isnull=True), name="asset_one_place"
            ),
            models.CheckConstraint(condition=Q(value_cny__gte=0), name="asset_value_not_negative"),
        ]
        indexes = [models.Index(fields=["school", "status"])]

    def __str__(self) -> str:
        return f"{self.tag} {self.catalog_item.name}" if self.catalog_item_id else self.tag

    @property
    def location_label(self) -> str:
        if self.space_id:
            return str(self.space)
        if self.kit_id:
            return str(self.kit)
        return str(_("Store"))


class MaintenanceTicket(models.Model):
    """A reported fault. Due 24 hours after it is reported (source document 5.4)."""

    class Severity(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        RESOLVED = "resolved", _("Resolved")

    resource = models.ForeignKey(
        Resource,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("resource"),
    )
    asset = models.ForeignKey(
        Asset,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tickets",
        verbose_name=_("asset"),
    )
    # Denormalised owner school: scoping every list by school needs no join through two paths.
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("school")
    )
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.MEDIUM
    )
    description = models.TextField(_("description"), max_length=2000)
    takes_out_of_service = models.BooleanField(
        _("takes the resource out of service"),
        default=False,
        help_text=_("The resource is set to maintenance until the ticket is resolved."),
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="reported_tickets",
        verbose_name=_("reported by"),
    )
    reported_at = models.DateTimeField(_("reported at"))
    due_at = models.DateTimeField(_("due at"))
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resolved_tickets",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True, max_length=2000)
    overdue_flagged_at = models.DateTimeField(_("flagged overdue at"), null=True, blank=True)

    class Meta:
        verbose_name = _("maintenance ticket")
        verbose_name_plural = _("maintenance tickets")
        ordering = ["-reported_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resource__isnull=False) | Q(asset__isnull=False), name="ticket_has_subject"
            ),
            models.CheckConstraint(condition=Q(due_at__gt=F("reported_at")), name="ticket_due_after_report"),
            models.CheckConstraint(
                condition=(
                    Q(status="resolved", resolved_at__isnull=False)
                    | (~Q(status="resolved") & Q(resolved_at__isnull=True))
                ),
                name="ticket_resolved_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["resource", "status"]),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_severity_display()} · {self.description[:40]}"

    @property
    def is_overdue(self) -> bool:
        from django.utils import timezone

        return self.status != self.Status.RESOLVED and timezone.now() > self.due_at
