"""Property: any sequence of create / cancel / approve / reject keeps the engine's invariants."""

import datetime as dt
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking import rules, services
from booking.models import ACTIVE_STATUSES, Booking, BookingEvent
from tests.booking.conftest import local, next_workday
from tests.factories import KitFactory, ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db

create = st.tuples(
    st.just("create"),
    st.integers(0, 2),  # resource
    st.integers(0, 2),  # teacher
    st.integers(0, 30),  # start, in 15-minute steps after 08:00
    st.sampled_from([30, 45, 60, 90]),
)
act = st.tuples(st.sampled_from(["cancel", "approve", "reject"]), st.integers(0, 40))
operations = st.lists(st.one_of(create, act), min_size=1, max_size=25)


@pytest.fixture
def world(db):
    district = SchoolFactory().district
    owner = SchoolFactory(district=district)
    resources = [
        ResourceFactory(school=owner, requires_approval=True),
        ResourceFactory(school=owner),
        KitFactory(school=owner, transit_buffer_minutes=30),
    ]
    teachers = [UserFactory(role="teacher", school=SchoolFactory(district=district)) for _ in range(3)]
    admin = UserFactory(role="school_admin", school=owner)
    return resources, teachers, admin, next_workday()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_operations_keep_the_invariants(world, ops):
    resources, teachers, admin, day = world
    with transaction.atomic():
        made = []
        refused: set[str] = set()
        for op in ops:
            try:
                if op[0] == "create":
                    _, r, t, step, minutes = op
                    start = local(day, 8) + dt.timedelta(minutes=15 * step)
                    made.append(
                        services.booking_create(
                            actor=teachers[t],
                            resource=resources[r],
                            start=start,
                            end=start + dt.timedelta(minutes=minutes),
                            class_size=10,
                        )
                    )
                elif made:
                    name, index = op
                    booking = made[index % len(made)]
                    actor = teachers[0] if name == "cancel" and booking.booked_by == teachers[0] else admin
                    getattr(services, f"booking_{name}")(actor=actor, booking=booking)
            except ValidationError as exc:
                refused.update(e.code for e in exc.error_list)

        assert refused <= {"conflict", "invalid_transition", "forbidden", "outside_opening_hours"}
        active = list(Booking.objects.filter(status__in=ACTIVE_STATUSES))
        for i, a in enumerate(active):
            for b in active[i + 1 :]:
                if a.resource_id == b.resource_id:
                    assert not rules.overlaps(a.block_start, a.block_end, b.block_start, b.block_end)
        for booking in Booking.objects.all():
            events = list(BookingEvent.objects.filter(booking=booking).order_by("at", "pk"))
            assert events[0].from_status == ""
            assert events[-1].to_status == booking.status
            for prev, nxt in itertools.pairwise(events):
                assert prev.to_status == nxt.from_status
                assert nxt.to_status in rules.TRANSITIONS[prev.to_status]
            assert booking.block_start <= booking.start < booking.end <= booking.block_end
        transaction.set_rollback(True)
