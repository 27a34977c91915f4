"""Notifications: an outbox in the database, delivered by e-mail after commit, kept in the app.

Services call `notify()` (or one of the `notify_*` helpers) inside their own transaction. The
rows commit with the booking; delivery is enqueued only after commit, and a broker error at that
moment is logged, never raised: the sweeper (`notifications_sweep`, every minute) re-enqueues
whatever is still unsent, so a Redis outage delays e-mail but loses nothing. Each event has a
`dedupe_key`, so calling `notify()` twice for one event creates one row, and delivery claims the
row with a conditional update, so running the task twice sends one e-mail.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import datetime as dt
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from kombu.exceptions import OperationalError as BrokerError

from equipment.models import Resource
from schools.models import School, User

from . import checkin
from .calendar import local_midnight, local_tz
from .feeds import ics_for_booking
from .models import (
    Booking,
    BookingEvent,
    BookingStatus,
    Notification,
    NotificationKind,
    NotificationPreference,
)

logger = logging.getLogger(__name__)

Kind = NotificationKind
DEFAULT_LANGUAGE = "zh-hans"
# Delivery: a claim older than this belongs to a worker that died mid-send and may be retaken.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 10
MAX_BACKOFF = dt.timedelta(hours=6)
# The sweeper leaves fresh rows to the after-commit enqueue.
SWEEP_AFTER = dt.timedelta(minutes=1)
SWEEP_BATCH = 200
# After a broker error, skip enqueueing in this process for a while: each attempt against a
# down broker blocks the request for seconds, and the sweeper delivers these rows anyway.
BROKER_BACKOFF_SECONDS = 30.0
_broker_down_until = 0.0

SUBJECTS = {
    Kind.BOOKING_CONFIRMED: gettext_lazy("Booking confirmed: %(resource)s, %(when)s"),
    Kind.BOOKING_PENDING: gettext_lazy("Booking request awaiting approval: %(resource)s, %(when)s"),
    Kind.BOOKING_APPROVED: gettext_lazy("Booking approved: %(resource)s, %(when)s"),
    Kind.BOOKING_REJECTED: gettext_lazy("Booking rejected: %(resource)s, %(when)s"),
    Kind.BOOKING_CANCELLED: gettext_lazy("Booking cancelled: %(resource)s, %(when)s"),
    Kind.BOOKING_REMINDER: gettext_lazy("Reminder: %(resource)s tomorrow, %(when)s"),
    Kind.WAITLIST_OFFER: gettext_lazy("A slot you waited for is free: %(resource)s, %(when)s"),
    Kind.APPROVAL_REQUESTED: gettext_lazy("Approval requested: %(school)s asks for %(resource)s, %(when)s"),
    Kind.SERIES_RELEASED: gettext_lazy("Series released after repeated no-shows: %(resource)s"),
    Kind.RESOURCE_CLOSED: gettext_lazy("Resource closed, your booking is affected: %(resource)s, %(when)s"),
    Kind.REPORT_READY: gettext_lazy("Monthly utilisation report ready: %(month)s"),
}
# E-mails to the booker about their own booking carry it as an .ics attachment.
ICS_KINDS = frozenset(
    {
        Kind.BOOKING_CONFIRMED,
        Kind.BOOKING_PENDING,
        Kind.BOOKING_APPROVED,
        Kind.BOOKING_REJECTED,
        Kind.BOOKING_CANCELLED,
        Kind.BOOKING_REMINDER,
        Kind.RESOURCE_CLOSED,
    }
)


# A new booking's messages say nothing but what the booking and their kind say (the kind names
# the status it announces). They are recorded unrendered inside the booking transaction and
# rendered after commit, at delivery or when first read in the app, whichever comes first:
# rendering was the largest part of a booking's CPU (docs/benchmarks.md, booking service).
DEFERRED_STATUS = {
    Kind.BOOKING_CONFIRMED: BookingStatus.APPROVED,
    Kind.BOOKING_PENDING: BookingStatus.PENDING,
    Kind.APPROVAL_REQUESTED: BookingStatus.PENDING,
}

# --- rendering ------------------------------------------------------------------------------


def _local(value: dt.datetime) -> dt.datetime:
    return value.astimezone(local_tz())


def format_when(start: dt.datetime, end: dt.datetime) -> str:
    """'2026-12-01 13:30-15:05' in Asia/Shanghai (the date of the end too if it differs)."""
    s, e = _local(start), _local(end)
    tail = f"{e:%H:%M}" if s.date() == e.date() else f"{e:%Y-%m-%d %H:%M}"
    return f"{s:%Y-%m-%d %H:%M}-{tail}"


def _person(user: User | None) -> str:
    return (user.display_name or user.username) if user else ""


def _booking_context(booking: Booking) -> dict[str, Any]:
    resource = booking.resource
    place = " ".join(p for p in (resource.building, resource.room) if p)
    return {
        "booking_id": booking.pk,
        "resource": resource.name,
        "resource_school": resource.school.name,
        "location": ", ".join(p for p in (place, resource.school.name) if p),
        "school": booking.school.name,
        "booker": _person(booking.booked_by),
        "when": format_when(booking.start, booking.end),
        "periods": booking.periods,
        "class_size": booking.class_size,
        "purpose": booking.purpose,
        "status": booking.get_status_display(),
        "check_in_code": booking.check_in_code,
        "pass_link": _site_link(checkin.pass_path(booking)),
    }


def _site_link(path: str) -> str:
    """An absolute link for an e-mail, or "" when settings.SITE_URL does not say where the site is."""
    from django.conf import settings

    return f"{settings.SITE_URL}{path}" if settings.SITE_URL else ""


def _render(kind: str, recipient: User, base: dict[str, Any], context: dict[str, Any]) -> tuple[str, str]:
    """Subject and plain-text body in the active language."""
    ctx = {**base, **context, "recipient": _person(recipient)}
    ctx.setdefault("resource", "")
    ctx.setdefault("when", "")
    ctx.setdefault("school", "")
    subject = str(SUBJECTS[kind]) % ctx
    body = render_to_string(f"booking/email/{kind}.txt", ctx)
    # No header injection through a resource name; EmailMessage refuses newlines anyway.
    body = re.sub(r"\n{3,}", "\n\n", body.strip())  # the includes' own line ends
    return " ".join(subject.split())[:200], body + "\n"


def render_pending(rows: Iterable[Notification]) -> None:
    """Give rows recorded unrendered (a new booking's, see DEFERRED_STATUS) their subject and body,
    in the row's language, and store them. Rendering twice (delivery and a read at the same
    moment) writes the same text once: the UPDATE only fills an empty subject."""
    todo = [n for n in rows if not n.subject and n.kind in DEFERRED_STATUS]
    if not todo:
        return
    bookings = Booking.objects.select_related("resource", "resource__school", "school", "booked_by").in_bulk(
        {n.booking_id for n in todo if n.booking_id}
    )
    users = User.objects.in_bulk({n.recipient_id for n in todo})
    for n in todo:
        booking = bookings.get(n.booking_id)
        with translation.override(n.language or DEFAULT_LANGUAGE):
            if booking is None:  # deleted since: the kind is all there is left to say
                subject = body = str(Kind(n.kind).label)
            else:
                base = {**_booking_context(booking), "status": BookingStatus(DEFERRED_STATUS[n.kind]).label}
                try:
                    subject, body = _render(n.kind, users.get(n.recipient_id), base, {})
                except Exception:  # one broken row must not break a user's whole list
                    logger.exception("Rendering notification %s failed", n.pk)
                    continue
        Notification.objects.filter(pk=n.pk, subject="").update(subject=subject, body=body)
        n.subject, n.body = subject, body


def _preferences(user_ids: Iterable[int]) -> dict[int, NotificationPreference]:
    return {p.user_id: p for p in NotificationPreference.objects.filter(user_id__in=list(user_ids))}


def preference_for(user: User) -> NotificationPreference:
    """The user's preferences, or unsaved defaults."""
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref or NotificationPreference(user=user)


