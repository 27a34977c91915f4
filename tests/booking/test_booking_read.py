"""booking_create on PostgreSQL reads everything its rules need in one statement
(`_lock_and_read_postgres`); the ORM reads the same through `day_facts`, `EquitySettings.current`
and the quota override. The two must agree on every day and every kind of fact."""

import datetime as dt
import random

import pytest
from django.db import transaction

from booking.models import (
    Closure,
    EquitySettings,
    HolidayYear,
    NotificationPreference,
    OfficialDay,
    SchoolQuota,
)
from booking.services import _lock_and_read_postgres, day_facts
from equipment.models import Resource
from schools.models import Qualification, TeacherQualification
from tests.factories import ResourceFactory, SchoolFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def orm_read(actor, resource_pk, day):
    resource = Resource.objects.select_related("school", "required_qualification").get(pk=resource_pk)
    quota = (
        SchoolQuota.objects.filter(school_id=actor.school_id).values_list("monthly_hours", flat=True).first()
    )
    pref = NotificationPreference.objects.filter(user=actor).values_list("language", flat=True).first()
    return resource, EquitySettings.current(), day_facts(actor, resource, day), quota, pref


def assert_same(actor, resource_pk, day):
    with transaction.atomic():
        read = _lock_and_read_postgres(actor, resource_pk, day)
    resource, equity, facts, quota, language = orm_read(actor, resource_pk, day)
    for f in Resource._meta.concrete_fields:
        assert getattr(read.resource, f.attname) == getattr(resource, f.attname), f.attname
    assert read.resource.school.name == resource.school.name
    if resource.required_qualification_id:
        assert read.resource.required_qualification.code == resource.required_qualification.code
        assert read.resource.required_qualification.name == resource.required_qualification.name
    else:
        assert read.resource.required_qualification is None
    for f in EquitySettings._meta.concrete_fields:
        assert getattr(read.equity, f.attname) == getattr(equity, f.attname), f.attname
    assert read.facts == facts
    assert read.quota_override == quota
    assert read.language == language


def test_one_statement_read_equals_the_orm_on_random_calendars():
    rng = random.Random(7)
    EquitySettings.current()
    chem = Qualification.objects.create(code="chem", name="化学实验室安全培训")
    schools = [SchoolFactory() for _ in range(3)]
    resources = []
    for i, school in enumerate(schools):
        hours = [(w, dt.time(8 + w % 2), dt.time(12)) for w in range(6)] + [
            (w, dt.time(13), dt.time(17, 30)) for w in range(5)
        ]
        resources.append(
            ResourceFactory(school=school, hours=hours, required_qualification=chem if i == 1 else None)
        )
    teachers = [UserFactory(role="teacher", school=s) for s in schools]
    TeacherQualification.objects.create(
        user=teachers[0],
        qualification=chem,
        obtained_on=dt.date(2025, 1, 1),
        expires_on=dt.date(2026, 12, 20),
    )
    first_aid = Qualification.objects.create(code="first_aid", name="急救")
    for teacher in teachers[:2]:  # a qualification the resources do not ask for changes nothing
        TeacherQualification.objects.create(
            user=teacher, qualification=first_aid, obtained_on=dt.date(2025, 1, 1)
        )
    NotificationPreference.objects.create(user=teachers[1], language="en")
    SchoolQuota.objects.create(school=schools[2], monthly_hours=7)
    base = dt.date(2026, 12, 1)
    for n in range(12):
        start = base + dt.timedelta(days=rng.randrange(0, 60))
        end = start + dt.timedelta(days=rng.randrange(0, 5))
        scope = rng.choice(["city", "school", "resource"])
        Closure.objects.create(
            scope=scope,
            school=rng.choice(schools) if scope == "school" else None,
            resource=rng.choice(resources) if scope == "resource" else None,
            start_date=start,
            end_date=end,
            reason=f"closure {n}",
        )
    # A loaded official arrangement for 2027: a holiday and a moved working Saturday.
    year = HolidayYear.objects.create(year=2027)
    OfficialDay.objects.create(year=year, date=dt.date(2027, 1, 1), kind="holiday", name="元旦")
    OfficialDay.objects.create(year=year, date=dt.date(2027, 1, 9), kind="workday", name="调休上班")
    days = [base + dt.timedelta(days=d) for d in range(0, 62)]
    for day in days:
        for actor in teachers:
            for resource in resources:
                assert_same(actor, resource.pk, day)


def test_one_statement_read_of_an_unknown_resource_raises_does_not_exist():
    teacher = UserFactory(role="teacher")
    with pytest.raises(Resource.DoesNotExist), transaction.atomic():
        _lock_and_read_postgres(teacher, 10**9, dt.date(2026, 12, 1))


def test_without_a_policy_row_the_read_says_so_and_booking_creates_the_defaults():
    from booking.services import booking_create
    from tests.booking.conftest import local, next_workday

    EquitySettings.objects.all().delete()
    lab = ResourceFactory()
    teacher = UserFactory(role="teacher", school=lab.school)
    day = next_workday()
    with transaction.atomic():
        assert _lock_and_read_postgres(teacher, lab.pk, day).equity is None
    booking = booking_create(
        actor=teacher, resource=lab, start=local(day, 9), end=local(day, 10), class_size=5
    )
    assert booking.pk
    assert EquitySettings.objects.filter(pk=1).exists()
