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


# --- bookings, closures, equity settings ----------------------------------------------------
# Writes go through booking.services, like the API's: the same rules, locks and history.

from django.contrib import messages  # noqa: E402
from django.db.models import Q  # noqa: E402

from . import services  # noqa: E402
from .models import Booking, BookingEvent, Closure, EquitySettings, SchoolQuota  # noqa: E402


class BookingEventInline(admin.TabularInline):
    model = BookingEvent
    extra = 0
    can_delete = False
    fields = ["at", "actor", "from_status", "to_status", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


def _transition_action(name: str, label, fn):
    def action(modeladmin, request, queryset):
        done = 0
        for booking in queryset:
            try:
                fn(actor=request.user, booking=booking, reason=str(_("Done in the back office.")))
                done += 1
            except ValidationError as exc:
                modeladmin.message_user(request, f"#{booking.pk}: {'; '.join(exc.messages)}", messages.ERROR)
        if done:
            modeladmin.message_user(
                request, _("%(count)s bookings updated.") % {"count": done}, messages.SUCCESS
            )

    action.__name__ = name
    action.short_description = label
    return action


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    """Bookings are made by teachers (API and pages); here admins review, approve and cancel."""

    list_display = [
        "id",
        "resource",
        "school",
        "booked_by",
        "start",
        "end",
        "class_size",
        "status",
        "is_external",
    ]
    list_filter = ["status", "is_external", "resource__kind", "resource__subject", "school__district__kind"]
    search_fields = [
        "resource__name",
        "school__name",
        "booked_by__username",
        "booked_by__display_name",
        "purpose",
    ]
    date_hierarchy = "start"
    list_select_related = ["resource", "resource__school", "school", "booked_by"]
    inlines = [BookingEventInline]
    readonly_fields = [f.name for f in Booking._meta.fields]
    actions = [
        _transition_action("approve_selected", _("Approve selected bookings"), services.booking_approve),
        _transition_action("reject_selected", _("Reject selected bookings"), services.booking_reject),
        _transition_action("cancel_selected", _("Cancel selected bookings"), services.booking_cancel),
    ]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        user = request.user
        if user.is_centre_admin:
            return qs
        if user.is_school_admin:
            return qs.filter(Q(school_id=user.school_id) | Q(resource__school_id=user.school_id))
        return qs.none()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # bookings are cancelled, never deleted: the history stays


class ClosureForm(forms.ModelForm):
    class Meta:
        model = Closure
        fields = ["scope", "kind", "school", "resource", "start_date", "end_date", "reason"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        closure = Closure(created_by=self.actor, **cleaned)
        try:
            services.closure_validate(actor=self.actor, closure=closure)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        return cleaned


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    form = ClosureForm
    list_display = ["reason", "scope", "kind", "school", "resource", "start_date", "end_date"]
    list_filter = ["scope", "kind"]
    search_fields = ["reason", "school__name", "resource__name"]
    date_hierarchy = "start_date"
    autocomplete_fields = ["school", "resource"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.actor = request.user
        return form

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        user = request.user
        if user.is_centre_admin:
            return qs
        if user.is_school_admin:
            return qs.filter(
                Q(scope="city") | Q(school_id=user.school_id) | Q(resource__school_id=user.school_id)
            )
        return qs.none()

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.scope == "city" and not request.user.is_centre_admin:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class CentreOnlyAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_centre_admin

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    has_change_permission = has_view_permission

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)


@admin.register(EquitySettings)
class EquitySettingsAdmin(CentreOnlyAdmin):
    """The city-wide booking policy: one row (the county priority window, quotas, timers)."""

    list_display = ["__str__", "urban_advance_days", "county_advance_days", "monthly_quota_hours",
                    "pending_expiry_hours", "no_show_grace_minutes", "adjusted_day_mode"]  # fmt: skip

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not EquitySettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        EquitySettings.current()  # there is always exactly one row to edit
        return super().changelist_view(request, extra_context)


@admin.register(SchoolQuota)
class SchoolQuotaAdmin(CentreOnlyAdmin):
    list_display = ["school", "monthly_hours"]
    search_fields = ["school__name", "school__code"]
    autocomplete_fields = ["school"]
