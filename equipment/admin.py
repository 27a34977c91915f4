"""The inventory back office: resources, catalogue, assets (with spreadsheet import/export), faults.

Rows are scoped by role (`SchoolScopedAdmin`); resources, assets and tickets are written through
`equipment.services`, so the admin enforces the same rules as the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Count, F, Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from schools.admin import SchoolScopedAdmin
from schools.models import School

from . import services
from .importing import COLUMNS, MAX_BYTES, MAX_ROWS, export_assets, import_assets, parse_asset_file
from .models import (
    Asset,
    CatalogItem,
    Interface,
    KitTypeContent,
    MaintenanceTicket,
    OpeningHours,
    Resource,
)
from .rules import check_kit_fields, check_opening_hours

# --- shared machinery -------------------------------------------------------------------------


class _ServiceRejected(Exception):
    def __init__(self, error: ValidationError):
        super().__init__(error)
        self.error = error


def _add_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """A service's ValidationError as form errors: on the field when the form has it, else on top."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            target = name if name in form.fields and name != NON_FIELD_ERRORS else None
            form.add_error(target, ValidationError(errors))
    else:
        form.add_error(None, error)


def _adopt(obj, saved) -> None:
    """Let the admin's object become the row a service saved (the admin logs and redirects with it)."""
    for model_field in obj._meta.concrete_fields:
        setattr(obj, model_field.attname, getattr(saved, model_field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


class ServiceBackedAdmin(SchoolScopedAdmin):
    """Saves call a service from save_model/save_related; a ValidationError there becomes form errors.

    The admin saves after the form validated, inside its own transaction. A service that refuses
    raises _ServiceRejected, which rolls that transaction back; the view then runs once more
    with the service's errors attached to the form, so the user sees them next to their input.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _ServiceRejected as rejected:
            request._service_error = rejected.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class ServiceCheckedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                error = getattr(request, "_service_error", None)
                if error is not None:
                    _add_errors(self, error)
                return cleaned

        return ServiceCheckedForm

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # A school admin picks only their own school's spaces, kits and assets.
        if request.user.is_school_admin and db_field.related_model in (Resource, Asset):
            kwargs["queryset"] = db_field.related_model._default_manager.filter(
                school_id=request.user.school_id
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request):
        # A school admin sees one school: a school filter would only repeat it.
        filters = super().get_list_filter(request)
        if request.user.is_centre_admin:
            return filters
        return [f for f in filters if f != "school"]


class CentreManagedAdmin(admin.ModelAdmin):
    """The standard catalogue belongs to the centre: school admins may look, not change."""

    def has_add_permission(self, request, *args):
        return request.user.is_centre_admin and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return request.user.is_centre_admin and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_centre_admin and super().has_delete_permission(request, obj)


# --- catalogue --------------------------------------------------------------------------------


@admin.register(Interface)
class InterfaceAdmin(CentreManagedAdmin):
    list_display = ["code", "name", "name_en", "kind"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "name_en"]


class KitTypeContentInline(admin.TabularInline):
    model = KitTypeContent
    fk_name = "kit_type"
    extra = 0
    autocomplete_fields = ["item"]

    def has_add_permission(self, request, obj=None):
        return request.user.is_centre_admin and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return request.user.is_centre_admin and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_centre_admin and super().has_delete_permission(request, obj)


@admin.register(CatalogItem)
class CatalogItemAdmin(CentreManagedAdmin):
    list_display = ["code", "name", "name_en", "category", "unit_value_cny", "asset_count"]
    list_filter = ["category"]
    search_fields = ["code", "name", "name_en"]
    filter_horizontal = ["requires"]
    autocomplete_fields = ["adapter_from", "adapter_to"]
    inlines = [KitTypeContentInline]
    fieldsets = (
        (None, {"fields": ("code", "name", "name_en", "category", "unit_value_cny")}),
        (gettext_lazy("Interfaces"), {"fields": ("requires", "adapter_from", "adapter_to")}),
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        assets = Q()
        if not request.user.is_centre_admin:
            assets = Q(assets__school_id=request.user.school_id)
        return qs.annotate(_asset_count=Count("assets", filter=assets))

    @admin.display(description=gettext_lazy("assets"), ordering="_asset_count")
    def asset_count(self, obj):
        return obj._asset_count

    def get_inlines(self, request, obj):
        # Only a kit type has contents.
        if obj is None or obj.category == CatalogItem.Category.KIT:
            return self.inlines
        return []


# --- resources --------------------------------------------------------------------------------


class OpeningHoursFormSet(forms.BaseInlineFormSet):
    def ranges(self):
        return [
            (f.cleaned_data["weekday"], f.cleaned_data["start"], f.cleaned_data["end"])
            for f in self.forms
            if f.cleaned_data
            and not f.cleaned_data.get("DELETE")
            and {"weekday", "start", "end"} <= f.cleaned_data.keys()
        ]

    def clean(self):
        super().clean()
        try:
            check_opening_hours(self.ranges())
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 0
    verbose_name_plural = gettext_lazy(
        "Opening hours (none on a new resource: the school's bell-schedule day)"
    )


class _AssetListInline(admin.TabularInline):
    """What is in this space or kit: a list with links; assets are edited on their own page."""

    model = Asset
    fields = ["tag", "catalog_item", "serial_number", "status", "condition", "value_cny"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("catalog_item")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SpaceAssetsInline(_AssetListInline):
    fk_name = "space"
    verbose_name = gettext_lazy("asset in this space")
    verbose_name_plural = gettext_lazy("assets in this space")


class KitContentsInline(_AssetListInline):
    fk_name = "kit"
    verbose_name = gettext_lazy("asset in this kit")
    verbose_name_plural = gettext_lazy("kit contents")


@admin.register(Resource)
class ResourceAdmin(ServiceBackedAdmin):
    list_display = ["name", "school", "kind", "subject", "capacity", "shared", "status"]
    list_filter = ["kind", "subject", "status", "shared", "school__district__kind"]
    search_fields = ["name", "building", "room", "school__name", "school__code"]
    list_select_related = ["school"]
    autocomplete_fields = ["school"]
    filter_horizontal = ["provides"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "kind",
                    "subject",
                    "school",
                    "capacity",
                    "status",
                    "shared",
                    "requires_approval",
                    "required_qualification",
                )
            },
        ),
        (gettext_lazy("Where"), {"fields": ("building", "room", "description")}),
        (
            gettext_lazy("Booking rules"),
            {"fields": ("min_notice_hours", "max_advance_days", "min_minutes", "max_minutes")},
        ),
        (gettext_lazy("Mobile kit"), {"fields": ("kit_type", "transit_buffer_minutes")}),
        (gettext_lazy("Interfaces"), {"fields": ("provides",)}),
    )

    def get_inlines(self, request, obj):
        if obj is None:
            return [OpeningHoursInline]
        return [OpeningHoursInline, KitContentsInline if obj.is_kit else SpaceAssetsInline]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class ResourceForm(form_class):
            def clean(self):
                cleaned = super().clean()
                kit_type = cleaned.get("kit_type")
                try:
                    check_kit_fields(
                        kind=cleaned.get("kind") or "",
                        transit_buffer_minutes=cleaned.get("transit_buffer_minutes") or 0,
                        kit_type_category=kit_type.category if kit_type else None,
                    )
                except ValidationError as exc:
                    _add_errors(self, exc)
                return cleaned

        return ResourceForm

    def save_model(self, request, obj, form, change):
        """Saved with its opening hours and interfaces in save_related, through the service."""

    def save_related(self, request, form, formsets, change):
        obj = form.instance  # the object save_form built and save_model left unsaved
        data = {
            name: form.cleaned_data[name] for name in services.RESOURCE_FIELDS if name in form.cleaned_data
        }
        provides = (
            [i.code for i in form.cleaned_data["provides"]] if "provides" in form.cleaned_data else None
        )
        opening_hours = None
        for formset in formsets:
            if isinstance(formset, OpeningHoursFormSet) and (formset.has_changed() or not change):
                ranges = formset.ranges()
                # A new resource without hours opens on its school's bell-schedule day.
                opening_hours = ranges if ranges or change else None
        try:
            if change:
                saved = services.resource_update(
                    actor=request.user,
                    resource=obj,
                    data=data,
                    opening_hours=opening_hours,
                    provides=provides,
                )
            else:
                saved = services.resource_create(
                    actor=request.user, data=data, opening_hours=opening_hours, provides=provides
                )
        except ValidationError as exc:
            raise _ServiceRejected(exc) from exc
        _adopt(obj, saved)
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


# --- assets -----------------------------------------------------------------------------------


class AssetImportForm(forms.Form):
    school = forms.ModelChoiceField(queryset=School.objects.all(), label=gettext_lazy("school"))
    file = forms.FileField(
        label=gettext_lazy("spreadsheet"),
        help_text=gettext_lazy("A .xlsx workbook or a .csv file (UTF-8 or GBK), at most 5 MB."),
    )

    def __init__(self, *args, user, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        school = self.fields["school"]
        if user.is_school_admin:
            school.queryset = School.objects.filter(pk=user.school_id)
            school.initial = user.school_id
            school.empty_label = None
            school.disabled = True
        else:
            school.widget = AutocompleteSelect(Asset._meta.get_field("school"), admin_site)
            school.widget.choices = school.choices

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB; split it into smaller files.")
                % {"mb": MAX_BYTES // 2**20}
            )
        return upload


@admin.register(Asset)
class AssetAdmin(ServiceBackedAdmin):
    list_display = ["tag", "catalog_item", "school", "location_label", "status", "condition", "value_cny"]
    list_filter = ["status", "condition", "catalog_item__category", "school"]
    search_fields = ["tag", "serial_number", "catalog_item__code", "catalog_item__name"]
    list_select_related = ["catalog_item", "school", "space__school", "kit__school"]
    autocomplete_fields = ["catalog_item", "school", "space", "kit"]
    change_list_template = "admin/equipment/asset/change_list.html"
    actions = ["export_selected_csv", "export_selected_xlsx"]
    fieldsets = (
        (None, {"fields": ("tag", "catalog_item", "serial_number", "school")}),
        (
            gettext_lazy("Where"),
            {
                "fields": ("space", "kit"),
                "description": gettext_lazy("In a space, in a mobile kit, or neither (in the store)."),
            },
        ),
        (None, {"fields": ("status", "condition", "purchase_date", "value_cny", "notes")}),
    )

    @admin.display(description=gettext_lazy("location"))
    def location_label(self, obj):
        return obj.location_label

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "value_cny" and field is not None:
            field.required = False
            field.help_text = _("Empty: the catalogue item's unit value.")
        return field

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class AssetForm(form_class):
            def clean(self):
                cleaned = super().clean()
                item = cleaned.get("catalog_item")
                if "value_cny" in self.fields and cleaned.get("value_cny") is None and item is not None:
                    cleaned["value_cny"] = item.unit_value_cny
                if cleaned.get("space") and cleaned.get("kit"):
                    self.add_error("kit", _("An asset is in a space or in a kit, not both."))
                return cleaned

        return AssetForm

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in services.ASSET_FIELDS if name in form.cleaned_data}
        try:
            if change:
                saved = services.asset_update(actor=request.user, asset=obj, data=data)
            else:
                saved = services.asset_create(actor=request.user, data=data)
        except ValidationError as exc:
            raise _ServiceRejected(exc) from exc
        _adopt(obj, saved)

    # Spreadsheet import and export ---------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="{}_{}_import".format(*info)),
            path(
                "import/template/",
                view(self.import_template_view),
                name="{}_{}_import_template".format(*info),
            ),
            path("export/<str:fmt>/", view(self.export_view), name="{}_{}_export".format(*info)),
            *super().get_urls(),
        ]

    def _spreadsheet_response(self, queryset, fmt: str) -> HttpResponse:
        content, content_type, filename = export_assets(queryset, fmt)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def export_view(self, request, fmt: str):
        """The changelist as it is filtered, searched and sorted, as a spreadsheet."""
        if fmt not in ("csv", "xlsx"):
            raise Http404
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:equipment_asset_changelist") + "?e=1")
        return self._spreadsheet_response(changelist.queryset, fmt)

    def import_template_view(self, request):
        """An empty workbook with the import columns."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        response = self._spreadsheet_response(Asset.objects.none(), "xlsx")
        response["Content-Disposition"] = 'attachment; filename="assets-template.xlsx"'
        return response

    @admin.action(description=gettext_lazy("Export selected assets (CSV)"), permissions=["view"])
    def export_selected_csv(self, request, queryset):
        return self._spreadsheet_response(queryset, "csv")

    @admin.action(description=gettext_lazy("Export selected assets (Excel)"), permissions=["view"])
    def export_selected_xlsx(self, request, queryset):
        return self._spreadsheet_response(queryset, "xlsx")

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        result = None
        if request.method == "POST":
            form = AssetImportForm(request.POST, request.FILES, user=request.user, admin_site=self.admin_site)
            if form.is_valid():
                upload, school = form.cleaned_data["file"], form.cleaned_data["school"]
                try:
                    rows = parse_asset_file(upload.read(), upload.name)
                    result = import_assets(actor=request.user, school=school, rows=rows)
                except ValidationError as exc:
                    form.add_error("school" if exc.code == "forbidden" else "file", exc)
                else:
                    if result.ok:
                        self.message_user(
                            request,
                            ngettext(
                                "Imported %(count)d asset into %(school)s.",
                                "Imported %(count)d assets into %(school)s.",
                                result.count,
                            )
                            % {"count": result.count, "school": school.name},
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(reverse("admin:equipment_asset_changelist"))
        else:
            form = AssetImportForm(user=request.user, admin_site=self.admin_site)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import assets from a spreadsheet"),
            "opts": self.opts,
            "form": form,
            "result": result,
            "columns": COLUMNS,
            "required_columns": ("tag", "catalog_code"),
            "max_rows": MAX_ROWS,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/equipment/asset/import.html", context)


# --- maintenance ------------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = gettext_lazy("24-hour repair target")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("Open and overdue")),
            ("late", _("Resolved late")),
            ("no", _("Within target")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        overdue = Q(due_at__lt=now) & ~Q(status=MaintenanceTicket.Status.RESOLVED)
        late = Q(status=MaintenanceTicket.Status.RESOLVED, resolved_at__gt=F("due_at"))
        if self.value() == "yes":
            return queryset.filter(overdue)
        if self.value() == "late":
            return queryset.filter(late)
        if self.value() == "no":
            return queryset.exclude(overdue).exclude(late)
        return queryset


@admin.register(MaintenanceTicket)
class MaintenanceTicketAdmin(ServiceBackedAdmin):
    list_display = [
        "id",
        "subject",
        "school",
        "severity",
        "status",
        "reported_at",
        "due_at",
        "overdue",
        "takes_out_of_service",
    ]
    list_display_links = ["id", "subject"]
    list_filter = ["status", "severity", OverdueFilter, "takes_out_of_service", "school__district__kind"]
    search_fields = ["description", "resource__name", "asset__tag", "school__name"]
    list_select_related = ["school", "resource", "asset__catalog_item"]
    autocomplete_fields = ["resource", "asset"]
    date_hierarchy = "reported_at"
    actions = ["resolve_selected", "start_selected"]
    add_fields = ["resource", "asset", "severity", "description", "takes_out_of_service"]
    # Status changes go through the actions (the services); only the wording stays editable.
    editable_fields = ["severity", "description"]
    fields = [
        "school",
        "resource",
        "asset",
        "severity",
        "description",
        "takes_out_of_service",
        "status",
        "reported_by",
        "reported_at",
        "due_at",
        "overdue_flagged_at",
        "resolved_by",
        "resolved_at",
        "resolution",
    ]

    @admin.display(description=gettext_lazy("subject"))
    def subject(self, obj):
        return obj.asset or obj.resource

    @admin.display(description=gettext_lazy("overdue"), boolean=True)
    def overdue(self, obj):
        return obj.is_overdue

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f for f in self.fields if f not in self.editable_fields]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        try:
            saved = services.ticket_report(
                actor=request.user,
                resource=form.cleaned_data.get("resource"),
                asset=form.cleaned_data.get("asset"),
                severity=form.cleaned_data["severity"],
                description=form.cleaned_data["description"],
                takes_out_of_service=form.cleaned_data.get("takes_out_of_service", False),
            )
        except ValidationError as exc:
            raise _ServiceRejected(exc) from exc
        _adopt(obj, saved)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            return form_class

        class TicketReportForm(form_class):
            def clean(self):
                cleaned = super().clean()
                if bool(cleaned.get("resource")) == bool(cleaned.get("asset")):
                    # On the field, so the model's generic "constraint violated" does not repeat it.
                    self.add_error("resource", _("Report a fault on exactly one resource or one asset."))
                return cleaned

        return TicketReportForm

    def _apply(self, request, queryset, service, done_message, failed_message):
        done, failed = 0, []
        for ticket in queryset.order_by("pk"):
            try:
                service(actor=request.user, ticket=ticket)
            except ValidationError as exc:
                failed.append(f"#{ticket.pk}: {' '.join(exc.messages)}")
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done) % {"count": done}, messages.SUCCESS)
        if failed:
            self.message_user(request, failed_message % {"errors": "; ".join(failed)}, messages.ERROR)

    @admin.action(description=gettext_lazy("Resolve selected tickets"), permissions=["change"])
    def resolve_selected(self, request, queryset):
        self._apply(
            request,
            queryset,
            services.ticket_resolve,
            lambda n: ngettext("%(count)d ticket resolved.", "%(count)d tickets resolved.", n),
            _("Not resolved: %(errors)s"),
        )

    @admin.action(description=gettext_lazy("Start work on selected tickets"), permissions=["change"])
    def start_selected(self, request, queryset):
        self._apply(
            request,
            queryset,
            services.ticket_start,
            lambda n: ngettext("%(count)d ticket in progress.", "%(count)d tickets in progress.", n),
            _("Not started: %(errors)s"),
        )