def _dedupe_key(kind: str, booking: Booking | None, dedupe: str | None, recipient: User) -> str:
    if dedupe is None:
        dedupe = booking.status if booking is not None else uuid.uuid4().hex
    return f"{kind}:{booking.pk if booking is not None else '-'}:{dedupe}:{recipient.pk}"[:255]


# --- the one entry point --------------------------------------------------------------------


_SUPPRESSED: contextvars.ContextVar[bool] = contextvars.ContextVar("notifications_suppressed", default=False)


@contextlib.contextmanager
def suppressed():
    """Record no notifications inside this block: seeders, and steps that send one summary
    instead of one message per row (a series, a release)."""
    token = _SUPPRESSED.set(True)
    try:
        yield
    finally:
        _SUPPRESSED.reset(token)


def notify(
    kind: str,
    *,
    recipients: Iterable[User | None],
    booking: Booking | None = None,
    context: dict[str, Any] | None = None,
    dedupe: str | None = None,
) -> list[Notification]:
    """Record one notification per recipient and deliver each after the caller's commit.

    The event key is `kind:booking:dedupe:recipient`; `dedupe` defaults to the booking's status
    (so one booking approved twice is told once). Without a booking or `dedupe` every call is a
    new event. Idempotent: an existing key is not recreated (nor re-rendered), and its row is
    returned. Body and subject are rendered now, in each recipient's language; `context` adds
    template variables (strings, or `alternatives`/`occurrences` lists for the kinds using them).
    The booking's .ics attachment is built at delivery (it is only an e-mail attachment, and the
    most expensive part to render); a new booking's own rows are recorded by
    booking_created_rows instead, and rendered after commit. Runs inside the caller's
    transaction; never raises for a broker outage.
    """
    kind = Kind(kind)
    if _SUPPRESSED.get():
        return []
    users: dict[int, User] = {}
    for user in recipients:
        if user is not None and user.is_active:
            users.setdefault(user.pk, user)
    if not users:
        return []
    keys = {pk: _dedupe_key(kind, booking, dedupe, u) for pk, u in users.items()}
    existing = set(
        Notification.objects.filter(dedupe_key__in=keys.values()).values_list("dedupe_key", flat=True)
    )
    prefs = _preferences(pk for pk, key in keys.items() if key not in existing)
    now = timezone.now()
    rows = []
    for pk, user in users.items():
        if keys[pk] in existing:
            continue
        language = prefs[pk].language if pk in prefs else DEFAULT_LANGUAGE
        with translation.override(language):
            base = _booking_context(booking) if booking is not None else {}
            subject, body = _render(kind, user, base, context or {})
        rows.append(
            Notification(
                recipient=user,
                kind=kind,
                booking=booking,
                language=language,
                subject=subject,
                body=body,
                dedupe_key=keys[pk],
                created_at=now,
            )
        )
    if rows:
        # ON CONFLICT DO NOTHING: a concurrent notify() of the same event inserts it once.
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
    saved = list(Notification.objects.filter(dedupe_key__in=keys.values()).order_by("pk"))
    render_pending(saved)  # a new booking's own rows, recorded unrendered, asked for again
    enqueue_after_commit(saved)
    return saved


