"""The equipment API: resources, catalogue, compatibility, assets, maintenance tickets."""

import datetime as dt

import pytest

from equipment.models import Asset, MaintenanceTicket, OpeningHours, Resource
from equipment.services import catalog_load
from tests.conftest import client_for
from tests.factories import (
    AssetFactory,
    CatalogItemFactory,
    KitFactory,
    ResourceFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ROLES = ["centre", "analyst", "owner_admin", "owner_teacher", "other_admin", "other_teacher"]


@pytest.fixture
def people(urban_school, county_school):
    return {
        "centre": UserFactory(role="centre_admin", school=None),
        "analyst": UserFactory(role="analyst", school=None),
        "owner_admin": UserFactory(role="school_admin", school=urban_school),
        "owner_teacher": UserFactory(role="teacher", school=urban_school),
        "other_admin": UserFactory(role="school_admin", school=county_school),
        "other_teacher": UserFactory(role="teacher", school=county_school),
    }


@pytest.fixture
def private_lab(urban_school):
    return ResourceFactory(school=urban_school, shared=False, name="私有实验室")


@pytest.fixture
def shared_lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True, name="共享实验室")


# --- the permission matrix for resources ---------------------------------------------------

READ = {
    # role: (private, shared)
    "centre": (200, 200),
    "analyst": (200, 200),
    "owner_admin": (200, 200),
    "owner_teacher": (200, 200),
    "other_admin": (404, 200),
    "other_teacher": (404, 200),
}
WRITE = {
    "centre": (200, 200),
    "analyst": (403, 403),
    "owner_admin": (200, 200),
    "owner_teacher": (403, 403),
    "other_admin": (404, 403),
    "other_teacher": (403, 403),
}


@pytest.mark.parametrize("role", ROLES)
def test_resource_read_matrix(people, private_lab, shared_lab, role):
    client = client_for(people[role])
    assert client.get(f"/api/v1/resources/{private_lab.id}/").status_code == READ[role][0]
    assert client.get(f"/api/v1/resources/{shared_lab.id}/").status_code == READ[role][1]
    listed = {r["id"] for r in client.get("/api/v1/resources/").json()["results"]}
    assert (private_lab.id in listed) == (READ[role][0] == 200)
    assert shared_lab.id in listed


@pytest.mark.parametrize("role", ROLES)
def test_resource_write_matrix(people, private_lab, shared_lab, role):
    client = client_for(people[role])
    for lab, expected in zip((private_lab, shared_lab), WRITE[role], strict=True):
        response = client.patch(f"/api/v1/resources/{lab.id}/", {"capacity": 33})
        assert response.status_code == expected, (role, lab.name, response.content)
        lab.refresh_from_db()
        assert (lab.capacity == 33) == (expected == 200)


@pytest.mark.parametrize(
    ("role", "expected"),
    [("centre", 201), ("owner_admin", 201), ("other_admin", 403), ("owner_teacher", 403), ("analyst", 403)],
)
def test_resource_create_matrix(people, urban_school, role, expected):
    payload = {
        "name": "新化学实验室",
        "kind": "lab",
        "subject": "chemistry",
        "school": urban_school.id,
        "capacity": 48,
    }
    response = client_for(people[role]).post("/api/v1/resources/", payload)
    assert response.status_code == expected, response.content
    assert Resource.objects.filter(name="新化学实验室").exists() == (expected == 201)


