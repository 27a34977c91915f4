"""Harbin demo and synthetic-city inventory: spaces, mobile kits, assets, qualifications, faults.

Deterministic and idempotent like ``schools.demo``: every random choice comes from a
``random.Random`` seeded with a fixed string, rows are looked up by their natural keys
(a resource by school and name, an asset by tag, a ticket by school and description) and
created only when missing, so a second ``seed_demo`` writes nothing.

Equipment value follows the source document (2.1, 4.3): 18 k CNY of equipment per student in
the urban core, 9 k in the counties. The demo keeps that 2:1 ratio at 1/400 of the amounts.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from django.db import connection, models, transaction
from django.utils import timezone

from schools import demo as schools_demo
from schools import demo_data
from schools.demo import SeedReport
from schools.models import District, Qualification, School, TeacherQualification, User

from . import catalog_data, services
from .models import Asset, CatalogItem, Interface, MaintenanceTicket, OpeningHours, Resource
from .rules import default_opening_hours

TZ = ZoneInfo("Asia/Shanghai")
# Demo and synthetic resources have been in service since the 2025 autumn term, so the months
# of demo bookings count in utilisation (days before a resource existed do not).
IN_SERVICE_SINCE = dt.datetime(2025, 9, 1, tzinfo=TZ)

# --- qualifications ---------------------------------------------------------------------------

QUALIFICATIONS = [
    # code, name, English name, valid for (months)
    ("chem_lab_safety", "化学实验室安全培训", "Chemistry lab safety training", 24),
    ("bio_lab_safety", "生物实验室安全培训", "Biology lab safety training", 24),
    ("maker_tools_safety", "创客工具安全培训", "Maker tools safety training", 12),
]

# Who holds which training, and since when (expiry = obtained + validity).
TEACHER_QUALIFICATIONS = [
    ("wuchang-teacher", "chem_lab_safety", dt.date(2025, 9, 1)),  # valid into 2027
    ("fangzheng-teacher", "chem_lab_safety", dt.date(2023, 3, 15)),  # expired in 2025
    ("no3-teacher", "chem_lab_safety", dt.date(2026, 3, 1)),
    ("no3-teacher", "bio_lab_safety", dt.date(2025, 10, 10)),
    ("hrb-wc-001-t1", "maker_tools_safety", dt.date(2026, 5, 20)),
    ("hrb-sc-001-t1", "chem_lab_safety", dt.date(2026, 4, 1)),
    ("hrb-by-001-t1", "bio_lab_safety", dt.date(2025, 6, 1)),
    ("hrb-ng-001-t1", "maker_tools_safety", dt.date(2024, 9, 1)),  # expired in 2025
]


def seed_qualifications(report: SeedReport) -> dict[str, Qualification]:
    return {
        code: schools_demo._upsert(
            Qualification,
            {"code": code},
            {"name": name, "name_en": name_en, "validity_months": months},
            report,
            "qualifications",
        )
        for code, name, name_en, months in QUALIFICATIONS
    }


def seed_teacher_qualifications(quals: dict[str, Qualification], report: SeedReport) -> None:
    users = {u.username: u for u in User.objects.filter(username__in={t[0] for t in TEACHER_QUALIFICATIONS})}
    for username, code, obtained in TEACHER_QUALIFICATIONS:
        user = users.get(username)
        if user is None:
            continue
        qual = quals[code]
        expires = obtained + relativedelta(months=qual.validity_months) if qual.validity_months else None
        schools_demo._upsert(
            TeacherQualification,
            {"user": user, "qualification": qual},
            {"obtained_on": obtained, "expires_on": expires},
            report,
            "teacher qualifications",
        )


# --- spaces -----------------------------------------------------------------------------------

# Interfaces a space offers (codes of catalog_data.INTERFACES).
MODERN = ("ac220_cn3", "usb_a", "hdmi", "rj45", "wifi")
OLD_ROOM = ("ac220_cn3", "ac220_cn2", "vga", "rj45")  # older rooms: VGA projector only
CHEM = (*MODERN, "water_tap", "drain", "fume_hood", "gas_tap")
BIO = (*MODERN, "ac220_cn2", "water_tap", "drain")
COMPUTER = ("ac220_cn3", "usb_a", "usb_c", "hdmi", "displayport", "rj45", "wifi")
MAKER = ("ac220_cn3", "ac220_cn3_16a", "usb_a", "usb_c", "hdmi", "rj45", "wifi", "fume_hood")
LIBRARY = ("ac220_cn3", "usb_a", "hdmi", "rj45", "wifi")
GYM = ("ac220_cn3", "wifi", "audio_35mm", "xlr")
FIELD = ("ac220_cn2",)
MUSIC = ("ac220_cn3", "usb_a", "hdmi", "audio_35mm", "xlr")
WORKSHOP = ("ac380_3p", "ac220_cn3", "ac220_cn3_16a", "usb_a", "hdmi", "rj45", "wifi")
UNI_LAB = (*MODERN, "ac220_cn3_16a", "usb_c", "displayport", "rs232")
COUNTY_LAB = ("ac220_cn2", "water_tap")
COUNTY_ROOM = ("ac220_cn2",)
COUNTY_COMPUTER = ("ac220_cn3", "vga", "rj45")
COUNTY_WORKSHOP = ("ac380_3p", "ac220_cn3", "ac220_cn2")


@dataclass(frozen=True)
class SpaceSpec:
    """A space a school of some level has. ``stock`` names the catalogue categories or item
    codes its assets come from; ``weight`` is its share of the school's equipment value."""

    name: str
    kind: str
    subject: str
    building: str
    room: str
    provides: tuple[str, ...]
    stock: tuple[str, ...]
    capacity: int = 48
    shared: bool = True
    requires_approval: bool = False
    qualification: str | None = None
    hours: str = "bell"  # "bell" (the school's bell day), "library" or "venue"
    weight: float = 1.0
    description: str = ""


