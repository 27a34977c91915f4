"""A school's inventory clerk, in a real browser and in Chinese: signs in, adds a lab, imports
200 assets from a spreadsheet, reports a fault, and later finds it overdue."""

import csv
import datetime as dt

import pytest
from django.core.management import call_command
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from equipment.models import Asset, MaintenanceTicket, Resource
from equipment.services import catalog_load
from tests.factories import SchoolFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(browser, live_server, user):
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys(user.username)
    browser.find_element(By.ID, "id_password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "site-name")))


def pick_autocomplete(browser, field, text):
    # Django's autocomplete widget: open the select2 box, type, take the highlighted match.
    browser.find_element(By.XPATH, f"//span[@id='select2-id_{field}-container']/..").click()
    search = WebDriverWait(browser, 10).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".select2-container--open .select2-search__field"))
    )
    search.send_keys(text)
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".select2-results__option--highlighted"), text)
    )
    search.send_keys(Keys.ENTER)


def test_inventory_clerk_day(browser, live_server, tmp_path):
    catalog_load()
    school = SchoolFactory(name="哈尔滨市第一中学校")
    clerk = UserFactory(role="school_admin", school=school, username="clerk")

    sign_in(browser, live_server, clerk)
    assert "站点管理" in browser.page_source or "EduShare" in browser.title

    # 1. Add a lab.
    browser.get(f"{live_server.url}/admin/equipment/resource/add/")
    browser.find_element(By.ID, "id_name").send_keys("物理实验室(二)")
    Select(browser.find_element(By.ID, "id_kind")).select_by_value("lab")
    Select(browser.find_element(By.ID, "id_subject")).select_by_value("physics")
    capacity = browser.find_element(By.ID, "id_capacity")
    capacity.clear()
    capacity.send_keys("48")
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist")))
    lab = Resource.objects.get(name="物理实验室(二)")
    assert (lab.school, lab.capacity, lab.kind) == (school, 48, "lab")
    assert lab.opening_hours.count() == 5  # the school's bell-schedule day, Monday to Friday

    # 2. Import 200 assets from a spreadsheet, into the new lab.
    sheet = tmp_path / "assets.csv"
    with sheet.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.writer(fh)
        writer.writerow(["资产编号", "目录编码", "序列号", "状态", "状况", "购置日期", "位置"])
        for i in range(200):
            writer.writerow(
                [f"NO1-{i:04d}", "PHY-0001", f"SN{i:05d}", "在用", "良好", "2025-09-01", lab.name]
            )
    browser.get(f"{live_server.url}/admin/equipment/asset/import/")
    Select(browser.find_element(By.ID, "id_school")).select_by_value(str(school.pk))
    browser.find_element(By.ID, "id_file").send_keys(str(sheet))
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist")))
    assert Asset.objects.filter(school=school, space=lab).count() == 200

    # 3. Report a fault that takes the lab out of service.
    browser.get(f"{live_server.url}/admin/equipment/maintenanceticket/add/")
    pick_autocomplete(browser, "resource", "物理实验室")
    Select(browser.find_element(By.ID, "id_severity")).select_by_value("high")
    browser.find_element(By.ID, "id_description").send_keys("实验台电源短路")
    browser.find_element(By.ID, "id_takes_out_of_service").click()
    browser.find_element(By.NAME, "_save").click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist")))
    ticket = MaintenanceTicket.objects.get(resource=lab)
    assert ticket.due_at - ticket.reported_at == dt.timedelta(hours=24)
    lab.refresh_from_db()
    assert lab.status == "maintenance"

    # 4. A day and a half later nobody has fixed it: the periodic job flags it, the list shows it.
    MaintenanceTicket.objects.filter(pk=ticket.pk).update(
        reported_at=ticket.reported_at - dt.timedelta(hours=36), due_at=ticket.due_at - dt.timedelta(hours=36)
    )
    call_command("run_periodic_jobs", only=["maintenance-flag-overdue"])
    browser.get(f"{live_server.url}/admin/equipment/maintenanceticket/?overdue=yes")
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert "物理实验室(二)" in rows[0].text
    assert MaintenanceTicket.objects.get(pk=ticket.pk).overdue_flagged_at is not None
    browser.save_screenshot(str(tmp_path / "overdue.png"))