# One broker message carries at most this many deliveries: a burst is one publish, not one each,
# and a message's e-mails are sent one after another by one worker.
PUBLISH_BATCH = 20


def enqueue_delivery(notification_ids: Sequence[int]) -> int:
    """Hand notifications to the workers: one message per PUBLISH_BATCH ids (a single id goes as
    deliver_notification_task). A broker error is logged, not raised: the rows are in the
    database and the sweeper retries them. Returns how many were enqueued."""
    global _broker_down_until
    from .notification_tasks import deliver_notification_task, deliver_notifications_task

    ids = list(notification_ids)
    if time.monotonic() < _broker_down_until:
        logger.warning("Broker recently down; %d notification(s) left to the sweeper", len(ids))
        return 0
    done = 0
    while done < len(ids):
        batch = ids[done : done + PUBLISH_BATCH]
        try:
            # retry=False: a down broker must not hold the caller up with publish retries.
            if len(batch) == 1:
                deliver_notification_task.apply_async((batch[0],), retry=False)
            else:
                deliver_notifications_task.apply_async((batch,), retry=False)
        except (BrokerError, ConnectionError, OSError):
            _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
            logger.warning(
                "Broker unreachable; notification(s) %s left to the sweeper", ids[done:], exc_info=True
            )
            return done
        except Exception:
            # Eager mode runs the task here; the commit has happened and must not be undone.
            logger.exception("Delivering notification(s) %s failed; the sweeper will retry", batch)
        done += len(batch)
    return done