PHYSICS_LAB = SpaceSpec(
    "物理实验室", "lab", "physics", "实验楼", "101", MODERN, ("physics", "AV-0002", "AV-0003"), weight=1.4
)
PHYSICS_LAB_OLD = SpaceSpec(
    "物理实验室", "lab", "physics", "实验楼", "102", OLD_ROOM,
    ("physics", "AV-0004", "ADP-0001", "ADP-0002", "ADP-0011"), shared=False,
    description="老实验室: 投影只有 VGA 接口, 部分插座为两孔。",
)  # fmt: skip
CHEM_LAB = SpaceSpec(
    "化学实验室", "lab", "chemistry", "实验楼", "201", CHEM, ("chemistry", "AV-0001"),
    requires_approval=True, qualification="chem_lab_safety", weight=1.3,
    description="通风橱、燃气、耐腐蚀排水齐全; 使用前须持化学实验室安全培训合格证。",
)  # fmt: skip
BIO_LAB = SpaceSpec("生物实验室", "lab", "biology", "实验楼", "301", BIO, ("biology", "AV-0001"), weight=1.2)
COMPUTER_ROOM = SpaceSpec(
    "计算机教室", "room", "computing", "信息楼", "201", COMPUTER, ("computing", "AV-0002", "ADP-0003"),
    capacity=50, weight=1.6,
)  # fmt: skip
MAKER_SPACE = SpaceSpec(
    "创客空间", "lab", "maker", "科技楼", "101", MAKER, ("maker", "ICT-0007", "ICT-0008", "ICT-0009"),
    capacity=30, requires_approval=True, qualification="maker_tools_safety", weight=1.2,
)  # fmt: skip
MAKER_ROOM = replace(MAKER_SPACE, requires_approval=False, qualification=None, weight=0.9)
LIBRARY_HALL = SpaceSpec(
    "图书馆",
    "library",
    "reading",
    "图书馆",
    "1F",
    LIBRARY,
    ("reading",),
    capacity=200,
    hours="library",
    weight=1.5,
)
GYMNASIUM = SpaceSpec(
    "体育馆", "venue", "sports", "体育馆", "", GYM, ("sports",),
    capacity=300, requires_approval=True, hours="venue", weight=0.8,
)  # fmt: skip
SPORTS_FIELD = SpaceSpec(
    "田径场", "venue", "sports", "室外", "", FIELD,
    ("SPO-0001", "SPO-0002", "SPO-0003", "SPO-0004", "SPO-0010"),
    capacity=800, shared=False, hours="venue", weight=0.4,
)  # fmt: skip
MUSIC_ROOM = SpaceSpec(
    "音乐教室", "room", "music", "艺术楼", "201", MUSIC, ("music",), capacity=50, shared=False, weight=0.7
)
ART_ROOM = SpaceSpec(
    "美术教室", "room", "art", "艺术楼", "301", MUSIC, ("art",), capacity=45, shared=False, weight=0.6
)
PRIMARY_SCIENCE = SpaceSpec(
    "科学教室", "lab", "science", "综合楼", "301", MODERN, ("science", "AV-0002"), capacity=45
)
PRIMARY_SCIENCE_OLD = replace(
    PRIMARY_SCIENCE, room="302", provides=OLD_ROOM, stock=("science", "AV-0004", "ADP-0001"), shared=False
)
PLAYGROUND = SpaceSpec(
    "风雨操场", "venue", "sports", "风雨操场", "", GYM, ("sports",), capacity=200, hours="venue", weight=0.6
)
KG_ACTIVITY = SpaceSpec(
    "多功能活动室", "room", "general", "主楼", "101", ("ac220_cn3", "hdmi", "audio_35mm"),
    ("MUS-0003", "SPO-0006", "SPO-0012", "LIB-0006", "ART-0001", "SCI-0008"), capacity=35, shared=False,
)  # fmt: skip
KG_PICTURE_BOOKS = SpaceSpec(
    "绘本馆", "library", "reading", "主楼", "201", ("ac220_cn3", "wifi"),
    ("LIB-0006", "LIB-0005", "LIB-0007"), capacity=30, hours="library", weight=0.8,
)  # fmt: skip
CNC_WORKSHOP = SpaceSpec(
    "数控实训车间", "lab", "maker", "实训楼", "101", WORKSHOP,
    ("MAK-0004", "MAK-0003", "MAK-0010", "MAK-0001", "MAK-0005", "ICT-0001"),
    capacity=30, requires_approval=True, qualification="maker_tools_safety", weight=2.0,
)  # fmt: skip
ELECTRONICS_LAB = SpaceSpec(
    "电工电子实训室", "lab", "physics", "实训楼", "201", (*MODERN, "rs232"),
    ("PHY-0001", "PHY-0002", "PHY-0009", "PHY-0010", "PHY-0011", "MAK-0005"), capacity=40,
)  # fmt: skip
UNI_PHYSICS = SpaceSpec(
    "大学物理实验中心", "lab", "physics", "理学楼", "A101", UNI_LAB, ("physics", "AV-0002"),
    capacity=120, requires_approval=True, weight=2.0,
)  # fmt: skip
UNI_CHEM = SpaceSpec(
    "化学实验中心", "lab", "chemistry", "化学楼", "B201",
    (*UNI_LAB, "water_tap", "drain", "fume_hood", "gas_tap"), ("chemistry",),
    capacity=100, requires_approval=True, qualification="chem_lab_safety", weight=2.0,
)  # fmt: skip
UNI_BIO = SpaceSpec(
    "生命科学实验中心", "lab", "biology", "生命科学楼", "C301", (*UNI_LAB, "water_tap", "drain", "fume_hood"),
    ("biology",), capacity=100, requires_approval=True, qualification="bio_lab_safety", weight=2.0,
)  # fmt: skip
UNI_COMPUTING = SpaceSpec(
    "计算中心机房", "room", "computing", "信息楼", "D101", COMPUTER, ("computing", "AV-0002"),
    capacity=150, weight=2.0,
)  # fmt: skip
UNI_LIBRARY = replace(LIBRARY_HALL, capacity=800, weight=2.0)
UNI_GYM = replace(GYMNASIUM, capacity=1200, requires_approval=True)

