"""Time `manage.py seed_city --schools 2876 --seed 1` on PostgreSQL and print counts and seconds.

    .venv/bin/python bench/seed_city.py [--schools N] [--seed S] [--runs R]

Uses the database `edushare_bench` (BENCH_DATABASE; created if missing through BENCH_ADMIN_URL,
default postgres://postgres@127.0.0.1:5432/postgres), migrated first. It replaces the synthetic
city there, and with it any bookings another benchmark made on it. The first run builds the city
on an empty database; later runs replace it (the delete path). Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, database_url, ensure_database  # noqa: E402


def manage(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=2876)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2, help="runs after the first (replacing the city)")
    options = parser.parse_args()

    pg_version = ensure_database()
    url = database_url()
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.base"}
    manage("migrate", "-v0", env=env)

    python = platform.python_version()
    print(f"machine: {os.cpu_count()} CPUs ({cpu_model()}), PostgreSQL {pg_version}, Python {python}")
    command = ("seed_city", "--schools", str(options.schools), "--seed", str(options.seed))
    print(f"command: DATABASE_URL={url} manage.py {' '.join(command)}")
    timings = []
    for run in range(1 + options.runs):
        seconds = manage(*command, env=env)
        timings.append(seconds)
        label = "empty database" if run == 0 else "replacing the city"
        print(f"run {run + 1} ({label}): {seconds:.1f} s wall, including Django start-up")

    os.environ.update(env)
    import django

    django.setup()
    from equipment.models import Asset, OpeningHours, Resource
    from schools.models import ClassPeriod, School, User

    city = School.objects.filter(code__startswith="CITY-")
    counts = {
        "schools": city.count(),
        "class periods": ClassPeriod.objects.filter(school__in=city).count(),
        "users": User.objects.filter(school__in=city).count(),
        "resources": Resource.objects.filter(school__in=city).count(),
        "opening hours": OpeningHours.objects.filter(resource__school__in=city).count(),
        "interfaces provided": Resource.provides.through.objects.filter(resource__school__in=city).count(),
        "assets": Asset.objects.filter(school__in=city).count(),
    }
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"best: {min(timings):.1f} s, worst: {max(timings):.1f} s")


if __name__ == "__main__":
    main()
