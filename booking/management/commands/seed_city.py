"""Build a synthetic Harbin at full scale (2,876 schools by default) for benchmarks."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

from booking.models import Booking
from equipment import demo as equipment_demo
from schools import demo as schools_demo
from schools.demo_data import SCHOOLS_TOTAL

MAX_SCHOOLS = 20_000


class Command(BaseCommand):
    help = "Replace the synthetic city (codes CITY-…) with N schools and their inventory, in bulk."

    def add_arguments(self, parser):
        parser.add_argument(
            "--schools",
            type=int,
            default=SCHOOLS_TOTAL,
            help=f"number of schools (1..{MAX_SCHOOLS}, default {SCHOOLS_TOTAL})",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")

    def handle(self, *args, schools, seed, **options):
        if not 1 <= schools <= MAX_SCHOOLS:
            raise CommandError(f"--schools must be between 1 and {MAX_SCHOOLS} (got {schools}).")
        if seed < 0:
            raise CommandError(f"--seed must be zero or positive (got {seed}).")
        started = time.perf_counter()
        with transaction.atomic():
            # The old city's bookings, then its inventory, go first: they PROTECT its schools.
            city = schools_demo.CITY_CODE_PREFIX
            bookings = Booking.objects.filter(
                Q(resource__school__code__startswith=city)
                | Q(school__code__startswith=city)
                | Q(booked_by__school__code__startswith=city)
            )
            if bookings.exists():
                bookings.delete()
            equipment_demo.city_resources_delete()
            created = schools_demo.seed_city_schools(count=schools, seed=seed)
            inventory = equipment_demo.seed_city_resources(schools=created, seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Synthetic city: {len(created)} schools, {inventory['resources']} resources, "
                f"{inventory['assets']} assets in {time.perf_counter() - started:.1f} s."
            )
        )