COUNTY_SCIENCE_LAB = SpaceSpec(
    "综合理科实验室", "lab", "science", "教学楼", "301", COUNTY_LAB,
    ("PHY-0001", "PHY-0005", "PHY-0007", "PHY-0009", "PHY-0013", "CHE-0007", "CHE-0008", "CHE-0009",
     "CHE-0012", "BIO-0001", "BIO-0009", "BIO-0011"),
    capacity=45, shared=False, weight=1.5,
)  # fmt: skip
COUNTY_LIBRARY = SpaceSpec(
    "图书室", "library", "reading", "教学楼", "105", COUNTY_ROOM, ("LIB-0003", "LIB-0006", "LIB-0007"),
    capacity=60, shared=False, hours="library",
)  # fmt: skip
COUNTY_FIELD = SpaceSpec(
    "运动场", "venue", "sports", "室外", "", (), ("SPO-0001", "SPO-0002", "SPO-0003", "SPO-0006", "SPO-0012"),
    capacity=600, shared=False, hours="venue", weight=0.5,
)  # fmt: skip
COUNTY_COMPUTER_ROOM = SpaceSpec(
    "微机室", "room", "computing", "教学楼", "401", COUNTY_COMPUTER,
    ("ICT-0001", "ICT-0004", "ICT-0005", "AV-0004", "ADP-0001"), capacity=45, shared=False,
)  # fmt: skip
COUNTY_WORKSHOP_ROOM = SpaceSpec(
    "实训车间", "lab", "maker", "实训楼", "101", COUNTY_WORKSHOP,
    ("MAK-0003", "MAK-0005", "MAK-0006", "MAK-0008", "ICT-0001"), capacity=30, shared=False, weight=1.5,
)  # fmt: skip
COUNTY_PRIMARY_SCIENCE = SpaceSpec(
    "科学教室", "lab", "science", "教学楼", "201", COUNTY_ROOM,
    ("SCI-0001", "SCI-0004", "SCI-0005", "SCI-0006", "SCI-0007", "SCI-0008"), capacity=40, shared=False,
)  # fmt: skip
COUNTY_KG_ROOM = SpaceSpec(
    "活动室", "room", "general", "主楼", "101", COUNTY_ROOM, ("MUS-0003", "SPO-0006", "LIB-0006"),
    capacity=30, shared=False,
)  # fmt: skip

# (level, is county) -> the spaces such a school has, most important first.
PLANS: dict[tuple[str, bool], list[SpaceSpec]] = {
    ("senior", False): [
        PHYSICS_LAB, PHYSICS_LAB_OLD, CHEM_LAB, BIO_LAB, COMPUTER_ROOM, MAKER_SPACE, LIBRARY_HALL,
        GYMNASIUM, SPORTS_FIELD, MUSIC_ROOM,
    ],
    ("junior", False): [
        PHYSICS_LAB, CHEM_LAB, BIO_LAB, COMPUTER_ROOM, MAKER_ROOM, LIBRARY_HALL, GYMNASIUM, MUSIC_ROOM,
    ],
    ("primary", False): [
        PRIMARY_SCIENCE, PRIMARY_SCIENCE_OLD, COMPUTER_ROOM, LIBRARY_HALL, PLAYGROUND, MUSIC_ROOM,
    ],
    ("kindergarten", False): [KG_ACTIVITY, KG_PICTURE_BOOKS],
    ("vocational", False): [CNC_WORKSHOP, ELECTRONICS_LAB, COMPUTER_ROOM, LIBRARY_HALL, GYMNASIUM],
    ("higher", False): [UNI_PHYSICS, UNI_CHEM, UNI_BIO, UNI_COMPUTING, UNI_LIBRARY, UNI_GYM],
    ("senior", True): [COUNTY_SCIENCE_LAB, COUNTY_COMPUTER_ROOM, COUNTY_LIBRARY, COUNTY_FIELD],
    ("junior", True): [COUNTY_SCIENCE_LAB, COUNTY_LIBRARY],
    ("primary", True): [COUNTY_PRIMARY_SCIENCE, COUNTY_LIBRARY],
    ("kindergarten", True): [COUNTY_KG_ROOM],
    ("vocational", True): [COUNTY_WORKSHOP_ROOM, COUNTY_COMPUTER_ROOM, COUNTY_LIBRARY],
    ("higher", True): [UNI_PHYSICS, UNI_COMPUTING, UNI_LIBRARY, UNI_GYM],
}  # fmt: skip