def test_new_resource_opens_on_the_owner_schools_bell_day(people, urban_school):
    response = client_for(people["owner_admin"]).post(
        "/api/v1/resources/", {"name": "图书馆", "kind": "library", "subject": "reading", "capacity": 60}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["school"] == urban_school.id
    # The factory's bell schedule: 08:00 to 17:00 (period 8 ends 16:15 + 45 min).
    assert body["opening_hours"] == [{"weekday": d, "start": "08:00", "end": "17:00"} for d in range(5)]


def test_resource_with_explicit_hours_and_interfaces(people):
    catalog_load()
    payload = {
        "name": "报告厅",
        "kind": "room",
        "capacity": 200,
        "opening_hours": [
            {"weekday": 5, "start": "08:00", "end": "12:00"},
            {"weekday": 0, "start": "13:00", "end": "17:00"},
            {"weekday": 0, "start": "08:00", "end": "12:00"},
        ],
        "provides": ["ac220_cn3", "hdmi"],
    }
    response = client_for(people["owner_admin"]).post("/api/v1/resources/", payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(h["weekday"], h["start"]) for h in body["opening_hours"]] == [
        (0, "08:00"),
        (0, "13:00"),
        (5, "08:00"),
    ]
    assert sorted(body["provides"]) == ["ac220_cn3", "hdmi"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"capacity": -5}, "capacity"),
        ({"capacity": 0}, "capacity"),
        ({"kind": "spaceship"}, "kind"),
        ({"opening_hours": [{"weekday": 0, "start": "12:00", "end": "08:00"}]}, "detail"),
        (
            {
                "opening_hours": [
                    {"weekday": 0, "start": "08:00", "end": "12:00"},
                    {"weekday": 0, "start": "11:00", "end": "13:00"},
                ]
            },
            "detail",
        ),
        ({"opening_hours": [{"weekday": 9, "start": "08:00", "end": "12:00"}]}, "opening_hours"),
        ({"provides": ["warp_drive"]}, "provides"),
        ({"min_minutes": 300, "max_minutes": 60}, "non_field_errors"),
        ({"transit_buffer_minutes": 60}, "transit_buffer_minutes"),
        ({"name": "x" * 100_000}, "name"),
        ({"required_qualification": "no_such"}, "required_qualification"),
    ],
)
def test_bad_resource_payloads_name_the_problem_and_change_nothing(people, private_lab, change, field):
    before = list(OpeningHours.objects.filter(resource=private_lab).values_list("weekday", "start", "end"))
    response = client_for(people["owner_admin"]).patch(
        f"/api/v1/resources/{private_lab.id}/", change, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    private_lab.refresh_from_db()
    assert private_lab.capacity == 40
    assert (
        list(OpeningHours.objects.filter(resource=private_lab).values_list("weekday", "start", "end"))
        == before
    )


def test_duplicate_resource_name_in_a_school_is_a_400(people, private_lab):
    response = client_for(people["owner_admin"]).post(
        "/api/v1/resources/", {"name": private_lab.name, "kind": "lab", "capacity": 10}
    )
    assert response.status_code == 400
    assert Resource.objects.filter(name=private_lab.name).count() == 1


@pytest.mark.parametrize(
    "query",
    [
        "kind=spaceship",
        "subject=alchemy",
        "is_county=perhaps",
        "capacity_min=lots",
        "shared=2",
        "status=broken",
    ],
)
def test_bad_resource_filters_are_400(people, query):
    assert client_for(people["owner_teacher"]).get(f"/api/v1/resources/?{query}").status_code == 400


def test_resource_filters(people, urban_school, county_school, shared_lab):
    county_room = ResourceFactory(
        school=county_school, kind="room", subject="general", capacity=30, shared=True
    )
    client = client_for(people["centre"])

    def ids(q):
        return {r["id"] for r in client.get(f"/api/v1/resources/?{q}").json()["results"]}

    assert ids("is_county=true") == {county_room.id}
    assert ids(f"district={county_school.district_id}") == {county_room.id}
    assert ids("kind=lab") == {shared_lab.id}
    assert ids("capacity_min=35") == {shared_lab.id}
    assert ids(f"school={urban_school.id}&shared=true") == {shared_lab.id}
    assert ids("search=共享") == {shared_lab.id}


def test_resource_unknown_and_malformed_ids(people):
    client = client_for(people["centre"])
    assert client.get("/api/v1/resources/999999/").status_code == 404
    assert client.get("/api/v1/resources/abc/").status_code == 404
    assert client.delete("/api/v1/resources/1/").status_code in (404, 405)


# --- catalogue and compatibility ------------------------------------------------------------


def test_catalogue_lists_items_with_interfaces(people):
    catalog_load()
    client = client_for(people["other_teacher"])
    body = client.get("/api/v1/catalog/?page_size=200").json()
    assert body["count"] >= 50
    kit = client.get("/api/v1/catalog/KIT-0001/").json()
    assert {i["code"] for i in kit["interfaces"]} == {"ac220_cn3", "usb_a", "hdmi"}
    assert kit["contents"]
    adapters = client.get("/api/v1/catalog/?category=adapter").json()
    assert adapters["count"] >= 10
    assert all(a["adapter_from"] and a["adapter_to"] for a in adapters["results"])
    assert client.get("/api/v1/catalog/NOPE-1/").status_code == 404
    assert client.get("/api/v1/catalog/?category=weapons").status_code == 400


def test_compatibility_names_missing_interfaces_and_adapters(people, urban_school):
    catalog_load()
    old_room = ResourceFactory(school=urban_school, name="老教室", provides=["ac220_cn3", "vga"])
    client = client_for(people["owner_teacher"])
    body = client.get(f"/api/v1/resources/{old_room.id}/compatibility/?item=KIT-0001").json()
    assert body["compatible"] is False
    assert body["missing"] == ["hdmi", "usb_a"]
    assert "hdmi" in body["adapters"]
    assert body["unbridgeable"] == ["usb_a"]
    assert body["compatible_with_adapters"] is False


def test_compatibility_of_a_kit_by_its_type(people, urban_school):
    catalog_load()
    from equipment.models import CatalogItem

    kit = KitFactory(school=urban_school, kit_type=CatalogItem.objects.get(code="KIT-0003"))
    room = ResourceFactory(school=urban_school, name="操场")
    body = client_for(people["centre"]).get(f"/api/v1/resources/{room.id}/compatibility/?kit={kit.id}").json()
    assert body["compatible"] is True
    assert body["item"] == "KIT-0003"


@pytest.mark.parametrize("query", ["", "?item=NOPE-0001", "?item=KIT-0001&kit=1", "?kit=999999"])
def test_compatibility_bad_input(people, shared_lab, query):
    catalog_load()
    response = client_for(people["centre"]).get(f"/api/v1/resources/{shared_lab.id}/compatibility/{query}")
    assert response.status_code in (400, 404)


def test_compatibility_of_an_invisible_space_is_404(people, private_lab):
    catalog_load()
    response = client_for(people["other_teacher"]).get(
        f"/api/v1/resources/{private_lab.id}/compatibility/?item=KIT-0001"
    )
    assert response.status_code == 404


# --- assets ---------------------------------------------------------------------------------


@pytest.fixture
def item():
    return CatalogItemFactory(code="PHY-9001")


def test_school_admin_adds_an_asset_to_own_space(people, private_lab, item):
    response = client_for(people["owner_admin"]).post(
        "/api/v1/assets/",
        {"tag": "HRB-0001", "catalog_item": "PHY-9001", "resource": private_lab.id, "serial_number": "SN1"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["school"] == private_lab.school_id
    assert body["resource"] == private_lab.id
    assert body["value_cny"] == "100.00"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"tag": "DUP", "catalog_item": "PHY-9001"}, "tag"),
        ({"tag": "X1", "catalog_item": "NOPE-0000"}, "catalog_item"),
        ({"tag": "X2", "catalog_item": "PHY-9001", "value_cny": "-3"}, "value_cny"),
        ({"tag": "X3", "catalog_item": "PHY-9001", "status": "stolen"}, "status"),
        ({"tag": "X4", "catalog_item": "PHY-9001", "purchase_date": "2026-13-45"}, "purchase_date"),
    ],
)
def test_bad_asset_payloads(people, item, urban_school, payload, field):
    AssetFactory(tag="DUP", school=urban_school, catalog_item=item)
    response = client_for(people["owner_admin"]).post("/api/v1/assets/", payload)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Asset.objects.count() == 1


