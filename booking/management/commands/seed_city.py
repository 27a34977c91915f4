"""Build a synthetic Harbin at full scale (2,876 schools by default) for benchmarks."""

import time

from django.core.management.base import BaseCommand, CommandError

from schools import demo as schools_demo
from schools.demo_data import SCHOOLS_TOTAL

MAX_SCHOOLS = 20_000


class Command(BaseCommand):
    help = "Replace the synthetic city (codes CITY-…) with N schools, in bulk, deterministically."

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
        created = schools_demo.seed_city_schools(count=schools, seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Synthetic city: {len(created)} schools in {time.perf_counter() - started:.1f} s."
            )
        )
