from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import ClassPeriod, District, School, User
from .rules import check_bell_schedule, check_user_management


class SchoolScopedAdmin(admin.ModelAdmin):
    """Centre admins see every row; a school admin only rows of their own school.

    `school_lookup` is the ORM path from the model to its school.
    """

    school_lookup = "school"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        user = request.user
        if user.is_centre_admin:
            return qs
        if user.is_school_admin:
            return qs.filter(**{self.school_lookup: user.school_id})
        return qs.none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = request.user
        if db_field.name == "school" and user.is_school_admin:
            kwargs["queryset"] = School.objects.filter(pk=user.school_id)
            kwargs["initial"] = user.school_id
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ClassPeriodInlineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        periods = [
            (f.cleaned_data["number"], f.cleaned_data["start"], f.cleaned_data["end"])
            for f in self.forms
            if f.cleaned_data
            and not f.cleaned_data.get("DELETE")
            and {"number", "start", "end"} <= f.cleaned_data.keys()
        ]
        try:
            check_bell_schedule(periods)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


class ClassPeriodInline(admin.TabularInline):
    model = ClassPeriod
    formset = ClassPeriodInlineFormSet
    extra = 0
    ordering = ["number"]


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "kind", "zone", "school_count"]
    list_filter = ["kind", "zone"]
    search_fields = ["code", "name", "name_en"]
    ordering = ["code"]

    @admin.display(description=_("schools"))
    def school_count(self, obj):
        return obj.schools.count()


@admin.register(School)
class SchoolAdmin(SchoolScopedAdmin):
    school_lookup = "pk"
    list_display = ["code", "name", "district", "level", "is_public", "student_count", "is_county"]
    list_filter = ["level", "district__kind", "district__zone", "is_public", "district"]
    search_fields = ["code", "name", "name_en"]
    list_select_related = ["district"]
    inlines = [ClassPeriodInline]
    autocomplete_fields = ["district"]

    @admin.display(boolean=True, description=_("county school"))
    def is_county(self, obj):
        return obj.is_county

    def has_change_permission(self, request, obj=None):
        # A school admin edits their bell schedule (the inline) but not the school's facts.
        return request.user.administers(obj.pk if obj else None) or request.user.is_centre_admin

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_centre_admin:
            return []
        return [
            "code",
            "name",
            "name_en",
            "district",
            "level",
            "is_public",
            "student_count",
            "latitude",
            "longitude",
        ]


@admin.register(User)
class UserAdmin(SchoolScopedAdmin, DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "school", "is_active", "last_login"]
    list_filter = ["role", "is_active", "school__district__kind", "school__district"]
    search_fields = ["username", "display_name", "email", "school__name"]
    list_select_related = ["school"]
    autocomplete_fields = ["school"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (
            _("Personal info"),
            {"fields": ("display_name", "first_name", "last_name", "email", "phone")},
        ),
        (_("Role"), {"fields": ("role", "school")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "role", "school", "password1", "password2"),
            },
        ),
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_school_admin:
            return qs.filter(role=User.Role.TEACHER)
        return qs

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ["last_login", "date_joined"]
        return ["is_staff", "is_superuser", "groups", "last_login", "date_joined"]

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and request.user.is_school_admin:
            kwargs["choices"] = [(User.Role.TEACHER, User.Role.TEACHER.label)]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)
        actor = request.user

        class RoleCheckedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                school = cleaned.get("school", getattr(self.instance, "school", None))
                try:
                    check_user_management(
                        actor_role=User.Role.CENTRE_ADMIN if actor.is_centre_admin else actor.role,
                        actor_school_id=actor.school_id,
                        target_role=cleaned.get("role", self.instance.role),
                        target_school_id=school.pk if school else None,
                    )
                except ValidationError as exc:
                    raise forms.ValidationError(exc.messages) from None
                return cleaned

        return RoleCheckedForm

    def save_model(self, request, obj, form, change):
        if not obj.is_superuser:
            obj.is_staff = obj.role in (User.Role.SCHOOL_ADMIN, User.Role.CENTRE_ADMIN)
        super().save_model(request, obj, form, change)


@admin.register(ClassPeriod)
class ClassPeriodAdmin(SchoolScopedAdmin):
    list_display = ["school", "number", "start", "end"]
    list_filter = ["school__level"]
    search_fields = ["school__name", "school__code"]
    list_select_related = ["school"]
    autocomplete_fields = ["school"]


# --- qualifications -------------------------------------------------------------------------

from .models import Qualification, TeacherQualification  # noqa: E402


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "validity_months"]
    search_fields = ["code", "name", "name_en"]


@admin.register(TeacherQualification)
class TeacherQualificationAdmin(SchoolScopedAdmin):
    school_lookup = "user__school"
    list_display = ["user", "qualification", "obtained_on", "expires_on"]
    list_filter = ["qualification"]
    search_fields = ["user__username", "user__display_name", "qualification__name"]
    list_select_related = ["user", "qualification"]
    autocomplete_fields = ["user", "qualification"]
