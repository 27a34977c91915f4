"""The inventory back office: every page opens, rows are scoped by school, writes go through services."""

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from equipment.models import Asset, MaintenanceTicket, OpeningHours, Resource
from tests.factories import (
    AssetFactory,
    CatalogItemFactory,
    InterfaceFactory,
    KitFactory,
    ResourceFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "/admin/equipment/interface/",
    "/admin/equipment/catalogitem/",
    "/admin/equipment/resource/",
    "/admin/equipment/asset/",
    "/admin/equipment/maintenanceticket/",
]
ADD_PAGES = [
    "/admin/equipment/resource/add/",
    "/admin/equipment/asset/add/",
    "/admin/equipment/maintenanceticket/add/",
    "/admin/equipment/asset/import/",
]
CENTRE_ONLY_ADD_PAGES = ["/admin/equipment/interface/add/", "/admin/equipment/catalogitem/add/"]
FILTERED = [
    "/admin/equipment/resource/?kind__exact=mobile_kit&school__district__kind__exact=county",
    "/admin/equipment/resource/?q=实验室",
    "/admin/equipment/asset/?status__exact=in_repair&catalog_item__category__exact=physics",
    "/admin/equipment/asset/?q=A-",
    "/admin/equipment/maintenanceticket/?overdue=yes",
    "/admin/equipment/maintenanceticket/?overdue=late",
    "/admin/equipment/maintenanceticket/?overdue=no&severity__exact=high",
    "/admin/equipment/catalogitem/?category__exact=kit",
]


@pytest.fixture
def inventory(urban_school, county_school):
    """Two schools, each with a lab, a kit, assets in both and in the store, and a ticket."""
    item = CatalogItemFactory(code="PHY-0001", unit_value_cny=Decimal("300.00"), requires=["hdmi"])
    kit_type = CatalogItemFactory(code="KIT-0001", category="kit")
    kit_type.contents.create(item=item, quantity=10)
    rows = {}
    for school in (urban_school, county_school):
        lab = ResourceFactory(school=school, provides=["hdmi"])
        kit = KitFactory(school=school, kit_type=kit_type)
        rows[school.pk] = {
            "lab": lab,
            "kit": kit,
            "in_lab": AssetFactory(school=school, catalog_item=item, space=lab),
            "in_kit": AssetFactory(school=school, catalog_item=item, kit=kit),
            "in_store": AssetFactory(school=school, catalog_item=item),
            "ticket": TicketFactory(resource=lab),
        }
    return rows


def admin_pages(inventory, school):
    mine = inventory[school.pk]
    return [
        f"/admin/equipment/resource/{mine['lab'].pk}/change/",
        f"/admin/equipment/resource/{mine['kit'].pk}/change/",
        f"/admin/equipment/asset/{mine['in_lab'].pk}/change/",
        f"/admin/equipment/maintenanceticket/{mine['ticket'].pk}/change/",
    ]


# --- every page opens -----------------------------------------------------------------------


def test_centre_admin_opens_every_equipment_page(client, centre_admin, urban_school, inventory):
    client.force_login(centre_admin)
    item = inventory[urban_school.pk]["in_lab"].catalog_item
    pages = [
        *CHANGELISTS,
        *ADD_PAGES,
        *CENTRE_ONLY_ADD_PAGES,
        *FILTERED,
        *admin_pages(inventory, urban_school),
        f"/admin/equipment/catalogitem/{item.pk}/change/",
        f"/admin/equipment/catalogitem/{inventory[urban_school.pk]['kit'].kit_type_id}/change/",
        "/admin/schools/qualification/",
        "/admin/schools/qualification/add/",
        "/admin/schools/teacherqualification/",
        "/admin/schools/teacherqualification/add/",
    ]
    for page in pages:
        assert client.get(page).status_code == 200, page


def test_school_admin_opens_every_equipment_page_of_their_school(
    client, urban_admin, urban_school, inventory
):
    client.force_login(urban_admin)
    for page in [*CHANGELISTS, *ADD_PAGES, *FILTERED, *admin_pages(inventory, urban_school)]:
        assert client.get(page).status_code == 200, page


