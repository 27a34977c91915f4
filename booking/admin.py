# The booking app's back office.
#
# - Statutory holidays: HolidayYear with its OfficialDay rows, centre admins only.
#
# More booking models are registered here later; scope them with schools.admin.SchoolScopedAdmin.

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .holidays import (
    SOURCE_CHINESE_CALENDAR,
    SOURCE_HOLIDAYS,
    SOURCE_OFFICIAL,
    SOURCE_WEEKDAY,
    check_arrangement,
    year_status,
)
from .models import HolidayYear, OfficialDay

# --- statutory holidays ---------------------------------------------------------------------

YEAR_SOURCE_LABELS = {
    SOURCE_OFFICIAL: _("Official arrangement loaded here"),
    SOURCE_CHINESE_CALENDAR: _("Published arrangement (chinese_calendar package)"),
    SOURCE_HOLIDAYS: _("Statutory holidays only, no adjusted working days (holidays package)"),
    SOURCE_WEEKDAY: _("Monday to Friday only"),
}


class CentreAdminOnlyMixin:
    """The national holiday calendar is the centre's: school admins, who hold the booking app's
    permissions, may not even see it here."""

    def _centre_admin(self, request) -> bool:
        user = request.user
        return user.is_active and getattr(user, "is_centre_admin", False)

    def has_module_permission(self, request):
        return self._centre_admin(request)

    def has_view_permission(self, request, obj=None):
        return self._centre_admin(request)

    def has_add_permission(self, request, obj=None):
        return self._centre_admin(request)

    def has_change_permission(self, request, obj=None):
        return self._centre_admin(request)

    def has_delete_permission(self, request, obj=None):
        return self._centre_admin(request)


class OfficialDayInlineFormSet(forms.BaseInlineFormSet):
    """The same rule as `official_arrangement_load`, so an edit here cannot break the year."""

    def clean(self):
        super().clean()
        year = self.instance.year
        if year is None or any(self.errors):
            return
        days = [
            (f.cleaned_data["date"], f.cleaned_data["kind"], f.cleaned_data.get("name", ""))
            for f in self.forms
            if f.cleaned_data
            and not f.cleaned_data.get("DELETE")
            and {"date", "kind"} <= f.cleaned_data.keys()
        ]
        try:
            check_arrangement(year=year, days=days)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class OfficialDayInline(CentreAdminOnlyMixin, admin.TabularInline):
    model = OfficialDay
    formset = OfficialDayInlineFormSet
    fields = ["date", "kind", "name"]
    extra = 0
    ordering = ["date"]


@admin.register(HolidayYear)
class HolidayYearAdmin(CentreAdminOnlyMixin, admin.ModelAdmin):
    list_display = ["year", "source", "loaded_at", "loaded_by", "holiday_count", "workday_count"]
    list_filter = ["source"]
    ordering = ["-year"]
    fields = ["year", "source", "note", "loaded_at", "loaded_by"]
    inlines = [OfficialDayInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("loaded_by").prefetch_related("days")

    def get_readonly_fields(self, request, obj=None):
        # The rows are dated inside the year, so the year itself is fixed once created.
        fixed = ["source", "loaded_at", "loaded_by"]
        return ["year", *fixed] if obj else fixed

    @admin.display(description=_("holidays"))
    def holiday_count(self, obj):
        return sum(1 for d in obj.days.all() if d.kind == OfficialDay.Kind.HOLIDAY)

    @admin.display(description=_("adjusted working days"))
    def workday_count(self, obj):
        return sum(1 for d in obj.days.all() if d.kind == OfficialDay.Kind.WORKDAY)

    def save_model(self, request, obj, form, change):
        obj.loaded_by = request.user
        obj.loaded_at = timezone.now()
        super().save_model(request, obj, form, change)

    def changelist_view(self, request, extra_context=None):
        this_year = timezone.localdate().year
        status = [
            {**row, "label": YEAR_SOURCE_LABELS[row["source"]]}
            for row in year_status(range(this_year - 1, this_year + 4))
        ]
        return super().changelist_view(request, {**(extra_context or {}), "year_status": status})