def test_asset_in_another_schools_space_is_refused(people, item, county_school):
    county_room = ResourceFactory(school=county_school, shared=True)
    response = client_for(people["owner_admin"]).post(
        "/api/v1/assets/", {"tag": "Z1", "catalog_item": "PHY-9001", "resource": county_room.id}
    )
    assert response.status_code == 400
    assert not Asset.objects.filter(tag="Z1").exists()


def test_school_admin_cannot_create_or_change_another_schools_assets(people, item, county_school):
    response = client_for(people["owner_admin"]).post(
        "/api/v1/assets/", {"tag": "Z2", "catalog_item": "PHY-9001", "school": county_school.id}
    )
    assert response.status_code == 403
    theirs = AssetFactory(school=county_school, catalog_item=item)
    assert (
        client_for(people["owner_admin"])
        .patch(f"/api/v1/assets/{theirs.id}/", {"condition": "poor"})
        .status_code
        == 404
    )
    theirs.refresh_from_db()
    assert theirs.condition == "good"


def test_asset_visibility(people, item, urban_school, shared_lab, private_lab):
    in_shared = AssetFactory(school=urban_school, catalog_item=item, space=shared_lab)
    in_private = AssetFactory(school=urban_school, catalog_item=item, space=private_lab)
    other = client_for(people["other_teacher"])
    listed = {a["id"] for a in other.get("/api/v1/assets/").json()["results"]}
    assert in_shared.id in listed
    assert in_private.id not in listed
    assert other.get(f"/api/v1/assets/{in_private.id}/").status_code == 404
    mine = {a["id"] for a in client_for(people["owner_teacher"]).get("/api/v1/assets/").json()["results"]}
    assert {in_shared.id, in_private.id} <= mine


# --- maintenance tickets --------------------------------------------------------------------