class _Publisher:
    """Publishes committed notifications from one background thread per process, so a request
    does not wait for the broker, and what accumulates meanwhile goes as one message (publishing
    one Celery message cost about as much CPU as the rest of a booking). Ids still queued when a
    process dies are not lost: the rows are in the database and the sweeper delivers them.

    The thread waits `settings.NOTIFICATION_PUBLISH_LINGER_MS` after the first id for more: a
    gunicorn sync worker books one request at a time, so with a short wait nearly every booking
    was a message of its own (docs/benchmarks.md, booking service). Ids arriving meanwhile do not
    wake it; `flush` does, and publishes at once."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cv = threading.Condition()
        self._queue: list[int] = []
        self._busy = False
        self._hurry = False
        self._thread: threading.Thread | None = None

    def put(self, ids: Sequence[int]) -> None:
        with self._cv:
            first = not self._queue
            self._queue.extend(ids)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="notification-publisher", daemon=True)
                self._thread.start()
            elif first:
                self._cv.notify_all()  # the thread is waiting for a first id, not lingering

    @staticmethod
    def _linger() -> float:
        from django.conf import settings

        return max(settings.NOTIFICATION_PUBLISH_LINGER_MS, 0) / 1000

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue:
                    self._cv.wait()
                deadline = time.monotonic() + self._linger()
                while not self._hurry and (left := deadline - time.monotonic()) > 0:
                    self._cv.wait(left)
                batch, self._queue = self._queue, []
                self._busy, self._hurry = True, False
            try:
                enqueue_delivery(batch)
            except Exception:  # never let the thread die: the next ids must still go
                logger.exception("Publishing notification(s) %s failed; the sweeper will retry", batch)
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Publish what is queued now, without lingering, and wait until it has been handed to the
        broker (tests, process exit)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._queue or self._busy:
                self._hurry = bool(self._queue)
                self._cv.notify_all()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True


_publisher = _Publisher()
# A forked child (a gunicorn or Celery worker) has none of the parent's threads: start afresh.
os.register_at_fork(after_in_child=_publisher._reset)
atexit.register(_publisher.flush, 2.0)


def publish(notification_ids: Sequence[int]) -> None:
    """After commit: deliver these notifications. With eager Celery (the embedded demo, the tests)
    the delivery runs here and now; otherwise the background publisher hands them to the broker
    (settings.NOTIFICATION_PUBLISH_IN_BACKGROUND=False publishes here, in the committing thread)."""
    from django.conf import settings

    from config.celery import app

    if app.conf.task_always_eager or not settings.NOTIFICATION_PUBLISH_IN_BACKGROUND:
        enqueue_delivery(notification_ids)
    else:
        _publisher.put(notification_ids)


def publisher_flush(timeout: float = 5.0) -> bool:
    return _publisher.flush(timeout)


# --- helpers for the booking services (one line each) --------------------------------------


def school_admins(school_id: int) -> list[User]:
    """Who hears about a school's resources: its school admins, or the centre admins if it has none."""
    admins = list(User.objects.filter(role=User.Role.SCHOOL_ADMIN, school_id=school_id, is_active=True))
    if admins:
        return admins
    return list(User.objects.filter(Q(role=User.Role.CENTRE_ADMIN) | Q(is_superuser=True), is_active=True))


