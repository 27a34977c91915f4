"""Reads of schools and users, scoped to what the caller may see."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import ClassPeriod, District, School, User


def district_list() -> QuerySet[District]:
    return District.objects.all()


def school_list() -> QuerySet[School]:
    # Schools are public facts (name, district, level): every user reads them.
    return School.objects.select_related("district")


def bell_schedule_for(school: School) -> QuerySet[ClassPeriod]:
    return ClassPeriod.objects.filter(school=school).order_by("number")


def user_list_for(actor: User) -> QuerySet[User]:
    """Centre admins: everyone. School admins: their school's teachers (and themselves)."""
    qs = User.objects.select_related("school")
    if actor.is_centre_admin:
        return qs
    if actor.is_school_admin:
        return qs.filter(school_id=actor.school_id, role=User.Role.TEACHER) | qs.filter(pk=actor.pk)
    return qs.filter(pk=actor.pk)
