"""Secret iCalendar feeds (a teacher's own bookings, or one resource's) and the .ics attached to
booking e-mails. RFC 5545, built with the `icalendar` library; times carry TZID=Asia/Shanghai
with a VTIMEZONE in the calendar, so clients in any zone show Harbin's wall clock."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from icalendar import Calendar, Event, Timezone

from equipment.models import Resource
from schools.models import User

from .calendar import local_tz
from .models import ACTIVE_STATUSES, Booking, BookingStatus, CalendarFeed, NotificationPreference

PRODID = "-//Harbin Education Resource Sharing Centre//EduShare//ZH"
UID_DOMAIN = "edushare"
# A teacher's feed reaches this far back, so last month's lessons stay in their calendar.
FEED_PAST_DAYS = 30
FEED_MAX_EVENTS = 2000
# The VTIMEZONE covers bookings from this date on (Asia/Shanghai has had no DST since 1991).
TZ_FIRST_DATE = dt.date(2000, 1, 1)

TENTATIVE = {BookingStatus.PENDING, BookingStatus.HELD}
CONFIRMED = {BookingStatus.APPROVED, BookingStatus.CHECKED_IN, BookingStatus.COMPLETED}


def ical_status(status: str) -> str:
    if status in TENTATIVE:
        return "TENTATIVE"
    if status in CONFIRMED:
        return "CONFIRMED"
    return "CANCELLED"


def booking_uid(booking_id: int) -> str:
    """Stable per booking: a client updates the same event when the booking changes."""
    return f"booking-{booking_id}@{UID_DOMAIN}"


def _location(resource: Resource) -> str:
    place = " ".join(p for p in (resource.building, resource.room) if p)
    return ", ".join(p for p in (place, resource.school.name) if p)


def _label(msgid: str, value: object) -> str:
    # The model's field labels, already translated: "Class size: 30" / "班级人数: 30".
    return f"{capfirst(_(msgid))}: {value}"


def _event(booking: Booking, *, private: bool, now: dt.datetime) -> Event:
    """private=True: the booker's own view (purpose, check-in code). Otherwise only the booking
    school's name: a resource feed goes to people outside the school, so no teacher names."""
    tz = local_tz()
    resource = booking.resource
    event = Event()
    event.add("uid", booking_uid(booking.pk))
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", booking.start.astimezone(tz))
    event.add("dtend", booking.end.astimezone(tz))
    event.add("created", booking.created_at.astimezone(dt.UTC))
    event.add("last-modified", booking.updated_at.astimezone(dt.UTC))
    event.add("sequence", max(getattr(booking, "n_events", 1) - 1, 0))
    event.add("status", ical_status(booking.status))
    event.add("location", _location(resource))
    lines = []
    if private:
        event.add("summary", f"{resource.name} · {resource.school.name}")
        if booking.purpose:
            lines.append(_label("purpose", booking.purpose))
    else:
        event.add("summary", f"{resource.name} · {booking.school.name}")
        lines.append(_label("requesting school", booking.school.name))
    if booking.periods:
        lines.append(_label("class periods", booking.periods))
    lines.append(_label("class size", booking.class_size))
    lines.append(_label("status", booking.get_status_display()))
    if private and booking.status in (*ACTIVE_STATUSES, BookingStatus.COMPLETED):
        lines.append(_label("check-in code", booking.check_in_code))
    event.add("description", "\n".join(lines))
    return event


@functools.cache
def _vtimezone_ical() -> bytes:
    """Asia/Shanghai as a VTIMEZONE, built once per process: deriving it from the tz database
    walks every transition and cost ~40 ms per e-mailed booking."""
    return Timezone.from_tzinfo(local_tz(), first_date=TZ_FIRST_DATE).to_ical()


def _calendar(name: str, events: Iterable[Event], *, method: str | None = None) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    cal.add("name", name)
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", local_tz().key)
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    # Always present, even in an empty feed: clients validate the TZIDs against it.
    cal.add_component(Timezone.from_ical(_vtimezone_ical()))
    for event in events:
        cal.add_component(event)
    return cal


def _with_relations(qs: QuerySet[Booking]) -> QuerySet[Booking]:
    return qs.select_related("resource", "resource__school", "school").annotate(n_events=Count("events"))


def ics_for_booking(booking: Booking, *, now: dt.datetime | None = None) -> str:
    """One booking as an .ics (METHOD:PUBLISH) for the booker's e-mail, in the active language."""
    now = now or timezone.now()
    booking = _with_relations(Booking.objects.filter(pk=booking.pk)).get()
    event = _event(booking, private=True, now=now)
    return _calendar(booking.resource.name, [event], method="PUBLISH").to_ical().decode()


# --- the feeds ------------------------------------------------------------------------------