# Demo schools whose spaces differ from their level's plan (source document sections).
DEMO_OVERRIDES: dict[tuple[str, str], dict] = {
    ("HRB-SB-001", "物理实验室1"): {
        "requires_approval": False,
        "description": "向县域学校开放, 通过平台预约使用 (源文件 7.3: 每年共享实验课时 5000 节)。",
    },
    ("HRB-NG-001", "物理实验室1"): {
        "description": "哈三中物理实验室, 向五常、双城等试点区县学校开放 (源文件 3.3)。"
    },
    ("HRB-FZ-002", "实训车间"): {
        "shared": True,
        "description": "与哈尔滨市第一中学合作共建的智能制造实训中心 (源文件 5.2)。",
    },
}


def _numbered(specs: Iterable[SpaceSpec]) -> list[SpaceSpec]:
    """A school has one room per name: repeated names become 物理实验室1, 物理实验室2, ..."""
    specs = list(specs)
    total = Counter(s.name for s in specs)
    seen: Counter[str] = Counter()
    out = []
    for spec in specs:
        if total[spec.name] == 1:
            out.append(spec)
            continue
        seen[spec.name] += 1
        k = seen[spec.name]
        room = spec.room
        if k > 1:
            room = str(int(room) + k - 1) if room.isdigit() else f"{room}-{k}"
        out.append(replace(spec, name=f"{spec.name}{k}", room=room))
    return out


def space_plan(level: str, county: bool) -> list[SpaceSpec]:
    return _numbered(PLANS[(level, county)])


LIBRARY_HOURS = [(d, dt.time(7, 30), dt.time(20, 0)) for d in range(5)] + [(5, dt.time(8), dt.time(12))]
VENUE_HOURS = [(d, dt.time(7, 30), dt.time(18, 0)) for d in range(5)]


def _opening_hours(spec: SpaceSpec) -> list[tuple[int, dt.time, dt.time]] | None:
    """None: the owner school's bell day (the service's default)."""
    return {"library": LIBRARY_HOURS, "venue": VENUE_HOURS}.get(spec.hours)


def _resource_data(spec: SpaceSpec, school: School, quals: dict[str, Qualification]) -> dict:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "subject": spec.subject,
        "school": school,
        "capacity": spec.capacity,
        "shared": spec.shared,
        "requires_approval": spec.requires_approval,
        "building": spec.building,
        "room": spec.room,
        "description": spec.description,
        "required_qualification": quals[spec.qualification] if spec.qualification else None,
    }


# --- catalogue and assets ---------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    pk: int
    code: str
    category: str
    value: Decimal


def _catalogue() -> dict[str, Item]:
    rows = CatalogItem.objects.values_list("pk", "code", "category", "unit_value_cny")
    return {code: Item(pk, code, category, value) for pk, code, category, value in rows}


def _ensure_catalogue() -> None:
    have = set(CatalogItem.objects.values_list("code", flat=True))
    if not {spec["code"] for spec in catalog_data.CATALOG} <= have:
        services.catalog_load()


def _stock_items(stock: Sequence[str], catalogue: dict[str, Item]) -> list[Item]:
    """Catalogue items a space holds: whole categories and single codes, in catalogue order."""
    out: dict[str, Item] = {}
    for entry in stock:
        if entry in catalogue:
            out[entry] = catalogue[entry]
        else:
            out.update((c, i) for c, i in sorted(catalogue.items()) if i.category == entry)
    return list(out.values())


# Source document 2.1: 30 % of county devices sit idle for lack of maintenance.
STATUS_WEIGHTS = {
    False: {"in_service": 94, "in_repair": 3, "lost": 1, "retired": 2},
    True: {"in_service": 82, "in_repair": 13, "lost": 2, "retired": 3},
}
CONDITION_WEIGHTS = {
    False: {"new": 20, "good": 55, "fair": 18, "poor": 6, "broken": 1},
    True: {"new": 6, "good": 38, "fair": 31, "poor": 19, "broken": 6},
}
PURCHASE_YEARS = {False: (2015, 2025), True: (2008, 2021)}
NOTES = {
    "in_repair": {False: "送修中", True: "缺少维护, 长期待修"},
    "lost": {False: "年度盘点未找到", True: "年度盘点未找到"},
    "retired": {False: "超过使用年限, 已报废", True: "超过使用年限, 已报废"},
}


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _asset_state(rng: random.Random, item: Item, county: bool) -> tuple[str, str, str, dt.date, str]:
    """(serial number, status, condition, purchase date, notes) of one asset, drawn from rng."""
    status = _pick(rng, STATUS_WEIGHTS[county])
    condition = _pick(rng, CONDITION_WEIGHTS[county])
    if status == "retired":
        condition = "broken" if condition in ("poor", "broken") else "poor"
    elif condition == "broken" and status == "in_service":
        status = "in_repair"
    lo, hi = PURCHASE_YEARS[county]
    bought = dt.date(rng.randint(lo, hi), rng.randint(1, 12), rng.randint(1, 28))
    if condition == "new":
        bought = max(bought, dt.date(hi - 1, 1, 1))
    serial = ""
    if item.value >= 300:
        serial = f"{item.code.replace('-', '')}{bought:%y}{rng.randint(0, 999_999):06d}"
    return serial, status, condition, bought, NOTES.get(status, {}).get(county, "")


def _asset(rng: random.Random, item: Item, *, tag: str, school_id: int, county: bool, **place) -> Asset:
    serial, status, condition, bought, notes = _asset_state(rng, item, county)
    return Asset(
        tag=tag,
        catalog_item_id=item.pk,
        serial_number=serial,
        school_id=school_id,
        status=status,
        condition=condition,
        purchase_date=bought,
        value_cny=item.value,
        notes=notes,
        **place,
    )


