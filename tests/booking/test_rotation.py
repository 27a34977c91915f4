"""Kit rotation end to end on the database: requests, a plan, apply through booking services,
handovers with condition checks (including an incomplete return), custody, bad input."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from booking.models import Booking, CustodyEvent, Handover, Placement, RotationPlan, RotationRequest
from booking.rotation import services
from equipment.models import Asset, CatalogItem, MaintenanceTicket
from equipment.services import catalog_load
from tests.conftest import client_for
from tests.factories import (
    AssetFactory,
    DistrictFactory,
    KitFactory,
    ResourceFactory,
    SchoolFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")

# A window in the spring term 2027 (no statutory holiday between 8 and 26 March).
D0, D1 = dt.date(2027, 3, 8), dt.date(2027, 3, 26)


@pytest.fixture
def city(db):
    catalog_load()
    kit_type = CatalogItem.objects.get(code="KIT-0003")  # portable sports set: needs nothing
    depot = SchoolFactory(district=DistrictFactory(kind="urban"), latitude=45.75, longitude=126.65)
    county = DistrictFactory(kind="county")
    near = SchoolFactory(district=county, latitude=45.60, longitude=127.00, name="五常市某中学")
    far = SchoolFactory(district=county, latitude=46.10, longitude=127.40, name="巴彦县某中学")
    kit = KitFactory(school=depot, kit_type=kit_type, transit_buffer_minutes=0, name="便携体育器材套装1")
    contents = [AssetFactory(school=depot, kit=kit, tag=f"K1-{i}") for i in range(3)]
    admins = {s: UserFactory(role="school_admin", school=s) for s in (depot, near, far)}
    centre = UserFactory(role="centre_admin", school=None)
    return {"kit": kit, "kit_type": kit_type, "depot": depot, "near": near, "far": far, "admins": admins,
            "centre": centre, "contents": contents}  # fmt: skip


def ask(city, school, days=5, students=200, earliest=D0, latest_end=D1):
    return services.request_create(
        actor=city["admins"][school],
        data={"kit_type": city["kit_type"], "days": days, "earliest": earliest, "latest_end": latest_end,
              "students": students},
    )  # fmt: skip


def test_plan_apply_and_handovers(city):
    r1, r2 = ask(city, city["near"]), ask(city, city["far"])
    plan = services.plan_create(actor=city["centre"], date_from=D0, date_to=D1)
    placements = list(plan.placements.order_by("start"))
    assert {x.request_id for x in placements} == {r1.pk, r2.pk}
    assert all(x.kit_id == city["kit"].pk for x in placements)
    services.plan_apply(actor=city["centre"], plan=plan)
    assert RotationPlan.objects.get(pk=plan.pk).status == "applied"
    bookings = Booking.objects.filter(resource=city["kit"]).order_by("start")
    assert bookings.count() == 2
    assert all(b.status == "approved" for b in bookings)
    assert set(RotationRequest.objects.values_list("status", flat=True)) == {"planned"}

    legs = list(Handover.objects.filter(kit=city["kit"]).order_by("sequence"))
    assert legs[0].from_school == city["depot"]
    assert legs[1].from_school == legs[0].to_school
    full = [{"asset": a.pk, "present": True, "condition": "good"} for a in city["contents"]]

    # Leg 1: the depot sends it, the first school receives it with one item broken.
    with pytest.raises(ValidationError) as err:
        services.handover_check_out(actor=city["admins"][legs[0].to_school], handover=legs[0], items=full)
    assert err.value.code == "forbidden"
    services.handover_check_out(actor=city["admins"][city["depot"]], handover=legs[0], items=full)
    broken = [dict(i) for i in full]
    broken[1]["condition"] = "broken"
    leg = services.handover_check_in(actor=city["admins"][legs[0].to_school], handover=legs[0], items=broken)
    assert leg.status == "incomplete"
    ticket = MaintenanceTicket.objects.get(asset=city["contents"][1])
    assert Asset.objects.get(pk=city["contents"][1].pk).status == "in_repair"

    # The next leg is blocked until the ticket is resolved or the centre overrides.
    sender = city["admins"][legs[1].from_school]
    with pytest.raises(ValidationError) as err:
        services.handover_check_out(actor=sender, handover=legs[1], items=full)
    assert err.value.code == "kit_incomplete"
    services.handover_override(actor=city["centre"], handover=legs[0], reason="备用器材已补齐")
    services.handover_check_out(actor=sender, handover=legs[1], items=full)
    assert Handover.objects.get(pk=legs[1].pk).status == "in_transit"
    events = list(CustodyEvent.objects.filter(kit=city["kit"], asset=None).values_list("event", flat=True))
    assert events == ["checked_out", "checked_in", "override", "checked_out"]
    assert ticket.status == "open"


def test_resolving_the_ticket_unblocks_the_next_leg(city):
    ask(city, city["near"])
    ask(city, city["far"])
    plan = services.plan_create(actor=city["centre"], date_from=D0, date_to=D1)
    services.plan_apply(actor=city["centre"], plan=plan)
    legs = list(Handover.objects.filter(kit=city["kit"]).order_by("sequence"))
    full = [{"asset": a.pk, "present": True} for a in city["contents"]]
    services.handover_check_out(actor=city["admins"][city["depot"]], handover=legs[0], items=full)
    missing = [dict(i) for i in full]
    missing[0]["present"] = False
    services.handover_check_in(actor=city["admins"][legs[0].to_school], handover=legs[0], items=missing)
    assert Asset.objects.get(pk=city["contents"][0].pk).status == "lost"
    from equipment.services import ticket_resolve

    ticket_resolve(actor=city["centre"], ticket=MaintenanceTicket.objects.get(asset=city["contents"][0]))
    # The lost item is no longer part of the checklist.
    rest = [i for i in full if i["asset"] != city["contents"][0].pk]
    Asset.objects.filter(pk=city["contents"][0].pk).update(status="lost")
    services.handover_check_out(actor=city["admins"][legs[1].from_school], handover=legs[1], items=rest)
    assert Handover.objects.get(pk=legs[0].pk).status == "cleared"


def test_apply_is_atomic_and_names_the_conflicting_placement(city):
    ask(city, city["near"])
    ask(city, city["far"])
    plan = services.plan_create(actor=city["centre"], date_from=D0, date_to=D1)
    last = plan.placements.order_by("-start").first()
    # Meanwhile someone books the kit during the last placement (the depot's own teacher).
    teacher = UserFactory(role="teacher", school=city["depot"])
    start = dt.datetime.combine(last.start, dt.time(9), tzinfo=SH)
    Booking.objects.create(resource=city["kit"], school=city["depot"], booked_by=teacher, start=start,
                           end=start + dt.timedelta(hours=2), block_start=start,
                           block_end=start + dt.timedelta(hours=2), class_size=10, status="approved",
                           check_in_code="X")  # fmt: skip
    with pytest.raises(ValidationError) as err:
        services.plan_apply(actor=city["centre"], plan=plan)
    assert err.value.code == "conflict"
    assert f"#{last.pk}" in err.value.messages[0]
    assert Booking.objects.filter(resource=city["kit"]).count() == 1  # nothing from the plan
    assert not Handover.objects.exists()
    assert RotationPlan.objects.get(pk=plan.pk).status == "draft"
    assert set(RotationRequest.objects.values_list("status", flat=True)) == {"open"}


def test_pin_and_drop_then_replan(city):
    r1, r2 = ask(city, city["near"]), ask(city, city["far"])
    plan = services.plan_create(actor=city["centre"], date_from=D0, date_to=D1)
    keep = plan.placements.get(request=r1)
    new = services.plan_replan(actor=city["centre"], plan=plan, pin=[keep.pk], drop=[r2.pk])
    assert RotationPlan.objects.get(pk=plan.pk).status == "discarded"
    [again] = list(new.placements.all())
    assert (again.request_id, again.start, again.end, again.pinned) == (r1.pk, keep.start, keep.end, True)
    assert new.unserved[str(r2.pk)] == "dropped"


def test_bad_requests(city):
    with pytest.raises(ValidationError) as err:
        ask(city, city["near"], days=10, earliest=D0, latest_end=D0 + dt.timedelta(days=3))
    assert err.value.error_dict["days"][0].code == "window_too_short"
    nowhere = SchoolFactory(latitude=None, longitude=None)
    admin = UserFactory(role="school_admin", school=nowhere)
    with pytest.raises(ValidationError) as err:
        services.request_create(actor=admin, data={"kit_type": city["kit_type"], "days": 2, "earliest": D0,
                                                   "latest_end": D1, "students": 10})  # fmt: skip
    assert err.value.code == "no_coordinates"
    physics = CatalogItem.objects.get(code="PHY-0001")
    with pytest.raises(ValidationError) as err:
        services.request_create(actor=city["admins"][city["near"]], data={"kit_type": physics, "days": 2,
                                "earliest": D0, "latest_end": D1, "students": 10})  # fmt: skip
    assert err.value.error_dict["kit_type"][0].code == "no_kit_type"
    with pytest.raises(ValidationError) as err:
        services.request_create(actor=UserFactory(role="teacher", school=city["near"]),
                                data={"kit_type": city["kit_type"], "days": 2, "earliest": D0, "latest_end": D1,
                                      "students": 10})  # fmt: skip
    assert err.value.code == "forbidden"
    assert not RotationRequest.objects.exists()


def test_plans_for_windows_of_years_are_refused(city):
    with pytest.raises(ValidationError) as err:
        services.plan_create(actor=city["centre"], date_from=D0, date_to=D0 + dt.timedelta(days=800))
    assert err.value.error_dict["date_to"][0].code == "window_too_long"
    assert not RotationPlan.objects.exists()


def test_rotation_api(city):
    near_admin = client_for(city["admins"][city["near"]])
    response = near_admin.post("/api/v1/rotation/requests/", {"kit_type": "KIT-0003", "days": 5,
                               "earliest": D0, "latest_end": D1, "students": 300})  # fmt: skip
    assert response.status_code == 201, response.content
    bad = near_admin.post("/api/v1/rotation/requests/", {"kit_type": "NOPE-0000", "days": 5, "earliest": D0,
                          "latest_end": D1, "students": 300})  # fmt: skip
    assert bad.status_code == 400
    assert near_admin.post("/api/v1/rotation/plans/", {"date_from": D0, "date_to": D1}).status_code == 403
    centre = client_for(city["centre"])
    plan = centre.post("/api/v1/rotation/plans/", {"date_from": D0, "date_to": D1})
    assert plan.status_code == 201, plan.content
    body = plan.json()
    assert body["kits"][0]["timeline"][0]["school"] == city["near"].pk
    assert body["requests"] == [{"request": response.json()["id"], "served": True,
                                 "placement": body["kits"][0]["timeline"][0]["id"], "reason": None}]  # fmt: skip
    assert body["gap"] is not None
    applied = centre.post(f"/api/v1/rotation/plans/{body['id']}/apply/")
    assert applied.status_code == 200
    assert centre.post(f"/api/v1/rotation/plans/{body['id']}/apply/").status_code == 409
    legs = near_admin.get("/api/v1/rotation/handovers/").json()["results"]
    assert len(legs) == 1
    assert len(legs[0]["checklist"]) == 3
    other = client_for(UserFactory(role="school_admin", school=SchoolFactory()))
    assert other.get("/api/v1/rotation/handovers/").json()["count"] == 0
    assert other.post(f"/api/v1/rotation/handovers/{legs[0]['id']}/check-in/", {"items": []},
                      format="json").status_code == 404  # fmt: skip
    partial = client_for(city["admins"][city["depot"]]).post(
        f"/api/v1/rotation/handovers/{legs[0]['id']}/check-out/",
        {"items": [{"asset": city["contents"][0].pk}]},
        format="json",
    )
    assert partial.status_code == 400
    assert partial.json()["items"]
    custody = centre.get(f"/api/v1/rotation/kits/{city['kit'].pk}/custody/")
    assert custody.status_code == 200
    assert centre.post("/api/v1/rotation/plans/", {"date_from": D1, "date_to": D0}).status_code == 400
    assert centre.get("/api/v1/rotation/plans/99999/").status_code == 404


def test_an_incompatible_school_is_unserved_with_the_reason(city):
    mobile_lab = CatalogItem.objects.get(code="KIT-0010")  # needs three-phase power: no adapter
    KitFactory(school=city["depot"], kit_type=mobile_lab, transit_buffer_minutes=0, name="数控实训单元")
    ResourceFactory(school=city["near"], name="普通教室", provides=["ac220_cn3"])
    request = services.request_create(actor=city["admins"][city["near"]], data={"kit_type": mobile_lab, "days": 3,
                                      "earliest": D0, "latest_end": D1, "students": 40})  # fmt: skip
    plan = services.plan_create(actor=city["centre"], date_from=D0, date_to=D1)
    assert plan.unserved[str(request.pk)] == "no_compatible_kit"
    assert not Placement.objects.filter(request=request).exists()
