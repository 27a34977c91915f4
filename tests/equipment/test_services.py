"""Inventory services: tickets and the resource status they drive, the overdue job."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from equipment import services
from equipment.models import MaintenanceTicket
from equipment.tasks import maintenance_flag_overdue_task
from tests.factories import ResourceFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Harbin


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True)


def report(actor, lab, *, out=True, now=T0):
    return services.ticket_report(
        actor=actor, resource=lab, description="漏水", takes_out_of_service=out, now=now
    )


def test_resource_returns_to_service_only_when_its_last_blocking_ticket_is_resolved(
    lab, urban_teacher, urban_admin
):
    first = report(urban_teacher, lab)
    second = report(urban_teacher, lab, now=T0 + dt.timedelta(hours=1))
    lab.refresh_from_db()
    assert lab.status == "maintenance"
    services.ticket_resolve(actor=urban_admin, ticket=first, now=T0 + dt.timedelta(hours=2))
    lab.refresh_from_db()
    assert lab.status == "maintenance"
    services.ticket_resolve(actor=urban_admin, ticket=second, now=T0 + dt.timedelta(hours=3))
    lab.refresh_from_db()
    assert lab.status == "active"


def test_a_retired_resource_stays_retired(lab, urban_teacher, urban_admin):
    lab.status = "retired"
    lab.save()
    ticket = report(urban_teacher, lab)
    services.ticket_resolve(actor=urban_admin, ticket=ticket, now=T0 + dt.timedelta(hours=1))
    lab.refresh_from_db()
    assert lab.status == "retired"


def test_a_ticket_that_does_not_take_it_out_leaves_the_resource_bookable(lab, urban_teacher):
    report(urban_teacher, lab, out=False)
    lab.refresh_from_db()
    assert lab.status == "active"


def test_centre_admin_resolves_any_ticket_school_admin_of_another_school_cannot(
    lab, urban_teacher, county_admin
):
    ticket = report(urban_teacher, lab)
    with pytest.raises(ValidationError) as err:
        services.ticket_resolve(actor=county_admin, ticket=ticket)
    assert err.value.code == "forbidden"
    services.ticket_resolve(actor=UserFactory(role="centre_admin", school=None), ticket=ticket)


def test_overdue_job_flags_each_ticket_once_and_tells_the_schools_admins(lab, urban_teacher, urban_admin):
    late = report(urban_teacher, lab)
    on_time = report(urban_teacher, lab, now=T0 + dt.timedelta(hours=20))
    assert services.tickets_flag_overdue(now=T0 + dt.timedelta(hours=23, minutes=59)) == []
    flagged = services.tickets_flag_overdue(now=T0 + dt.timedelta(hours=24, minutes=1))
    assert flagged == [late.pk]
    assert len(mail.outbox) == 1
    assert urban_admin.email in mail.outbox[0].to
    # Running again changes nothing and sends nothing.
    assert services.tickets_flag_overdue(now=T0 + dt.timedelta(hours=25)) == []
    assert len(mail.outbox) == 1
    late.refresh_from_db()
    assert late.overdue_flagged_at == T0 + dt.timedelta(hours=24, minutes=1)
    on_time.refresh_from_db()
    assert on_time.overdue_flagged_at is None


def test_resolved_tickets_are_never_flagged(lab, urban_teacher, urban_admin):
    ticket = report(urban_teacher, lab)
    services.ticket_resolve(actor=urban_admin, ticket=ticket, now=T0 + dt.timedelta(hours=30))
    assert services.tickets_flag_overdue(now=T0 + dt.timedelta(hours=48)) == []


def test_the_periodic_task_runs_the_service(lab, urban_teacher):
    ticket = services.ticket_report(
        actor=urban_teacher, resource=lab, description="x", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    )
    assert maintenance_flag_overdue_task.delay().get() == 1
    assert MaintenanceTicket.objects.get(pk=ticket.pk).overdue_flagged_at is not None


def test_the_overdue_job_is_scheduled(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert any(entry["task"] == "equipment.maintenance_flag_overdue" for entry in schedule.values())


def test_opening_hours_are_replaced_atomically(lab, urban_admin):
    with pytest.raises(ValidationError):
        services.resource_update(
            actor=urban_admin,
            resource=lab,
            data={"capacity": 12},
            opening_hours=[(0, dt.time(8), dt.time(12)), (0, dt.time(10), dt.time(14))],
        )
    lab.refresh_from_db()
    assert lab.capacity == 40
    assert lab.opening_hours.count() == 5


def test_database_refuses_an_asset_in_two_places(lab, urban_school):
    from django.db import IntegrityError, transaction

    from tests.factories import AssetFactory, KitFactory

    kit = KitFactory(school=urban_school)
    with pytest.raises(IntegrityError), transaction.atomic():
        AssetFactory(school=urban_school, space=lab, kit=kit)
