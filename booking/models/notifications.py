"""The notification outbox, each user's notification preferences, and secret calendar feeds."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from equipment.models import Resource

from .bookings import Booking


class NotificationKind(models.TextChoices):
    BOOKING_CONFIRMED = "booking_confirmed", _("Booking confirmed")
    BOOKING_PENDING = "booking_pending", _("Booking awaiting approval")
    BOOKING_APPROVED = "booking_approved", _("Booking approved")
    BOOKING_REJECTED = "booking_rejected", _("Booking rejected")
    BOOKING_CANCELLED = "booking_cancelled", _("Booking cancelled")
    BOOKING_REMINDER = "booking_reminder", _("Reminder the day before")
    WAITLIST_OFFER = "waitlist_offer", _("Waitlist offer")
    APPROVAL_REQUESTED = "approval_requested", _("Approval requested")
    SERIES_RELEASED = "series_released", _("Series released after no-shows")
    RESOURCE_CLOSED = "resource_closed", _("Resource closed")
    REPORT_READY = "report_ready", _("Monthly report ready")


class NotificationLanguage(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")


class NotificationPreference(models.Model):
    """How a user wants to be told. No row means the defaults: Chinese, every e-mail."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=NotificationLanguage.choices,
        default=NotificationLanguage.ZH_HANS,
    )
    email_opt_out = models.JSONField(
        _("no e-mail for"),
        default=list,
        blank=True,
        help_text=_("Kinds of notification sent in the app only, not by e-mail."),
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.CheckConstraint(
                condition=Q(language__in=["zh-hans", "en"]), name="notif_pref_language_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}"


class Notification(models.Model):
    """One message to one user, kept in the database first (an outbox): delivery by e-mail happens
    after commit and a periodic sweeper retries whatever is still unsent, so a broker outage at
    commit time loses nothing. `dedupe_key` makes the same event produce one row only."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
        db_index=False,  # notif_recipient_created_idx leads with it
    )
    kind = models.CharField(_("kind"), max_length=20, choices=NotificationKind.choices)
    booking = models.ForeignKey(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("booking"),
    )
    language = models.CharField(_("language"), max_length=10, choices=NotificationLanguage.choices)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    ics = models.TextField(_("iCalendar attachment"), blank=True)
    # Unique by a constraint in Meta, not unique=True: on PostgreSQL that would add a second,
    # pattern-matching (LIKE) index that nothing queries, written with every notification.
    dedupe_key = models.CharField(_("event key"), max_length=255)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    # Delivery bookkeeping. sending_at is the claim of one delivery run; a stale claim (a worker
    # that died mid-send) may be taken over after the claim timeout.
    sending_at = models.DateTimeField(_("being sent since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    emailed = models.BooleanField(_("sent by e-mail"), default=False)
    attempts = models.PositiveIntegerField(_("delivery attempts"), default=0)
    retry_after = models.DateTimeField(_("retry after"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_created_idx"),
            # The sweeper's scan: only the (few) unsent rows are in this index.
            models.Index(fields=["created_at"], condition=Q(sent_at__isnull=True), name="notif_unsent_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["dedupe_key"], name="notif_dedupe_key_unique")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id}"


class CalendarFeed(models.Model):
    """A secret iCalendar URL: a teacher's own bookings or one resource's. The token is the only
    credential, so it is long, random, revocable, and at most one per owner is live."""

    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calendar_feeds",
        verbose_name=_("user"),
    )
    resource = models.ForeignKey(
        Resource,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calendar_feeds",
        verbose_name=_("resource"),
    )
    token = models.CharField(_("token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(owner_user__isnull=False, resource__isnull=True)
                    | Q(owner_user__isnull=True, resource__isnull=False)
                ),
                name="calendar_feed_one_owner",
            ),
            models.UniqueConstraint(
                fields=["owner_user"],
                condition=Q(revoked_at__isnull=True, owner_user__isnull=False),
                name="calendar_feed_one_live_per_user",
            ),
            models.UniqueConstraint(
                fields=["resource"],
                condition=Q(revoked_at__isnull=True, resource__isnull=False),
                name="calendar_feed_one_live_per_resource",
            ),
        ]

    def __str__(self) -> str:
        owner = f"user {self.owner_user_id}" if self.owner_user_id else f"resource {self.resource_id}"
        return f"feed of {owner}"