def _load(booking: Booking) -> Booking:
    return Booking.objects.select_related("resource", "resource__school", "school", "booked_by").get(
        pk=booking.pk
    )


def _created_messages(booking: Booking) -> list[tuple[str, list[User]]]:
    """Who hears of a new booking, and what: approved → booking_confirmed to the booker; pending →
    booking_pending to the booker and approval_requested to the resource school's admins."""
    if booking.status == BookingStatus.APPROVED:
        return [(Kind.BOOKING_CONFIRMED, [booking.booked_by])]
    if booking.status == BookingStatus.PENDING:
        return [
            (Kind.BOOKING_PENDING, [booking.booked_by]),
            (Kind.APPROVAL_REQUESTED, school_admins(booking.resource.school_id)),
        ]
    return []


def booking_created_rows(booking: Booking, *, languages: dict[int, str] | None = None) -> list[Notification]:
    """The rows announcing a booking created in this transaction (_created_messages), unsaved and
    unrendered (DEFERRED_STATUS). Nobody else can have recorded these events (booking ids are
    never reused, and a retried attempt rolled its rows back), so there is no existence check.
    `languages`: recipients' languages the caller has read already (user id -> language)."""
    if _SUPPRESSED.get():
        return []
    plan = _created_messages(booking)
    if not plan:
        return []
    known = dict(languages or {})
    wanted = {u.pk for _kind, users in plan for u in users if u.pk not in known}
    if wanted:
        known.update({pk: p.language for pk, p in _preferences(wanted).items()})
    now = timezone.now()
    rows, seen = [], set()
    for kind, users in plan:
        for user in users:
            if not user.is_active or (kind, user.pk) in seen:
                continue
            seen.add((kind, user.pk))
            rows.append(
                Notification(
                    recipient=user,
                    kind=kind,
                    booking=booking,
                    language=known.get(user.pk) or DEFAULT_LANGUAGE,
                    subject="",
                    body="",
                    dedupe_key=_dedupe_key(kind, booking, None, user),
                    created_at=now,
                )
            )
    return rows


def enqueue_after_commit(notifications: Sequence[Notification]) -> None:
    unsent = [n.pk for n in notifications if n.sent_at is None]
    if unsent:
        # robust: the commit has happened; a failure to hand over is the sweeper's, not a 500.
        transaction.on_commit(partial(publish, unsent), robust=True)


def notify_booking_created(
    booking: Booking, *, fresh: bool = False, languages: dict[int, str] | None = None
) -> list[Notification]:
    """After booking_create: the messages of _created_messages (other statuses: nothing).
    `fresh=True`: called by booking_create in its own transaction, with the booking's resource (and
    its school), school and booker already loaded: no re-read, no check for earlier rows, and the
    text is rendered after commit (booking_created_rows)."""
    if fresh:
        rows = Notification.objects.bulk_create(booking_created_rows(booking, languages=languages))
        enqueue_after_commit(rows)
        return rows
    booking = _load(booking)
    return [
        n
        for kind, users in _created_messages(booking)
        for n in notify(kind, recipients=users, booking=booking)
    ]


STATUS_KINDS = {
    BookingStatus.APPROVED: Kind.BOOKING_APPROVED,
    BookingStatus.REJECTED: Kind.BOOKING_REJECTED,
    BookingStatus.CANCELLED: Kind.BOOKING_CANCELLED,
}


