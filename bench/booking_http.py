"""Booking over HTTP under contention: POST /api/v1/bookings/ vs a bare INSERT view, on gunicorn.

    .venv/bin/python bench/booking_http.py [--requests N] [--clients 32] [--workers 4 --worker-class sync]
        [--breakdown 1000]

Starts gunicorn (config.wsgi:application, settings bench.bench_settings = production settings with
ROOT_URLCONF bench.bare_urls: config.urls plus bench/bare/) on 127.0.0.1 and a free port, with
SECRET_KEY set, SSL redirect and secure cookies off, ALLOWED_HOSTS=127.0.0.1,
THROTTLE_BOOKING_WRITES=1000000/min, REDIS_URL = a Redis database of the bench's own (db 13: the
cache, the throttle and the Celery broker, as in production; flushed at the end if it was empty at
the start; --no-redis: in-process cache, eager Celery). 32 concurrent clients (threads with
http.client, one connection and one API token each) post random 45-minute requests over the next
10 working days on 8 resources (most collide) and on 200 resources: first to the engine (POST
/api/v1/bookings/: DRF, token auth, throttle, serializer, booking_create, the answer), then the
same request list to bench/bare/ (one INSERT ... SELECT, the exclusion violation -> 409), and to
bench/bare-prepared/ (that INSERT as a server-side prepared statement; the goal is against bare/). The
table is truncated before every run; afterwards one SQL query counts overlapping active bookings
(must be 0). The server is stopped at the end, also on failure or Ctrl-C. Then (--breakdown N) a
process with the server's environment sends N requests of each kind through config.wsgi.application
and times the parts of the request path with time.thread_time: authentication, throttle, parsing,
the service, the answer, the rest, and other threads (Python CPU per request; PostgreSQL's is in
the table above).

Database: edushare_bench (BENCH_DATABASE), created if missing and migrated. Writes
bench/results/booking_http.json. Goal: the engine >= 0.5 x the bare view's accepted bookings/s.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common, runner

GOAL_RATIO = 0.5
ENGINE = "/api/v1/bookings/"
BARE = "/bench/bare/"
BARE_PREPARED = "/bench/bare-prepared/"
ENDPOINTS = {"engine": ENGINE, "bare": BARE, "bare prepared": BARE_PREPARED}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(url: str, redis: str) -> dict:
    """The environment of the server (and of the in-process breakdown): production settings."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "SECRET_KEY": common.BENCH_SECRET_KEY,
        "DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": url,
        "THROTTLE_BOOKING_WRITES": "1000000/min",
        "LOG_LEVEL": "ERROR",
        "CACHE_KEY_PREFIX": "edushare-bench",
    }
    if redis:
        env["REDIS_URL"] = redis
    else:
        env.pop("REDIS_URL", None)
    return env


