"""China's official holiday arrangement (放假安排) for a year, as published by the State Council.

The packages behind `booking.holidays` know the arrangement only up to their release year; a
centre admin loads each later year when it is published, and the loaded year overrides them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Years an official arrangement may be loaded for (the lookups themselves accept any date).
ARRANGEMENT_MIN_YEAR = 1990
ARRANGEMENT_MAX_YEAR = 2100


class HolidayYear(models.Model):
    """One year whose official arrangement has been loaded; it replaces the packages' data."""

    class Source(models.TextChoices):
        OFFICIAL = "official", _("Official arrangement")

    year = models.PositiveSmallIntegerField(
        _("year"),
        unique=True,
        validators=[MinValueValidator(ARRANGEMENT_MIN_YEAR), MaxValueValidator(ARRANGEMENT_MAX_YEAR)],
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.OFFICIAL)
    loaded_at = models.DateTimeField(_("loaded at"), default=timezone.now)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("loaded by"),
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("holiday year")
        verbose_name_plural = _("holiday years")
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(
                condition=Q(year__gte=ARRANGEMENT_MIN_YEAR, year__lte=ARRANGEMENT_MAX_YEAR),
                name="holidayyear_year_range",
            ),
            models.CheckConstraint(condition=Q(source__in=["official"]), name="holidayyear_source_valid"),
        ]

    def __str__(self) -> str:
        return str(self.year)


class OfficialDay(models.Model):
    """A day the arrangement names: a day off, or a weekend day worked instead (调休上班).

    Days of a loaded year that are not listed are ordinary weekdays and weekends.
    """

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday")
        WORKDAY = "workday", _("Working day")

    year = models.ForeignKey(
        HolidayYear, on_delete=models.CASCADE, related_name="days", verbose_name=_("year")
    )
    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=50)

    class Meta:
        verbose_name = _("official day")
        verbose_name_plural = _("official days")
        ordering = ["date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["holiday", "workday"]), name="officialday_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {self.name}"
