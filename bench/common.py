"""Shared plumbing of the benchmarks: the bench database, Django set-up, machine facts, tables,
results files, the booking fixture (schools, users, tokens, resources) and the overlap check.

Not app code and not tests: nothing here is imported by the project.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = os.environ.get("BENCH_DATABASE", "edushare_bench")
BENCH_SECRET_KEY = "edushare-bench-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"


def active_sql() -> str:
    """booking.models.ACTIVE_STATUSES as an SQL list (the statuses the exclusion constraint covers)."""
    from booking.models import ACTIVE_STATUSES

    return "(" + ", ".join(f"'{s}'" for s in ACTIVE_STATUSES) + ")"


def overlap_sql() -> str:
    """One query over every pair of active bookings of one resource whose blocked ranges overlap."""
    return f"""
SELECT count(*) FROM booking_booking a
JOIN booking_booking b
  ON a.resource_id = b.resource_id AND a.id < b.id
 AND tstzrange(a.block_start, a.block_end, '[)') && tstzrange(b.block_start, b.block_end, '[)')
WHERE a.status IN {active_sql()} AND b.status IN {active_sql()}
"""


def database_url(name: str = DATABASE) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def ensure_database(name: str = DATABASE) -> str:
    """Create the bench database if it is missing; return the server version."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return conn.execute("SHOW server_version").fetchone()[0]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def cpu_busy(seconds: float = 1.0) -> float:
    """The whole machine's busy share (%) over `seconds`, from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    b0, t0 = sample()
    time.sleep(seconds)
    b1, t1 = sample()
    return 100.0 * (b1 - b0) / max(1, t1 - t0)


def wait_for_quiet(max_wait: float, threshold: float = 20.0) -> float:
    """Wait (up to max_wait s) until the machine is below `threshold` % busy for 3 s in a row:
    other work on 2 cores distorts every number. Returns the last busy share measured."""
    deadline = time.monotonic() + max_wait
    quiet = 0
    busy = cpu_busy()
    while time.monotonic() < deadline:
        quiet = quiet + 1 if busy < threshold else 0
        if quiet >= 3:
            return busy
        if quiet == 0:
            print(f"  (machine {busy:.0f} % busy with other work: waiting for it to settle)", flush=True)
        busy = cpu_busy(1.0 if quiet else 5.0)
    print(f"  (machine still {busy:.0f} % busy after {max_wait:.0f} s: measuring anyway)", flush=True)
    return busy


def process_cpu_seconds(pids) -> float:
    """utime + stime of these processes (those that still exist), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


class CpuSampler:
    """CPU seconds used by a changing set of processes (gunicorn workers, PostgreSQL backends of
    the bench database) over a run: polls /proc every 0.2 s, so a process that starts or ends
    during the run counts with what it used while seen."""

    def __init__(self, pick):
        import threading

        self.pick = pick  # () -> list of pids
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _poll(self) -> None:
        for pid in self.pick():
            cpu = process_cpu_seconds([pid])
            self.first.setdefault(pid, cpu)
            self.last[pid] = cpu

    def _loop(self) -> None:
        while not self.stop_event.wait(0.2):
            self._poll()

    def start(self) -> None:
        self._poll()
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join()
        self._poll()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last)