DEMO_ASSET_FIELDS = (
    "tag", "catalog_item", "serial_number", "school", "space", "kit", "status", "condition",
    "purchase_date", "value_cny", "notes",
)  # fmt: skip


def _insert_assets(assets: list[Asset]) -> None:
    """What bulk_create would write, without its per-value overhead (the demo has ~22,000)."""
    attnames = [Asset._meta.get_field(name).attname for name in DEMO_ASSET_FIELDS]
    rows = [tuple(getattr(asset, attname) for attname in attnames) for asset in assets]
    _raw_insert(Asset, DEMO_ASSET_FIELDS, rows, now=timezone.now())


def _fill(rng: random.Random, items: list[Item], budget: Decimal) -> list[Item]:
    """Buy items for a space until its share of the budget is spent: cheap items in class sets."""
    if not items:
        return []
    affordable = [i for i in items if i.value <= budget / 2] or [min(items, key=lambda i: i.value)]
    cheapest = min(i.value for i in affordable)
    order = affordable[:]
    rng.shuffle(order)
    bought: list[Item] = []
    spent = Decimal(0)
    n = 0
    while budget - spent >= cheapest and len(bought) < 2_000:
        item = order[n % len(order)]
        n += 1
        if item.value <= 0:
            continue
        if item.value < 50:
            quantity = rng.randint(20, 60)  # books, skipping ropes, recorders: by the box
        elif item.value < 500:
            quantity = rng.randint(4, 12)  # a class set
        elif item.value < 3000:
            quantity = rng.randint(1, 4)
        else:
            quantity = 1
        for _ in range(quantity):
            if spent + item.value > budget + item.value / 2:
                break
            bought.append(item)
            spent += item.value
        if n > 50 * len(order):
            break
    return bought


# Source document 2.1 / 4.3: equipment value per student, urban core 18 k CNY, counties 9 k.
VALUE_PER_STUDENT_CNY = {False: Decimal(18_000), True: Decimal(9_000)}
DEMO_VALUE_SCALE = Decimal(1) / Decimal(400)
# The document's figures are for schools; a university's inventory is sized flat.
UNIVERSITY_BUDGET_CNY = Decimal(600_000)


def school_budget(school: School, county: bool) -> Decimal:
    if school.level == School.Level.HIGHER:
        return UNIVERSITY_BUDGET_CNY
    return school.student_count * VALUE_PER_STUDENT_CNY[county] * DEMO_VALUE_SCALE


def _school_assets(
    school: School, county: bool, specs: list[SpaceSpec], spaces: dict[str, Resource], catalogue
) -> list[Asset]:
    rng = random.Random(f"edushare-demo-assets:{school.code}")
    budget = school_budget(school, county)
    weights = sum(s.weight for s in specs)
    assets: list[Asset] = []
    for spec in specs:
        share = budget * Decimal(str(spec.weight)) / Decimal(str(weights))
        for item in _fill(rng, _stock_items(spec.stock, catalogue), share):
            tag = f"{school.code}-{len(assets) + 1:04d}"
            assets.append(
                _asset(rng, item, tag=tag, school_id=school.pk, county=county, space=spaces[spec.name])
            )
    if len(assets) > 9_999:
        raise ValueError(f"{school.code}: {len(assets)} assets do not fit four-digit tags")
    return assets


# --- mobile kits ------------------------------------------------------------------------------

KIT_DEPOTS = ("HRB-NG-001", "HRB-SB-001")  # the sharing centre's two urban depots
KIT_SUBJECTS = {
    "KIT-0001": "physics",
    "KIT-0002": "chemistry",
    "KIT-0003": "sports",
    "KIT-0004": "maker",
    "KIT-0005": "biology",
    "KIT-0006": "science",
    "KIT-0007": "reading",
    "KIT-0008": "music",
    "KIT-0009": "sports",
    "KIT-0010": "maker",
}
KIT_QUALIFICATIONS = {
    "KIT-0002": "chem_lab_safety",
    "KIT-0004": "maker_tools_safety",
    "KIT-0010": "maker_tools_safety",
}
KIT_TRANSIT_BUFFER_MINUTES = 240


