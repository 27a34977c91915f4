"""Booking service under contention: booking.services.booking_create vs raw psycopg INSERTs.

    .venv/bin/python bench/booking_service.py [--requests N] [--workers 16] [--modes threads,processes]

16 concurrent connections book random 45-minute slots (15-minute grid, inside opening hours,
over the next 10 working days) on 8 resources (most requests collide) and on 200 resources.
"service" calls booking.services.booking_create (every rule, the resource row lock, the overlap
check, the insert, the history row, the deadlock retries). "raw" sends the same request list as
one INSERT each (autocommit: one transaction per insert) into the same booking_booking table with
the same exclusion constraint, counting exclusion violations (23P01) as conflicts and retrying
deadlocks (40P01). The table is truncated before every run; afterwards one SQL query counts
overlapping active bookings (must be 0).

Workers are threads (one process, the GIL shared; psycopg releases it while waiting on the
server) or forked processes (no GIL sharing): --modes picks which, both by default.

--lock-probe adds a probe of the service's locks: the owners of two resources book each other's
resource (16 threads), without and with a monthly quota; --probe-what-if repeats it with
Resource._meta.ordering emptied in this process only (the resource lock then stops joining and
locking the owner school); --probe-only runs just the probe (bench/results/
booking_service_lock_probe.json).

Database: edushare_bench (BENCH_DATABASE), created if missing and migrated. Writes
bench/results/booking_service.json. Goal: service >= 0.25 x raw successful bookings/s, no overlap.
"""

from __future__ import annotations

import argparse
import collections
import os
import secrets
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, runner

GOAL_RATIO = 0.25

RAW_INSERT = """
INSERT INTO booking_booking (resource_id, school_id, booked_by_id, start, "end", block_start, block_end,
    class_size, purpose, status, periods, is_external, check_in_code, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, 20, 'bench', 'approved', '', true, %s, now(), now())
"""


def warm_service(user, resources, request) -> None:
    """Before the clock starts, each worker books once and rolls it back, and opens its broker
    connection: as in a server process that has been running, the prepared statements, the
    server's catalogue caches and the Celery connection pool exist. Without it the short runs
    (about 60 bookings per process) measured mostly start-up."""
    from django.core.exceptions import ValidationError
    from django.db import transaction

    from booking.services import booking_create
    from config.celery import app

    rid, start, end = request
    try:
        with transaction.atomic():
            booking_create(
                actor=user, resource=resources[rid], start=start, end=end, class_size=20, purpose="warm"
            )
            transaction.set_rollback(True)
    except ValidationError:
        pass
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
    with app.producer_or_acquire():
        pass


def service_worker(fixture, requests, url):
    def work(index, next_index, ready, out, done):
        from django.core.exceptions import ValidationError
        from django.db import connection

        from booking.services import booking_create
        from equipment.models import Resource
        from schools.models import User

        user = User.objects.select_related("school__district").get(pk=fixture["users"][index]["id"])
        resources = {rid: Resource(pk=rid) for rid in fixture["all_resources"]}
        ok = conflicts = 0
        other: collections.Counter[str] = collections.Counter()
        latencies = []
        warm_service(user, resources, requests[index % len(requests)])
        ready()
        cpu0 = time.thread_time()
        target = fixture.get("targets", {}).get(index)  # the lock probe: each worker books one resource
        while (i := next_index()) is not None:
            rid, start, end = requests[i]
            rid = target or rid
            t0 = time.perf_counter()
            try:
                booking_create(
                    actor=user, resource=resources[rid], start=start, end=end, class_size=20, purpose="bench"
                )
                ok += 1
            except ValidationError as exc:
                codes = common.error_codes(exc)
                if codes == ["conflict"]:
                    conflicts += 1
                else:
                    other[",".join(codes)] += 1
            latencies.append(time.perf_counter() - t0)
        finished = time.perf_counter()
        cpu = time.thread_time() - cpu0
        out.put(
            {
                "finished": finished,
                "cpu": cpu,
                "ok": ok,
                "conflicts": conflicts,
                "other": dict(other),
                "latencies": latencies,
                "retries": 0,
            }
        )
        done()
        connection.close()

    return work


