"""The database refuses overlapping opening ranges of one resource and weekday (PostgreSQL): the
city search's and the metrics' SQL subtract bookings from each range separately and rely on it."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from equipment.models import OpeningHours
from tests.factories import ResourceFactory

# An exclusion constraint, PostgreSQL only (on SQLite the services' check is the guard).
pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_overlapping_ranges_are_refused_touching_ones_and_other_weekdays_are_not():
    lab = ResourceFactory(hours=[(0, dt.time(8), dt.time(12))])
    OpeningHours.objects.create(resource=lab, weekday=0, start=dt.time(12), end=dt.time(17))  # touching
    OpeningHours.objects.create(resource=lab, weekday=1, start=dt.time(9), end=dt.time(10))  # another day
    OpeningHours.objects.create(
        resource=ResourceFactory(hours=False), weekday=0, start=dt.time(9), end=dt.time(10)
    )  # another resource
    with pytest.raises(IntegrityError), transaction.atomic():
        OpeningHours.objects.create(resource=lab, weekday=0, start=dt.time(11), end=dt.time(13))
