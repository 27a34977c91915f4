"""WHO: districts, schools, their bell schedules, and the users who act for them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

LATITUDE = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE = [MinValueValidator(-180), MaxValueValidator(180)]


class District(models.Model):
    """A county-level unit of Harbin, identified by its national administrative division code."""

    class Kind(models.TextChoices):
        URBAN = "urban", _("Urban")
        COUNTY = "county", _("County")

    class Zone(models.TextChoices):
        # Source document 5.1: core (main city + new areas), radiating ring, linkage counties.
        CORE = "core", _("Core")
        RADIATING = "radiating", _("Radiating")
        LINKAGE = "linkage", _("Linkage")

    code = models.CharField(
        _("division code"),
        max_length=6,
        unique=True,
        validators=[RegexValidator(r"^\d{6}$", _("A division code has six digits."))],
    )
    name = models.CharField(_("name"), max_length=50)
    name_en = models.CharField(_("English name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    zone = models.CharField(_("zone"), max_length=10, choices=Zone.choices)
    latitude = models.DecimalField(_("latitude"), max_digits=8, decimal_places=5, validators=LATITUDE)
    longitude = models.DecimalField(_("longitude"), max_digits=8, decimal_places=5, validators=LONGITUDE)

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["urban", "county"]), name="district_kind_valid"),
            models.CheckConstraint(
                condition=Q(zone__in=["core", "radiating", "linkage"]), name="district_zone_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_county(self) -> bool:
        return self.kind == self.Kind.COUNTY


class School(models.Model):
    class Level(models.TextChoices):
        KINDERGARTEN = "kindergarten", _("Kindergarten")
        PRIMARY = "primary", _("Primary school")
        JUNIOR = "junior", _("Junior high school")
        SENIOR = "senior", _("Senior high school")
        VOCATIONAL = "vocational", _("Secondary vocational school")
        HIGHER = "higher", _("Higher education")

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, related_name="schools", verbose_name=_("district")
    )
    level = models.CharField(_("level"), max_length=15, choices=Level.choices)
    is_public = models.BooleanField(_("public"), default=True)
    student_count = models.PositiveIntegerField(_("students"), default=0)
    # Optional: a school without coordinates cannot be placed on travel-time searches.
    latitude = models.DecimalField(
        _("latitude"), max_digits=8, decimal_places=5, null=True, blank=True, validators=LATITUDE
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=8, decimal_places=5, null=True, blank=True, validators=LONGITUDE
    )

    class Meta:
        verbose_name = _("school")
        verbose_name_plural = _("schools")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="school_coordinates_both_or_neither",
            ),
            models.CheckConstraint(
                condition=Q(
                    level__in=[
                        "kindergarten",
                        "primary",
                        "junior",
                        "senior",
                        "vocational",
                        "higher",
                    ]
                ),
                name="school_level_valid",
            ),
        ]
        indexes = [models.Index(fields=["district", "level"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_county(self) -> bool:
        return self.district.kind == District.Kind.COUNTY


class ClassPeriod(models.Model):
    """One class period of a school's bell schedule. Chinese schools book by period ("5-6")."""

    school = models.ForeignKey(
        School, on_delete=models.CASCADE, related_name="periods", verbose_name=_("school")
    )
    number = models.PositiveSmallIntegerField(
        _("period"), validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))

    class Meta:
        verbose_name = _("class period")
        verbose_name_plural = _("bell schedule")
        ordering = ["school", "number"]
        constraints = [
            models.UniqueConstraint(fields=["school", "number"], name="period_number_unique_per_school"),
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="period_start_before_end"),
            models.CheckConstraint(condition=Q(number__gte=1), name="period_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.start:%H:%M}-{self.end:%H:%M}"


# What a school admin may do in the back office; rows are still limited to their own school.
SCHOOL_ADMIN_APPS = {"schools", "equipment", "booking"}
SCHOOL_ADMIN_SCHOOLS_PERMS = {
    "schools.view_school",
    "schools.view_district",
    "schools.view_classperiod",
    "schools.add_classperiod",
    "schools.change_classperiod",
    "schools.delete_classperiod",
    "schools.view_user",
    "schools.add_user",
    "schools.change_user",
    # They record their teachers' training (e.g. chemistry-lab safety) for booking rules.
    "schools.view_qualification",
    "schools.view_teacherqualification",
    "schools.add_teacherqualification",
    "schools.change_teacherqualification",
    "schools.delete_teacherqualification",
}


def _school_admin_may(perm: str) -> bool:
    app_label = perm.split(".", 1)[0]
    if app_label == "schools":
        return perm in SCHOOL_ADMIN_SCHOOLS_PERMS
    return app_label in SCHOOL_ADMIN_APPS


class UserManager(DjangoUserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # The stock createsuperuser (also --noinput) must give a working centre admin.
        extra_fields.setdefault("role", User.Role.CENTRE_ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    class Role(models.TextChoices):
        TEACHER = "teacher", _("Teacher")
        SCHOOL_ADMIN = "school_admin", _("School administrator")
        CENTRE_ADMIN = "centre_admin", _("Sharing-centre administrator")
        ANALYST = "analyst", _("Analyst")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.TEACHER)
    school = models.ForeignKey(
        School,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("school"),
    )
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    # Personal data: masked for roles that do not need it (source document 7.4).
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(role__in=["teacher", "school_admin"]) | Q(school__isnull=False),
                name="user_school_staff_have_school",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["teacher", "school_admin", "centre_admin", "analyst"]),
                name="user_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_centre_admin(self) -> bool:
        return self.is_superuser or self.role == self.Role.CENTRE_ADMIN

    @property
    def is_school_admin(self) -> bool:
        return self.role == self.Role.SCHOOL_ADMIN and not self.is_superuser

    @property
    def is_teacher(self) -> bool:
        return self.role == self.Role.TEACHER and not self.is_superuser

    @property
    def is_analyst(self) -> bool:
        return self.role == self.Role.ANALYST and not self.is_superuser

    def has_perm(self, perm: str, obj=None) -> bool:
        # Roles carry their back-office permissions, so no group bookkeeping can drift from
        # the role. Row scoping (own school only) is done by the admin classes' querysets.
        if self.is_active and not self.is_superuser:
            if self.role == self.Role.CENTRE_ADMIN:
                return True
            if self.role == self.Role.SCHOOL_ADMIN and _school_admin_may(perm):
                return True
        return super().has_perm(perm, obj)

    def has_module_perms(self, app_label: str) -> bool:
        if self.is_active and not self.is_superuser:
            if self.role == self.Role.CENTRE_ADMIN:
                return True
            if self.role == self.Role.SCHOOL_ADMIN and app_label in SCHOOL_ADMIN_APPS:
                return True
        return super().has_module_perms(app_label)

    def administers(self, school_id: int | None) -> bool:
        """True when this user may manage the given school's data."""
        if self.is_centre_admin:
            return True
        return self.is_school_admin and school_id is not None and self.school_id == school_id


class Qualification(models.Model):
    """A training a teacher must hold to book some resources (e.g. chemistry-lab safety)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)
    validity_months = models.PositiveSmallIntegerField(
        _("valid for (months)"), null=True, blank=True, help_text=_("Empty: never expires.")
    )

    class Meta:
        verbose_name = _("qualification")
        verbose_name_plural = _("qualifications")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class TeacherQualification(models.Model):
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="qualifications", verbose_name=_("teacher")
    )
    qualification = models.ForeignKey(
        Qualification, on_delete=models.PROTECT, related_name="holders", verbose_name=_("qualification")
    )
    obtained_on = models.DateField(_("obtained on"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)

    class Meta:
        verbose_name = _("teacher qualification")
        verbose_name_plural = _("teacher qualifications")
        ordering = ["user", "qualification"]
        constraints = [
            models.UniqueConstraint(fields=["user", "qualification"], name="qualification_once_per_user"),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=F("obtained_on")),
                name="qualification_expires_after_obtained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.qualification}"
