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


# --- equipment ------------------------------------------------------------------------------

from equipment.models import Asset, CatalogItem, Interface, MaintenanceTicket, OpeningHours, Resource  # noqa: E402


class InterfaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interface
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"iface{n}")
    kind = "data"
    name = factory.LazyAttribute(lambda o: o.code)
    name_en = factory.LazyAttribute(lambda o: o.code)


class CatalogItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CatalogItem
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"TST-{n:04d}")
    name = factory.Sequence(lambda n: f"测试器材{n}")
    name_en = factory.Sequence(lambda n: f"Test item {n}")
    category = "physics"
    unit_value_cny = Decimal("100.00")

    @factory.post_generation
    def requires(self, create, extracted, **kwargs):
        """requires=["hdmi", "ac220_cn3"]: interface codes, created on the fly."""
        if create and extracted:
            self.requires.set([InterfaceFactory(code=c) for c in extracted])


class ResourceFactory(factory.django.DjangoModelFactory):
    """A shared physics lab open Monday-Friday 08:00-17:00 unless told otherwise."""

    class Meta:
        model = Resource
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"物理实验室{n}")
    kind = "lab"
    subject = "physics"
    school = factory.SubFactory(SchoolFactory)
    capacity = 40
    shared = True
    requires_approval = False
    min_notice_hours = 24
    max_advance_days = 28
    min_minutes = 30
    max_minutes = 240

    @factory.post_generation
    def hours(self, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        ranges = extracted or [(d, dt.time(8), dt.time(17)) for d in range(5)]
        OpeningHours.objects.bulk_create(
            OpeningHours(resource=self, weekday=w, start=s, end=e) for w, s, e in ranges
        )

    @factory.post_generation
    def provides(self, create, extracted, **kwargs):
        if create and extracted:
            self.provides.set([InterfaceFactory(code=c) for c in extracted])


class KitFactory(ResourceFactory):
    name = factory.Sequence(lambda n: f"移动物理实验室{n}")
    kind = "mobile_kit"
    transit_buffer_minutes = 120
    shared = True


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    tag = factory.Sequence(lambda n: f"A-{n:06d}")
    catalog_item = factory.SubFactory(CatalogItemFactory)
    school = factory.SubFactory(SchoolFactory)
    status = "in_service"
    condition = "good"
    value_cny = Decimal("100.00")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaintenanceTicket

    resource = factory.SubFactory(ResourceFactory)
    school = factory.LazyAttribute(lambda t: t.resource.school if t.resource else t.asset.school)
    description = "投影仪无法开机"
    reported_by = factory.SubFactory(UserFactory, school=factory.SelfAttribute("..school"))
    reported_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))
    due_at = factory.LazyAttribute(lambda t: t.reported_at + dt.timedelta(hours=24))