def _seed_kits(
    actor: User, schools: dict[str, School], quals: dict[str, Qualification], catalogue, report: SeedReport
) -> None:
    kit_specs = [spec for spec in catalog_data.CATALOG if spec["category"] == "kit"]
    kit_items = {i.code: i for i in CatalogItem.objects.filter(category=CatalogItem.Category.KIT)}
    existing = {(r.school_id, r.name): r for r in Resource.objects.filter(kind=Resource.Kind.MOBILE_KIT)}
    rng = random.Random("edushare-demo-kits")
    have_tags = set(Asset.objects.filter(tag__startswith="KIT").values_list("tag", flat=True))
    new_assets = []
    created = 0
    for number, spec in enumerate(kit_specs, start=1):
        depot = schools[KIT_DEPOTS[(number - 1) % len(KIT_DEPOTS)]]
        item = kit_items[spec["code"]]
        name = f"{item.name} {number}号"
        kit = existing.get((depot.pk, name))
        if kit is None:
            qual = KIT_QUALIFICATIONS.get(spec["code"])
            kit = services.resource_create(
                actor=actor,
                data={
                    "name": name,
                    "kind": Resource.Kind.MOBILE_KIT,
                    "subject": KIT_SUBJECTS.get(spec["code"], "general"),
                    "school": depot,
                    "capacity": 50,
                    "shared": True,
                    "requires_approval": True,
                    "building": "共享中心器材库",
                    "room": f"K{number:02d}",
                    "description": (
                        f"{item.name_en}. 共享中心巡回流动器材 (源文件 5.2、9.2), 由{depot.name}代管。"
                    ),
                    "min_notice_hours": 72,
                    "max_advance_days": 90,
                    "min_minutes": 45,
                    "max_minutes": 480,
                    "required_qualification": quals[qual] if qual else None,
                    "kit_type": item,
                    "transit_buffer_minutes": KIT_TRANSIT_BUFFER_MINUTES,
                },
            )
            created += 1
        for code, quantity in spec["contents"]:
            width = max(2, len(str(quantity)))
            for i in range(1, quantity + 1):
                tag = f"KIT{number:02d}-{code}-{i:0{width}d}"
                asset = _asset(rng, catalogue[code], tag=tag, school_id=depot.pk, county=False, kit=kit)
                # A kit is checked on every return: its contents are in service, recently bought.
                asset.status, asset.notes = Asset.Status.IN_SERVICE, ""
                asset.condition = "new" if asset.condition == "new" else "good"
                asset.purchase_date = dt.date(2024, 1 + (number % 12), 1 + i % 28)
                if tag not in have_tags:
                    new_assets.append(asset)
    _insert_assets(new_assets)
    _count(report, "kits", created)
    _count(report, "kit contents", len(new_assets))


# --- maintenance tickets ----------------------------------------------------------------------


def _at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ)


def _seed_tickets(schools: dict[str, School], report: SeedReport) -> None:
    users = {u.username: u for u in User.objects.filter(username__in=_TICKET_USERS)}

    def resource(code: str, name: str) -> Resource:
        return Resource.objects.get(school=schools[code], name=name)

    def missing(code: str, description: str) -> bool:
        return not MaintenanceTicket.objects.filter(school=schools[code], description=description).exists()

    created = 0
    # Open and overdue: a county microscope waits for repair (source document 2.1: idle devices).
    text = "双目显微镜物镜松动, 无法对焦。"
    if missing("HRB-WC-001", text):
        space = resource("HRB-WC-001", "综合理科实验室")
        asset = (
            Asset.objects.filter(space=space, status=Asset.Status.IN_SERVICE)
            .order_by("-catalog_item__code", "tag")
            .first()
        )
        services.ticket_report(
            actor=users["wuchang-teacher"], asset=asset, description=text, now=_at(10, 12, 9, 20)
        )
        created += 1
    # Resolved within the 24-hour SLA (source document 5.4).
    text = "交互式智能平板无法开机。"
    if missing("HRB-NG-001", text):
        ticket = services.ticket_report(
            actor=users["no3-teacher"],
            resource=resource("HRB-NG-001", "物理实验室1"),
            severity=MaintenanceTicket.Severity.HIGH,
            description=text,
            now=_at(10, 13, 8, 10),
        )
        services.ticket_resolve(
            actor=users["hrb-ng-001-admin"],
            ticket=ticket,
            resolution="更换电源板, 已恢复使用。",
            now=_at(10, 13, 15, 30),
        )
        created += 1
    # Resolved, but late: 49.5 hours.
    text = "交换机故障, 半数电脑无法联网。"
    if missing("HRB-SB-001", text):
        ticket = services.ticket_report(
            actor=users["hrb-sb-001-t1"],
            resource=resource("HRB-SB-001", "计算机教室"),
            description=text,
            now=_at(10, 14, 10, 0),
        )
        services.ticket_resolve(
            actor=users["no1-admin"],
            ticket=ticket,
            resolution="厂家备件到货后更换 24 口交换机。",
            now=_at(10, 16, 11, 30),
        )
        created += 1
    # Takes a chemistry lab out of service; being worked on, past due.
    text = "通风橱排风机故障, 实验室停用待修。"
    if missing("HRB-DL-002", text):
        ticket = services.ticket_report(
            actor=users["hrb-dl-002-admin"],
            resource=resource("HRB-DL-002", "化学实验室"),
            severity=MaintenanceTicket.Severity.CRITICAL,
            description=text,
            takes_out_of_service=True,
            now=_at(10, 20, 14, 0),
        )
        services.ticket_start(actor=users["hrb-dl-002-admin"], ticket=ticket)
        created += 1
    _count(report, "tickets", created)


_TICKET_USERS = {
    "wuchang-teacher",
    "no3-teacher",
    "hrb-ng-001-admin",
    "hrb-sb-001-t1",
    "no1-admin",
    "hrb-dl-002-admin",
}


# --- the demo ---------------------------------------------------------------------------------


def _count(report: SeedReport, kind: str, n: int) -> None:
    if n:
        report.created[kind] = report.created.get(kind, 0) + n


