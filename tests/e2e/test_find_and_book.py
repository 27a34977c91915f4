"""A county teacher finds a free physics lab for periods 5-6 and books it, in a real browser and in
Chinese: she signs in, searches, books the first result, lands on her pass with the QR code, finds
the booking in My bookings and cancels it. Then the same periods every week."""

import datetime as dt

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from booking.models import Booking, BookingEvent, HolidayYear, Series
from tests.booking.conftest import local, next_workday
from tests.factories import DistrictFactory, ResourceFactory, SchoolFactory, UserFactory

from .test_check_in import sign_in_on_the_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_county_teacher_finds_books_and_cancels_a_physics_lab(browser, live_server):
    urban = SchoolFactory(name="哈尔滨市第三中学校", district=DistrictFactory(kind="urban"))
    county = SchoolFactory(name="五常市第一中学", district=DistrictFactory(kind="county"))
    lab = ResourceFactory(school=urban, shared=True, capacity=40, name="物理实验室(一)")
    ResourceFactory(school=urban, shared=False, capacity=40, name="内部物理实验室")  # not for others
    ResourceFactory(school=urban, shared=True, subject="chemistry", name="化学实验室(一)")
    teacher = UserFactory(role="teacher", school=county, username="li", display_name="李老师")
    day = next_workday()

    # She opens the search page: first the sign-in page, then back to the search.
    browser.get(f"{live_server.url}/book/")
    sign_in_on_the_page(browser, teacher)
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "search-form")))
    assert "查找空闲场地" in browser.page_source
    date_from = browser.find_element(By.ID, "id_date_from")
    browser.execute_script("arguments[0].value = arguments[1]", date_from, day.isoformat())
    Select(browser.find_element(By.ID, "id_kind")).select_by_value("lab")
    Select(browser.find_element(By.ID, "id_subject")).select_by_value("physics")
    browser.find_element(By.ID, "id_periods").send_keys("5-6")
    size = browser.find_element(By.ID, "id_class_size")
    size.clear()
    size.send_keys("32")
    browser.find_element(By.ID, "search").click()

    # One free lab for those periods: the shared physics lab, 13:30-15:10 in the urban school's bell.
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "results")))
    results = browser.find_elements(By.CSS_SELECTOR, "#results tr.result")
    assert len(results) == 1
    first = results[0]
    assert first.find_element(By.CLASS_NAME, "resource").text == "物理实验室(一)"
    assert first.find_element(By.CLASS_NAME, "school").text == "哈尔滨市第三中学校"
    assert first.find_element(By.CLASS_NAME, "date").text.startswith(day.isoformat())
    assert first.find_element(By.CLASS_NAME, "time").text == "13:30\u201315:10"
    assert "内部物理实验室" not in browser.page_source
    assert "化学实验室(一)" not in browser.page_source
    first.find_element(By.NAME, "purpose").send_keys("测量重力加速度")
    first.find_element(By.CLASS_NAME, "book-button").click()

    # The pass, with the QR code and the confirmation.
    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "check-in-qr")))
    booking = Booking.objects.get()
    assert browser.current_url == f"{live_server.url}/bookings/{booking.pk}/pass/"
    assert (booking.resource, booking.booked_by, booking.periods) == (lab, teacher, "5-6")
    assert (booking.start, booking.end) == (local(day, 13, 30), local(day, 15, 10))
    assert (booking.class_size, booking.purpose, booking.status) == (32, "测量重力加速度", "approved")
    assert browser.find_element(By.CSS_SELECTOR, "#check-in-qr svg").size["width"] > 100
    assert browser.find_element(By.ID, "check-in-code").text == booking.check_in_code
    assert "预约已确认" in browser.find_element(By.CSS_SELECTOR, ".messages").text
    assert "预约凭证" in browser.page_source

    # My bookings lists it; she cancels it.
    browser.find_element(By.ID, "nav-my-bookings").click()
    row = WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, f"booking-{booking.pk}")))
    assert "我的预约" in browser.page_source
    assert row.find_element(By.CLASS_NAME, "resource").text == "物理实验室(一)"
    assert row.find_element(By.CLASS_NAME, "status").text == "已批准"
    row.find_element(By.NAME, "reason").send_keys("学校临时活动")
    row.find_element(By.CLASS_NAME, "cancel-button").click()
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, f"#booking-{booking.pk} .status"), "已取消")
    )
    assert browser.find_elements(By.CSS_SELECTOR, f"#booking-{booking.pk} .cancel-button") == []
    booking.refresh_from_db()
    assert booking.status == "cancelled"
    event = BookingEvent.objects.get(booking=booking, to_status="cancelled")
    assert (event.actor, event.reason) == (teacher, "学校临时活动")


def test_a_county_teacher_books_the_same_periods_every_week(browser, live_server):
    """She books periods 5-6 for three weeks; the middle week is taken, so she is told it was not."""
    urban = SchoolFactory(name="哈尔滨市第三中学校", district=DistrictFactory(kind="urban"))
    county = SchoolFactory(name="五常市第一中学", district=DistrictFactory(kind="county"))
    lab = ResourceFactory(school=urban, shared=True, capacity=40, name="物理实验室(一)")
    teacher = UserFactory(role="teacher", school=county, username="li", display_name="李老师")
    day = next_workday()
    weeks = [day + dt.timedelta(weeks=n) for n in range(3)]
    for year in {d.year for d in weeks}:  # no real holiday in these weeks: only the taken one is missed
        HolidayYear.objects.create(year=year)
    taken = local(weeks[1], 14)
    Booking.objects.create(
        resource=lab, school=urban, booked_by=UserFactory(school=urban), start=taken,
        end=taken + dt.timedelta(minutes=30), block_start=taken, block_end=taken + dt.timedelta(minutes=30),
        class_size=20, status="approved", check_in_code="ABC123",
    )  # fmt: skip

    query = f"date_from={day.isoformat()}&kind=lab&subject=physics&periods=5-6&class_size=30"
    browser.get(f"{live_server.url}/book/?{query}")
    sign_in_on_the_page(browser, teacher)
    row = WebDriverWait(browser, 10).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#results tr.result"))
    )
    assert "每周重复至" in row.text
    until = row.find_element(By.NAME, "repeat_until")
    browser.execute_script("arguments[0].value = arguments[1]", until, weeks[-1].isoformat())
    row.find_element(By.CLASS_NAME, "book-button").click()

    WebDriverWait(browser, 10).until(ec.presence_of_element_located((By.ID, "my-bookings")))
    assert browser.current_url == f"{live_server.url}/bookings/"
    series = Series.objects.get()
    booked = Booking.objects.filter(series=series).order_by("start")
    assert [b.start for b in booked] == [local(weeks[0], 13, 30), local(weeks[2], 13, 30)]
    success = browser.find_element(By.CSS_SELECTOR, ".messages li.success").text
    assert "已预约 2 次" in success
    assert "1 次未预约" in success
    [missed] = browser.find_elements(By.CSS_SELECTOR, ".messages li.not-booked")
    assert missed.text.startswith("未预约")
    assert weeks[1].isoformat() in missed.text
    for booking in booked:
        assert browser.find_element(By.ID, f"booking-{booking.pk}")
