"""Harbin demo and city-scale data for the schools app. Deterministic and idempotent."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction

from . import demo_data
from .models import ClassPeriod, District, School, User

CITY_CODE_PREFIX = "CITY-"


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, created: bool, changed: bool = True) -> None:
        bucket = self.created if created else self.updated
        if created or changed:
            bucket[kind] = bucket.get(kind, 0) + 1


def _dec(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.00001"))


def _upsert(model, lookup: dict, values: dict, report: SeedReport, kind: str):
    """update_or_create that writes only when something differs (a second run changes nothing)."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model.objects.create(**lookup, **values)
        report.add(kind, created=True)
        return obj
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    if changed:
        for k in changed:
            setattr(obj, k, values[k])
        obj.save(update_fields=changed)
        report.add(kind, created=False)
    return obj


def seed_districts(report: SeedReport) -> dict[str, District]:
    out = {}
    for d in demo_data.DISTRICTS:
        out[d["code"]] = _upsert(
            District,
            {"code": d["code"]},
            {
                "name": d["name"],
                "name_en": d["name_en"],
                "kind": d["kind"],
                "zone": d["zone"],
                "latitude": _dec(d["latitude"]),
                "longitude": _dec(d["longitude"]),
            },
            report,
            "districts",
        )
    return out


def _parse_time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def seed_bell_schedule(school: School, key: str, report: SeedReport) -> None:
    wanted = {n: (_parse_time(s), _parse_time(e)) for n, s, e in demo_data.BELL_SCHEDULES[key]}
    existing = {p.number: p for p in ClassPeriod.objects.filter(school=school)}
    stale = [p.pk for n, p in existing.items() if n not in wanted]
    if stale:
        ClassPeriod.objects.filter(pk__in=stale).delete()
    for number, (start, end) in wanted.items():
        period = existing.get(number)
        if period is None:
            ClassPeriod.objects.create(school=school, number=number, start=start, end=end)
            report.add("periods", created=True)
        elif (period.start, period.end) != (start, end):
            period.start, period.end = start, end
            period.save(update_fields=["start", "end"])
            report.add("periods", created=False)


def seed_schools(districts: dict[str, District], report: SeedReport) -> dict[str, School]:
    out = {}
    for s in demo_data.SCHOOLS:
        school = _upsert(
            School,
            {"code": s["code"]},
            {
                "name": s["name"],
                "name_en": s["name_en"],
                "district": districts[s["district"]],
                "level": s["level"],
                "is_public": s["public"],
                "student_count": s["student_count"],
                "latitude": _dec(s["latitude"]),
                "longitude": _dec(s["longitude"]),
            },
            report,
            "schools",
        )
        seed_bell_schedule(school, s["bell"], report)
        out[s["code"]] = school
    return out


def _demo_user(
    username: str,
    *,
    role: str,
    school: School | None,
    display_name: str,
    report: SeedReport,
    password_hash: str,
    superuser: bool = False,
) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User(username=username, password=password_hash)
        created = True
    else:
        created = False
    values = {
        "role": role,
        "school": school,
        "display_name": display_name,
        "email": f"{username}@demo.edushare.local",
        "is_staff": superuser or role in (User.Role.SCHOOL_ADMIN, User.Role.CENTRE_ADMIN),
        "is_superuser": superuser,
        "is_active": True,
    }
    changed = [k for k, v in values.items() if getattr(user, k) != v]
    for k, v in values.items():
        setattr(user, k, v)
    if created or changed:
        user.save()
        report.add("users", created=created)
    return user


# Named accounts printed by `make demo` and documented in README (password: DEMO_PASSWORD).
NAMED_ACCOUNTS = [
    # username, role, school code or None, display name
    ("admin", "centre_admin", None, "系统管理员"),
    ("centre", "centre_admin", None, "共享中心 王主任"),
    ("analyst", "analyst", None, "教育局 数据分析员"),
    ("no1-admin", "school_admin", "HRB-SB-001", "哈一中 张老师 (管理员)"),
    ("no3-teacher", "teacher", "HRB-NG-001", "哈三中 刘老师"),
    ("wuchang-teacher", "teacher", "HRB-WC-001", "五常一中 李老师"),
    ("fangzheng-teacher", "teacher", "HRB-FZ-001", "方正一中 赵老师"),
]


def demo_usernames_for(school: School) -> tuple[str, str, str]:
    base = school.code.lower()
    return f"{base}-admin", f"{base}-t1", f"{base}-t2"


