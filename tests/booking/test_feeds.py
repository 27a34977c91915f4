"""Calendar feeds: secret URLs that parse with icalendar and match the bookings; revocation,
rotation, privacy of the resource feed, and the .ics of one booking."""

import datetime as dt
import secrets

import pytest
from django.utils import timezone
from icalendar import Calendar

from booking import feeds, services
from booking.models import Booking, CalendarFeed
from tests.booking.conftest import SH, local
from tests.conftest import client_for
from tests.factories import ResourceFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(
        school=urban_school, shared=True, name="物理实验室A", building="实验楼", room="301"
    )


def book(actor, resource, day, h0, h1, **kw):
    return services.booking_create(
        actor=actor, resource=resource, start=local(day, h0), end=local(day, h1), class_size=30, **kw
    )


def past_booking(actor, resource, days_ago, status="completed"):
    """A booking in the past, written directly: the services refuse to book the past."""
    start = (
        (timezone.now() - dt.timedelta(days=days_ago))
        .astimezone(SH)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    end = start + dt.timedelta(hours=1)
    return Booking.objects.create(
        resource=resource, school=actor.school, booked_by=actor, start=start, end=end, block_start=start,
        block_end=end, class_size=20, status=status, check_in_code="ABC123",
    )  # fmt: skip


def fetch(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def events(cal):
    return {str(e["uid"]): e for e in cal.walk("VEVENT")}


def path_of(url):
    return url.removeprefix("http://testserver")


def test_a_teachers_feed_lists_their_bookings_in_local_time(client, county_teacher, urban_teacher, lab, day):
    mine = [book(county_teacher, lab, day, 9, 10, purpose="分组实验"), book(county_teacher, lab, day, 13, 15)]
    cancelled = book(county_teacher, lab, day, 15, 16)
    services.booking_cancel(actor=county_teacher, booking=cancelled)
    book(urban_teacher, lab, day, 11, 12)  # someone else's
    recent = past_booking(county_teacher, lab, days_ago=10)
    past_booking(county_teacher, lab, days_ago=40)  # older than the feed reaches
    cal = fetch(client, path_of(feeds.calendar_url_for(county_teacher, None)))
    found = events(cal)
    assert set(found) == {f"booking-{b.pk}@edushare" for b in [*mine, recent]}
    first = found[f"booking-{mine[0].pk}@edushare"]
    assert first.decoded("dtstart") == local(day, 9)
    assert first.decoded("dtend") == local(day, 10)
    assert str(first.decoded("dtstart").tzinfo) == "Asia/Shanghai"
    assert first.decoded("dtstart").replace(tzinfo=None) == dt.datetime.combine(day, dt.time(9))
    assert str(first["summary"]) == f"物理实验室A · {lab.school.name}"
    assert "实验楼 301" in str(first["location"])
    assert "分组实验" in str(first["description"])
    assert mine[0].check_in_code in str(first["description"])
    assert str(first["status"]) == "CONFIRMED"
    assert str(cal["version"]) == "2.0"
    assert "EduShare" in str(cal["prodid"])
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    assert cal.get_missing_tzids() == set()


def test_a_resource_feed_shows_schools_never_teachers(client, county_teacher, urban_admin, lab, day):
    county_teacher.display_name = "张老师"
    county_teacher.save()
    booking = book(county_teacher, lab, day, 9, 10, purpose="张老师的分组实验")
    cancelled = book(county_teacher, lab, day, 13, 14)
    services.booking_cancel(actor=county_teacher, booking=cancelled)
    url = client_for(urban_admin).post(f"/api/v1/resources/{lab.pk}/calendar-feed/").json()["url"]
    response = client.get(path_of(url))
    assert response.status_code == 200
    text = response.content.decode()
    for secret in ("张老师", county_teacher.username, booking.check_in_code):
        assert secret not in text
    [event] = Calendar.from_ical(response.content).walk("VEVENT")
    assert str(event["uid"]) == f"booking-{booking.pk}@edushare"
    assert str(event["summary"]) == f"物理实验室A · {county_teacher.school.name}"
    assert event.decoded("dtstart") == local(day, 9)


def test_a_pending_booking_is_tentative(client, county_teacher, urban_school, day):
    lab = ResourceFactory(school=urban_school, shared=True, requires_approval=True)
    booking = book(county_teacher, lab, day, 9, 10)
    cal = fetch(client, path_of(feeds.calendar_url_for(county_teacher, None)))
    assert str(events(cal)[f"booking-{booking.pk}@edushare"]["status"]) == "TENTATIVE"


def test_an_empty_feed_is_still_a_valid_calendar(client, county_teacher):
    cal = fetch(client, path_of(feeds.calendar_url_for(county_teacher, None)))
    assert cal.walk("VEVENT") == []
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]


def test_me_gives_an_absolute_url_that_works_without_login(client, county_teacher, lab, day):
    booking = book(county_teacher, lab, day, 9, 10)
    api = client_for(county_teacher)
    url = api.get("/api/v1/me/").json()["calendar_url"]
    assert url.startswith("http://testserver/calendar/")
    assert url.endswith(".ics")
    assert api.get("/api/v1/me/").json()["calendar_url"] == url  # created once, then reused
    assert f"booking-{booking.pk}@edushare" in events(fetch(client, path_of(url)))


def test_an_unknown_token_is_a_404(client):
    assert client.get(f"/calendar/{secrets.token_urlsafe(32)}.ics").status_code == 404
    assert client.get("/calendar/short.ics").status_code == 404


def test_a_revoked_feed_is_a_404(client, county_teacher):
    url = path_of(feeds.calendar_url_for(county_teacher, None))
    response = client_for(county_teacher).post("/api/v1/calendar-feeds/revoke/")
    assert response.status_code == 204
    assert client.get(url).status_code == 404
    fresh = path_of(feeds.calendar_url_for(county_teacher, None))
    assert fresh != url
    assert client.get(fresh).status_code == 200


def test_regenerating_changes_the_url_and_the_old_one_stops_working(client, county_teacher):
    api = client_for(county_teacher)
    old = api.get("/api/v1/me/").json()["calendar_url"]
    response = api.post("/api/v1/calendar-feeds/regenerate/")
    assert response.status_code == 201
    new = response.json()["url"]
    assert new != old
    assert new.startswith("http://testserver/calendar/")
    assert client.get(path_of(old)).status_code == 404
    assert client.get(path_of(new)).status_code == 200
    assert api.get("/api/v1/me/").json()["calendar_url"] == new
    assert CalendarFeed.objects.filter(owner_user=county_teacher, revoked_at__isnull=True).count() == 1


def test_a_deactivated_teachers_feed_is_a_404(client, county_teacher):
    url = path_of(feeds.calendar_url_for(county_teacher, None))
    county_teacher.is_active = False
    county_teacher.save()
    assert client.get(url).status_code == 404


def test_the_resource_feed_is_for_its_schools_admins(
    client, lab, urban_admin, county_admin, urban_teacher, centre_admin
):
    url = f"/api/v1/resources/{lab.pk}/calendar-feed/"
    first = client_for(urban_admin).post(url)
    assert first.status_code == 200
    assert client_for(centre_admin).post(url).json()["url"] == first.json()["url"]
    assert client_for(county_admin).post(url).status_code == 403
    assert client_for(urban_teacher).post(url).status_code == 403
    assert client_for(urban_admin).get(url).status_code == 405
    rotated = client_for(urban_admin).post(f"{url}?regenerate=true").json()["url"]
    assert rotated != first.json()["url"]
    assert client.get(path_of(first.json()["url"])).status_code == 404
    assert client.get(path_of(rotated)).status_code == 200


def test_a_private_resource_of_another_school_is_a_404(county_admin, urban_school):
    private = ResourceFactory(school=urban_school, shared=False)
    assert client_for(county_admin).post(f"/api/v1/resources/{private.pk}/calendar-feed/").status_code == 404
    assert client_for(county_admin).post("/api/v1/resources/999999/calendar-feed/").status_code == 404


def test_feed_endpoints_need_a_login(api):
    assert api.post("/api/v1/calendar-feeds/regenerate/").status_code == 401
    assert api.post("/api/v1/calendar-feeds/revoke/").status_code == 401


def test_a_feed_belongs_to_a_user_or_a_resource_not_both(county_teacher, lab):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarFeed.objects.create(owner_user=county_teacher, resource=lab, token="x" * 43)
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarFeed.objects.create(token="y" * 43)


def test_the_ics_of_one_booking_follows_its_status(county_teacher, lab, day):
    booking = book(county_teacher, lab, day, 9, 10)
    [event] = Calendar.from_ical(feeds.ics_for_booking(booking)).walk("VEVENT")
    assert (str(event["status"]), event.decoded("dtstart")) == ("CONFIRMED", local(day, 9))
    services.booking_cancel(actor=county_teacher, booking=booking)
    cal = Calendar.from_ical(feeds.ics_for_booking(booking))
    [event] = cal.walk("VEVENT")
    assert str(event["status"]) == "CANCELLED"
    assert event["sequence"] >= 1  # later than the confirmation, so clients apply it
    assert str(cal["method"]) == "PUBLISH"


def test_a_teacher_of_another_city_school_sees_only_their_own_feed(client, lab, day):
    school = SchoolFactory()
    teacher_a, teacher_b = UserFactory(school=school), UserFactory(school=school)
    booking_a = book(teacher_a, lab, day, 9, 10)
    feed_b = events(fetch(client, path_of(feeds.calendar_url_for(teacher_b, None))))
    assert f"booking-{booking_a.pk}@edushare" not in feed_b