def notify_booking_status(
    booking: Booking, reason: str = "", *, actor: User | None = None
) -> list[Notification]:
    """After a transition to approved, rejected or cancelled: tell the booker (with the reason).
    A cancellation by the booking side (not by the resource's admins, not by the system) is also
    told to the resource school's admins. Reason and actor default to the latest history row.
    Called right after creation it does what notify_booking_created does.
    A held waitlist slot that lapses is not a cancellation the teacher needs to hear about; a held
    slot confirmed (held → approved) is told as booking_confirmed. Other statuses: nothing."""
    booking = _load(booking)
    kind = STATUS_KINDS.get(booking.status)
    if kind is None:
        return []
    event = (
        BookingEvent.objects.filter(booking=booking, to_status=booking.status).order_by("-at", "-pk").first()
    )
    previous = event.from_status if event else ""
    reason = reason or (event.reason if event else "")
    actor = actor or (event.actor if event else None)
    if event is not None and not previous:
        return notify_booking_created(booking)  # the creation itself, not a transition
    if previous == BookingStatus.HELD:
        if booking.status != BookingStatus.APPROVED:
            return []
        kind = Kind.BOOKING_CONFIRMED
    context = {"reason": reason, "actor": _person(actor)}
    sent = notify(kind, recipients=[booking.booked_by], booking=booking, context=context)
    by_booking_side = actor is not None and not actor.administers(booking.resource.school_id)
    if kind == Kind.BOOKING_CANCELLED and by_booking_side:
        admins = school_admins(booking.resource.school_id)
        sent += notify(kind, recipients=admins, booking=booking, context={**context, "to_owner": True})
    return sent


def _alternative(item: Any) -> dict[str, Any]:
    """A SearchResult (resource, start, end, travel_minutes) or a dict with the same keys."""
    get = item.get if isinstance(item, dict) else partial(getattr, item)
    resource = get("resource")
    start, end = get("start"), get("end")
    travel = get("travel_minutes", None)
    if isinstance(resource, Resource):
        name, school = resource.name, resource.school.name
    elif hasattr(resource, "school_name"):  # the city search's lightweight candidate
        name, school = resource.name, resource.school_name
    else:
        name, school = str(resource), str(get("school", ""))
    return {"resource": name, "school": school, "when": format_when(start, end), "travel_minutes": travel}