def seed_users(schools: dict[str, School], report: SeedReport) -> None:
    password_hash = make_password(settings.DEMO_PASSWORD)
    for username, role, school_code, name in NAMED_ACCOUNTS:
        _demo_user(
            username,
            role=role,
            school=schools.get(school_code) if school_code else None,
            display_name=name,
            report=report,
            password_hash=password_hash,
            superuser=username == "admin",
        )
    for school in schools.values():
        admin_name, t1, t2 = demo_usernames_for(school)
        _demo_user(
            admin_name,
            role="school_admin",
            school=school,
            display_name=f"{school.name} 管理员",
            report=report,
            password_hash=password_hash,
        )
        _demo_user(
            t1,
            role="teacher",
            school=school,
            display_name=f"{school.name} 教师甲",
            report=report,
            password_hash=password_hash,
        )
        _demo_user(
            t2,
            role="teacher",
            school=school,
            display_name=f"{school.name} 教师乙",
            report=report,
            password_hash=password_hash,
        )


@transaction.atomic
def seed_demo(report: SeedReport | None = None) -> SeedReport:
    report = report or SeedReport()
    districts = seed_districts(report)
    schools = seed_schools(districts, report)
    seed_users(schools, report)
    return report


# --- City scale -----------------------------------------------------------------------------


def level_counts(total: int) -> dict[str, int]:
    """Split `total` schools by the source document's mix (largest remainders, sums exactly)."""
    mix = demo_data.LEVEL_MIX
    whole = sum(mix.values())
    raw = {k: total * v / whole for k, v in mix.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def city_bell_key(level: str) -> str:
    return level if level in demo_data.BELL_SCHEDULES else "junior"


@transaction.atomic
def seed_city_schools(*, count: int, seed: int) -> list[School]:
    """Replace the synthetic city (schools coded CITY-...) with `count` new ones, in bulk."""
    rng = random.Random(seed)
    districts = seed_districts(SeedReport())
    district_list = sorted(districts.values(), key=lambda d: d.code)
    urban = [d for d in district_list if d.kind == District.Kind.URBAN]
    county = [d for d in district_list if d.kind == District.Kind.COUNTY]
    User.objects.filter(school__code__startswith=CITY_CODE_PREFIX).delete()
    School.objects.filter(code__startswith=CITY_CODE_PREFIX).delete()

    levels = [lvl for lvl, n in level_counts(count).items() for _ in range(n)]
    rng.shuffle(levels)
    students_per_level = {
        "kindergarten": (120, 450),
        "primary": (400, 2200),
        "junior": (600, 2500),
        "senior": (900, 3500),
        "vocational": (500, 3000),
        "higher": (3000, 30000),
    }
    schools = []
    for i, level in enumerate(levels, start=1):
        # About 60 % of schools sit in the main city (source document 1.1: urban concentration).
        district = rng.choice(urban if rng.random() < 0.6 else county)
        lo, hi = students_per_level[level]
        schools.append(
            School(
                code=f"{CITY_CODE_PREFIX}{i:05d}",
                name=f"{district.name}第{i}{_LEVEL_SUFFIX[level]}",
                name_en=f"{district.name_en} School {i}",
                district=district,
                level=level,
                is_public=rng.random() < 0.9,
                student_count=rng.randint(lo, hi),
                latitude=_dec(float(district.latitude) + rng.gauss(0, 0.05)),
                longitude=_dec(float(district.longitude) + rng.gauss(0, 0.07)),
            )
        )
    School.objects.bulk_create(schools, batch_size=1000)
    schools = list(School.objects.filter(code__startswith=CITY_CODE_PREFIX).order_by("code"))
    periods = []
    for school in schools:
        for n, s, e in demo_data.BELL_SCHEDULES[city_bell_key(school.level)]:
            periods.append(ClassPeriod(school=school, number=n, start=_parse_time(s), end=_parse_time(e)))
    ClassPeriod.objects.bulk_create(periods, batch_size=5000)
    # One hash for every synthetic account: hashing thousands of passwords would take minutes.
    password_hash = make_password(settings.DEMO_PASSWORD)
    users = []
    for school in schools:
        users.append(
            User(
                username=f"{school.code.lower()}-admin",
                role="school_admin",
                school=school,
                is_staff=True,
                password=password_hash,
            )
        )
        users.append(
            User(username=f"{school.code.lower()}-t1", role="teacher", school=school, password=password_hash)
        )
    User.objects.bulk_create(users, batch_size=2000)
    return schools


_LEVEL_SUFFIX = {
    "kindergarten": "幼儿园",
    "primary": "小学",
    "junior": "中学",
    "senior": "高级中学",
    "vocational": "职业技术学校",
    "higher": "学院",
}
