import datetime as dt
from decimal import Decimal

import factory

from schools.models import ClassPeriod, District, School, User


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"{239000 + n:06d}")
    name = factory.Sequence(lambda n: f"测试区{n}")
    name_en = factory.Sequence(lambda n: f"Test District {n}")
    kind = "urban"
    zone = "core"
    latitude = Decimal("45.75000")
    longitude = Decimal("126.65000")


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"T-{n:05d}")
    name = factory.Sequence(lambda n: f"测试学校{n}")
    name_en = factory.Sequence(lambda n: f"Test School {n}")
    district = factory.SubFactory(DistrictFactory)
    level = "senior"
    student_count = 1200
    latitude = Decimal("45.76000")
    longitude = Decimal("126.66000")

    @factory.post_generation
    def bell(self, create, extracted, **kwargs):
        """A standard eight-period day unless bell=False."""
        if not create or extracted is False:
            return
        starts = ["08:00", "08:55", "09:50", "10:45", "13:30", "14:25", "15:20", "16:15"]
        ClassPeriod.objects.bulk_create(
            ClassPeriod(
                school=self,
                number=i,
                start=dt.time.fromisoformat(s),
                end=(
                    dt.datetime.combine(dt.date(2026, 1, 1), dt.time.fromisoformat(s))
                    + dt.timedelta(minutes=45)
                ).time(),
            )
            for i, s in enumerate(starts, start=1)
        )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    role = "teacher"
    school = factory.SubFactory(SchoolFactory)
    is_staff = factory.LazyAttribute(lambda u: u.role in ("school_admin", "centre_admin"))
    password = factory.django.Password("correct-horse-battery")