def raw_worker(fixture, requests, url):
    def work(index, next_index, ready, out, done):
        user = fixture["users"][index]
        conn = psycopg.connect(url, autocommit=True)
        ok = conflicts = retries = 0
        latencies = []
        # Warm like the service: the same INSERT once (prepared), rolled back.
        rid, start, end = requests[index % len(requests)]
        with conn.transaction(force_rollback=True):
            conn.execute(
                RAW_INSERT,
                (rid, user["school_id"], user["id"], start, end, start, end, "WARMUP"),
                prepare=True,
            )
        ready()
        cpu0 = time.thread_time()
        while (i := next_index()) is not None:
            rid, start, end = requests[i]
            params = (
                rid,
                user["school_id"],
                user["id"],
                start,
                end,
                start,
                end,
                secrets.token_hex(3).upper(),
            )
            t0 = time.perf_counter()
            while True:
                try:
                    conn.execute(RAW_INSERT, params, prepare=True)
                    ok += 1
                except psycopg.errors.ExclusionViolation:
                    conflicts += 1
                except psycopg.errors.DeadlockDetected:
                    retries += 1
                    continue
                break
            latencies.append(time.perf_counter() - t0)
        finished = time.perf_counter()
        cpu = time.thread_time() - cpu0
        out.put(
            {
                "finished": finished,
                "cpu": cpu,
                "ok": ok,
                "conflicts": conflicts,
                "other": {},
                "latencies": latencies,
                "retries": retries,
            }
        )
        done()
        conn.close()

    return work


def one_run(kind, mode, workers, fixture, requests, url, admin, resources) -> dict:
    from django.db import connections

    common.reset_bookings(admin)
    connections.close_all()  # no Django connection may cross a fork
    deadlocks0 = common.deadlocks(admin)
    make = service_worker if kind == "service" else raw_worker
    db = common.CpuSampler(common.postgres_backends)
    # The client's CPU is its processes' (every thread: the service hands committed notifications
    # to a background publisher thread), read from /proc like PostgreSQL's.
    me = os.getpid()
    client = common.CpuSampler(lambda: [me] if mode == "threads" else common.children(me))

    def start():
        db.start()
        client.start()

    def stop():
        db.stop()
        client.stop()

    wall, cpu, parts = runner.run(
        mode, workers, len(requests), make(fixture, requests, url), on_start=start, on_end=stop
    )
    time.sleep(0.5)  # let exiting backends flush their statistics
    ok = sum(p["ok"] for p in parts)
    conflicts = sum(p["conflicts"] for p in parts)
    other: collections.Counter[str] = collections.Counter()
    for p in parts:
        other.update(p["other"])
    latencies = [s for p in parts for s in p["latencies"]]
    rows = common.active_rows(admin)
    events = admin.execute("SELECT count(*) FROM booking_bookingevent").fetchone()[0]
    return {
        "kind": kind,
        "mode": mode,
        "resources": resources,
        "requests": len(requests),
        "seconds": round(wall, 3),
        "ok": ok,
        "conflicts": conflicts,
        "rejected_other": dict(other),
        "ok_per_s": round(ok / wall, 1),
        "attempts_per_s": round(len(requests) / wall, 1),
        "latency": common.summary_ms(latencies),
        "deadlocks": common.deadlocks(admin) - deadlocks0,
        "client_deadlock_retries": sum(p["retries"] for p in parts),
        "machine_cpu_busy_pct": round(cpu, 1),
        "python_cpu_ms_per_attempt": round(1000 * client.seconds / len(requests), 3),
        "worker_threads_cpu_ms_per_attempt": round(1000 * sum(p["cpu"] for p in parts) / len(requests), 3),
        "postgres_cpu_ms_per_attempt": round(1000 * db.seconds / len(requests), 3),
        "rows_active": rows,
        "history_rows": events,
        "overlaps": common.overlaps(admin),
    }


