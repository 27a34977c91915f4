"""A county teacher arrives at an urban lab, in a real browser and in Chinese: she opens her
booking pass (QR code and check-in code); the lab's school opens the link the QR code holds,
signs in, and confirms her arrival."""

import datetime as dt

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from booking import checkin
from booking.models import Booking, BookingEvent
from tests.factories import DistrictFactory, ResourceFactory, SchoolFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in_on_the_page(browser, user):
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "id_username")))
    browser.find_element(By.ID, "id_username").send_keys(user.username)
    browser.find_element(By.ID, "id_password").send_keys("correct-horse-battery")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit].primary").click()


def test_the_lab_school_confirms_the_teachers_arrival(browser, live_server):
    urban = SchoolFactory(name="哈尔滨市第三中学校", district=DistrictFactory(kind="urban"))
    county = SchoolFactory(name="五常市第一中学", district=DistrictFactory(kind="county"))
    lab = ResourceFactory(school=urban, shared=True, capacity=40, name="物理实验室(一)")
    teacher = UserFactory(role="teacher", school=county, username="li", display_name="李老师")
    clerk = UserFactory(role="school_admin", school=urban, username="zhao")
    start = timezone.now() + dt.timedelta(minutes=15)
    booking = Booking.objects.create(
        resource=lab, school=county, booked_by=teacher, start=start, end=start + dt.timedelta(minutes=90),
        block_start=start, block_end=start + dt.timedelta(minutes=90), class_size=32, status="approved",
        is_external=True, check_in_code="7F3A9C",
    )  # fmt: skip

    # The teacher signs in and opens her pass.
    browser.get(f"{live_server.url}/bookings/{booking.pk}/pass/")
    sign_in_on_the_page(browser, teacher)
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "check-in-qr")))
    assert browser.find_element(By.ID, "check-in-code").text == "7F3A9C"
    qr = browser.find_element(By.CSS_SELECTOR, "#check-in-qr svg")
    assert qr.size["width"] > 100  # drawn, not an empty box
    assert "预约凭证" in browser.page_source
    assert "物理实验室(一)" in browser.page_source
    link = browser.find_element(By.ID, "check-in-link").get_attribute("href")
    assert link == f"{live_server.url}/check-in/{booking.pk}/{checkin.check_in_token(booking)}/"
    browser.find_element(By.XPATH, "//form[contains(@action, '/accounts/logout/')]//button").click()
    WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.XPATH, "//a[contains(@href, '/accounts/login/')]"))
    )

    # The lab's school scans the code: the link asks it to sign in, then shows the booking.
    browser.get(link)
    sign_in_on_the_page(browser, clerk)
    button = WebDriverWait(browser, 10).until(ec.element_to_be_clickable((By.ID, "confirm-arrival")))
    page = browser.page_source
    assert "签到" in page
    assert "李老师" in page
    assert "五常市第一中学" in page
    assert "7F3A9C" in page
    button.click()
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "checked-in")))
    assert "已确认到达" in browser.page_source
    assert browser.find_element(By.ID, "booking-status").text == "已签到"
    booking.refresh_from_db()
    assert booking.status == "checked_in"
    assert BookingEvent.objects.get(booking=booking, to_status="checked_in").actor == clerk

    # A reload is a GET: nothing is posted twice, and the page says it is done.
    browser.refresh()
    assert browser.find_elements(By.ID, "confirm-arrival") == []
    assert BookingEvent.objects.filter(booking=booking, to_status="checked_in").count() == 1