def feed_bookings(feed: CalendarFeed, *, now: dt.datetime) -> QuerySet[Booking]:
    """A teacher's own bookings, active and completed, from FEED_PAST_DAYS back; a resource's
    active bookings from the same day on."""
    since = now - dt.timedelta(days=FEED_PAST_DAYS)
    if feed.owner_user_id:
        qs = Booking.objects.filter(
            booked_by_id=feed.owner_user_id,
            status__in=[*ACTIVE_STATUSES, BookingStatus.COMPLETED],
            end__gte=since,
        )
    else:
        qs = Booking.objects.filter(resource_id=feed.resource_id, status__in=ACTIVE_STATUSES, end__gte=since)
    return _with_relations(qs).order_by("start", "pk")


def feed_ics(feed: CalendarFeed, *, now: dt.datetime | None = None) -> bytes:
    now = now or timezone.now()
    private = feed.owner_user_id is not None
    bookings = list(feed_bookings(feed, now=now)[:FEED_MAX_EVENTS])
    if private:
        owner = feed.owner_user
        name = _("EduShare: bookings of %(name)s") % {"name": owner.display_name or owner.username}
    else:
        name = f"EduShare: {feed.resource.name} · {feed.resource.school.name}"
    events = [_event(b, private=private, now=now) for b in bookings]
    return _calendar(name, events).to_ical()


def _feed_language(feed: CalendarFeed) -> str | None:
    if not feed.owner_user_id:
        return None
    return (
        NotificationPreference.objects.filter(user_id=feed.owner_user_id)
        .values_list("language", flat=True)
        .first()
    )


@require_safe
def calendar_feed_view(request: HttpRequest, token: str) -> HttpResponse:
    """GET /calendar/<token>.ics: no login, the secret is the credential. Unknown or revoked: 404."""
    feed = (
        CalendarFeed.objects.select_related("owner_user", "resource", "resource__school")
        .filter(token=token, revoked_at__isnull=True)
        .first()
    )
    if feed is None or (feed.owner_user_id and not feed.owner_user.is_active):
        raise Http404
    language = _feed_language(feed) or translation.get_language()
    with translation.override(language):
        body = feed_ics(feed)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="edushare.ics"'
    response["Cache-Control"] = "private, max-age=300"
    # The URL is the credential: keep it out of Referer headers and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --- issuing, rotating, revoking ------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _live_feed(**owner) -> CalendarFeed:
    """The live feed of a user or resource, created on first use. Two first uses at once: the
    partial unique constraint lets one insert win and the other reads it."""
    feed = CalendarFeed.objects.filter(revoked_at__isnull=True, **owner).first()
    if feed is not None:
        return feed
    try:
        with transaction.atomic():
            return CalendarFeed.objects.create(token=_new_token(), **owner)
    except IntegrityError:
        return CalendarFeed.objects.get(revoked_at__isnull=True, **owner)


def _rotate(now: dt.datetime, **owner) -> CalendarFeed:
    CalendarFeed.objects.filter(revoked_at__isnull=True, **owner).update(revoked_at=now)
    return CalendarFeed.objects.create(token=_new_token(), **owner)


def feed_url(feed: CalendarFeed, request: HttpRequest | None = None) -> str:
    path = reverse("calendar-feed", kwargs={"token": feed.token})
    return request.build_absolute_uri(path) if request is not None else path


def calendar_url_for(user: User, request: HttpRequest | None) -> str:
    """Absolute URL of the user's secret feed (created on first use); a path without a request."""
    return feed_url(_live_feed(owner_user=user), request)


@transaction.atomic
def calendar_feed_regenerate(*, user: User, now: dt.datetime | None = None) -> CalendarFeed:
    """Revoke the user's feed (its URL answers 404 from now on) and issue a new one."""
    now = now or timezone.now()
    # Serialise two rotations of one user: the second sees the first's new feed and revokes it.
    User.objects.select_for_update().filter(pk=user.pk).first()
    return _rotate(now, owner_user=user)


@transaction.atomic
def calendar_feed_revoke(*, user: User, now: dt.datetime | None = None) -> int:
    """Revoke the user's feed; a later calendar_url_for issues a new URL. Returns feeds revoked."""
    now = now or timezone.now()
    return CalendarFeed.objects.filter(owner_user=user, revoked_at__isnull=True).update(revoked_at=now)


@transaction.atomic
def resource_feed_get(
    *, actor: User, resource: Resource, regenerate: bool = False, now: dt.datetime | None = None
) -> CalendarFeed:
    """The resource's live feed for its school's admins and centre admins; regenerate rotates it.
    Raises code='forbidden' for anyone else."""
    if not actor.administers(resource.school_id):
        raise ValidationError(
            _("Only the resource's school administrators manage its feed."), code="forbidden"
        )
    now = now or timezone.now()
    if regenerate:
        Resource.objects.select_for_update().filter(pk=resource.pk).first()
        return _rotate(now, resource=resource)
    return _live_feed(resource=resource)
