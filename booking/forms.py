"""Forms of the booking web pages (booking.views): the city search a teacher fills in, the hidden
fields of a result's "Book" button (and its optional "repeat weekly until"), and a cancellation's
reason. They only read and check what the browser sent; the selectors and services decide the
rest, as for the API."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from equipment.models import Resource, Subject
from schools.rules import parse_periods

from .calendar import local_tz

MIN_YEAR, MAX_YEAR = 2000, 2100  # as the API's dates (config.api.check_date_range)
MAX_SEARCH_DAYS = 31
MAX_PURPOSE = 500


def tomorrow() -> dt.date:
    return timezone.now().astimezone(local_tz()).date() + dt.timedelta(days=1)


def _in_range(day: dt.date) -> dt.date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValidationError(
            _("Give a date between %(first)s and %(last)s."),
            code="out_of_range",
            params={"first": f"{MIN_YEAR}-01-01", "last": f"{MAX_YEAR}-12-31"},
        )
    return day


def _periods(text: str) -> str:
    """'5-6' written as the service writes it ('5-6', or '3' for one period)."""
    first, last = parse_periods(text)
    return f"{first}-{last}" if first != last else str(first)


class ShortIntegerField(forms.IntegerField):
    """An integer that is refused before parsing when the text is absurdly long (a tampered form)."""

    def to_python(self, value):
        if isinstance(value, str) and len(value) > 20:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class ShortDateField(forms.DateField):
    def to_python(self, value):
        if isinstance(value, str) and len(value) > 20:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class AwareDateTimeField(forms.Field):
    """An ISO 8601 date-time as the result rows write it (2026-12-08T13:30:00+08:00). Without an
    offset it is Harbin's wall clock, as in the API."""

    default_error_messages = {"invalid": _("Enter a date-time like 2026-12-08T13:30:00+08:00.")}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=local_tz())
        if not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return moment


class SearchForm(forms.Form):
    """What the city search asks (booking.selectors.SearchQuery), as a teacher fills it in."""

    date_from = ShortDateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = ShortDateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("At most 31 days; empty: the same day."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Resource.Kind.choices, initial=Resource.Kind.LAB)
    subject = forms.ChoiceField(
        label=_("Subject"), choices=[("", _("Any subject")), *Subject.choices], required=False
    )
    periods = forms.CharField(
        label=_("Class periods"),
        max_length=10,
        required=False,
        help_text=_("Like 5-6 or 3, in each school's own bell schedule."),
    )
    duration = ShortIntegerField(
        label=_("or duration (minutes)"), min_value=5, max_value=24 * 60, required=False
    )
    class_size = ShortIntegerField(label=_("Class size"), min_value=1, max_value=5000, initial=30)
    near = forms.BooleanField(label=_("Near my school"), required=False)
    max_travel_minutes = ShortIntegerField(
        label=_("Travel at most (minutes)"), min_value=0, max_value=24 * 60, required=False
    )

    def __init__(self, *args, school=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.school = school
        self.fields["date_from"].initial = tomorrow

    def clean_date_from(self):
        return _in_range(self.cleaned_data["date_from"])

    def clean_date_to(self):
        day = self.cleaned_data.get("date_to")
        return _in_range(day) if day else None

    def clean_periods(self):
        text = self.cleaned_data.get("periods", "").strip()
        return _periods(text) if text else ""

    def clean(self):
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and not last and "date_to" not in self.errors:
            data["date_to"] = last = first
        if first and last:
            if last < first:
                self.add_error(
                    "date_to",
                    ValidationError(_("The end date is before the start date."), code="invalid_range"),
                )
            elif (last - first).days >= MAX_SEARCH_DAYS:
                self.add_error(
                    "date_to", ValidationError(_("Search at most 31 days at a time."), code="window_too_long")
                )
        if "periods" in data and "duration" in data:
            if data["periods"] and data["duration"]:
                self.add_error(
                    "duration", ValidationError(_("Give periods or a duration, not both."), code="invalid")
                )
            elif not data["periods"] and not data["duration"]:
                self.add_error(
                    "periods", ValidationError(_("Give class periods or a duration."), code="required")
                )
        if data.get("max_travel_minutes") is not None and not data.get("near"):
            self.add_error(
                "max_travel_minutes",
                ValidationError(_("Tick “Near my school” to limit the travel time."), code="required"),
            )
        if data.get("near") and (self.school is None or self.school.latitude is None):
            self.add_error(
                "near", ValidationError(_("Your school has no coordinates."), code="no_coordinates")
            )
        return data


class BookForm(forms.Form):
    """A result row's "Book" button: the resource and the time, as hidden fields (so they may have
    been tampered with: every value is checked here, and the service checks the rest)."""

    resource = ShortIntegerField(label=_("Resource"), min_value=1, max_value=2**62, widget=forms.HiddenInput)
    # Either start and end (or start and a duration: a duration search's chosen start time)...
    start = AwareDateTimeField(label=_("Start"), required=False)
    end = AwareDateTimeField(label=_("End"), required=False, widget=forms.HiddenInput)
    duration = ShortIntegerField(
        label=_("Duration (minutes)"),
        min_value=5,
        max_value=24 * 60,
        required=False,
        widget=forms.HiddenInput,
    )
    # ...or a date and class periods.
    date = ShortDateField(label=_("Date"), required=False, widget=forms.HiddenInput)
    periods = forms.CharField(
        label=_("Class periods"), max_length=10, required=False, widget=forms.HiddenInput
    )
    class_size = ShortIntegerField(label=_("Class size"), min_value=1, max_value=5000)
    purpose = forms.CharField(label=_("Purpose"), max_length=MAX_PURPOSE, required=False)
    # Empty: book this time once. A date: the same time every week up to that date, as a series
    # (booking.services.series_create, which also bounds it to 100 occurrences).
    repeat_until = ShortDateField(
        label=_("Repeat weekly until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_date(self):
        day = self.cleaned_data.get("date")
        return _in_range(day) if day else None

    def clean_periods(self):
        text = self.cleaned_data.get("periods", "").strip()
        return _periods(text) if text else ""

    def clean_repeat_until(self):
        day = self.cleaned_data.get("repeat_until")
        return _in_range(day) if day else None

    def clean(self):
        data = super().clean()
        if any(name in self.errors for name in ("start", "end", "duration", "date", "periods")):
            return data
        if data.get("periods"):
            if not data.get("date"):
                self.add_error("date", ValidationError(_("Give the date of the periods."), code="required"))
            else:
                self._check_repeat(data, data["date"])
            return data
        start, end, minutes = data.get("start"), data.get("end"), data.get("duration")
        if start is None:
            self.add_error("start", ValidationError(_("Give a start time."), code="required"))
            return data
        if end is None and minutes:
            data["end"] = end = start + dt.timedelta(minutes=minutes)
        if end is None:
            self.add_error("end", ValidationError(_("Give an end time."), code="required"))
        elif end <= start:
            self.add_error(
                "end", ValidationError(_("The end must be after the start."), code="invalid_range")
            )
        else:
            self._check_repeat(data, start.astimezone(local_tz()).date())
        return data

    def _check_repeat(self, data: dict, first: dt.date) -> None:
        """A weekly booking ends after its first date (Harbin's calendar date of the first time)."""
        until = data.get("repeat_until")
        if until is not None and until <= first:
            self.add_error(
                "repeat_until",
                ValidationError(
                    _("Repeat until a date after the first one (%(date)s)."),
                    code="invalid_range",
                    params={"date": first.isoformat()},
                ),
            )


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=MAX_PURPOSE, required=False)