@transaction.atomic
def seed_demo(report: SeedReport | None = None) -> SeedReport:
    """The demo schools' inventory. Runs after ``schools.demo.seed_demo`` (schools and users)."""
    report = report or SeedReport()
    loaded = services.catalog_load()
    _count(report, "interfaces", loaded["interfaces"])
    _count(report, "catalogue items", loaded["items"])
    quals = seed_qualifications(report)
    seed_teacher_qualifications(quals, report)

    actor = User.objects.get(username="centre")
    codes = [s["code"] for s in demo_data.SCHOOLS]
    schools = {s.code: s for s in School.objects.filter(code__in=codes).select_related("district")}
    catalogue = _catalogue()
    existing = {(r.school_id, r.name): r for r in Resource.objects.filter(school__in=schools.values())}
    have_tags = set(Asset.objects.filter(school__in=schools.values()).values_list("tag", flat=True))
    new_assets: list[Asset] = []
    created = 0
    for code in codes:
        school = schools[code]
        county = school.district.kind == District.Kind.COUNTY
        specs = [
            replace(s, **DEMO_OVERRIDES.get((code, s.name), {})) for s in space_plan(school.level, county)
        ]
        spaces = {}
        for spec in specs:
            resource = existing.get((school.pk, spec.name))
            if resource is None:
                resource = services.resource_create(
                    actor=actor,
                    data=_resource_data(spec, school, quals),
                    opening_hours=_opening_hours(spec),
                    provides=spec.provides,
                )
                created += 1
            spaces[spec.name] = resource
        new_assets += [
            a for a in _school_assets(school, county, specs, spaces, catalogue) if a.tag not in have_tags
        ]
    _insert_assets(new_assets)
    _count(report, "resources", created)
    _count(report, "assets", len(new_assets))

    _seed_kits(actor, schools, quals, catalogue, report)
    _seed_tickets(schools, report)
    Resource.objects.filter(school__in=schools.values(), created_at__gt=IN_SERVICE_SINCE).update(
        created_at=IN_SERVICE_SINCE
    )
    return report


# --- city scale -------------------------------------------------------------------------------

# Spaces per synthetic school by (level, is county): about 20,000 for the whole city (2,876
# schools, 60 % urban). Above the level's plan, extra numbered labs and rooms are added.
CITY_TARGET = {
    ("kindergarten", False): 4, ("kindergarten", True): 2,
    ("primary", False): 8, ("primary", True): 4,
    ("junior", False): 10, ("junior", True): 5,
    ("senior", False): 14, ("senior", True): 7,
    ("vocational", False): 12, ("vocational", True): 8,
    ("higher", False): 30, ("higher", True): 20,
}  # fmt: skip
CITY_EXTRAS: dict[tuple[str, bool], list[SpaceSpec]] = {
    ("kindergarten", False): [KG_ACTIVITY],
    ("primary", False): [PRIMARY_SCIENCE, COMPUTER_ROOM, ART_ROOM, MUSIC_ROOM],
    ("junior", False): [PHYSICS_LAB, CHEM_LAB, BIO_LAB, COMPUTER_ROOM, ART_ROOM],
    ("senior", False): [PHYSICS_LAB, CHEM_LAB, BIO_LAB, COMPUTER_ROOM, ART_ROOM],
    ("vocational", False): [CNC_WORKSHOP, ELECTRONICS_LAB, COMPUTER_ROOM],
    ("higher", False): [UNI_PHYSICS, UNI_CHEM, UNI_BIO, UNI_COMPUTING],
    ("kindergarten", True): [COUNTY_KG_ROOM],
    ("primary", True): [COUNTY_PRIMARY_SCIENCE, COUNTY_COMPUTER_ROOM],
    ("junior", True): [COUNTY_SCIENCE_LAB, COUNTY_COMPUTER_ROOM, COUNTY_FIELD],
    ("senior", True): [COUNTY_SCIENCE_LAB, COUNTY_COMPUTER_ROOM],
    ("vocational", True): [COUNTY_WORKSHOP_ROOM, COUNTY_COMPUTER_ROOM],
    ("higher", True): [UNI_PHYSICS, UNI_CHEM, UNI_BIO, UNI_COMPUTING],
}
CITY_ASSETS_PER_RESOURCE = (5, 8)


def city_space_plan(level: str, county: bool, rng: random.Random) -> list[SpaceSpec]:
    base = PLANS[(level, county)]
    n = max(1, CITY_TARGET[(level, county)] + rng.randint(-1, 1))
    if n <= len(base):
        return _numbered(base[:n])
    extras = CITY_EXTRAS[(level, county)]
    start = rng.randrange(len(extras))
    more = [extras[(start + i) % len(extras)] for i in range(n - len(base))]
    return _numbered([*base, *more])


def _bell_day(level: str) -> list[tuple[int, dt.time, dt.time]]:
    periods = [
        (n, dt.time.fromisoformat(s), dt.time.fromisoformat(e))
        for n, s, e in demo_data.BELL_SCHEDULES[schools_demo.city_bell_key(level)]
    ]
    return default_opening_hours(periods)


def _raw_insert(model, fields: Sequence[str], rows: Iterable[tuple], *, now: dt.datetime) -> None:
    """Insert plain tuples without model instances: the synthetic city has ~300,000 rows, and
    building and compiling a model per row costs most of bulk_create's time.

    Columns not listed take the field's default (auto_now fields: ``now``), so a field added
    later with a default needs no change here. PostgreSQL gets COPY, others executemany.
    Nothing is validated: the caller builds rows that satisfy the model's constraints.
    """
    opts = model._meta
    given = [opts.get_field(name) for name in fields]
    rest = [f for f in opts.concrete_fields if not f.primary_key and f not in given]
    constants = []
    for field in rest:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        elif field.has_default() or not field.null:
            value = field.get_default()
        else:
            value = None
        constants.append(field.get_db_prep_save(value, connection))
    constants = tuple(constants)
    qn = connection.ops.quote_name
    table = qn(opts.db_table)
    columns = ", ".join(qn(f.column) for f in (*given, *rest))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + constants)
            return
        # SQLite's driver adapts dates and decimals (Django registers them), not times.
        convert = [isinstance(f, models.TimeField) for f in given]
        if any(convert):
            rows = (tuple(str(v) if c else v for v, c in zip(row, convert, strict=True)) for row in rows)
        placeholders = ", ".join(["%s"] * (len(given) + len(rest)))
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", [row + constants for row in rows]
        )