def postgres_backends(name: str = DATABASE) -> list[int]:
    """Client backends of database `name`, found by their process title."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {name} ".encode() in title:
            out.append(int(entry.name))
    return out


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def git_state() -> dict:
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
        except OSError:
            return ""

    dirty = [
        line[3:] for line in git("status", "--porcelain").splitlines() if not line[3:].startswith("bench/")
    ]
    import hashlib

    measured = [
        "booking/services.py",
        "booking/selectors.py",
        "booking/search_sql.py",
        "booking/metrics.py",
        "booking/notifications.py",
        "booking/feeds.py",
        "booking/api/views.py",
        "booking/api/serializers.py",
        "config/authentication.py",
    ]
    digests = {
        f: hashlib.sha256((ROOT / f).read_bytes()).hexdigest()[:12] for f in measured if (ROOT / f).exists()
    }
    return {
        "head": git("rev-parse", "--short", "HEAD").strip(),
        "uncommitted_app_files": dirty,
        "sha256_of_measured_files": digests,
    }


def machine(pg_version: str) -> dict:
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "ram_gib": ram_gib(),
        "postgresql": pg_version,
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "git": git_state(),
    }


def print_machine(info: dict) -> None:
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram_gib']} GiB RAM, "
        f"PostgreSQL {info['postgresql']}, Python {info['python']}, "
        f"load average at start {info['load_average_at_start']}"
    )


BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


class BenchRedis:
    """A Redis database of the bench's own (db 13 unless BENCH_REDIS_URL): the cache and the Celery
    broker of the code under test, as in production. Bookings enqueue notification deliveries
    that no worker consumes here; at the end the database is flushed, but only if it was empty at
    the start (so nothing of anyone else's is ever removed)."""

    def __init__(self, url: str = BENCH_REDIS_URL):
        import redis

        self.url = url
        self.client = redis.Redis.from_url(url)
        self.owned = self.client.dbsize() == 0
        if not self.owned:
            print(f"  (note: {url} is not empty; it will not be flushed at the end)", flush=True)

    def queued(self) -> int:
        return int(self.client.llen("celery"))

    def close(self) -> None:
        if self.owned:
            self.client.flushdb()
        self.client.close()


def setup_django(url: str, *, migrate: bool = True, redis_url: str = "") -> None:
    """DJANGO_SETTINGS_MODULE=config.settings.base, DEBUG=false, DATABASE_URL=url, REDIS_URL=redis_url
    (unset when empty: in-process cache, eager Celery); migrate."""
    os.environ["DATABASE_URL"] = url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
        os.environ["CACHE_KEY_PREFIX"] = "edushare-bench"
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on the sorted values; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summary_ms(seconds: Sequence[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 50), 2),
        "p95_ms": round(pct(ms, 95), 2),
        "p99_ms": round(pct(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2) if ms else 0.0,
        "max_ms": round(max(ms), 2) if ms else 0.0,
    }


def table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A Markdown table, columns padded (prints well and pastes into docs/benchmarks.md)."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def write_results(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def reset_bookings(conn: psycopg.Connection) -> None:
    """TRUNCATE booking_bookingevent, booking_booking CASCADE; retried if it deadlocks with another
    session of the shared bench database (e.g. seed_city deleting the city's bookings)."""
    for attempt in range(10):
        try:
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '60s'")
                conn.execute("TRUNCATE booking_bookingevent, booking_booking CASCADE")
            return
        except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable):
            if attempt == 9:
                raise
            time.sleep(1 + attempt)


def overlaps(conn: psycopg.Connection) -> int:
    return conn.execute(overlap_sql()).fetchone()[0]


def active_rows(conn: psycopg.Connection) -> int:
    return conn.execute(f"SELECT count(*) FROM booking_booking WHERE status IN {active_sql()}").fetchone()[0]