def test_teacher_reports_a_fault_that_takes_the_lab_out_of_service(people, private_lab):
    response = client_for(people["owner_teacher"]).post(
        "/api/v1/maintenance-tickets/",
        {
            "resource": private_lab.id,
            "severity": "high",
            "description": "通风橱故障",
            "takes_out_of_service": True,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    reported = dt.datetime.fromisoformat(body["reported_at"])
    assert dt.datetime.fromisoformat(body["due_at"]) - reported == dt.timedelta(hours=24)
    assert body["reported_at"].endswith("+08:00")
    private_lab.refresh_from_db()
    assert private_lab.status == "maintenance"

    # The lab stays in maintenance while the ticket is open, even if someone tries to reopen it.
    admin = client_for(people["owner_admin"])
    assert admin.patch(f"/api/v1/resources/{private_lab.id}/", {"status": "active"}).status_code == 400

    teacher_resolve = client_for(people["owner_teacher"]).post(
        f"/api/v1/maintenance-tickets/{body['id']}/resolve/"
    )
    assert teacher_resolve.status_code == 403
    resolved = admin.post(f"/api/v1/maintenance-tickets/{body['id']}/resolve/", {"resolution": "更换风机"})
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    private_lab.refresh_from_db()
    assert private_lab.status == "active"
    again = admin.post(f"/api/v1/maintenance-tickets/{body['id']}/resolve/")
    assert again.status_code == 409


def test_other_schools_cannot_report_on_or_see_tickets(people, private_lab, shared_lab):
    other = client_for(people["other_teacher"])
    hidden = other.post("/api/v1/maintenance-tickets/", {"resource": private_lab.id, "description": "x"})
    assert hidden.status_code == 400  # the private lab does not exist for them
    visible = other.post("/api/v1/maintenance-tickets/", {"resource": shared_lab.id, "description": "x"})
    assert visible.status_code == 403
    assert MaintenanceTicket.objects.count() == 0
    ticket = TicketFactory(resource=private_lab)
    assert other.get(f"/api/v1/maintenance-tickets/{ticket.id}/").status_code == 404
    assert (
        client_for(people["other_admin"])
        .post(f"/api/v1/maintenance-tickets/{ticket.id}/resolve/")
        .status_code
        == 404
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"description": "no subject"},
        {"resource": 1, "asset": 1, "description": "both"},
        {"resource": "abc", "description": "x"},
        {"resource": 999999, "description": "x"},
        {"description": "x" * 3000, "resource": 1},
        {"resource": 1, "severity": "apocalyptic", "description": "x"},
    ],
)
def test_bad_ticket_payloads(people, private_lab, payload):
    payload = {k: (private_lab.id if v == 1 else v) for k, v in payload.items()}
    response = client_for(people["owner_teacher"]).post("/api/v1/maintenance-tickets/", payload)
    assert response.status_code == 400, response.content
    assert MaintenanceTicket.objects.count() == 0


def test_asset_fault_puts_the_asset_in_repair(people, private_lab, item, urban_school):
    asset = AssetFactory(school=urban_school, catalog_item=item, space=private_lab)
    response = client_for(people["owner_teacher"]).post(
        "/api/v1/maintenance-tickets/", {"asset": asset.id, "description": "示波器无显示"}
    )
    assert response.status_code == 201
    asset.refresh_from_db()
    assert asset.status == "in_repair"


def test_sla_endpoint(people, private_lab):
    now = dt.datetime.now(dt.UTC)
    TicketFactory(
        resource=private_lab, reported_at=now - dt.timedelta(hours=30), due_at=now - dt.timedelta(hours=6)
    )
    TicketFactory(
        resource=private_lab,
        reported_at=now - dt.timedelta(hours=20),
        due_at=now + dt.timedelta(hours=4),
        status="resolved",
        resolved_at=now - dt.timedelta(hours=1),
    )
    body = client_for(people["owner_admin"]).get("/api/v1/maintenance-tickets/sla/").json()
    assert body == {
        "reported": 2,
        "resolved": 1,
        "resolved_within_24h": 1,
        "open_overdue": 1,
        "compliance": 0.5,
    }
    assert client_for(people["owner_teacher"]).get("/api/v1/maintenance-tickets/sla/").status_code == 403
    other = client_for(people["other_admin"]).get("/api/v1/maintenance-tickets/sla/").json()
    assert other["reported"] == 0
    assert client_for(people["analyst"]).get("/api/v1/maintenance-tickets/sla/").json()["reported"] == 2
    assert (
        client_for(people["centre"]).get("/api/v1/maintenance-tickets/sla/?date_from=2026-13-01").status_code
        == 400
    )
    overdue = client_for(people["owner_admin"]).get("/api/v1/maintenance-tickets/?overdue=true").json()
    assert overdue["count"] == 1
