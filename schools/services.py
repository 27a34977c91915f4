"""Every write to schools, bell schedules and users. One transaction per use case."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .models import ClassPeriod, District, School, User
from .rules import check_bell_schedule, check_user_management

SCHOOL_FIELDS = (
    "code",
    "name",
    "name_en",
    "district",
    "level",
    "is_public",
    "student_count",
    "latitude",
    "longitude",
)
USER_FIELDS = ("username", "display_name", "email", "role", "school", "phone", "is_active")


def _assign(obj: Any, data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    for field, value in data.items():
        if field not in allowed:
            raise ValidationError({field: [_("This field cannot be changed.")]}, code="invalid")
        setattr(obj, field, value)


@transaction.atomic
def school_create(*, actor: User, data: Mapping[str, Any]) -> School:
    _require_centre_admin(actor)
    school = School()
    _assign(school, data, SCHOOL_FIELDS)
    school.full_clean()
    school.save()
    return school


@transaction.atomic
def school_update(*, actor: User, school: School, data: Mapping[str, Any]) -> School:
    _require_centre_admin(actor)
    school = School.objects.select_for_update().get(pk=school.pk)
    _assign(school, data, SCHOOL_FIELDS)
    school.full_clean()
    school.save()
    return school


@transaction.atomic
def bell_schedule_replace(
    *, actor: User, school: School, periods: Iterable[tuple[int, dt.time, dt.time]]
) -> list[ClassPeriod]:
    """Replace a school's whole bell schedule. Raises code='invalid_schedule' on overlaps."""
    if not actor.administers(school.pk):
        raise ValidationError(_("You cannot change this school's bell schedule."), code="forbidden")
    periods = sorted(periods)
    check_bell_schedule(periods)
    # Lock the school row so two concurrent replacements do not interleave.
    School.objects.select_for_update().get(pk=school.pk)
    ClassPeriod.objects.filter(school=school).delete()
    return ClassPeriod.objects.bulk_create(
        ClassPeriod(school=school, number=n, start=s, end=e) for n, s, e in periods
    )


def _require_centre_admin(actor: User) -> None:
    if not actor.is_centre_admin:
        raise ValidationError(_("Only sharing-centre administrators may do this."), code="forbidden")


def _staff_flag(user: User) -> None:
    # Admins use the Django admin (back office); teachers and analysts do not.
    if not user.is_superuser:
        user.is_staff = user.role in (User.Role.SCHOOL_ADMIN, User.Role.CENTRE_ADMIN)


@transaction.atomic
def user_create(*, actor: User, data: Mapping[str, Any], password: str) -> User:
    """Create an account. School admins may only create teachers of their own school."""
    data = dict(data)
    if actor.is_school_admin:
        data.setdefault("school", actor.school)
        data.setdefault("role", User.Role.TEACHER)
    user = User()
    _assign(user, data, USER_FIELDS)
    check_user_management(
        actor_role=actor.role if not actor.is_superuser else User.Role.CENTRE_ADMIN,
        actor_school_id=actor.school_id,
        target_role=user.role,
        target_school_id=user.school_id,
    )
    validate_password(password, user)
    user.set_password(password)
    _staff_flag(user)
    user.full_clean()
    user.save()
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, data: Mapping[str, Any], password: str | None = None) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    actor_role = actor.role if not actor.is_superuser else User.Role.CENTRE_ADMIN
    # The account as it is must be the actor's to manage ...
    check_user_management(
        actor_role=actor_role,
        actor_school_id=actor.school_id,
        target_role=user.role,
        target_school_id=user.school_id,
    )
    if user.is_superuser and not actor.is_superuser:
        raise ValidationError(_("Only a superuser may change a superuser."), code="forbidden")
    _assign(user, data, USER_FIELDS)
    # ... and so must the account as it would become (no promotion, no transfer away).
    check_user_management(
        actor_role=actor_role,
        actor_school_id=actor.school_id,
        target_role=user.role,
        target_school_id=user.school_id,
    )
    if password:
        validate_password(password, user)
        user.set_password(password)
    _staff_flag(user)
    user.full_clean()
    user.save()
    return user


def district_upsert(*, code: str, defaults: Mapping[str, Any]) -> tuple[District, bool]:
    """Used by the seeders: idempotent by division code."""
    district, created = District.objects.update_or_create(code=code, defaults=dict(defaults))
    return district, created