def _delete(queryset) -> None:
    """One DELETE when no row of any app points at these rows, else Django's collector (which
    honours PROTECT and CASCADE): the collector would load ~130,000 assets one by one."""
    model = queryset.model
    referenced = any(
        rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": queryset}).exists()
        for rel in model._meta.related_objects
        if not rel.many_to_many
    )
    if referenced:
        queryset.delete()
    else:
        queryset._raw_delete(queryset.db)


def city_resources_delete() -> None:
    """Remove the synthetic city's inventory so its schools can be deleted (PROTECT keys).

    Called before ``schools.demo.seed_city_schools``; ``schools`` must not import this app.
    """
    city = School.objects.filter(code__startswith=schools_demo.CITY_CODE_PREFIX)
    resources = Resource.objects.filter(school__in=city)
    # Tickets carry their owner school, so these are all tickets on the city's rows.
    MaintenanceTicket.objects.filter(school__in=city).delete()
    # Real schools' assets lent into a synthetic space or kit stay, in their store.
    Asset.objects.filter(space__in=resources).exclude(school__in=city).update(space=None)
    Asset.objects.filter(kit__in=resources).exclude(school__in=city).update(kit=None)
    _delete(Asset.objects.filter(school__in=city))
    _delete(OpeningHours.objects.filter(resource__in=resources))
    _delete(Resource.provides.through.objects.filter(resource__in=resources))
    _delete(resources)


RESOURCE_COLUMNS = (
    "name", "kind", "subject", "school", "capacity", "shared", "requires_approval", "building", "room",
    "description", "required_qualification",
)  # fmt: skip
ASSET_COLUMNS = (
    "tag", "catalog_item", "serial_number", "school", "space", "status", "condition", "purchase_date",
    "value_cny", "notes",
)  # fmt: skip


@transaction.atomic
def seed_city_resources(*, schools: Iterable[School], seed: int) -> dict[str, int]:
    """Spaces, opening hours, interfaces and assets for the synthetic schools, all in bulk.

    About seven spaces per school weighted by level, five to eight assets each; the same
    ``seed`` gives the same inventory. Call ``city_resources_delete`` before replacing the
    schools.
    """
    _ensure_catalogue()
    quals = {q.code: q.pk for q in seed_qualifications(SeedReport()).values()}
    catalogue = _catalogue()
    interface_pk = dict(Interface.objects.values_list("code", "pk"))
    district_kind = dict(District.objects.values_list("pk", "kind"))
    rng = random.Random(f"edushare-city-resources:{seed}")
    now = timezone.now()
    schools = sorted(schools, key=lambda s: s.code)
    if not schools:
        return {"resources": 0, "opening_hours": 0, "interfaces": 0, "assets": 0}

    planned: list[tuple[School, SpaceSpec, bool]] = []
    for school in schools:
        county = district_kind[school.district_id] == District.Kind.COUNTY
        planned += [(school, spec, county) for spec in city_space_plan(school.level, county, rng)]
    _raw_insert(
        Resource,
        RESOURCE_COLUMNS,
        (
            (
                spec.name, spec.kind, spec.subject, school.pk, spec.capacity, spec.shared,
                spec.requires_approval, spec.building, spec.room, spec.description,
                quals[spec.qualification] if spec.qualification else None,
            )
            for school, spec, _county in planned
        ),
        now=IN_SERVICE_SINCE,
    )  # fmt: skip
    ids = {s.pk for s in schools}
    resource_pk = {
        (school_id, name): pk
        for school_id, name, pk in Resource.objects.filter(
            school_id__gte=min(ids), school_id__lte=max(ids)
        ).values_list("school_id", "name", "pk")
        if school_id in ids
    }

    hours: list[tuple] = []
    provides: list[tuple] = []
    assets: list[tuple] = []
    stock_cache: dict[tuple[str, ...], list[Item]] = {}
    bell_cache: dict[str, list[tuple[int, dt.time, dt.time]]] = {}
    tag_numbers: Counter[int] = Counter()
    for school, spec, county in planned:
        pk = resource_pk[(school.pk, spec.name)]
        ranges = _opening_hours(spec)
        if ranges is None:
            if school.level not in bell_cache:
                bell_cache[school.level] = _bell_day(school.level)
            ranges = bell_cache[school.level]
        hours += [(pk, w, s, e) for w, s, e in ranges]
        provides += [(pk, interface_pk[c]) for c in spec.provides]
        if spec.stock not in stock_cache:
            stock_cache[spec.stock] = _stock_items(spec.stock, catalogue)
        items = stock_cache[spec.stock]
        for _ in range(rng.randint(*CITY_ASSETS_PER_RESOURCE)):
            item = rng.choice(items)
            serial, status, condition, bought, notes = _asset_state(rng, item, county)
            tag_numbers[school.pk] += 1
            tag = f"{school.code}-{tag_numbers[school.pk]:04d}"
            assets.append((tag, item.pk, serial, school.pk, pk, status, condition, bought, item.value, notes))
    _raw_insert(OpeningHours, ("resource", "weekday", "start", "end"), hours, now=now)
    _raw_insert(Resource.provides.through, ("resource", "interface"), provides, now=now)
    _raw_insert(Asset, ASSET_COLUMNS, assets, now=now)
    return {
        "resources": len(planned),
        "opening_hours": len(hours),
        "interfaces": len(provides),
        "assets": len(assets),
    }
