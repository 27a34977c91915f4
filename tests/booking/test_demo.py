"""The booking part of the demo: term breaks and a term of bookings around today."""

import datetime as dt
import itertools

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from booking import demo, services
from booking.models import Booking, BookingEvent, Closure, EquitySettings
from schools.models import School

pytestmark = pytest.mark.django_db


def test_demo_bookings_are_plausible_and_idempotent():
    call_command("seed_demo", verbosity=0)
    count = Booking.objects.count()
    assert count > 1000
    assert Booking.objects.filter(status="completed").exists()
    assert Booking.objects.filter(status__in=["approved", "pending"]).exists()  # the future
    assert Booking.objects.filter(is_external=True, school__district__kind="county").count() > count * 0.2
    assert Closure.objects.filter(scope="city", kind="term_break", reason__startswith="寒假").exists()
    # Every booking has a history that ends in its status.
    assert BookingEvent.objects.values("booking").distinct().count() == count
    active = Booking.objects.filter(status__in=["pending", "approved", "checked_in", "held"])
    rows = sorted(active.values_list("resource_id", "block_start", "block_end"))
    for (r1, _s1, e1), (r2, s2, _e2) in itertools.pairwise(rows):
        assert r1 != r2 or e1 <= s2, "overlapping demo bookings"
    # Whoever tries the demo as a county teacher can still book this month and the next: the demo
    # leaves half of every school's monthly quota free.
    equity = EquitySettings.current()
    now = timezone.now()
    for school in School.objects.filter(district__kind="county"):
        quota = services.quota_hours_for(school, equity)
        for when in (now, now + dt.timedelta(days=31)):
            assert services.external_minutes_in_month(school.pk, when) <= quota * 60 * demo.QUOTA_SHARE
    call_command("seed_demo", verbosity=0)
    assert Booking.objects.count() == count
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM booking_booking")
            assert cursor.fetchone()[0] == count
