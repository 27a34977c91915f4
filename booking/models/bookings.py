"""Bookings, their history, closures, equity settings and idempotency records."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from equipment.models import Resource
from schools.models import School


class BookingStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    CHECKED_IN = "checked_in", _("Checked in")
    COMPLETED = "completed", _("Completed")
    NO_SHOW = "no_show", _("No-show")
    HELD = "held", _("Held for a waitlisted teacher")


# Statuses that hold the slot. The PostgreSQL exclusion constraint uses the same list
# (migrations 0003 and 0005); change both together.
ACTIVE_STATUSES = (
    BookingStatus.PENDING,
    BookingStatus.APPROVED,
    BookingStatus.CHECKED_IN,
    BookingStatus.HELD,
)


class Series(models.Model):
    """A recurring booking: an RFC 5545 RRULE expanded in Asia/Shanghai wall-clock time. Each
    occurrence is its own Booking, so one can be cancelled alone."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", _("All or nothing")
        SKIP_CONFLICTS = "skip_conflicts", _("Skip conflicts")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CANCELLED = "cancelled", _("Cancelled")
        RELEASED = "released", _("Released after repeated no-shows")

    resource = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="series", verbose_name=_("resource")
    )
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="series", verbose_name=_("school")
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="series", verbose_name=_("booked by")
    )
    rrule = models.CharField(_("recurrence rule"), max_length=500)
    first_start = models.DateTimeField(_("first start"))
    first_end = models.DateTimeField(_("first end"))
    periods = models.CharField(_("class periods"), max_length=10, blank=True)
    class_size = models.PositiveIntegerField(_("class size"), validators=[MinValueValidator(1)])
    purpose = models.CharField(_("purpose"), max_length=500, blank=True)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.SKIP_CONFLICTS)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("booking series")
        verbose_name_plural = _("booking series")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(first_start__lt=F("first_end")), name="series_first_ordered")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.rrule}"


class Booking(models.Model):
    """A resource held for a class over [start, end). block_start/block_end add a kit's transit
    buffers: the range the database keeps free of other active bookings."""

    # No single-column index on these three: the composite indexes in Meta lead with each of them
    # and serve the same lookups (and the foreign key checks), so every booking writes three index
    # entries fewer.
    resource = models.ForeignKey(
        Resource,
        on_delete=models.PROTECT,
        related_name="bookings",
        verbose_name=_("resource"),
        db_index=False,
    )
    school = models.ForeignKey(
        School,
        on_delete=models.PROTECT,
        related_name="bookings",
        verbose_name=_("requesting school"),
        db_index=False,
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="bookings",
        verbose_name=_("booked by"),
        db_index=False,
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    block_start = models.DateTimeField(_("blocked from"))
    block_end = models.DateTimeField(_("blocked until"))
    class_size = models.PositiveIntegerField(
        _("class size"), validators=[MinValueValidator(1), MaxValueValidator(5000)]
    )
    purpose = models.CharField(_("purpose"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=BookingStatus.choices, default=BookingStatus.PENDING
    )
    periods = models.CharField(_("class periods"), max_length=10, blank=True, help_text=_("e.g. 5-6"))
    is_external = models.BooleanField(_("external"), default=False, help_text=_("Booked by another school."))
    series = models.ForeignKey(
        Series,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bookings",
        verbose_name=_("series"),
    )
    hold_until = models.DateTimeField(
        _("held until"), null=True, blank=True, help_text=_("A waitlist offer: confirm before this time.")
    )
    check_in_code = models.CharField(_("check-in code"), max_length=12)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("checked out at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["start", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="booking_start_before_end"),
            models.CheckConstraint(
                condition=Q(block_start__lte=F("start"), block_end__gte=F("end")),
                name="booking_block_covers_booking",
            ),
            models.CheckConstraint(condition=Q(class_size__gte=1), name="booking_class_size_positive"),
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "pending",
                        "approved",
                        "rejected",
                        "cancelled",
                        "checked_in",
                        "completed",
                        "no_show",
                        "held",
                    ]
                ),
                name="booking_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["resource", "block_start"], name="booking_resource_block_idx"),
            models.Index(fields=["school", "start"], name="booking_school_start_idx"),
            models.Index(fields=["status", "start"], name="booking_status_start_idx"),
            models.Index(fields=["booked_by", "start"], name="booking_user_start_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.resource_id} {self.start:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class BookingEvent(models.Model):
    """One recorded status change: who, when, from, to, why."""

    booking = models.ForeignKey(
        Booking, on_delete=models.CASCADE, related_name="events", verbose_name=_("booking")
    )
    at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
        help_text=_("Empty for the system's own jobs."),
    )
    from_status = models.CharField(_("from"), max_length=12, blank=True)
    to_status = models.CharField(_("to"), max_length=12)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("booking event")
        verbose_name_plural = _("booking history")
        ordering = ["booking", "at", "pk"]
        # The monthly report finds a month's decisions by time (approval latency).
        indexes = [models.Index(fields=["at"], name="booking_event_at_idx")]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status}"