def nearest_alternatives(booking: Booking, *, limit: int = 3, now: dt.datetime | None = None) -> list[Any]:
    """Other resources of the same kind and subject, free for the whole booked time and big enough,
    nearest to the booking school first (the city-wide availability search, as the booker)."""
    from .selectors import SearchQuery, availability_search

    resource = booking.resource
    day = _local(booking.start).date()
    query = SearchQuery(
        date_from=day,
        date_to=day,
        kind=resource.kind,
        subject=resource.subject,
        duration=int((booking.end - booking.start).total_seconds() // 60),
        capacity_min=booking.class_size,
        near_school=booking.school,
    )
    results = availability_search(user=booking.booked_by, query=query, now=now or timezone.now())
    fitting = [
        r
        for r in results
        if r.resource.pk != resource.pk and r.start <= booking.start and booking.end <= r.end
    ]
    fitting.sort(key=lambda r: (r.travel_minutes if r.travel_minutes is not None else 10**6, r.resource.pk))
    return [{"resource": r.resource, "start": booking.start, "end": booking.end,
             "travel_minutes": r.travel_minutes} for r in fitting[:limit]]  # fmt: skip


def notify_resource_closed(
    resource: Resource,
    bookings: Iterable[Booking],
    alternatives_for: Callable[[Booking], Iterable[Any]] | None = None,
    reason: str = "",
) -> list[Notification]:
    """A resource closes (maintenance, retirement) with bookings on it: each booker is told, with
    `alternatives_for(booking)` (SearchResults or dicts with resource/start/end/travel_minutes;
    default `nearest_alternatives`). Once per booking."""
    alternatives_for = alternatives_for or nearest_alternatives
    sent: list[Notification] = []
    for booking in bookings:
        booking = _load(booking)
        alternatives = [_alternative(a) for a in alternatives_for(booking)]
        context = {"reason": reason, "alternatives": alternatives, "resource": resource.name}
        sent += notify(
            Kind.RESOURCE_CLOSED,
            recipients=[booking.booked_by],
            booking=booking,
            context=context,
            dedupe="closed",
        )
    return sent


def notify_waitlist_offer(
    entry_user: User, booking_or_slot: Any, hold_until: dt.datetime
) -> list[Notification]:
    """A freed slot is held for a waitlisted teacher until `hold_until`. `booking_or_slot` is the
    held Booking, or anything with resource/start/end (a WaitlistEntry), or a (resource, start,
    end) tuple. Once per slot and hold."""
    booking = booking_or_slot if isinstance(booking_or_slot, Booking) else None
    if booking is not None:
        booking = _load(booking)
        resource, start, end = booking.resource, booking.start, booking.end
    elif isinstance(booking_or_slot, tuple):
        resource, start, end = booking_or_slot
    else:
        resource, start, end = booking_or_slot.resource, booking_or_slot.start, booking_or_slot.end
    context = {
        "resource": resource.name,
        "resource_school": resource.school.name,
        "when": format_when(start, end),
        "hold_until": f"{_local(hold_until):%Y-%m-%d %H:%M}",
    }
    dedupe = f"{resource.pk}@{_local(start):%Y%m%dT%H%M}~{_local(hold_until):%Y%m%dT%H%M%S}"
    return notify(
        Kind.WAITLIST_OFFER, recipients=[entry_user], booking=booking, context=context, dedupe=dedupe
    )


def notify_series_released(
    series_booking_list: Sequence[Booking], teacher: User, owner_school: School
) -> list[Notification]:
    """A series' remaining occurrences were released after repeated no-shows: the teacher and the
    owner school's admins are told, with the released dates. Once per released set."""
    bookings = sorted((_load(b) for b in series_booking_list), key=lambda b: (b.start, b.pk))
    if not bookings:
        return []
    first = bookings[0]
    context = {
        "resource": first.resource.name,
        "resource_school": first.resource.school.name,
        "occurrences": [format_when(b.start, b.end) for b in bookings],
        "booker": _person(teacher),
    }
    dedupe = f"series-{first.series_id or '-'}-{min(b.pk for b in bookings)}-{len(bookings)}"
    recipients = [teacher, *school_admins(owner_school.pk)]
    return notify(Kind.SERIES_RELEASED, recipients=recipients, booking=first, context=context, dedupe=dedupe)


# --- delivery, sweeping, reminders (the tasks call these) -----------------------------------


def _backoff(attempts: int) -> dt.timedelta:
    # 2, 4, 8, ... minutes: an SMTP outage of hours is outlived within MAX_ATTEMPTS.
    return min(dt.timedelta(minutes=2**attempts), MAX_BACKOFF)


def notification_deliver(*, notification_id: int, now: dt.datetime | None = None) -> str:
    """Send one notification by e-mail, once. Returns 'sent', 'in_app' (opted out or no address),
    'failed' (recorded; the sweeper retries after a back-off) or 'skipped' (sent, or another run
    holds the claim)."""
    now = now or timezone.now()
    # The claim: one conditional UPDATE, so of two concurrent runs only one proceeds.
    claimed = (
        Notification.objects.filter(pk=notification_id, sent_at__isnull=True)
        .filter(Q(sending_at__isnull=True) | Q(sending_at__lt=now - CLAIM_TIMEOUT))
        .update(sending_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    n = Notification.objects.select_related("recipient").get(pk=notification_id)
    render_pending([n])  # a new booking's rows are rendered after its commit
    mine = Notification.objects.filter(pk=n.pk, sending_at=now)
    user = n.recipient
    if not user.email or not user.is_active or n.kind in (preference_for(user).email_opt_out or []):
        mine.update(sent_at=now, emailed=False, sending_at=None, last_error="")
        return "in_app"
    message = EmailMessage(
        subject=n.subject,
        body=n.body,
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated", "X-EduShare-Notification": str(n.pk)},
    )
    ics = n.ics  # rows recorded before the .ics moved to delivery carry it
    if not ics and n.booking_id and n.kind in ICS_KINDS:
        with translation.override(n.language or DEFAULT_LANGUAGE):
            try:
                ics = ics_for_booking(Booking(pk=n.booking_id), now=now)
            except Exception:  # the e-mail matters more than its attachment: send it without
                logger.warning("No .ics for notification %s", n.pk, exc_info=True)
                ics = ""
    if ics:
        message.attach(f"edushare-booking-{n.booking_id or n.pk}.ics", ics, "text/calendar")
    try:
        message.send()
    except Exception as exc:  # SMTP refusals, timeouts, DNS: all retried later
        logger.warning("E-mail for notification %s failed: %s", n.pk, exc)
        mine.update(sending_at=None, last_error=str(exc)[:500] or type(exc).__name__,
                    retry_after=now + _backoff(n.attempts))  # fmt: skip
        return "failed"
    mine.update(sent_at=timezone.now(), emailed=True, sending_at=None, last_error="")
    return "sent"


def notifications_sweep(
    *, now: dt.datetime | None = None, older_than: dt.timedelta = SWEEP_AFTER, limit: int = SWEEP_BATCH
) -> int:
    """Re-enqueue notifications still unsent after `older_than` (the enqueue after commit was lost,
    e.g. Redis was down, or an e-mail failed and its back-off passed). Bounded; safe to overlap."""
    now = now or timezone.now()
    ids = list(
        Notification.objects.filter(
            sent_at__isnull=True, created_at__lt=now - older_than, attempts__lt=MAX_ATTEMPTS
        )
        .filter(Q(sending_at__isnull=True) | Q(sending_at__lt=now - CLAIM_TIMEOUT))
        .filter(Q(retry_after__isnull=True) | Q(retry_after__lte=now))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return 0
    global _broker_down_until
    _broker_down_until = 0.0  # the sweeper always tries the broker itself
    return enqueue_delivery(ids)


def notifications_send_reminders(*, now: dt.datetime | None = None) -> int:
    """booking_reminder to the booker of each approved booking starting tomorrow (Asia/Shanghai),
    once per booking and day. Returns the number of bookings reminded."""
    now = now or timezone.now()
    tomorrow = _local(now).date() + dt.timedelta(days=1)
    bookings = Booking.objects.filter(
        status=BookingStatus.APPROVED,
        start__gte=local_midnight(tomorrow),
        start__lt=local_midnight(tomorrow + dt.timedelta(days=1)),
    ).select_related("resource", "resource__school", "school", "booked_by")
    count = 0
    for booking in bookings:
        notify(
            Kind.BOOKING_REMINDER,
            recipients=[booking.booked_by],
            booking=booking,
            dedupe=tomorrow.isoformat(),
        )
        count += 1
    return count


# --- the in-app side ------------------------------------------------------------------------


def notification_mark_read(
    *, user: User, notification: Notification, now: dt.datetime | None = None
) -> Notification:
    if notification.recipient_id != user.pk:
        raise ValidationError(_("This is not your notification."), code="forbidden")
    if notification.read_at is None:
        notification.read_at = now or timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


def notifications_mark_all_read(*, user: User, now: dt.datetime | None = None) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )


@transaction.atomic
def notification_preferences_update(
    *, user: User, language: str | None = None, email_opt_out: Iterable[str] | None = None
) -> NotificationPreference:
    """Set the language and the kinds sent in the app only. Unknown kinds: code='unknown_kind'."""
    pref = NotificationPreference.objects.select_for_update().filter(
        user=user
    ).first() or NotificationPreference(user=user)
    if language is not None:
        pref.language = language
    if email_opt_out is not None:
        kinds = list(dict.fromkeys(email_opt_out))
        unknown = [k for k in kinds if k not in Kind.values]
        if unknown:
            raise ValidationError(
                {
                    "email_opt_out": ValidationError(
                        _("Unknown notification kinds: %(kinds)s.") % {"kinds": ", ".join(unknown)},
                        code="unknown_kind",
                    )
                }
            )
        pref.email_opt_out = kinds
    pref.full_clean()
    pref.save()
    return pref
