"""Hostile input for every operation of the HTTP API: never a 500, never a half-written state.

The operations come from the OpenAPI schema drf-spectacular generates, so a new endpoint is walked
without touching this module (a new top-level path segment must join a group in GROUPS, a new
{id} path must say in path_ids() which object it names, and a write can get a plausible body in
baseline_body(); without one it is walked with the fields its schema names).

For each operation a plausible request is built and sent as each role of the contract (a county
school's teacher, the owner school's admin, a centre admin, an analyst; anonymous too). Then every
query parameter and every request-body field (and every field of the first item of a list of
objects) is replaced, one at a time, by each value the product's requirement names (impossible,
naive, offset, year-1 and year-9999 dates; zero, negative and huge integers; an unknown id; 100,000
characters; null; a list; NUL) and by more of the field's kind (a lone surrogate, non-ASCII digits,
edge time-zone offsets, ...); ranges are sent with their end equal to and before their start;
whole bodies of the wrong shape, invalid UTF-8 and unknown parameters in the query string, absurd
pages. Path ids are the caller's own object, another school's, missing, zero and huge ones, for
every role. The hostile values of a field are dealt in turn among the roles the plain request
let in (a role refused at the door gets every 8th one as well), which keeps the module near a
minute on PostgreSQL; Hypothesis then sends its own junk to random operations.

Every answer must be < 500; a write (POST/PUT/PATCH/DELETE) answered with a 4xx must leave the
row counts of the main tables, the bookings per status and the addressed row as they were.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import logging
import traceback
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import quote_from_bytes, urlencode

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.booking.conftest import local, next_workday
from tests.factories import (
    AssetFactory,
    CatalogItemFactory,
    DistrictFactory,
    KitFactory,
    ResourceFactory,
    SchoolFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ROLES = ("teacher", "school_admin", "centre_admin", "analyst")

# --- hostile values ---------------------------------------------------------------------------

BIG = "x" * 100_000
# The values the product's requirement names, sent to every query parameter and body field.
HOSTILE = [
    None,
    [1, 2],
    0,
    -1,
    2**63,
    10**30,
    987654321,  # an id nothing has
    BIG,
    "\x00",
    "2026-13-45",
    "2026-12-01T08:00:00",  # naive
    "2026-12-01T08:00:00+05:45",  # an offset
    "0001-01-01",
    "0001-01-01T00:00:00",
    "9999-12-31",
    "9999-12-31T23:59:59",
    "10000-01-01",
]
# More, for the fields (and query parameters) of a kind they may trouble.
STRINGISH = ["", "a\x00b", "\ud800", {"id": 1}, "' OR 1=1 --", "%_\\"]
NUMERIC = [
    "",
    "²",
    "١٢",
    "-1",
    "1e3",
    "100000000000000000000",
    "1000000000",
    2**63 - 1,
    -(2**63) - 1,
    1.5,
    1e308,
    True,
]
TEMPORAL = [
    "",
    "2026-02-30",
    "2026-12-01T08:00:00-12:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "10000-01-01T00:00:00",
    "24:00",
    "23:59:60",
    "\ud800",
]
LISTISH = [[None], ["\x00"], ["\ud800"], [2**63], [{}], [[]], [BIG], {"id": 1}]
BOOLEAN = ["maybe", 2, "\ud800", {"id": 1}]
EVERYTHING = list(
    {repr(v): v for v in [*HOSTILE, *STRINGISH, *NUMERIC, *TEMPORAL, *LISTISH, *BOOLEAN]}.values()
)
# Values that only mean something to one kind of field, added to the list above for that field.
FIELD_HOSTILE = {
    "rrule": [
        "FREQ=DAILY;COUNT=100000",
        "FREQ=SECONDLY;COUNT=2",
        "FREQ=DAILY",
        "FREQ=DAILY;UNTIL=99991231",
        "FREQ=DAILY;UNTIL=99991231T235959Z",
        "FREQ=WEEKLY;UNTIL=00010101T000000Z",
        "FREQ=DAILY;INTERVAL=0;COUNT=2",
        "FREQ=YEARLY;INTERVAL=7973;COUNT=2",
        "FREQ=DAILY;INTERVAL=99999999999999999999;COUNT=2",
        "FREQ=DAILY;COUNT=99999999999999999999",
        "FREQ=WEEKLY;COUNT=2;BYDAY=XX",
        "FREQ=YEARLY;COUNT=2;BYSETPOS=0",
        "FREQ=YEARLY;COUNT=2;BYMONTH=13",
        "FREQ=MONTHLY;COUNT=2;BYMONTHDAY=31;BYMONTH=2",
        "FREQ=DAILY;COUNT=2;DTSTART=99991231T000000",
        "RRULE:FREQ=DAILY;COUNT=2\nEXDATE:garbage",
        "FREQ=WEEKLY;COUNT=2;WKST=XX",
    ],
    "periods": ["0", "5-4", "1--2", "1-99999999999999999999", "-1", "5-", "-5", "a-b", "1-2-3", "²-³"],
    "month": [
        "2026-00",
        "2026-13",
        "0000-01",
        "0001-01",
        "9999-12",
        "10000-01",
        "2026-1",
        "-2026-01",
        "²⁰²⁶-01",
    ],
    "email": ["a@", "@b", "a@b@c", "a" * 300 + "@example.org"],
    "password": ["a", "x" * 200],
    "latitude": [91, -91, "NaN", "-0"],
    "longitude": [181, -181],
    "weekday": [7, -1],
    "number": [21, 0],
    "page": ["last", "0", "-1", "1.5"],
    "page_size": ["0", "-1", "1000000000"],
    "format": ["json", "api", "svg"],
    "regenerate": ["maybe"],
    "group_by": ["nothing"],
}
# Whole bodies a client may send instead of an object.
HOSTILE_BODIES = [
    b"",
    b"null",
    b"[]",
    b"[null]",
    b'"text"',
    b"123",
    b"true",
    b'{"a":',
    b"\xff\xfe\x00",
    b'{"resource": NaN}',
    b'{"resource": Infinity}',
    b'{"\\u0000": 1}',
    b'{"a": "\\ud800"}',
    json.dumps({"x": [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}).encode(),
    json.dumps([{"number": 1, "start": "08:00", "end": "08:45"}] * 2).encode(),
]
# The query string as raw bytes: invalid UTF-8, stray escapes, repeated and empty parameters.
HOSTILE_QUERY_STRINGS = [
    "page=%FF%FE&page_size=%C3%28",
    "search=%ED%A0%80",
    "%FF=%FF",
    "page=%00",
    "page=1&page=2&page_size=1&page_size=1000000000",
    "&&&=&==",
    "page=%",
    "unknown_filter=%00&another[]=1&x=" + "9" * 40,
]


def as_query_values(value) -> list[str] | None:
    """How a JSON value is written into a query string (None: it cannot be)."""
    if isinstance(value, bool):
        values = ["true" if value else "false"]
    elif value is None:
        values = ["null"]
    elif isinstance(value, list):
        values = ["" if v is None else str(v) for v in value] or [""]
    elif isinstance(value, dict):
        values = [json.dumps(value)]
    else:
        values = [str(value)]
    try:
        for v in values:
            v.encode()
    except UnicodeEncodeError:
        return None
    return values


def _kinds(prop: dict) -> set[str]:
    """The JSON types and formats a schema property admits (through allOf/oneOf too)."""
    found = {prop.get("type", ""), prop.get("format", "")} | ({"enum"} if "enum" in prop else set())
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in prop.get(key, []):
            found |= _kinds(sub)
    return found - {""}


def hostile_for(field: str, prop: dict | None = None) -> list:
    """The values the requirement names and those of the field's kind (every one of them for a
    field of no known kind)."""
    if not prop:
        return EVERYTHING + FIELD_HOSTILE.get(field, [])
    kinds = _kinds(prop)
    extra = []
    if kinds & {"date", "date-time", "time"}:
        extra += TEMPORAL
    elif kinds & {"integer", "number", "decimal"}:
        extra += NUMERIC
    elif "array" in kinds:
        extra += LISTISH
    elif "boolean" in kinds:
        extra += BOOLEAN
    else:
        extra += STRINGISH
    return HOSTILE + extra + FIELD_HOSTILE.get(field, [])


# --- the operations, from the schema ----------------------------------------------------------


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # as in the schema: /api/v1/bookings/{id}/cancel/
    query_schemas: tuple[tuple[str, dict], ...]  # (name, schema) of each query parameter
    headers: tuple[str, ...]
    body: dict | None  # the request body's schema, references resolved

    @property
    def query(self) -> tuple[str, ...]:
        return tuple(name for name, _schema in self.query_schemas)

    @property
    def segment(self) -> str:
        return self.path.removeprefix("/api/v1/").split("/")[0]

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    def __str__(self):
        return f"{self.method} {self.path}"


@functools.cache
def schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(node, refs=0):
    """`node` with its $refs replaced by what they name (to a depth of a few references)."""
    if isinstance(node, dict):
        if "$ref" in node:
            if refs > 4:
                return {}
            name = node["$ref"].rsplit("/", 1)[-1]
            return _resolve(schema()["components"]["schemas"][name], refs + 1)
        return {k: _resolve(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, refs) for v in node]
    return node


@functools.cache
def operations() -> tuple[Op, ...]:
    ops = []
    for path, item in schema()["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = op.get("parameters", [])
            content = op.get("requestBody", {}).get("content", {})
            body = _resolve(next(iter(content.values()))["schema"]) if content else None
            ops.append(
                Op(
                    method=method.upper(),
                    path=path,
                    query_schemas=tuple(
                        (p["name"], p.get("schema", {})) for p in params if p["in"] == "query"
                    ),
                    headers=tuple(p["name"] for p in params if p["in"] == "header"),
                    body=body,
                )
            )
    return tuple(ops)


# Path segments walked by each test (one database world per test). A new segment must be added.
GROUPS = {
    "accounts": {"auth", "me", "districts", "schools", "users"},
    "equipment": {"resources", "catalog", "interfaces", "qualifications", "assets"},
    "tickets": {"maintenance-tickets"},
    "bookings": {"bookings", "availability"},
    "series-waitlist": {"series", "waitlist"},
    "closures-notifications": {"closures", "notifications", "calendar-feeds"},
    "metrics-reports": {"metrics", "reports"},
    "rotation": {"rotation"},
}

# Fields an endpoint reads that its schema does not describe (found by reading the views).
UNDOCUMENTED_QUERY: dict[str, tuple[str, ...]] = {}
UNDOCUMENTED_BODY: dict[str, dict] = {}


def _properties(body_schema) -> dict[str, dict]:
    if not body_schema:
        return {}
    if body_schema.get("type") == "array":
        return body_schema.get("items", {}).get("properties", {})
    return body_schema.get("properties", {})


def _fields(body_schema) -> list[str]:
    return list(_properties(body_schema))


# --- the world --------------------------------------------------------------------------------


def _world() -> SimpleNamespace:
    from booking import services
    from booking.models import Handover, MonthlyReport, Notification
    from booking.reports import build_snapshot
    from booking.rotation import services as rotation
    from equipment.models import KitTypeContent

    w = SimpleNamespace()
    w.day = next_workday(3)
    w.urban_district = DistrictFactory(kind="urban", zone="core")
    w.county_district = DistrictFactory(kind="county", zone="linkage")
    w.owner = SchoolFactory(district=w.urban_district, latitude=45.75, longitude=126.65)
    w.county = SchoolFactory(district=w.county_district, latitude=45.60, longitude=127.00)
    w.other = SchoolFactory(district=w.urban_district)
    w.victim_school = SchoolFactory(district=w.urban_district)
    w.users = {
        "teacher": UserFactory(role="teacher", school=w.county),
        "school_admin": UserFactory(role="school_admin", school=w.owner),
        "centre_admin": UserFactory(role="centre_admin", school=None),
        "analyst": UserFactory(role="analyst", school=None),
    }
    w.county_admin = UserFactory(role="school_admin", school=w.county)
    w.other_teacher = UserFactory(role="teacher", school=w.other)
    w.owner_teacher = UserFactory(role="teacher", school=w.owner)
    w.victim_user = UserFactory(role="teacher", school=w.owner)
    teacher = w.users["teacher"]

    w.lab = ResourceFactory(school=w.owner, shared=True, capacity=40)
    w.victim_lab = ResourceFactory(school=w.owner, shared=True, capacity=40)  # the one PATCHed
    w.approval_lab = ResourceFactory(school=w.owner, shared=True, requires_approval=True, capacity=40)
    w.private = ResourceFactory(school=w.other, shared=False, capacity=40)
    w.kit_type = CatalogItemFactory(category="kit")
    w.item = item = CatalogItemFactory(category="physics")
    KitTypeContent.objects.create(kit_type=w.kit_type, item=item, quantity=2)
    w.kit = KitFactory(school=w.owner, kit_type=w.kit_type, transit_buffer_minutes=0)
    w.contents = [AssetFactory(school=w.owner, kit=w.kit, catalog_item=item) for _ in range(2)]
    w.asset = AssetFactory(school=w.owner, catalog_item=item)
    w.other_asset = AssetFactory(school=w.other, catalog_item=item)
    w.ticket = TicketFactory(resource=w.lab, reported_by=w.owner_teacher)
    w.other_ticket = TicketFactory(resource=w.private, reported_by=w.other_teacher)

    def book(actor, resource, h0, h1, day=None):
        return services.booking_create(
            actor=actor,
            resource=resource,
            start=local(day or w.day, h0),
            end=local(day or w.day, h1),
            class_size=20,
            purpose="fuzz",
        )

    w.booking = book(teacher, w.lab, 9, 10)
    w.booking_to_cancel = book(teacher, w.lab, 10, 11)
    w.pending = book(teacher, w.approval_lab, 9, 10)
    w.other_booking = book(w.other_teacher, w.private, 9, 10)
    w.taken = book(w.owner_teacher, w.lab, 15, 16)
    w.entry = services.waitlist_join(
        actor=teacher, resource=w.lab, start=local(w.day, 15), end=local(w.day, 16), class_size=20
    )
    w.other_entry = services.waitlist_join(
        actor=w.other_teacher, resource=w.lab, start=local(w.day, 15), end=local(w.day, 16), class_size=20
    )
    w.series = services.series_create(
        actor=teacher,
        resource=w.lab,
        first_start=local(w.day, 13),
        first_end=local(w.day, 14),
        rrule_text="FREQ=WEEKLY;COUNT=2",
        class_size=20,
    ).series
    w.other_series = services.series_create(
        actor=w.other_teacher,
        resource=w.private,
        first_start=local(w.day, 13),
        first_end=local(w.day, 14),
        rrule_text="FREQ=WEEKLY;COUNT=2",
        class_size=20,
    ).series
    assert w.series is not None, "no occurrence booked: pick another day"
    assert w.other_series is not None, "no occurrence booked: pick another day"
    w.series_last = w.series.bookings.order_by("start").last().pk
    far = w.day + dt.timedelta(days=20)
    w.closure = services.closure_create(
        actor=w.users["school_admin"],
        data={"scope": "resource", "resource": w.lab, "start_date": far, "end_date": far, "reason": "fuzz"},
    )
    w.other_closure = services.closure_create(
        actor=w.users["centre_admin"],
        data={"scope": "school", "school": w.other, "start_date": far, "end_date": far, "reason": "fuzz"},
    )
    w.notifications = {
        role: Notification.objects.create(
            recipient=user,
            kind="booking_confirmed",
            language="en",
            subject="s",
            body="b",
            dedupe_key=f"fz{user.pk}",
        )
        for role, user in w.users.items()
    }
    w.other_notification = Notification.objects.create(
        recipient=w.other_teacher,
        kind="booking_confirmed",
        language="en",
        subject="s",
        body="b",
        dedupe_key=f"fz-o{w.other_teacher.pk}",
    )
    today = timezone.localdate()
    w.month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    w.report = MonthlyReport.objects.create(
        month=w.month, status="ready", snapshot=build_snapshot(w.month), ready_at=timezone.now()
    )
    # Mobile-kit rotation: a request from the county school, a plan, applied (two handover legs).
    w.d0 = next_workday(35)
    w.d1 = w.d0 + dt.timedelta(days=18)
    w.request = rotation.request_create(
        actor=w.county_admin,
        data={"kit_type": w.kit_type, "days": 3, "earliest": w.d0, "latest_end": w.d1, "students": 50},
    )
    w.plan = rotation.plan_create(
        actor=w.users["centre_admin"], date_from=w.d0, date_to=w.d1, solver="greedy"
    )
    rotation.plan_apply(actor=w.users["centre_admin"], plan=w.plan)
    w.handover = Handover.objects.filter(kit=w.kit).order_by("sequence").first()
    assert w.handover is not None, "the rotation plan placed nothing: pick another window"
    return w


@pytest.fixture
def world(db):
    # Thousands of 4xx answers: Django's "Bad Request" warnings would only slow the run down.
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    yield _world()
    request_log.setLevel(level)


# The object a path's {id} names, per role: the caller's own (or one they should reach), and
# another school's. Keys are the path after /api/v1/ up to {id}.
def path_ids(w, op: Op, role: str) -> dict[str, object]:
    rest = op.path.removeprefix("/api/v1/")
    own = other = None
    if rest.startswith("assets/"):
        own, other = w.asset, w.other_asset
    elif rest.startswith("bookings/"):
        if rest.endswith(("approve/", "reject/")):
            own = w.pending
        elif rest.endswith("cancel/"):
            own = w.booking_to_cancel
        else:
            own = w.booking
        other = w.other_booking
    elif rest.startswith("catalog/"):
        return {
            "own": w.kit_type.code,
            "missing": "NOPE-0000",
            "long": "K" * 5000,
            "nul": "%00",
            "odd": "%FF",
        }
    elif rest.startswith("closures/"):
        own, other = w.closure, w.other_closure
    elif rest.startswith("districts/"):
        own, other = w.urban_district, w.county_district
    elif rest.startswith("maintenance-tickets/"):
        own, other = w.ticket, w.other_ticket
    elif rest.startswith("notifications/"):
        own, other = w.notifications[role], w.other_notification
    elif rest.startswith("reports/"):
        own = w.report
    elif rest.startswith("resources/"):
        own, other = (w.victim_lab if op.method == "PATCH" else w.lab), w.private
    elif rest.startswith("rotation/handovers/"):
        own = w.handover
    elif rest.startswith("rotation/kits/"):
        own, other = w.kit, w.lab
    elif rest.startswith("rotation/plans/"):
        own = w.plan
    elif rest.startswith("rotation/requests/"):
        own = w.request
    elif rest.startswith("schools/"):
        own = w.owner if rest.endswith("periods/") else w.victim_school
        other = w.other
    elif rest.startswith("series/"):
        own, other = w.series, w.other_series
    elif rest.startswith("users/"):
        own, other = w.victim_user, w.other_teacher
    elif rest.startswith("waitlist/"):
        own, other = w.entry, w.other_entry
    else:
        raise AssertionError(f"{op}: which object does its id name? Add it to path_ids().")
    ids = {"own": own}
    if other is not None:
        ids["other"] = other
    ids.update({"missing": 987654321, "zero": 0, "max": 2**63 - 1, "huge63": 2**63, "huge30": 10**30})
    return ids


def url_for(op: Op, ident) -> str:
    value = getattr(ident, "pk", ident)
    if "{code}" in op.path:
        value = getattr(ident, "code", ident)
    return op.path.replace("{id}", str(value)).replace("{code}", str(value))


# --- plausible requests -----------------------------------------------------------------------


def _iso(day: dt.date, h: int, m: int = 0) -> str:
    return local(day, h, m).isoformat()


def baseline_query(w, op: Op) -> dict[str, str]:
    """Query parameters the operation needs to do its real work."""
    day = w.day
    q = {}
    if op.path.endswith("/availability/") and "{id}" in op.path:
        q = {"start": _iso(day, 8), "end": _iso(day + dt.timedelta(days=1), 18)}
    elif op.path == "/api/v1/availability/":
        q = {
            "date_from": day.isoformat(),
            "date_to": day.isoformat(),
            "duration": "45",
            "near_school": w.county.pk,
        }
    elif op.path == "/api/v1/metrics/utilisation/":
        q = {
            "date_from": (day - dt.timedelta(days=7)).isoformat(),
            "date_to": day.isoformat(),
            "group_by": "school",
        }
    elif op.path.endswith("/download/"):
        q = {"format": "csv"}
    elif op.path.endswith("/compatibility/"):
        q = {"item": w.kit_type.code}
    elif op.path == "/api/v1/maintenance-tickets/sla/":
        q = {"date_from": (day - dt.timedelta(days=30)).isoformat(), "date_to": day.isoformat()}
    return {k: str(v) for k, v in q.items()}


def _plain_value(w, prop: dict):
    """An ordinary value for a schema property: its first choice, or one of its type."""
    for candidate in (prop, *prop.get("allOf", []), *prop.get("oneOf", [])):
        if candidate.get("enum"):
            return candidate["enum"][0]
    kinds = _kinds(prop)
    if "date-time" in kinds:
        return _iso(w.day, 11)
    if "date" in kinds:
        return w.day.isoformat()
    if "time" in kinds:
        return "08:00"
    if "boolean" in kinds:
        return False
    if kinds & {"integer", "number"}:
        return 1
    if "array" in kinds:
        return []
    return "fuzz"


def baseline_body(w, op: Op, role: str):
    """A request body that would (mostly) succeed, so a hostile value in one field gets deep."""
    day, user = w.day, w.users.get(role, w.users["teacher"])
    p = op.path.removeprefix("/api/v1/")
    seq = next(_seq)
    booking = {
        "resource": w.lab.pk,
        "start": _iso(day, 11),
        "end": _iso(day, 12),
        "class_size": 20,
        "purpose": "fuzz",
    }
    bodies = {
        ("POST", "assets/"): {
            "tag": f"FZ-{seq}",
            "catalog_item": w.item.code,
            "school": w.owner.pk,
            "status": "in_service",
            "condition": "good",
            "serial_number": "S1",
            "purchase_date": "2025-09-01",
            "value_cny": "10.00",
            "notes": "",
        },
        ("PATCH", "assets/{id}/"): {"condition": "good", "notes": "fuzz", "value_cny": "12.50"},
        ("POST", "auth/token/"): {"username": user.username, "password": PASSWORD},
        ("POST", "bookings/"): booking,
        ("POST", "closures/"): {
            "scope": "resource",
            "kind": "blackout",
            "resource": w.lab.pk,
            "start_date": (day + dt.timedelta(days=40)).isoformat(),
            "end_date": (day + dt.timedelta(days=41)).isoformat(),
            "reason": "fuzz",
        },
        ("POST", "maintenance-tickets/"): {
            "resource": w.lab.pk,
            "severity": "low",
            "description": "fuzz",
            "takes_out_of_service": False,
        },
        ("PUT", "notifications/preferences/"): {"language": "en", "email_opt_out": ["booking_reminder"]},
        ("POST", "reports/"): {"month": w.month.strftime("%Y-%m")},
        ("POST", "resources/"): {
            "name": f"fuzz lab {seq}",
            "kind": "lab",
            "subject": "physics",
            "school": w.owner.pk,
            "capacity": 30,
            "shared": True,
            "requires_approval": False,
            "status": "active",
            "opening_hours": [{"weekday": 0, "start": "08:00", "end": "17:00"}],
            "min_notice_hours": 24,
            "max_advance_days": 28,
            "min_minutes": 30,
            "max_minutes": 240,
            "building": "A",
            "room": "101",
            "description": "",
            "required_qualification": None,
            "provides": [],
            "kit_type": None,
            "transit_buffer_minutes": 0,
        },
        ("PATCH", "resources/{id}/"): {
            "capacity": 40,
            "opening_hours": [{"weekday": 0, "start": "08:00", "end": "17:00"}],
            "provides": [],
            "description": "fuzz",
        },
        ("POST", "rotation/handovers/{id}/check-in/"): {
            "items": [{"asset": a.pk, "present": True, "condition": "good", "note": ""} for a in w.contents]
        },
        ("POST", "rotation/handovers/{id}/check-out/"): {
            "items": [{"asset": a.pk, "present": True, "condition": "good", "note": ""} for a in w.contents]
        },
        ("POST", "rotation/handovers/{id}/override/"): {"reason": "fuzz"},
        ("POST", "rotation/plans/"): {
            "date_from": w.d0.isoformat(),
            "date_to": w.d1.isoformat(),
            "solver": "greedy",
        },
        ("POST", "rotation/plans/{id}/replan/"): {"pin": [], "drop": [], "solver": "greedy"},
        ("POST", "rotation/requests/"): {
            "kit_type": w.kit_type.code,
            "kit": None,
            "days": 3,
            "earliest": w.d0.isoformat(),
            "latest_end": w.d1.isoformat(),
            "students": 50,
            "reason": "fuzz",
        },
        ("POST", "schools/"): {
            "code": f"FZ-{seq}",
            "name": f"fuzz school {seq}",
            "name_en": "Fuzz",
            "district": w.urban_district.pk,
            "level": "senior",
            "is_public": True,
            "student_count": 100,
            "latitude": 45.7,
            "longitude": 126.6,
        },
        ("PATCH", "schools/{id}/"): {
            "name_en": "Victim",
            "student_count": 300,
            "latitude": 45.7,
            "longitude": 126.6,
        },
        ("PUT", "schools/{id}/periods/"): [
            {"number": n, "start": f"{7 + n:02d}:00", "end": f"{7 + n:02d}:45"} for n in range(1, 9)
        ],
        ("POST", "series/"): {
            **booking,
            "start": _iso(day, 16),
            "end": _iso(day, 17),
            "rrule": "FREQ=WEEKLY;COUNT=2",
            "mode": "all_or_nothing",
            "preview": False,
            "waitlist": False,
        },
        ("POST", "series/{id}/cancel/"): {"scope": "following", "booking": w.series_last, "reason": "fuzz"},
        ("POST", "users/"): {
            "username": f"fuzz{seq}",
            "display_name": "Fuzz",
            "email": f"fuzz{seq}@example.org",
            "role": "teacher",
            "school": w.owner.pk,
            "phone": "",
            "is_active": True,
            "password": "Nine-lives-of-a-cat-42",
        },
        ("PATCH", "users/{id}/"): {"display_name": "Victim", "phone": "13800000000"},
        ("POST", "waitlist/"): {**booking, "start": _iso(day, 15), "end": _iso(day, 16)},
    }
    body = bodies.get((op.method, p))
    if body is None and op.body is not None:  # reasons, resolutions; and any new operation
        body = {name: _plain_value(w, prop) for name, prop in _properties(op.body).items()}
    if op.path in UNDOCUMENTED_BODY:
        body = {**(body or {}), **UNDOCUMENTED_BODY[op.path]}
    return json.loads(json.dumps(body)) if body is not None else None


_seq = itertools.count(1)


def _by_periods(w) -> dict:
    return {"resource": w.lab.pk, "date": w.day.isoformat(), "periods": "7-8", "class_size": 20}


# Bodies of another form the operation accepts (its fields are fuzzed there).
ALTERNATIVE_BODIES = {
    "/api/v1/bookings/": _by_periods,
    "/api/v1/waitlist/": _by_periods,
    "/api/v1/series/": lambda w: {**_by_periods(w), "rrule": "FREQ=WEEKLY;COUNT=2", "mode": "skip_conflicts"},
}


# --- sending and checking ---------------------------------------------------------------------

NOBODY = object()


# The main tables whose row counts a refused write must leave alone.
WATCHED_TABLES = (
    "authtoken_token",
    "booking_booking",
    "booking_bookingevent",
    "booking_calendarfeed",
    "booking_closure",
    "booking_custodyevent",
    "booking_handover",
    "booking_handovercheck",
    "booking_idempotencyrecord",
    "booking_monthlyreport",
    "booking_notification",
    "booking_placement",
    "booking_rotationplan",
    "booking_rotationrequest",
    "booking_series",
    "booking_waitlistentry",
    "equipment_asset",
    "equipment_maintenanceticket",
    "equipment_openinghours",
    "equipment_resource",
    "schools_classperiod",
    "schools_school",
    "schools_user",
)
BOOKING_STATUSES = ("pending", "approved", "rejected", "cancelled", "checked_in", "completed", "no_show")


@functools.cache
def _fingerprint_sql() -> str:
    counts = ", ".join(f"(SELECT COUNT(*) FROM {t})" for t in WATCHED_TABLES)
    statuses = ", ".join(f"SUM(CASE WHEN status = '{s}' THEN 1 ELSE 0 END)" for s in BOOKING_STATUSES)
    return f"SELECT {counts}, {statuses} FROM booking_booking"


def fingerprint(target) -> tuple:
    """Row counts of the main tables, bookings per status, and the addressed row itself."""
    with connection.cursor() as cursor:
        cursor.execute(_fingerprint_sql())
        counts = cursor.fetchone()
        row = None
        if hasattr(target, "pk") and target.pk is not None:
            meta = type(target)._meta
            cursor.execute(f"SELECT * FROM {meta.db_table} WHERE {meta.pk.column} = %s", [target.pk])
            row = cursor.fetchall()
    return counts, repr(row)


class Walker:
    def __init__(self, w):
        self.w = w
        self.clients = {}
        for role, user in w.users.items():
            self.clients[role] = APIClient()
            self.clients[role].force_authenticate(user)
        self.clients["anonymous"] = APIClient()
        self.failures: list[str] = []
        self.sent = 0
        self.statuses: dict[int, int] = {}
        self.reached: set[str] = set()  # operations whose view read some input (not refused at the door)
        # Fingerprints known to be current (taken since the last answer that may have written).
        self.known: dict[tuple, tuple] = {}

    def send(self, role, op: Op, url, *, query=None, raw_query=None, body=NOBODY, headers=None, target=None,
             content_type="application/json", label=""):  # fmt: skip
        client = self.clients[role]
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()}
        data = b""
        if body is not NOBODY:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        qs = raw_query if raw_query is not None else urlencode(query or {}, doseq=True)
        key = (type(target).__name__, getattr(target, "pk", None))
        before = None
        if op.writes:
            before = self.known.get(key) or fingerprint(target)
        what = f"{op.method} {url}?{qs[:200]} as {role} [{label}]"
        self.sent += 1
        try:
            with transaction.atomic():
                response = client.generic(
                    op.method, url, data=data, content_type=content_type, QUERY_STRING=qs, **extra
                )
        except Exception as exc:
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/work/" in f.filename]
            where = f"{frames[-1].filename.split('/main/')[-1]}:{frames[-1].lineno}" if frames else "?"
            self.failures.append(f"500 {what}: {type(exc).__name__}: {str(exc)[:200]} at {where}")
            self.known.clear()
            return None
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if response.status_code not in (401, 403, 404, 405):
            self.reached.add(str(op))
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code} {what}: {response.content[:200]!r}")
        if response.status_code < 400 or response.status_code >= 500:
            self.known.clear()  # the world may have changed: fingerprints are taken anew
        elif op.writes:
            after = fingerprint(target)
            if after != before:
                self.failures.append(
                    f"state changed by a {response.status_code} to {what}: {before} -> {after}"
                )
            self.known[key] = after
        return response

    def check(self):
        assert not self.failures, f"{len(self.failures)} bad answers:\n" + "\n".join(self.failures[:60])


def _with(body, field, value):
    """`body` with `field` (of the object, or of the first item of a list) set to `value`."""
    body = json.loads(json.dumps(body))
    holder = body[0] if isinstance(body, list) else body
    if isinstance(holder, dict):
        holder[field] = value
    return body


def _nested(body) -> list[tuple[str, str, dict]]:
    """(list field, item field, item) for each list-of-objects field of a body."""
    out = []
    if isinstance(body, dict):
        for name, value in body.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                out.extend((name, key, value[0]) for key in value[0])
    return out


def _pairs(body) -> list[tuple[str, str]]:
    """Fields that make a range: (first, last)."""
    if not isinstance(body, dict):
        return []
    return [(a, b) for a, b in (("start", "end"), ("date_from", "date_to"), ("earliest", "latest_end"),
                                ("start_date", "end_date")) if a in body and b in body]  # fmt: skip


def walk(w, op: Op, walker: Walker):
    """Every hostile request for one operation, dealt among the roles."""
    has_id = "{id}" in op.path or "{code}" in op.path
    ids_by_role = {role: path_ids(w, op, role) for role in ROLES} if has_id else None
    if has_id:
        ids_by_role["anonymous"] = ids_by_role["teacher"]

    def own(role):
        return ids_by_role[role]["own"] if has_id else None

    def url(role):
        return url_for(op, own(role)) if has_id else op.path

    # Who is let in: a role answered 401/403 for the plain request gets a sample of the values.
    admitted = []
    for role in (*ROLES, "anonymous"):
        body = baseline_body(w, op, role)
        r = walker.send(role, op, url(role), query=baseline_query(w, op),
                        body=NOBODY if body is None else body, target=own(role), label="baseline")  # fmt: skip
        if role != "anonymous" and r is not None and r.status_code not in (401, 403):
            admitted.append(role)

    admitted = admitted or list(ROLES)
    deal = itertools.cycle(admitted)
    refused = [r for r in ROLES if r not in admitted]
    sample = itertools.cycle(refused) if refused else None
    counter = itertools.count()

    def roles_for_value():
        """The role(s) for the next hostile value: one admitted role in turn, and every 8th value
        also a refused role (permission must come first, whatever the input)."""
        roles = [next(deal)]
        if sample is not None and next(counter) % 8 == 0:
            roles.append(next(sample))
        return roles

    # Path ids: every role, every kind of id.
    if has_id:
        for role in ROLES:
            for kind, ident in ids_by_role[role].items():
                if kind == "own":
                    continue
                body = baseline_body(w, op, role)
                walker.send(role, op, url_for(op, ident), query=baseline_query(w, op),
                            body=NOBODY if body is None else body, target=ident, label=f"id {kind}")  # fmt: skip

    # Query parameters.
    params = list(dict.fromkeys([*op.query, *UNDOCUMENTED_QUERY.get(op.path, ())]))
    schemas = dict(op.query_schemas)
    for name in params:
        for value in hostile_for(name, schemas.get(name)):
            values = as_query_values(value)
            if values is None:
                continue
            for role in roles_for_value():
                query = {**baseline_query(w, op), name: values}
                body = baseline_body(w, op, role)
                walker.send(role, op, url(role), query=query, body=NOBODY if body is None else body,
                            target=own(role), label=f"{name}={str(value)[:30]!r}")  # fmt: skip
    for raw in HOSTILE_QUERY_STRINGS:
        for role in roles_for_value():
            body = baseline_body(w, op, role)
            base = urlencode(baseline_query(w, op))
            walker.send(role, op, url(role), raw_query=f"{base}&{raw}" if base else raw,
                        body=NOBODY if body is None else body, target=own(role), label="raw query")  # fmt: skip

    # Cross-field ranges in the query: last before or equal to first.
    q = baseline_query(w, op)
    for a, b in (("start", "end"), ("date_from", "date_to")):
        if a in q and b in q:
            for role in roles_for_value():
                walker.send(role, op, url(role), query={**q, b: q[a]}, target=own(role), label="equal range")
                walker.send(
                    role, op, url(role), query={**q, a: q[b], b: q[a]}, target=own(role), label="reversed"
                )

    if op.method == "GET" or (op.body is None and op.path not in UNDOCUMENTED_BODY):
        if op.method != "GET":  # a body the operation does not expect
            for role in roles_for_value():
                walker.send(
                    role, op, url(role), body={"unexpected": BIG}, target=own(role), label="stray body"
                )
        return

    # Request bodies: each field replaced by each hostile value, then left out; a field the
    # plain body lacks (date and periods beside start and end) in the body that has it.
    props = dict(_properties(op.body))
    for extra in UNDOCUMENTED_BODY.get(op.path, {}):
        props.setdefault(extra, {"type": "string"})
    alternative = ALTERNATIVE_BODIES.get(op.path)
    for name, prop in props.items():
        plain = baseline_body(w, op, admitted[0])
        holder = plain[0] if isinstance(plain, list) else plain
        use_alternative = alternative is not None and name not in holder and name in alternative(w)
        # Left out, too (a PATCH is partial: nothing to learn there).
        for value in [*hostile_for(name, prop), *([NOBODY] if op.method != "PATCH" else [])]:
            for role in roles_for_value():
                body = alternative(w) if use_alternative else baseline_body(w, op, role)
                if value is NOBODY:
                    if isinstance(body, dict):
                        body.pop(name, None)
                    elif isinstance(body, list) and body:
                        body[0].pop(name, None)
                else:
                    body = _with(body, name, value)
                walker.send(role, op, url(role), body=body, target=own(role),
                            label=f"{name}={str(value)[:30]!r}")  # fmt: skip
    # Fields of the first item of each list of objects (opening hours, checklist items).
    for list_name, item_field, _item in _nested(baseline_body(w, op, admitted[0])):
        item_prop = props.get(list_name, {}).get("items", {}).get("properties", {}).get(item_field, {})
        for value in hostile_for(item_field, item_prop):
            for role in roles_for_value():
                body = baseline_body(w, op, role)
                body[list_name][0][item_field] = value
                walker.send(role, op, url(role), body=body, target=own(role),
                            label=f"{list_name}[0].{item_field}={str(value)[:30]!r}")  # fmt: skip
    # Ranges: last equal to and before first.
    for role in roles_for_value():
        body = baseline_body(w, op, role)
        for a, b in _pairs(body):
            walker.send(role, op, url(role), body={**body, b: body[a]}, target=own(role), label=f"{b}={a}")
            walker.send(role, op, url(role), body={**body, a: body[b], b: body[a]}, target=own(role),
                        label=f"{b}<{a}")  # fmt: skip
    # Whole bodies that are not the expected shape, and the body as a form.
    for raw in HOSTILE_BODIES:
        for role in roles_for_value():
            walker.send(role, op, url(role), body=raw, target=own(role), label=f"body {raw[:20]!r}")
    for role in roles_for_value():
        body = baseline_body(w, op, role)
        if isinstance(body, dict):
            form = {k: json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else str(v))
                    for k, v in body.items()}  # fmt: skip
            walker.send(role, op, url(role), body=urlencode(form).encode(), target=own(role),
                        content_type="application/x-www-form-urlencoded", label="form")  # fmt: skip
        walker.send(role, op, url(role), body={**body, "unknown": [None]} if isinstance(body, dict) else body,
                    target=own(role), label="unknown field")  # fmt: skip
    # Headers the operation reads.
    for header in op.headers:
        for value in ("", " ", "k" * 101, "k" * 8000, "ключ", "\t"):
            for role in roles_for_value():
                walker.send(role, op, url(role), body=baseline_body(w, op, role), headers={header: value},
                            target=own(role), label=f"{header}={value[:10]!r}")  # fmt: skip


# --- the tests --------------------------------------------------------------------------------


def test_every_operation_is_in_a_group_and_knows_its_objects():
    ops = operations()
    assert len(ops) > 50
    grouped = set().union(*GROUPS.values())
    assert not {op.segment for op in ops} - grouped, "put the new path segment in GROUPS"


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_operation_answers_hostile_input_without_a_500_or_a_trace(world, group):
    walker = Walker(world)
    ops = sorted(
        (op for op in operations() if op.segment in GROUPS[group]),
        key=lambda op: (op.method == "DELETE", op.path, op.method),  # deletions last
    )
    assert ops
    for op in ops:
        walk(world, op, walker)
    walker.check()
    # Each operation let some role in: the hostile values were read, not just refused at the door.
    assert not {str(op) for op in ops} - walker.reached


# Hypothesis's own junk: any JSON-ish value, dates and times of any year, text of any code point.
JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.from_type(dt.date).map(str)
    | st.from_type(dt.datetime).map(dt.datetime.isoformat)
    | st.from_type(dt.time).map(dt.time.isoformat)
    | st.datetimes(timezones=st.timezones()).map(dt.datetime.isoformat),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _draw_target(world, data, op: Op, role: str):
    """The object (or id) a drawn request names in its path: one of path_ids() or any number."""
    if "{id}" not in op.path and "{code}" not in op.path:
        return None
    ids = path_ids(world, op, role)
    return data.draw(st.sampled_from(sorted(ids)).map(ids.get) | st.integers(0, 10**30), label="id")


@FUZZ
@given(data=st.data())
def test_hypothesis_junk_in_query_parameters(world, data):
    walker = Walker(world)
    op = data.draw(st.sampled_from(operations()), label="op")
    role = data.draw(st.sampled_from(ROLES), label="role")
    names = [*op.query, *UNDOCUMENTED_QUERY.get(op.path, ())]
    any_name = st.text(min_size=1, max_size=10)
    name_strategy = st.sampled_from(names) | any_name if names else any_name
    query = baseline_query(world, op)
    for name in data.draw(st.lists(name_strategy, max_size=4), label="names"):
        values = as_query_values(data.draw(JUNK, label=name))
        if values is not None:
            query[name] = values
    raw = urlencode(query, doseq=True)
    if data.draw(st.booleans(), label="raw bytes"):  # any bytes at all, percent-encoded
        name, junk = (
            data.draw(name_strategy, label="raw name"),
            data.draw(st.binary(max_size=30), label="raw"),
        )
        raw += f"&{quote_from_bytes(name.encode('utf-8', 'replace'))}={quote_from_bytes(junk)}"
    target = _draw_target(world, data, op, role)
    body = baseline_body(world, op, role)
    walker.send(role, op, url_for(op, target) if target is not None else op.path, raw_query=raw,
                body=NOBODY if body is None else body, target=target, label="hypothesis")  # fmt: skip
    walker.check()


@FUZZ
@given(data=st.data())
def test_hypothesis_junk_in_request_bodies(world, data):
    walker = Walker(world)
    op = data.draw(st.sampled_from([op for op in operations() if op.body is not None]), label="op")
    role = data.draw(st.sampled_from(ROLES), label="role")
    names = _fields(op.body)
    any_name = st.text(max_size=10)
    if data.draw(st.integers(0, 9), label="whole body") == 0:
        body = data.draw(JUNK, label="body")
    else:
        body = baseline_body(world, op, role)
        for name in data.draw(
            st.lists(st.sampled_from(names) | any_name, min_size=1, max_size=3), label="names"
        ):
            body = _with(body, name, data.draw(JUNK, label=name))
    target = _draw_target(world, data, op, role)
    walker.send(role, op, url_for(op, target) if target is not None else op.path, body=body, target=target,
                label="hypothesis")  # fmt: skip
    walker.check()