class Closure(models.Model):
    """A closed date range: city-wide (term breaks), one school's, or one resource's blackout.
    Statutory public holidays need no row: booking.holidays knows them."""

    class Scope(models.TextChoices):
        CITY = "city", _("City-wide")
        SCHOOL = "school", _("School")
        RESOURCE = "resource", _("Resource")

    class Kind(models.TextChoices):
        TERM_BREAK = "term_break", _("Term break")
        HOLIDAY = "holiday", _("Local holiday")
        BLACKOUT = "blackout", _("Blackout")
        EXAM = "exam", _("Examinations")

    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.BLACKOUT)
    school = models.ForeignKey(
        School,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closures",
        verbose_name=_("school"),
    )
    resource = models.ForeignKey(
        Resource,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="closures",
        verbose_name=_("resource"),
    )
    start_date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"), help_text=_("inclusive"))
    reason = models.CharField(_("reason"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        ordering = ["start_date", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(start_date__lte=F("end_date")), name="closure_dates_ordered"),
            models.CheckConstraint(
                condition=(
                    Q(scope="city", school__isnull=True, resource__isnull=True)
                    | Q(scope="school", school__isnull=False, resource__isnull=True)
                    | Q(scope="resource", resource__isnull=False)
                ),
                name="closure_scope_matches_target",
            ),
        ]
        indexes = [models.Index(fields=["start_date", "end_date"])]

    def __str__(self) -> str:
        return f"{self.reason} ({self.start_date} - {self.end_date})"


class EquitySettings(models.Model):
    """City-wide booking policy set by the centre admin (one row). Source document 2.1, 5.2:
    county schools get a longer booking horizon and each school a monthly external quota."""

    class AdjustedDayMode(models.TextChoices):
        OPEN = "open", _("Open, with the opening hours of the weekday below")
        CLOSED = "closed", _("Closed")

    urban_advance_days = models.PositiveIntegerField(
        _("urban schools may book this many days ahead"), default=14, validators=[MinValueValidator(1)]
    )
    county_advance_days = models.PositiveIntegerField(
        _("county schools may book this many days ahead"), default=28, validators=[MinValueValidator(1)]
    )
    monthly_quota_hours = models.PositiveIntegerField(
        _("external booking hours per school per month"),
        default=40,
        help_text=_("0 means no quota."),
    )
    pending_expiry_hours = models.PositiveIntegerField(
        _("pending requests expire after (hours)"), default=48, validators=[MinValueValidator(1)]
    )
    no_show_grace_minutes = models.PositiveIntegerField(_("check-in grace period (minutes)"), default=15)
    waitlist_hold_minutes = models.PositiveIntegerField(
        _("a freed slot is held for the waitlisted teacher for (minutes)"),
        default=120,
        validators=[MinValueValidator(5)],
    )
    idle_threshold = models.DecimalField(
        _("idle threshold (utilisation below which a resource counts as idle)"),
        max_digits=4,
        decimal_places=3,
        default=0.10,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    series_no_show_limit = models.PositiveIntegerField(
        _("no-shows after which a series' remaining bookings are released"),
        default=3,
        help_text=_("0 means never."),
    )
    series_book_adjusted_days = models.BooleanField(
        _("series also book adjusted working days (调休)"),
        default=False,
        help_text=_(
            "When on, a weekly series also books an adjusted working day that opens like one of its weekdays."
        ),
    )
    adjusted_day_mode = models.CharField(
        _("adjusted working days (调休)"),
        max_length=8,
        choices=AdjustedDayMode.choices,
        default=AdjustedDayMode.OPEN,
    )
    adjusted_day_weekday = models.PositiveSmallIntegerField(
        _("adjusted working days use the opening hours of"),
        default=0,
        choices=[
            (0, _("Monday")),
            (1, _("Tuesday")),
            (2, _("Wednesday")),
            (3, _("Thursday")),
            (4, _("Friday")),
        ],
    )
    road_factor = models.DecimalField(
        _("road distance / straight-line distance"),
        max_digits=4,
        decimal_places=2,
        default=1.35,
        validators=[MinValueValidator(1)],
    )
    travel_speed_kmh = models.PositiveIntegerField(
        _("average travel speed (km/h)"),
        default=40,
        validators=[MinValueValidator(5), MaxValueValidator(200)],
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("equity settings")
        verbose_name_plural = _("equity settings")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="equity_settings_single_row")]

    def __str__(self) -> str:
        return str(_("City-wide booking policy"))

    @classmethod
    def current(cls) -> EquitySettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class SchoolQuota(models.Model):
    """A school's own monthly external-booking quota, overriding the city-wide one."""

    school = models.OneToOneField(
        School, on_delete=models.CASCADE, related_name="quota", verbose_name=_("school")
    )
    monthly_hours = models.PositiveIntegerField(
        _("external booking hours per month"), help_text=_("0 means no quota.")
    )

    class Meta:
        verbose_name = _("school quota")
        verbose_name_plural = _("school quotas")

    def __str__(self) -> str:
        return f"{self.school}: {self.monthly_hours} h"


class IdempotencyRecord(models.Model):
    """The first answer to a booking POST with an Idempotency-Key, replayed for 24 hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return self.key


class WaitlistEntry(models.Model):
    """A teacher waiting for a taken slot. When it frees, the first eligible entry gets it held."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        OFFERED = "offered", _("Offered")
        BOOKED = "booked", _("Booked")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="waitlist", verbose_name=_("teacher")
    )
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="+", verbose_name=_("school"))
    resource = models.ForeignKey(
        Resource, on_delete=models.CASCADE, related_name="waitlist", verbose_name=_("resource")
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    periods = models.CharField(_("class periods"), max_length=10, blank=True)
    class_size = models.PositiveIntegerField(_("class size"), validators=[MinValueValidator(1)])
    purpose = models.CharField(_("purpose"), max_length=500, blank=True)
    series = models.ForeignKey(
        Series,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="waitlist",
        verbose_name=_("series"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.WAITING)
    booking = models.ForeignKey(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("offered booking"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="waitlist_start_before_end"),
        ]
        indexes = [models.Index(fields=["resource", "status", "start"], name="waitlist_resource_idx")]

    def __str__(self) -> str:
        return f"{self.user} · {self.resource_id} {self.start:%Y-%m-%d %H:%M}"