def queries_per_booking(fixture, requests) -> list[str]:
    """The SQL one booking_create sends (captured once, outside the timed runs)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from booking.services import booking_create
    from equipment.models import Resource
    from schools.models import User

    user = User.objects.select_related("school__district").get(pk=fixture["users"][0]["id"])
    rid, start, end = requests[0]
    booking_create(actor=user, resource=Resource(pk=rid), start=start, end=end, class_size=20)  # warm
    rid, start, end = requests[1]
    with CaptureQueriesContext(connection) as ctx:
        booking_create(actor=user, resource=Resource(pk=rid), start=start, end=end, class_size=20)
    return [q["sql"] for q in ctx.captured_queries]


def lock_probe(options, fixture, url, admin, what_if: bool = False) -> list[dict]:
    """Two owner schools book each other's resource (8 teachers each, 16 threads), first with no
    quota, then with a quota: the quota path locks the requesting school, and the resource lock
    (`select_for_update().first()` ordered by the owner school's code) also locks the owner school
    row. A's booking holds A and waits for B, B's holds B and waits for A: deadlocks, each found
    only after deadlock_timeout (1 s) and retried by with_retries."""
    from rest_framework.authtoken.models import Token

    from booking.models import EquitySettings
    from equipment.models import Resource
    from schools.models import User

    r0, r1 = fixture["resources"][0], fixture["resources"][1]
    owners = dict(Resource.objects.filter(pk__in=[r0, r1]).values_list("pk", "school_id"))
    users, targets = [], {}
    for n in range(options.workers):
        mine, other = (r0, r1) if n % 2 == 0 else (r1, r0)
        u, _ = User.objects.update_or_create(
            username=f"bench-owner{n % 2}-t{n // 2 + 1}",
            defaults={"role": "teacher", "school_id": owners[mine], "is_active": True},
        )
        Token.objects.get_or_create(user=u)
        users.append({"id": u.pk, "school_id": owners[mine]})
        targets[n] = other
    probe = {"users": users, "targets": targets, "all_resources": [r0, r1], "resources": [r0, r1]}
    requests = common.booking_requests([r0, r1], n=options.probe_requests, days=options.days, seed=99)
    out = []
    for quota in (0, 100_000):
        EquitySettings.objects.filter(pk=1).update(monthly_quota_hours=quota)
        busy = common.wait_for_quiet(options.quiet_wait) if options.quiet_wait else common.cpu_busy()
        r = one_run("service", "threads", options.workers, probe, requests, url, admin, 2)
        r |= {
            "case": f"cross bookings, quota {quota} h"
            + (", what-if: no owner-school join" if what_if else ""),
            "what_if": what_if,
            "quota_hours": quota,
            "machine_busy_before_pct": busy,
        }
        out.append(r)
        print(
            f"lock probe{' (what-if)' if what_if else ''}, quota {quota:>6} h: {r['ok']} ok, "
            f"{r['conflicts']} conflicts, "
            f"{r['ok_per_s']} ok/s, "
            f"deadlocks {r['deadlocks']}, p99 {r['latency']['p99_ms']} ms, max {r['latency']['max_ms']} ms",
            flush=True,
        )
    EquitySettings.objects.filter(pk=1).update(monthly_quota_hours=0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per run (default 1000)")
    parser.add_argument("--workers", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument(
        "--resources", default="8,200", help="resource counts, comma-separated (default 8,200)"
    )
    parser.add_argument("--days", type=int, default=10, help="working days the requests spread over (10)")
    parser.add_argument(
        "--modes", default="threads,processes", help="threads and/or processes (default both)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--raw-repeats", type=int, default=3, help="raw runs per case, the median reported (default 3)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each run, wait up to this many s for other work to stop (0: no wait)",
    )
    parser.add_argument(
        "--lock-probe",
        action="store_true",
        help="also run the cross-booking lock probe (two owner schools book each other's resource)",
    )
    parser.add_argument("--probe-requests", type=int, default=48, help="requests of the lock probe (48)")
    parser.add_argument(
        "--probe-what-if",
        action="store_true",
        help="then the probe again with Resource._meta.ordering emptied in this process only (so the "
        "resource lock no longer joins and locks the owner school): the effect of the suggested fix",
    )
    parser.add_argument(
        "--probe-only",
        action="store_true",
        help="only the lock probe; results to bench/results/booking_service_lock_probe.json",
    )
    options = parser.parse_args()
    modes = [m.strip() for m in options.modes.split(",") if m.strip()]
    counts = [int(x) for x in options.resources.split(",")]

    pg_version = common.ensure_database()
    url = common.database_url()
    bench_redis = common.BenchRedis()
    common.setup_django(url, redis_url=bench_redis.url)
    info = common.machine(pg_version)
    common.print_machine(info)
    fixture = common.ensure_booking_fixture(users=max(32, options.workers), resources=max(counts))
    fixture["all_resources"] = fixture["resources"]
    admin = psycopg.connect(url, autocommit=True)
    probe, runs, sql = [], [], []
    try:
        if not options.probe_only:
            runs, sql = measure(options, counts, modes, fixture, url, admin)
        if options.lock_probe or options.probe_only:
            probe = lock_probe(options, fixture, url, admin)
            if options.probe_what_if:
                from equipment.models import Resource

                ordering, Resource._meta.ordering = Resource._meta.ordering, []
                try:
                    probe += lock_probe(options, fixture, url, admin, what_if=True)
                finally:
                    Resource._meta.ordering = ordering
    finally:
        common.reset_bookings(admin)
        common.restore_equity(fixture["equity_before"])
        admin.close()
        bench_redis.close()
    report(options, counts, modes, runs, sql, info, probe)


def measure(options, counts, modes, fixture, url, admin):
    common.reset_bookings(admin)
    sql = queries_per_booking(fixture, common.booking_requests(fixture["resources"], n=2, days=1, seed=0))
    print(f"one booking_create sends {len(sql)} statements (BEGIN and COMMIT included):")
    for s in sql:
        print("   ", s[:150])

    runs = []
    for count in counts:
        resources = fixture["resources"][:count]
        requests = common.booking_requests(
            resources, n=options.requests, days=options.days, seed=options.seed + count
        )
        for mode in modes:
            for kind in ("service", "raw"):
                tries = []
                for _ in range(options.raw_repeats if kind == "raw" else 1):
                    busy = (
                        common.wait_for_quiet(options.quiet_wait) if options.quiet_wait else common.cpu_busy()
                    )
                    t = one_run(kind, mode, options.workers, fixture, requests, url, admin, count)
                    t["machine_busy_before_pct"] = round(busy, 1)
                    tries.append(t)
                # raw runs last well under a second, and one deadlock stalls its two connections for
                # deadlock_timeout (1 s): report the median of a few
                r = sorted(tries, key=lambda t: t["ok_per_s"])[len(tries) // 2]
                r["repeats"] = [
                    {k: t[k] for k in ("seconds", "ok_per_s", "deadlocks", "machine_busy_before_pct")}
                    for t in tries
                ]
                runs.append(r)
                print(
                    f"{kind:7} {mode:9} {count:3} resources: {r['ok']} ok, {r['conflicts']} conflicts, "
                    f"{r['ok_per_s']} ok/s, {r['attempts_per_s']} attempts/s, "
                    f"p50 {r['latency']['p50_ms']} ms, "
                    f"overlaps {r['overlaps']}",
                    flush=True,
                )
    return runs, sql


def report(options, counts, modes, runs, sql, info, probe):
    verdicts = []
    for count in counts if runs else []:
        for mode in modes:
            svc = next(r for r in runs if (r["kind"], r["mode"], r["resources"]) == ("service", mode, count))
            raw = next(r for r in runs if (r["kind"], r["mode"], r["resources"]) == ("raw", mode, count))
            ratio = svc["ok_per_s"] / raw["ok_per_s"] if raw["ok_per_s"] else 0.0
            svc_cpu = svc["python_cpu_ms_per_attempt"] + svc["postgres_cpu_ms_per_attempt"]
            raw_cpu = raw["python_cpu_ms_per_attempt"] + raw["postgres_cpu_ms_per_attempt"]
            verdicts.append(
                {
                    "resources": count,
                    "mode": mode,
                    "ratio_ok_per_s": round(ratio, 3),
                    "ratio_attempts_per_s": round(svc["attempts_per_s"] / raw["attempts_per_s"], 3),
                    "ratio_cpu_per_attempt": round(raw_cpu / svc_cpu, 3) if svc_cpu else 0.0,
                    "met": ratio >= GOAL_RATIO and svc["overlaps"] == 0 and raw["overlaps"] == 0,
                }
            )

    headers = [
        "engine",
        "workers",
        "resources",
        "requests",
        "ok",
        "conflicts",
        "other",
        "s",
        "ok/s",
        "attempts/s",
        "p50 ms",
        "p99 ms",
        "deadlocks",
        "CPU %",
        "Python CPU ms/attempt",
        "PG CPU ms/attempt",
        "history",
        "overlaps",
    ]
    rows = [
        [
            r["kind"],
            f"{options.workers} {r['mode']}",
            r["resources"],
            r["requests"],
            r["ok"],
            r["conflicts"],
            sum(r["rejected_other"].values()),
            r["seconds"],
            r["ok_per_s"],
            r["attempts_per_s"],
            r["latency"]["p50_ms"],
            r["latency"]["p99_ms"],
            r["deadlocks"],
            r["machine_cpu_busy_pct"],
            r["python_cpu_ms_per_attempt"],
            r["postgres_cpu_ms_per_attempt"],
            r["history_rows"],
            r["overlaps"],
        ]
        for r in runs
    ]
    if runs:
        print()
        print(common.table(headers, rows))
        print()
        print(
            common.table(
                [
                    "resources",
                    "workers",
                    "service/raw ok/s",
                    "service/raw attempts/s",
                    "raw/service CPU per attempt",
                    f"goal >= {GOAL_RATIO}, 0 overlaps",
                ],
                [
                    [
                        v["resources"],
                        v["mode"],
                        v["ratio_ok_per_s"],
                        v["ratio_attempts_per_s"],
                        v["ratio_cpu_per_attempt"],
                        "met" if v["met"] else "NOT met",
                    ]
                    for v in verdicts
                ],
            )
        )
    if probe:
        print()
        print(
            common.table(
                [
                    "lock probe (16 threads, 2 resources)",
                    "ok",
                    "conflicts",
                    "s",
                    "ok/s",
                    "deadlocks",
                    "p50 ms",
                    "p99 ms",
                    "max ms",
                    "overlaps",
                ],
                [
                    [
                        r["case"],
                        r["ok"],
                        r["conflicts"],
                        r["seconds"],
                        r["ok_per_s"],
                        r["deadlocks"],
                        r["latency"]["p50_ms"],
                        r["latency"]["p99_ms"],
                        r["latency"]["max_ms"],
                        r["overlaps"],
                    ]
                    for r in probe
                ],
            )
        )
    command = "BENCH_DATABASE=edushare_bench .venv/bin/python bench/booking_service.py " + " ".join(
        sys.argv[1:]
    )
    path = common.write_results(
        "booking_service_lock_probe" if options.probe_only else "booking_service",
        {
            "benchmark": "booking_service",
            "command": command.strip(),
            "machine": info,
            "options": vars(options),
            "queries_per_booking_create": sql,
            "runs": runs,
            "lock_probe": probe,
            "goal": verdicts,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
