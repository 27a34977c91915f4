"""Rotation planner: CP-SAT (booking.rotation.planner.plan) beside the greedy baseline, one run.

    .venv/bin/python bench/rotation_planner.py [--sizes 10x50,30x200,60x500,200x2000] [--seed 1]
        [--time-limit 60] [--workers 2] [--out bench/results/rotation_planner.json]

Pure Python, no database. City-like random instances over the spring term 2026 (2 March to
17 July, 20 weeks; statutory holidays closed and the moved working Saturday open, from
chinesecalendar): an urban core around (45.75, 126.65) with three depot schools, and nine county
towns 50-200 km out (Harbin's counties), each with a cluster of schools. 75 % of the requests come
from county schools; six kit types; 5-20 school days each, windows of that length plus 0-6 weeks,
30-300 students, requested 0-16 weeks before the term; each kit of the type compatible with
probability 0.85, an adapter needed with probability 0.2; 3 % ask for one specific kit; 1 % from
a school without coordinates, 1 % for a kit type that does not exist; a quarter of the kits have
a maintenance week. Demand is above capacity on purpose: the plan has to choose.

For each size: greedy; CP-SAT's warm start alone (the insertion heuristic, no search), to show
what the search adds; then CP-SAT with `--time-limit` seconds and `--workers` workers (every
plan checked by validate_plan), with CPU seconds beside wall seconds and, per size, CP-SAT
against greedy (students, objective, travel) and what its search added over its warm start.
Prints a table and writes bench/results/rotation_planner.json.
Waits (up to 60 s) for the machine to be quiet first: on 2 cores, other work costs the solver
search time, so a busy machine gives CP-SAT less than its time limit's worth.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import chinese_calendar

from bench import common
from booking.rotation import planner
from booking.rotation.planner import (
    Kit,
    Plan,
    Request,
    School,
    Settings,
    greedy_plan,
    plan,
    validate_plan,
)

TERM = (dt.date(2026, 3, 2), dt.date(2026, 7, 17))
CORE = (45.75, 126.65)
# Harbin's county seats, roughly: (name, bearing in degrees, km from the core).
COUNTIES = [
    ("Wuchang", 160, 110),
    ("Shangzhi", 110, 140),
    ("Binxian", 95, 60),
    ("Bayan", 40, 70),
    ("Yilan", 70, 200),
    ("Fangzheng", 80, 170),
    ("Mulan", 50, 130),
    ("Tonghe", 60, 160),
    ("Yanshou", 100, 180),
]
KIT_TYPES = ["physics_lab", "chemistry_lab", "biology_lab", "sports_set", "music_set", "robotics_set"]


def offset(lat: float, lon: float, bearing_deg: float, km: float) -> tuple[float, float]:
    b = math.radians(bearing_deg)
    return lat + km * math.cos(b) / 111.0, lon + km * math.sin(b) / (111.0 * math.cos(math.radians(lat)))


def term_settings(time_limit: float, workers: int, seed: int) -> Settings:
    closed = frozenset(chinese_calendar.get_holidays(*TERM))
    moved = frozenset(d for d in chinese_calendar.get_workdays(*TERM) if d.weekday() >= 5)
    return Settings(
        closed_days=closed, working_weekend_days=moved, time_limit_s=time_limit, workers=workers, seed=seed
    )


def make_instance(n_kits: int, n_requests: int, seed: int):
    rng = random.Random(seed)
    schools: list[School] = []
    # Depots: three urban hubs.
    for _ in range(3):
        lat, lon = offset(*CORE, rng.uniform(0, 360), rng.uniform(0, 8))
        schools.append(School(len(schools) + 1, round(lat, 5), round(lon, 5), is_county=False))
    depots = [s.id for s in schools]
    urban = list(depots)
    for _ in range(max(10, n_requests // 8)):
        lat, lon = offset(*CORE, rng.uniform(0, 360), rng.uniform(0, 15))
        schools.append(School(len(schools) + 1, round(lat, 5), round(lon, 5), is_county=False))
        urban.append(schools[-1].id)
    county: list[int] = []
    for _, bearing, km in COUNTIES:
        seat = offset(*CORE, bearing, km)
        for _ in range(max(4, n_requests // 12)):
            lat, lon = offset(*seat, rng.uniform(0, 360), rng.uniform(0, 20))
            schools.append(School(len(schools) + 1, round(lat, 5), round(lon, 5), is_county=True))
            county.append(schools[-1].id)
    lost = School(len(schools) + 1, None, None, is_county=True)  # no coordinates yet
    schools.append(lost)

    kits = []
    for i in range(n_kits):
        blocked = ()
        if rng.random() < 0.25:
            week = TERM[0] + dt.timedelta(weeks=rng.randint(2, 17))
            blocked = ((week, week + dt.timedelta(days=4)),)
        kits.append(
            Kit(
                id=i + 1,
                kit_type=KIT_TYPES[i % len(KIT_TYPES)],
                depot_school_id=rng.choice(depots),
                available_from=TERM[0],
                available_to=TERM[1],
                blocked=blocked,
            )
        )
    kits_by_type: dict[str, list[Kit]] = {}
    for k in kits:
        kits_by_type.setdefault(k.kit_type, []).append(k)

    term_days = (TERM[1] - TERM[0]).days
    requests = []
    for i in range(n_requests):
        kit_type = rng.choice(KIT_TYPES)
        kit_id = None
        roll = rng.random()
        school = rng.choice(county) if rng.random() < 0.75 else rng.choice(urban)
        if roll < 0.01:
            school = lost.id
        elif roll < 0.02:
            kit_type = "planetarium_dome"
        elif roll < 0.05 and kits_by_type.get(kit_type):
            kit_id = rng.choice(kits_by_type[kit_type]).id
        days = rng.choice([5, 5, 10, 10, 10, 15, 20])
        length = days // 5 * 7 + 7 * rng.randint(0, 6)
        earliest = TERM[0] + dt.timedelta(days=rng.randint(0, max(0, term_days - length)))
        compatible = {}
        for k in kits_by_type.get(kit_type, []):
            if rng.random() < 0.85:
                compatible[k.id] = f"ADP-{rng.randint(1, 12):04d}" if rng.random() < 0.2 else None
        requests.append(
            Request(
                id=i + 1,
                school_id=school,
                kit_type=kit_type,
                kit_id=kit_id,
                days=days,
                earliest=earliest,
                latest_end=earliest + dt.timedelta(days=length - 1),
                students=rng.randint(30, 300),
                requested_on=TERM[0] - dt.timedelta(days=rng.randint(0, 112)),
                compatible_kits=compatible,
            )
        )
    return kits, schools, requests


def warm_start(kits, schools, requests, settings, *, window) -> Plan:
    """CP-SAT's starting point alone (the insertion heuristic, no search): shows what the
    search itself adds. Private API on purpose: this is a measurement, not a planner to offer."""
    t0 = time.perf_counter()
    inst = planner._prepare(kits, schools, requests, settings, window, (), ())
    chosen = planner._insertion(inst)
    return planner._build(
        inst,
        chosen,
        solver="insertion",
        status="FEASIBLE",
        bound=None,
        gap=None,
        seconds=time.perf_counter() - t0,
    )


def dash(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def summary(p: Plan, schools: list[School], requests: list[Request]) -> dict:
    county = {s.id for s in schools if s.is_county}
    by_id = {r.id: r for r in requests}
    served = [by_id[x.request_id] for x in p.placements]
    students = sum(r.students for r in served)
    county_students = sum(r.students for r in served if r.school_id in county)
    reasons: dict[str, int] = {}
    for reason in p.unserved.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "served": len(served),
        "students": students,
        "county_share": round(county_students / students, 3) if students else 0.0,
        "objective": p.objective,
        "bound": p.bound,
        "gap": None if p.gap is None else round(p.gap, 4),
        "status": p.status,
        "travel_km": p.travel_km,
        "travel_bound_km": p.travel_bound_km,
        "km_per_placement": round(p.travel_km / len(served), 1) if served else 0.0,
        "seconds": p.seconds,
        "unserved": dict(sorted(reasons.items())),
        "solver": p.solver,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="10x50,30x200,60x500,200x2000", help="kits x requests, comma-separated"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(common.RESULTS / "rotation_planner.json"))
    args = parser.parse_args()

    settings = term_settings(args.time_limit, args.workers, args.seed)
    load = os.getloadavg()
    busy = common.wait_for_quiet(60)
    rows = []
    for size in args.sizes.split(","):
        n_kits, n_requests = (int(x) for x in size.lower().split("x"))
        kits, schools, requests = make_instance(n_kits, n_requests, args.seed)
        print(f"{n_kits} kits, {n_requests} requests ...", flush=True)
        result = {"kits": n_kits, "requests": n_requests, "schools": len(schools)}
        for name, fn in (("greedy", greedy_plan), ("warm start", warm_start), ("cp-sat", plan)):
            t0, cpu0 = time.perf_counter(), time.process_time()
            p = fn(kits, schools, requests, settings, window=TERM)
            wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            errors = validate_plan(p, kits, schools, requests, settings, TERM)
            result[name] = summary(p, schools, requests) | {
                "wall_s": round(wall, 2),
                # CPU seconds of this process (CP-SAT's workers included): at most workers x
                # wall; less means other work on the machine took the cores.
                "cpu_s": round(cpu, 1),
                "invalid": errors[:5],
            }
            print(f"  {name}: {result[name]}", flush=True)
        g, w, c = result["greedy"], result["warm start"], result["cp-sat"]
        result["cp_sat_at_least_greedy"] = c["objective"] >= g["objective"]
        result["cp_sat_vs_greedy"] = {
            "students": round(c["students"] / g["students"] - 1, 4),
            "served": c["served"] - g["served"],
            "objective": round(c["objective"] / g["objective"] - 1, 4),
            "travel_km": round(c["travel_km"] / g["travel_km"] - 1, 4),
            "search_over_warm_start": round(c["objective"] / w["objective"] - 1, 4),
        }
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        print(f"  cp-sat vs greedy: {result['cp_sat_vs_greedy']}; load {result['load_average_after']}")
        rows.append(result)

    header = (
        "| kits x requests | planner | served | students | county share | weighted objective | "
        "bound | gap | travel km | km / placement | seconds | CPU s |"
    )
    lines = [header, "|" + "---|" * 12]
    for r in rows:
        for name in ("greedy", "warm start", "cp-sat"):
            x = r[name]
            lines.append(
                f"| {r['kits']} x {r['requests']} | {name} | {x['served']} | {x['students']:,} | "
                f"{x['county_share']:.0%} | {x['objective']:,.1f} | "
                f"{dash(x['bound'], ',.1f')} | {dash(x['gap'], '.2%')} | {x['travel_km']:,.0f} | "
                f"{x['km_per_placement']:,.0f} | {x['seconds']:.1f} | {x['cpu_s']:.1f} |"
            )
    table = "\n".join(lines)
    print()
    print(table)
    verdict = all(r["cp_sat_at_least_greedy"] for r in rows) and not any(
        r[n]["invalid"] for r in rows for n in ("greedy", "warm start", "cp-sat")
    )
    print(f"\nCP-SAT at least as good as greedy on every instance, all plans valid: {verdict}")

    out = {
        "benchmark": "rotation_planner",
        "command": ".venv/bin/python " + " ".join(sys.argv),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": common.cpu_model(),
            "ram_gib": common.ram_gib(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load],
            "busy_percent_before": round(busy, 1),
        },
        "options": vars(args),
        "term": [str(TERM[0]), str(TERM[1])],
        "results": rows,
        "table": table,
        "verdict_cp_sat_at_least_greedy_everywhere": verdict,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