def deadlocks(conn: psycopg.Connection, name: str = DATABASE) -> int:
    """Cumulative deadlocks of the database (pg_stat_database; flushed when backends exit)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()[0]


# --- the booking fixture (booking_service and booking_http) ----------------------------------

OPEN_FROM = dt.time(8, 0)
OPEN_UNTIL = dt.time(18, 0)
SLOT_MINUTES = 45
GRID_MINUTES = 15
OWNER_SCHOOLS = 50


def ensure_booking_fixture(*, users: int, resources: int) -> dict:
    """Idempotently create the bench schools, teachers (with API tokens) and shared rooms.

    Rooms: open every day 08:00-18:00, no notice, 366 days ahead, 30-240 minutes, no approval.
    The city policy row: no monthly quota, 366-day horizons, so every generated request passes
    the rules and only the overlap decides. Teachers belong to requesting schools (half urban,
    half county), rooms to other schools: every booking is external (the quota path runs).
    """
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from booking.models import EquitySettings
    from equipment.models import OpeningHours, Resource
    from schools.demo import SeedReport, seed_districts
    from schools.models import District, School, User

    equity_before = {
        k: getattr(EquitySettings.current(), k)
        for k in ("monthly_quota_hours", "urban_advance_days", "county_advance_days")
    }
    with transaction.atomic():
        districts = seed_districts(SeedReport())
        urban = sorted((d for d in districts.values() if d.kind == District.Kind.URBAN), key=lambda d: d.code)
        county = sorted(
            (d for d in districts.values() if d.kind == District.Kind.COUNTY), key=lambda d: d.code
        )
        EquitySettings.current()
        EquitySettings.objects.filter(pk=1).update(
            monthly_quota_hours=0, urban_advance_days=366, county_advance_days=366
        )

        def school(code: str, i: int) -> School:
            district = (urban if i % 2 == 0 else county)[i % 5]
            obj, _ = School.objects.update_or_create(
                code=code,
                defaults={
                    "name": f"Bench school {code}",
                    "district": district,
                    "level": "junior",
                    "latitude": district.latitude,
                    "longitude": district.longitude,
                },
            )
            return obj

        user_rows = []
        for i in range(users):
            s = school(f"BENCH-R{i + 1:03d}", i)
            u, _ = User.objects.update_or_create(
                username=f"bench-t{i + 1:03d}", defaults={"role": "teacher", "school": s, "is_active": True}
            )
            token, _ = Token.objects.get_or_create(user=u)
            user_rows.append({"id": u.pk, "school_id": s.pk, "token": token.key})

        owners = [school(f"BENCH-O{i + 1:03d}", i) for i in range(OWNER_SCHOOLS)]
        resource_ids = []
        for i in range(resources):
            owner = owners[i % OWNER_SCHOOLS]
            r, _ = Resource.objects.update_or_create(
                school=owner,
                name=f"Bench room {i // OWNER_SCHOOLS + 1}",
                defaults={
                    "kind": "room",
                    "subject": "general",
                    "capacity": 60,
                    "shared": True,
                    "requires_approval": False,
                    "status": "active",
                    "min_notice_hours": 0,
                    "max_advance_days": 366,
                    "county_advance_days": None,
                    "min_minutes": 30,
                    "max_minutes": 240,
                    "required_qualification": None,
                    "transit_buffer_minutes": 0,
                },
            )
            resource_ids.append(r.pk)
        OpeningHours.objects.filter(resource_id__in=resource_ids).delete()
        OpeningHours.objects.bulk_create(
            OpeningHours(resource_id=rid, weekday=w, start=OPEN_FROM, end=OPEN_UNTIL)
            for rid in resource_ids
            for w in range(7)
        )
    return {"users": user_rows, "resources": resource_ids, "equity_before": equity_before}


def restore_equity(values: dict) -> None:
    """Put back the city policy fields the booking fixture changed."""
    from booking.models import EquitySettings

    EquitySettings.objects.filter(pk=1).update(**values)


def working_days(count: int) -> list[dt.date]:
    """The next `count` ordinary working days (no holiday, no adjusted day) from tomorrow, local."""
    from django.utils import timezone

    from booking.calendar import local_tz
    from booking.holidays import WORKDAY, days_info

    first = timezone.now().astimezone(local_tz()).date() + dt.timedelta(days=1)
    info = days_info(first, first + dt.timedelta(days=count * 3 + 30))
    return [d for d, i in sorted(info.items()) if i.kind == WORKDAY][:count]


def city_inventory(prefix: str = "CITY-") -> tuple[list, dict, dict]:
    """The synthetic city as the data set-ups need it: (resource id, school id) pairs by id, each
    resource's weekly opening ranges, and each school's first teacher (`<code>-t1`)."""
    from collections import defaultdict

    from equipment.models import OpeningHours, Resource
    from schools.models import User

    resources = list(
        Resource.objects.filter(school__code__startswith=prefix).order_by("pk").values_list("pk", "school_id")
    )
    hours: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for rid, weekday, start, end in OpeningHours.objects.filter(
        resource__school__code__startswith=prefix
    ).values_list("resource_id", "weekday", "start", "end"):
        hours[rid][weekday].append((start, end))
    teachers = dict(
        User.objects.filter(school__code__startswith=prefix, username__endswith="-t1").values_list(
            "school_id", "pk"
        )
    )
    return resources, hours, teachers


def booking_requests(resource_ids: Sequence[int], *, n: int, days: int, seed: int) -> list[tuple]:
    """n random 45-minute requests (resource id, start, end) on a 15-minute grid inside opening
    hours, over the next `days` working days."""
    from booking.calendar import local_tz

    tz = local_tz()
    rng = random.Random(seed)
    dates = working_days(days)
    last_start = (OPEN_UNTIL.hour * 60 - SLOT_MINUTES - OPEN_FROM.hour * 60) // GRID_MINUTES
    out = []
    for _ in range(n):
        day = rng.choice(dates)
        start = dt.datetime.combine(day, OPEN_FROM, tzinfo=tz) + dt.timedelta(
            minutes=GRID_MINUTES * rng.randint(0, last_start)
        )
        out.append((rng.choice(resource_ids), start, start + dt.timedelta(minutes=SLOT_MINUTES)))
    return out


def error_codes(exc) -> list[str]:
    """Codes of a Django ValidationError, flat (dict or list form)."""
    if hasattr(exc, "error_dict"):
        return [e.code or "invalid" for errors in exc.error_dict.values() for e in errors]
    return [e.code or "invalid" for e in exc.error_list]