def test_pages_render_in_chinese(client, centre_admin, urban_school, inventory):
    client.force_login(centre_admin)
    page = client.get("/admin/equipment/asset/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200
    assert 'lang="zh-hans"' in page.content.decode()


def test_the_catalogue_is_read_only_for_school_admins(client, urban_admin, inventory, urban_school):
    client.force_login(urban_admin)
    for page in CENTRE_ONLY_ADD_PAGES:
        assert client.get(page).status_code == 403
    item = inventory[urban_school.pk]["in_lab"].catalog_item
    response = client.post(f"/admin/equipment/catalogitem/{item.pk}/change/", {"name": "改名"})
    assert response.status_code == 403


def test_teachers_cannot_open_the_inventory_back_office(client, urban_teacher):
    client.force_login(urban_teacher)
    for page in [*CHANGELISTS, "/admin/equipment/asset/import/", "/admin/equipment/asset/export/csv/"]:
        response = client.get(page)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


# --- scoping --------------------------------------------------------------------------------


def test_school_admin_sees_only_their_schools_rows(
    client, urban_admin, urban_school, county_school, inventory
):
    client.force_login(urban_admin)
    mine, theirs = inventory[urban_school.pk], inventory[county_school.pk]
    for url, key in [
        ("/admin/equipment/resource/", "lab"),
        ("/admin/equipment/resource/", "kit"),
        ("/admin/equipment/asset/", "in_lab"),
        ("/admin/equipment/asset/", "in_store"),
    ]:
        response = client.get(url)
        listed = list(response.context["cl"].result_list)
        assert mine[key] in listed
        assert theirs[key] not in listed
    tickets = list(client.get("/admin/equipment/maintenanceticket/").context["cl"].result_list)
    assert tickets == [mine["ticket"]]
    for page in admin_pages(inventory, county_school):
        assert client.get(page).status_code in (302, 404), page


def test_school_admin_can_only_pick_their_own_school_and_places(
    client, urban_admin, urban_school, county_school, inventory
):
    client.force_login(urban_admin)
    form = client.get("/admin/equipment/asset/add/").context["adminform"].form
    assert list(form.fields["school"].queryset) == [urban_school]
    assert set(form.fields["space"].queryset) == {inventory[urban_school.pk]["lab"]}
    assert set(form.fields["kit"].queryset) == {inventory[urban_school.pk]["kit"]}
    item = inventory[urban_school.pk]["in_lab"].catalog_item
    response = client.post(
        "/admin/equipment/asset/add/",
        {
            "tag": "SNEAK-1",
            "catalog_item": item.pk,
            "school": county_school.pk,
            "status": "in_service",
            "condition": "good",
        },
    )
    assert response.status_code == 200
    assert "school" in response.context["adminform"].form.errors
    assert not Asset.objects.filter(tag="SNEAK-1").exists()


# --- writes go through the services ---------------------------------------------------------


def test_adding_an_asset_uses_the_catalogue_value_when_left_empty(
    client, urban_admin, urban_school, inventory
):
    client.force_login(urban_admin)
    mine = inventory[urban_school.pk]
    response = client.post(
        "/admin/equipment/asset/add/",
        {
            "tag": "NEW-1",
            "catalog_item": mine["in_lab"].catalog_item_id,
            "school": urban_school.pk,
            "space": mine["lab"].pk,
            "status": "in_service",
            "condition": "new",
            "value_cny": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    asset = Asset.objects.get(tag="NEW-1")
    assert (asset.space, asset.value_cny, asset.school) == (mine["lab"], Decimal("300.00"), urban_school)


def test_an_asset_in_a_space_and_a_kit_at_once_is_a_form_error(client, centre_admin, urban_school, inventory):
    client.force_login(centre_admin)
    mine = inventory[urban_school.pk]
    response = client.post(
        "/admin/equipment/asset/add/",
        {
            "tag": "TWO-PLACES",
            "catalog_item": mine["in_lab"].catalog_item_id,
            "school": urban_school.pk,
            "space": mine["lab"].pk,
            "kit": mine["kit"].pk,
            "status": "in_service",
            "condition": "good",
            "value_cny": "1",
        },
    )
    assert response.status_code == 200
    assert "kit" in response.context["adminform"].form.errors
    assert not Asset.objects.filter(tag="TWO-PLACES").exists()


def test_school_admin_cannot_place_an_asset_in_another_schools_room(
    client, urban_admin, urban_school, county_school, inventory
):
    client.force_login(urban_admin)
    asset = inventory[urban_school.pk]["in_store"]
    response = client.post(
        f"/admin/equipment/asset/{asset.pk}/change/",
        {
            "tag": asset.tag,
            "catalog_item": asset.catalog_item_id,
            "school": urban_school.pk,
            "space": inventory[county_school.pk]["lab"].pk,
            "status": "in_service",
            "condition": "good",
            "value_cny": "1",
        },
    )
    assert response.status_code == 200
    assert "space" in response.context["adminform"].form.errors
    asset.refresh_from_db()
    assert asset.space is None


def _resource_post_data(response):
    """The change form's current values, as the browser would post them back."""
    data = {}

    def put(form):
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            if value is True:
                value = "on"
            data[form.add_prefix(name)] = value

    put(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        put(formset.management_form)
        for form in formset.forms:
            put(form)
    return data


def test_adding_a_resource_without_hours_opens_it_on_the_bell_day(client, centre_admin, urban_school):
    client.force_login(centre_admin)
    hdmi = InterfaceFactory(code="hdmi")
    data = {
        "name": "录播教室",
        "kind": "room",
        "subject": "general",
        "school": urban_school.pk,
        "capacity": "50",
        "status": "active",
        "min_notice_hours": "24",
        "max_advance_days": "28",
        "min_minutes": "30",
        "max_minutes": "240",
        "transit_buffer_minutes": "0",
        "provides": [hdmi.pk],
        "opening_hours-TOTAL_FORMS": "0",
        "opening_hours-INITIAL_FORMS": "0",
    }
    response = client.post("/admin/equipment/resource/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    room = Resource.objects.get(name="录播教室")
    assert list(room.provides.all()) == [hdmi]
    hours = list(OpeningHours.objects.filter(resource=room).values_list("weekday", "start", "end"))
    assert [h[0] for h in hours] == [0, 1, 2, 3, 4]
    assert hours[0][1:] == (dt.time(8, 0), dt.time(17, 0))


def test_a_lab_with_a_transit_buffer_is_a_form_error(client, centre_admin, urban_school):
    client.force_login(centre_admin)
    response = client.post(
        "/admin/equipment/resource/add/",
        {
            "name": "化学实验室",
            "kind": "lab",
            "subject": "chemistry",
            "school": urban_school.pk,
            "capacity": "40",
            "status": "active",
            "min_notice_hours": "24",
            "max_advance_days": "28",
            "min_minutes": "30",
            "max_minutes": "240",
            "transit_buffer_minutes": "60",
            "opening_hours-TOTAL_FORMS": "0",
            "opening_hours-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "transit_buffer_minutes" in response.context["adminform"].form.errors
    assert not Resource.objects.filter(name="化学实验室").exists()


def test_overlapping_opening_hours_are_a_form_error(client, urban_admin, urban_school, inventory):
    client.force_login(urban_admin)
    lab = inventory[urban_school.pk]["lab"]
    url = f"/admin/equipment/resource/{lab.pk}/change/"
    data = _resource_post_data(client.get(url))
    data["opening_hours-1-weekday"] = "0"  # Tuesday's 08:00-17:00 moves onto Monday's
    response = client.post(url, data)
    assert response.status_code == 200
    assert "overlap" in str(response.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert lab.opening_hours.filter(weekday=1).exists()


def test_editing_a_resource_goes_through_the_service(client, urban_admin, urban_school, inventory):
    client.force_login(urban_admin)
    lab = inventory[urban_school.pk]["lab"]
    url = f"/admin/equipment/resource/{lab.pk}/change/"
    data = _resource_post_data(client.get(url))
    data["capacity"] = "45"
    data["opening_hours-4-DELETE"] = "on"  # closed on Fridays
    response = client.post(url, data)
    assert response.status_code == 302
    lab.refresh_from_db()
    assert lab.capacity == 45
    assert sorted(lab.opening_hours.values_list("weekday", flat=True)) == [0, 1, 2, 3]


def test_reactivating_a_resource_with_an_open_out_of_service_ticket_is_refused_on_the_form(
    client, urban_admin, urban_school, inventory
):
    lab = inventory[urban_school.pk]["lab"]
    TicketFactory(resource=lab, takes_out_of_service=True)
    Resource.objects.filter(pk=lab.pk).update(status="maintenance")
    client.force_login(urban_admin)
    url = f"/admin/equipment/resource/{lab.pk}/change/"
    data = _resource_post_data(client.get(url))
    data["status"] = "active"
    data["capacity"] = "99"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "resolve it first" in str(response.context["adminform"].form.errors["status"])
    lab.refresh_from_db()
    assert (lab.status, lab.capacity) == ("maintenance", 40)  # the whole attempt rolled back


# --- spreadsheet import and export ----------------------------------------------------------


def _upload(rows, name="assets.csv"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8-sig"), content_type="text/csv")


def test_the_changelist_offers_import_and_export(client, urban_admin, inventory):
    client.force_login(urban_admin)
    page = client.get("/admin/equipment/asset/?status__exact=in_service").content.decode()
    assert "/admin/equipment/asset/import/" in page
    assert "/admin/equipment/asset/export/xlsx/?status__exact=in_service" in page
    assert "/admin/equipment/asset/export/csv/?status__exact=in_service" in page


def test_importing_a_good_file_creates_the_assets(client, urban_admin, urban_school, inventory):
    client.force_login(urban_admin)
    lab = inventory[urban_school.pk]["lab"]
    upload = _upload(
        [["资产编号", "目录编码", "位置"], ["IMP-1", "PHY-0001", lab.name], ["IMP-2", "PHY-0001", ""]]
    )
    response = client.post("/admin/equipment/asset/import/", {"school": urban_school.pk, "file": upload})
    assert response.status_code == 302
    assert response["Location"] == "/admin/equipment/asset/"
    assert Asset.objects.get(tag="IMP-1").space == lab
    assert Asset.objects.get(tag="IMP-2").school == urban_school
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Imported 2 assets into {urban_school.name}."
    ]


def test_importing_a_bad_file_lists_every_error_and_writes_nothing(
    client, urban_admin, urban_school, inventory
):
    client.force_login(urban_admin)
    upload = _upload(
        [["tag", "catalog_code", "value_cny"], ["BAD-1", "NOPE", ""], ["BAD-2", "PHY-0001", "-3"]]
    )
    response = client.post("/admin/equipment/asset/import/", {"school": urban_school.pk, "file": upload})
    assert response.status_code == 200
    errors = response.context["result"].errors
    assert [(e.row, e.field) for e in errors] == [(2, "catalog_code"), (3, "value_cny")]
    page = response.content.decode()
    assert "nothing was imported" in page
    assert "Unknown catalogue code NOPE." in page
    assert not Asset.objects.filter(tag__startswith="BAD-").exists()


def test_a_file_level_problem_is_shown_on_the_file_field(client, urban_admin, urban_school):
    client.force_login(urban_admin)
    upload = _upload([["tag", "colour"], ["X", "red"]])
    response = client.post("/admin/equipment/asset/import/", {"school": urban_school.pk, "file": upload})
    assert response.status_code == 200
    assert "Unknown columns: colour." in str(response.context["form"].errors["file"])


def test_a_school_admin_imports_into_their_own_school_whatever_is_posted(
    client, urban_admin, urban_school, county_school, inventory
):
    client.force_login(urban_admin)
    upload = _upload([["tag", "catalog_code"], ["MINE-1", "PHY-0001"]])
    response = client.post("/admin/equipment/asset/import/", {"school": county_school.pk, "file": upload})
    assert response.status_code == 302
    assert Asset.objects.get(tag="MINE-1").school == urban_school


def test_an_xlsx_upload_is_imported(client, centre_admin, county_school, inventory):
    client.force_login(centre_admin)
    workbook = openpyxl.Workbook()
    workbook.active.append(["资产编号", "目录编码", "购置日期"])
    workbook.active.append(["XL-1", "PHY-0001", dt.date(2024, 9, 1)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    upload = SimpleUploadedFile("资产.xlsx", buffer.getvalue())
    response = client.post("/admin/equipment/asset/import/", {"school": county_school.pk, "file": upload})
    assert response.status_code == 302
    asset = Asset.objects.get(tag="XL-1")
    assert (asset.school, asset.purchase_date) == (county_school, dt.date(2024, 9, 1))


def test_the_import_template_is_an_empty_workbook(client, urban_admin):
    client.force_login(urban_admin)
    response = client.get("/admin/equipment/asset/import/template/")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert next(sheet.iter_rows(values_only=True))[0] == "资产编号"


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_export_returns_the_filtered_changelist(
    client, centre_admin, urban_school, inventory, fmt, content_type
):
    client.force_login(centre_admin)
    Asset.objects.filter(pk=inventory[urban_school.pk]["in_store"].pk).update(status="lost")
    response = client.get(f"/admin/equipment/asset/export/{fmt}/?status__exact=lost")
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment;")
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [inventory[urban_school.pk]["in_store"].tag]


def test_a_school_admin_exports_only_their_schools_assets(client, urban_admin, urban_school, inventory):
    client.force_login(urban_admin)
    response = client.get("/admin/equipment/asset/export/csv/")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    mine = {inventory[urban_school.pk][k].tag for k in ("in_lab", "in_kit", "in_store")}
    assert {row[0] for row in rows[1:]} == mine
    assert client.get("/admin/equipment/asset/export/pdf/").status_code == 404


def test_the_export_action_exports_the_selected_assets(client, centre_admin, urban_school, inventory):
    client.force_login(centre_admin)
    chosen = inventory[urban_school.pk]["in_kit"]
    response = client.post(
        "/admin/equipment/asset/",
        {"action": "export_selected_xlsx", "_selected_action": [chosen.pk]},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [chosen.tag]
    assert rows[1][7] == inventory[urban_school.pk]["kit"].name


# --- maintenance tickets --------------------------------------------------------------------


def test_the_resolve_action_resolves_through_the_service_and_reports_failures(
    client, urban_admin, urban_school, inventory
):
    lab = inventory[urban_school.pk]["lab"]
    out = TicketFactory(resource=lab, takes_out_of_service=True)
    Resource.objects.filter(pk=lab.pk).update(status="maintenance")
    done = TicketFactory(
        resource=lab, status="resolved", resolved_at=timezone.now() + dt.timedelta(minutes=1)
    )
    client.force_login(urban_admin)
    selected = [out.pk, done.pk, inventory[urban_school.pk]["ticket"].pk]
    response = client.post(
        "/admin/equipment/maintenanceticket/", {"action": "resolve_selected", "_selected_action": selected}
    )
    assert response.status_code == 302
    out.refresh_from_db()
    assert (out.status, out.resolved_by) == ("resolved", urban_admin)
    lab.refresh_from_db()
    assert lab.status == "active"  # the service put it back in service
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert texts[0] == "2 tickets resolved."
    assert f"#{done.pk}: This ticket is already resolved." in texts[1]


def test_the_start_action_moves_open_tickets_to_in_progress(client, urban_admin, urban_school, inventory):
    ticket = inventory[urban_school.pk]["ticket"]
    client.force_login(urban_admin)
    client.post(
        "/admin/equipment/maintenanceticket/", {"action": "start_selected", "_selected_action": [ticket.pk]}
    )
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"


def test_reporting_a_fault_in_the_admin_uses_the_service(client, urban_admin, urban_school, inventory):
    asset = inventory[urban_school.pk]["in_lab"]
    client.force_login(urban_admin)
    response = client.post(
        "/admin/equipment/maintenanceticket/add/",
        {"asset": asset.pk, "severity": "high", "description": "显微镜无法对焦"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    ticket = MaintenanceTicket.objects.get(description="显微镜无法对焦")
    assert (ticket.school, ticket.reported_by) == (urban_school, urban_admin)
    assert ticket.due_at - ticket.reported_at == dt.timedelta(hours=24)
    asset.refresh_from_db()
    assert asset.status == "in_repair"


def test_a_fault_needs_exactly_one_subject(client, urban_admin, urban_school, inventory):
    client.force_login(urban_admin)
    mine = inventory[urban_school.pk]
    for data in (
        {"severity": "low", "description": "?"},
        {"severity": "low", "description": "?", "asset": mine["in_lab"].pk, "resource": mine["lab"].pk},
    ):
        response = client.post("/admin/equipment/maintenanceticket/add/", data)
        assert response.status_code == 200
        assert "exactly one" in str(response.context["adminform"].form.errors)
    assert MaintenanceTicket.objects.count() == 2
