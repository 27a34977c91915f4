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

    list_display = [
        "__str__",
        "urban_advance_days",
        "county_advance_days",
        "monthly_quota_hours",
        "pending_expiry_hours",
        "no_show_grace_minutes",
        "adjusted_day_mode",
    ]

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


# --- kit rotation ---------------------------------------------------------------------------

from .models import CustodyEvent, Handover, HandoverCheck, Placement, RotationPlan, RotationRequest  # noqa: E402
from .rotation import services as rotation_services  # noqa: E402


@admin.register(RotationRequest)
class RotationRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "school", "kit_type", "kit", "days", "earliest", "latest_end", "students", "status"]
    list_filter = ["status", "kit_type", "school__district__kind"]
    search_fields = ["school__name", "reason"]
    readonly_fields = ["requested_by", "created_at", "status"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_centre_admin:
            return qs
        return qs.filter(school_id=request.user.school_id) if request.user.is_school_admin else qs.none()

    def has_add_permission(self, request):
        return False  # filed through the API by school admins (rules in rotation.services)


class PlacementInline(admin.TabularInline):
    model = Placement
    extra = 0
    can_delete = False
    fields = ["kit", "school", "start", "end", "adapter", "transit_in_days", "km_in", "pinned", "booking"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RotationPlan)
class RotationPlanAdmin(CentreOnlyAdmin):
    """Proposed and applied plans; applying writes bookings through the booking service."""

    list_display = [
        "id",
        "date_from",
        "date_to",
        "status",
        "solver",
        "solver_status",
        "objective",
        "gap",
        "travel_km",
        "created_at",
    ]
    list_filter = ["status", "solver"]
    inlines = [PlacementInline]
    readonly_fields = [f.name for f in RotationPlan._meta.fields]
    actions = ["apply_selected"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Apply the selected plans (book every placement)"))
    def apply_selected(self, request, queryset):
        for plan in queryset:
            try:
                rotation_services.plan_apply(actor=request.user, plan=plan)
                self.message_user(request, _("Plan #%(id)s applied.") % {"id": plan.pk}, messages.SUCCESS)
            except ValidationError as exc:
                self.message_user(request, f"#{plan.pk}: {'; '.join(exc.messages)}", messages.ERROR)


class HandoverCheckInline(admin.TabularInline):
    model = HandoverCheck
    extra = 0
    can_delete = False
    fields = ["stage", "asset", "present", "condition", "note", "ticket"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Handover)
class HandoverAdmin(admin.ModelAdmin):
    list_display = [
        "kit",
        "sequence",
        "from_school",
        "to_school",
        "status",
        "checked_out_at",
        "checked_in_at",
    ]
    list_filter = ["status"]
    search_fields = ["kit__name", "from_school__name", "to_school__name"]
    inlines = [HandoverCheckInline]
    readonly_fields = [f.name for f in Handover._meta.fields]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        user = request.user
        if user.is_centre_admin:
            return qs
        if user.is_school_admin:
            return qs.filter(Q(from_school_id=user.school_id) | Q(to_school_id=user.school_id))
        return qs.none()

    def has_add_permission(self, request):
        return False


@admin.register(CustodyEvent)
class CustodyEventAdmin(CentreOnlyAdmin):
    list_display = ["kit", "asset", "school", "event", "at", "actor"]
    list_filter = ["event"]
    search_fields = ["kit__name", "asset__tag"]
    readonly_fields = [f.name for f in CustodyEvent._meta.fields]

    def has_add_permission(self, request):
        return False


# --- reports --------------------------------------------------------------------------------

from django.utils.html import format_html  # noqa: E402

from .models import MonthlyReport  # noqa: E402


@admin.register(MonthlyReport)
class MonthlyReportAdmin(CentreOnlyAdmin):
    list_display = ["month", "status", "ready_at", "utilisation", "idle_rate", "files"]
    list_filter = ["status"]
    readonly_fields = ["month", "status", "requested_by", "created_at", "started_at", "ready_at", "error"]
    exclude = ["snapshot"]

    def has_add_permission(self, request):
        return False  # ask through POST /api/v1/reports/ or `manage.py build_monthly_report`

    def _city(self, obj, key):
        value = (obj.snapshot or {}).get("city", {}).get(key)
        return "-" if value is None else f"{value * 100:.1f}%"

    @admin.display(description=_("utilisation"))
    def utilisation(self, obj):
        return self._city(obj, "utilisation")

    @admin.display(description=_("idle rate"))
    def idle_rate(self, obj):
        return self._city(obj, "idle_rate")

    @admin.display(description=_("files"))
    def files(self, obj):
        if obj.status != MonthlyReport.Status.READY:
            return "-"
        base = f"/api/v1/reports/{obj.pk}/download/?format="
        return format_html(
            '<a href="{}csv">CSV</a> · <a href="{}xlsx">XLSX</a> · <a href="{}pdf">PDF</a>', base, base, base
        )
