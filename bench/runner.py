"""Run N workers as threads or forked processes, start them together, time them honestly.

Each worker is `fn(index, next_index, ready, out, done)`: it does its set-up (connect, load its
user), then calls `ready()` (a barrier shared by all workers and the timer), then takes request
indexes from `next_index()` until it returns None, puts one dict on `out` with its own
`finished` time (time.perf_counter: CLOCK_MONOTONIC, comparable across processes on Linux), and
calls `done()` (a second barrier) before closing its connection: `on_start` and `on_end` run
while every worker is connected, so per-process CPU counters of the server backends are read
before any work and after all of it.
Wall time = last worker's finish - barrier release. CPU: the whole machine's busy share over
the run, from /proc/stat.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def run(
    mode: str,
    workers: int,
    total: int,
    fn: Callable,
    on_start: Callable[[], object] | None = None,
    on_end: Callable[[], object] | None = None,
) -> tuple[float, float, list[dict]]:
    """Returns (wall seconds, machine CPU busy %, the workers' dicts)."""
    if mode == "threads":
        counter = itertools.count()
        lock = threading.Lock()
        barrier = threading.Barrier(workers + 1)
        closing = threading.Barrier(workers + 1)
        out: queue.Queue | mp.Queue = queue.Queue()

        def next_index() -> int | None:
            with lock:
                i = next(counter)
            return i if i < total else None

        spawn = [
            threading.Thread(target=fn, args=(i, next_index, barrier.wait, out, closing.wait))
            for i in range(workers)
        ]
    elif mode == "processes":
        ctx = mp.get_context("fork")
        shared = ctx.Value("l", 0)
        barrier = ctx.Barrier(workers + 1)
        closing = ctx.Barrier(workers + 1)
        out = ctx.Queue()

        def next_index() -> int | None:
            with shared.get_lock():
                i = shared.value
                shared.value += 1
            return i if i < total else None

        spawn = [
            ctx.Process(target=fn, args=(i, next_index, barrier.wait, out, closing.wait))
            for i in range(workers)
        ]
    else:
        raise ValueError(mode)
    for w in spawn:
        w.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    busy0, all0 = _cpu_times()
    if on_start:
        on_start()
    results = [out.get(timeout=900) for _ in spawn]
    busy1, all1 = _cpu_times()
    if on_end:
        on_end()
    closing.wait(timeout=120)
    for w in spawn:
        w.join(timeout=60)
    finished = max(r["finished"] for r in results)
    cpu = 100.0 * (busy1 - busy0) / max(1, all1 - all0)
    return finished - started, cpu, results