class Server:
    """gunicorn in its own session; stop() ends exactly that process group."""

    def __init__(self, *, url: str, port: int, workers: int, worker_class: str, threads: int, redis: str):
        self.port = port
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - open for the server's lifetime
            prefix="bench-gunicorn-", suffix=".log", delete=False
        )
        env = server_env(url, redis)
        self.command = [
            str(common.ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--backlog",
            "2048",
            "--timeout",
            "120",
            "--graceful-timeout",
            "10",
        ]
        self.proc = subprocess.Popen(
            self.command,
            cwd=common.ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; log: {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn not ready after {timeout} s; log: {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # our own session: master and its workers
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.log.close()


def client(fixture, requests, port, path):
    def work(index, next_index, ready, out, done):
        headers = {
            "Authorization": f"Token {fixture['users'][index]['token']}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        statuses: collections.Counter[str] = collections.Counter()
        samples: dict[str, str] = {}
        latencies = []
        by_status: dict[str, list[float]] = {}
        reconnects = 0
        ready()
        while (i := next_index()) is not None:
            rid, start, end = requests[i]
            body = json.dumps(
                {"resource": rid, "start": start.isoformat(), "end": end.isoformat(), "class_size": 20}
            )
            t0 = time.perf_counter()
            for attempt in range(2):
                try:
                    conn.request("POST", path, body, headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    status = str(resp.status)
                    break
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # A kept-alive connection the server had closed: the request never ran.
                    conn.close()
                    reconnects += 1
                    status, data = "connection_error", b""
                    if attempt:
                        break
            latencies.append(time.perf_counter() - t0)
            by_status.setdefault(status, []).append(latencies[-1])
            statuses[status] += 1
            if status not in ("201", "409") and status not in samples:
                samples[status] = data[:300].decode(errors="replace")
        finished = time.perf_counter()
        conn.close()
        out.put(
            {
                "finished": finished,
                "statuses": dict(statuses),
                "samples": samples,
                "latencies": latencies,
                "by_status": by_status,
                "reconnects": reconnects,
            }
        )
        done()

    return work


def one_run(endpoint, path, mode, clients, fixture, requests, port, admin, resources, server) -> dict:
    common.reset_bookings(admin)
    deadlocks0 = common.deadlocks(admin)
    with (
        common.CpuSampler(lambda: common.children(server.proc.pid)) as web,
        common.CpuSampler(common.postgres_backends) as db,
    ):
        wall, cpu, parts = runner.run(mode, clients, len(requests), client(fixture, requests, port, path))
    statuses: collections.Counter[str] = collections.Counter()
    samples: dict[str, str] = {}
    for p in parts:
        statuses.update(p["statuses"])
        samples.update(p["samples"])
    latencies = [s for p in parts for s in p["latencies"]]
    by_status: dict[str, list[float]] = {}
    for p in parts:
        for k, v in p["by_status"].items():
            by_status.setdefault(k, []).extend(v)
    accepted = statuses.get("201", 0)
    rows = common.active_rows(admin)
    return {
        "endpoint": endpoint,
        "path": path,
        "resources": resources,
        "requests": len(requests),
        "seconds": round(wall, 3),
        "accepted": accepted,
        "conflicts": statuses.get("409", 0),
        "statuses": dict(statuses),
        "other_samples": samples,
        "accepted_per_s": round(accepted / wall, 1),
        "requests_per_s": round(len(requests) / wall, 1),
        "latency": common.summary_ms(latencies),
        "latency_by_status": {k: common.summary_ms(v) for k, v in sorted(by_status.items())},
        "deadlocks": common.deadlocks(admin) - deadlocks0,
        "reconnects": sum(p["reconnects"] for p in parts),
        "machine_cpu_busy_pct": round(cpu, 1),
        "gunicorn_cpu_ms_per_request": round(1000 * web.seconds / len(requests), 2),
        "postgres_cpu_ms_per_request": round(1000 * db.seconds / len(requests), 2),
        "rows_active": rows,
        "history_rows": admin.execute("SELECT count(*) FROM booking_bookingevent").fetchone()[0],
        "overlaps": common.overlaps(admin),
    }


# The request path's parts, CPU per request inside one process (inclusive; "other" is the rest).
# Each part: the functions timed for it (those the measured code has; the second of a pair is how
# the code before the lean path did the same, for a before/after run of this script).
BREAKDOWN_PARTS = (
    (
        "authentication (token, user, school, district)",
        [("rest_framework.views", "APIView", "perform_authentication")],
    ),
    ("throttle (Redis)", [("rest_framework.views", "APIView", "check_throttles")]),
    ("permissions", [("rest_framework.views", "APIView", "check_permissions")]),
    ("content negotiation", [("rest_framework.views", "APIView", "perform_content_negotiation")]),
    ("parsing the JSON body", [("rest_framework.request", "Request", "_load_data_and_files")]),
    (
        "reading the request's fields",
        [
            ("booking.api.views", None, "booking_input_by_time"),
            ("rest_framework.serializers", "Serializer", "is_valid"),  # with the resource query
        ],
    ),
    ("booking_create (the service)", [("booking.services", None, "booking_create")]),
    (
        "writing the answer",
        [
            ("booking.api.views", None, "booking_output"),
            ("rest_framework.serializers", "Serializer", "to_representation"),
        ],
    ),
    ("rendering JSON", [("rest_framework.renderers", "JSONRenderer", "render")]),
)


def breakdown_child(spec_path: str) -> None:
    """In a process with the server's environment: `n` POSTs through config.wsgi.application to the
    engine, then the same to the bare view, timing each part with time.thread_time (no sampling,
    no profiler; work the request hands to other threads of the process, such as publishing its
    notification, is counted apart); prints JSON. Python CPU of this process only (PostgreSQL not
    counted)."""
    import functools
    import importlib
    import io

    spec = json.loads(Path(spec_path).read_text())
    import django

    django.setup()
    from config.wsgi import application

    spent: collections.Counter[str] = collections.Counter()

    def timed(label, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[label] += time.thread_time() - t0

        return wrapper

    for label, targets in BREAKDOWN_PARTS:
        for module, cls, name in targets:
            owner = importlib.import_module(module)
            owner = getattr(owner, cls) if cls else owner
            if hasattr(owner, name):
                setattr(owner, name, timed(label, getattr(owner, name)))

    def post(path, token, body):
        raw = body.encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(raw),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(raw)),
            "CONTENT_TYPE": "application/json",
            "HTTP_ACCEPT": "application/json",
            "HTTP_AUTHORIZATION": f"Token {token}",
        }
        status = []
        b"".join(application(environ, lambda s, h, e=None: status.append(s[:3])))
        return status[0]

    admin = psycopg.connect(spec["url"], autocommit=True)
    out = {}
    for endpoint, path in (("engine", ENGINE), ("bare", BARE)):
        for _phase, items in (("warm", spec["warm"]), ("measured", spec["requests"])):
            common.reset_bookings(admin)
            spent.clear()
            statuses: collections.Counter[str] = collections.Counter()
            t0, p0 = time.thread_time(), time.process_time()
            for i, (rid, start, end) in enumerate(items):
                token = spec["tokens"][i % len(spec["tokens"])]
                body = json.dumps({"resource": rid, "start": start, "end": end, "class_size": 20})
                statuses[post(path, token, body)] += 1
            time.sleep(1)  # let other threads finish what the last requests handed them
            thread, total = time.thread_time() - t0, time.process_time() - p0
        n = len(spec["requests"])
        parts = {label: round(1000 * spent[label] / n, 3) for label, _targets in BREAKDOWN_PARTS}
        parts["other (WSGI, middleware, URL resolution, DRF's dispatch, view)"] = round(
            1000 * thread / n - sum(parts.values()), 3
        )
        parts["other threads of the process"] = round(1000 * (total - thread) / n, 3)
        out[endpoint] = {
            "statuses": dict(statuses),
            "cpu_ms_per_request": round(1000 * total / n, 3),
            "parts": parts,
        }
    common.reset_bookings(admin)
    admin.close()
    print(json.dumps(out))


def breakdown(fixture, url: str, redis: str, n: int, resources: list[int], seed: int) -> dict:
    """Run breakdown_child in a process with the server's environment."""

    def as_json(items):
        return [(rid, start.isoformat(), end.isoformat()) for rid, start, end in items]

    spec = {
        "url": url,
        "tokens": [u["token"] for u in fixture["users"]],
        "warm": as_json(common.booking_requests(resources, n=100, days=3, seed=seed + 7)),
        "requests": as_json(common.booking_requests(resources, n=n, days=10, seed=seed)),
    }
    with tempfile.NamedTemporaryFile("w", prefix="bench-breakdown-", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--breakdown-child", f.name],
            env=server_env(url, redis),
            cwd=common.ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(f.name)
    return json.loads(done.stdout.strip().splitlines()[-1])


def warm_up(fixture, port, clients, admin, endpoints: dict) -> None:
    """A few requests of each kind so every worker has imported, connected and resolved URLs."""
    requests = common.booking_requests(fixture["resources"], n=clients * 4, days=3, seed=12345)
    for path in endpoints.values():
        runner.run("threads", clients, len(requests), client(fixture, requests, port, path))
    common.reset_bookings(admin)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per run (default 1000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--client-mode", default="threads", choices=["threads", "processes"])
    parser.add_argument(
        "--resources", default="8,200", help="resource counts, comma-separated (default 8,200)"
    )
    parser.add_argument("--days", type=int, default=10, help="working days the requests spread over (10)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="no REDIS_URL: in-process cache and eager Celery (notifications delivered inside the request)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--breakdown",
        type=int,
        default=1000,
        help="then N requests of each kind in one process, CPU per part of the request path (0: skip)",
    )
    parser.add_argument("--breakdown-child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30,
        help="before each run, wait up to this many s for other work to stop (0: no wait)",
    )
    parser.add_argument(
        "--no-bare-prepared",
        action="store_true",
        help="leave out bench/bare-prepared/ (code without fetch_prepared)",
    )
    options = parser.parse_args()
    endpoints = {
        k: v for k, v in ENDPOINTS.items() if not (options.no_bare_prepared and k == "bare prepared")
    }
    if options.breakdown_child:
        breakdown_child(options.breakdown_child)
        return
    counts = [int(x) for x in options.resources.split(",")]

    pg_version = common.ensure_database()
    url = common.database_url()
    common.setup_django(url)
    info = common.machine(pg_version)
    common.print_machine(info)
    fixture = common.ensure_booking_fixture(users=max(32, options.clients), resources=max(counts))
    from django.db import connections

    connections.close_all()
    admin = psycopg.connect(url, autocommit=True)
    bench_redis = None if options.no_redis else common.BenchRedis()
    port = free_port()
    server = Server(
        url=url,
        port=port,
        workers=options.workers,
        worker_class=options.worker_class,
        threads=options.threads,
        redis="" if bench_redis is None else bench_redis.url,
    )

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    runs = []
    try:
        server.wait_ready()
        print(f"gunicorn: {' '.join(server.command[1:])} (log {server.log.name})", flush=True)
        warm_up(fixture, port, options.clients, admin, endpoints)
        for count in counts:
            resources = fixture["resources"][:count]
            requests = common.booking_requests(
                resources, n=options.requests, days=options.days, seed=options.seed + count
            )
            for endpoint, path in endpoints.items():
                busy = common.wait_for_quiet(options.quiet_wait) if options.quiet_wait else common.cpu_busy()
                r = one_run(
                    endpoint,
                    path,
                    options.client_mode,
                    options.clients,
                    fixture,
                    requests,
                    port,
                    admin,
                    count,
                    server,
                )
                r["machine_busy_before_pct"] = round(busy, 1)
                runs.append(r)
                print(
                    f"{endpoint:6} {count:3} resources: {r['accepted']} accepted, "
                    f"{r['conflicts']} conflicts, "
                    f"other {sum(v for k, v in r['statuses'].items() if k not in ('201', '409'))}, "
                    f"{r['accepted_per_s']} accepted/s, p50 {r['latency']['p50_ms']} ms, "
                    f"p99 {r['latency']['p99_ms']} ms, overlaps {r['overlaps']}",
                    flush=True,
                )
                if r["other_samples"]:
                    print("   other answers:", r["other_samples"])
        parts = None
        if options.breakdown:
            server.stop()  # its workers would only sit idle; the breakdown runs in one process
            parts = breakdown(
                fixture,
                url,
                "" if bench_redis is None else bench_redis.url,
                options.breakdown,
                fixture["resources"][: max(counts)],
                options.seed,
            )
    finally:
        server.stop()
        if bench_redis is not None:
            queued = bench_redis.queued()
            print(f"notification deliveries left queued in {bench_redis.url} (no worker here): {queued}")
            bench_redis.close()
        common.reset_bookings(admin)
        admin.close()
        common.restore_equity(fixture["equity_before"])

    verdicts = []
    for count in counts:
        eng = next(r for r in runs if (r["endpoint"], r["resources"]) == ("engine", count))
        bare = next(r for r in runs if (r["endpoint"], r["resources"]) == ("bare", count))
        prepared = next(
            (r for r in runs if (r["endpoint"], r["resources"]) == ("bare prepared", count)),
            {"accepted_per_s": 0},
        )
        ratio = eng["accepted_per_s"] / bare["accepted_per_s"] if bare["accepted_per_s"] else 0.0
        verdicts.append(
            {
                "resources": count,
                "ratio_accepted_per_s": round(ratio, 3),
                "ratio_requests_per_s": round(eng["requests_per_s"] / bare["requests_per_s"], 3),
                "ratio_to_prepared_bare_accepted_per_s": round(
                    eng["accepted_per_s"] / prepared["accepted_per_s"] if prepared["accepted_per_s"] else 0.0,
                    3,
                ),
                "met": ratio >= GOAL_RATIO and eng["overlaps"] == 0 and bare["overlaps"] == 0,
            }
        )
    headers = [
        "endpoint",
        "resources",
        "requests",
        "201",
        "409",
        "other",
        "s",
        "accepted/s",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "deadlocks",
        "CPU %",
        "gunicorn CPU ms/req",
        "PG CPU ms/req",
        "history",
        "overlaps",
    ]
    rows = [
        [
            r["endpoint"],
            r["resources"],
            r["requests"],
            r["accepted"],
            r["conflicts"],
            sum(v for k, v in r["statuses"].items() if k not in ("201", "409")),
            r["seconds"],
            r["accepted_per_s"],
            r["requests_per_s"],
            r["latency"]["p50_ms"],
            r["latency"]["p99_ms"],
            r["deadlocks"],
            r["machine_cpu_busy_pct"],
            r["gunicorn_cpu_ms_per_request"],
            r["postgres_cpu_ms_per_request"],
            r["history_rows"],
            r["overlaps"],
        ]
        for r in runs
    ]
    print()
    print(common.table(headers, rows))
    print()
    print(
        common.table(
            [
                "resources",
                "engine/bare accepted/s",
                "engine/bare requests/s",
                f"goal >= {GOAL_RATIO}, 0 overlaps",
                "engine/bare prepared accepted/s",
            ],
            [
                [
                    v["resources"],
                    v["ratio_accepted_per_s"],
                    v["ratio_requests_per_s"],
                    "met" if v["met"] else "NOT met",
                    v["ratio_to_prepared_bare_accepted_per_s"],
                ]
                for v in verdicts
            ],
        )
    )
    if parts is not None:
        labels = list(parts["engine"]["parts"])
        print()
        print(
            f"CPU per request inside one process ({options.breakdown} requests on {max(counts)} resources, "
            "Python only, ms):"
        )
        print(
            common.table(
                ["part", "engine", "bare"],
                [
                    *[
                        [label, parts["engine"]["parts"][label], parts["bare"]["parts"][label]]
                        for label in labels
                    ],
                    ["total", parts["engine"]["cpu_ms_per_request"], parts["bare"]["cpu_ms_per_request"]],
                    ["answers", parts["engine"]["statuses"], parts["bare"]["statuses"]],
                ],
            )
        )
    command = "BENCH_DATABASE=edushare_bench .venv/bin/python bench/booking_http.py " + " ".join(sys.argv[1:])
    path = common.write_results(
        "booking_http",
        {
            "benchmark": "booking_http",
            "command": command.strip(),
            "machine": info,
            "options": vars(options),
            "gunicorn": " ".join(server.command[1:]),
            "runs": runs,
            "goal": verdicts,
            "breakdown": parts,
            "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
