"""Web pages of the booking app (signed-in users, session): a booking's pass, which shows the
teacher the check-in code and a QR code of the check-in link; the page that link opens, where the
owner school confirms the teacher's arrival (or the teacher checks in); and the teacher's own
pages to find a free room and book it (`/book/`: once, or the same time every week up to a date, as
a series) and to see and cancel their bookings (`/bookings/`), over the same selectors and services
as the API."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.db.models import Case, F, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from config.exceptions import BUSY_RETRY_AFTER_SECONDS, current_state_error, database_refusal, status_for
from config.throttling import PageRate
from equipment.models import Resource
from equipment.selectors import resource_list_for

from . import rules, selectors, services
from .calendar import local_tz
from .checkin import check_in_path, check_in_qr_svg, check_in_url, token_matches
from .forms import BookForm, CancelForm, SearchForm
from .models import Booking, BookingStatus, Series

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
STEP = dt.timedelta(minutes=15)  # a duration search offers start times this far apart


def _facts(booking: Booking) -> dict:
    tz = local_tz()
    return {
        "booking": booking,
        "local_start": booking.start.astimezone(tz),
        "local_end": booking.end.astimezone(tz),
        "status_label": BookingStatus(booking.status).label,
    }


@never_cache  # the code and the teacher's name must not come back from a shared computer's cache
@login_required
@require_safe
def booking_pass(request: HttpRequest, pk: int) -> HttpResponse:
    """The booker's pass: only the teacher who booked sees it (the code is theirs to show), and only
    while their role may see bookings at all (as the API's QR image)."""
    booking = get_object_or_404(selectors.booking_list_for(request.user), pk=pk, booked_by_id=request.user.pk)
    url = check_in_url(booking, request)
    return render(
        request,
        "booking/pass.html",
        _facts(booking) | {"check_in_url": url, "qr_svg": check_in_qr_svg(url)},
    )


def _may_check_in(user, booking: Booking) -> bool:
    # As services.booking_check_in decides: the booker, or the resource's school admins with the code.
    return booking.booked_by_id == user.pk or user.administers(booking.resource.school_id)


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def check_in_page(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    """What the pass's QR code opens. Someone who may not see the booking, or a link whose token is
    not the booking's, finds nothing here (404), as in the API."""
    booking = selectors.booking_list_for(request.user).filter(pk=pk).first()
    if booking is None or not token_matches(booking, token):
        raise Http404
    error, status = None, 200
    if request.method == "POST":
        if not _may_check_in(request.user, booking):
            error, status = _("Only the teacher who booked, or the resource's school, can check in."), 403
        else:
            try:
                with _database_refusals(_("Nothing was changed.")):
                    services.booking_check_in(actor=request.user, booking=booking, code=booking.check_in_code)
            except ValidationError as exc:
                # A rule or the booking's state refused: 409; the database too busy: 503.
                error, status = " ".join(exc.messages), 503 if _status_for(exc) == 503 else 409
            else:
                messages.success(request, _("Arrival confirmed."))
                return redirect(check_in_path(booking))  # a reload does not post again
        booking.refresh_from_db()  # as it is now, whatever the attempt met
    opens = None
    if booking.status == BookingStatus.APPROVED and _may_check_in(request.user, booking):
        try:
            rules.check_check_in_window(booking.start, booking.end, timezone.now())
        except ValidationError as exc:
            opens = " ".join(exc.messages)
    context = _facts(booking) | {
        "code": booking.check_in_code,
        "error": error,
        "not_yet": opens,
        "can_confirm": booking.status == BookingStatus.APPROVED
        and _may_check_in(request.user, booking)
        and opens is None,
        "checked_in_at": booking.checked_in_at.astimezone(local_tz()) if booking.checked_in_at else None,
    }
    return _busy(render(request, "booking/check_in.html", context, status=status))


# --- find a free room and book it --------------------------------------------------------------


def _books(user) -> bool:
    """Who books (booking.services._may_book): teachers and school admins, for their own school."""
    return (user.is_teacher or user.is_school_admin) and user.school_id is not None


def _not_allowed(request: HttpRequest) -> HttpResponse:
    message = _("Only teachers and school administrators book, for their own school.")
    return render(request, "booking/not_allowed.html", {"message": message}, status=403)


def _throttled(request: HttpRequest, scope: str) -> int | None:
    """None when the user may go on; else the seconds to wait. The API's per-user limits: `search`
    (every page of a broad search computes the whole answer; one budget with the API's search) and
    `booking_write`."""
    return PageRate(scope).wait_seconds(request)


def _too_many(response: HttpResponse, wait: int) -> HttpResponse:
    response["Retry-After"] = str(wait)
    return response


def _busy(response: HttpResponse) -> HttpResponse:
    """A 503 (the database busy, nothing decided) says when to try again, as the API's does."""
    if response.status_code == 503 and not response.has_header("Retry-After"):
        response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


def _too_many_writes(wait: int) -> str:
    return _("Too many booking requests at once. Try again in %(seconds)d seconds.") % {"seconds": wait}


def _error_codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code or "invalid" for errors in exc.error_dict.values() for e in errors}
    return {e.code or "invalid" for e in exc.error_list}


def _status_for(exc: ValidationError) -> int:
    # As the API's handler (config.exceptions): busy 503, forbidden 403, conflict 409, else 400.
    return status_for(_error_codes(exc))


@contextmanager
def _database_refusals(undone: str) -> Iterator[None]:
    """What the database refused, or what changed under the request, as a ValidationError that the
    page shows as it shows a broken rule: a database error as the API answers it
    (config.exceptions.database_refusal: a constraint the services did not foresee, a statement
    timeout), or a row the service read deleted meanwhile, after the page's own checks. Followed by
    `undone`, what did not happen: the services write in one transaction, so nothing of the request
    was written. Any other database error is a fault: still a 500."""
    try:
        yield
    except Resource.DoesNotExist:
        # Deleted after the page found it, before the service read (and locked) it: the answer the
        # page gives a moment later.
        raise ValidationError(_("That resource was not found."), code="not_found") from None
    except ObjectDoesNotExist as exc:
        # Another row the write needs (the teacher's account...): as its foreign key refuses.
        logger.info("A row deleted under the request mapped to 409: %s", exc)
        refused = current_state_error()
        raise ValidationError([refused, ValidationError(undone, code=refused.code)]) from exc
    except DatabaseError as exc:
        refused = database_refusal(exc)
        if refused is None:
            raise
        raise ValidationError([refused, ValidationError(undone, code=refused.code)]) from exc


def _start_times(start: dt.datetime, end: dt.datetime, minutes: int) -> list[dt.datetime]:
    """Where a booking of `minutes` may start inside the free interval [start, end): the interval's
    own start, then every quarter hour of the clock, while start + minutes <= end."""
    need = dt.timedelta(minutes=minutes)
    times = [start] if start + need <= end else []
    quarter = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0) + STEP
    while quarter + need <= end:
        times.append(quarter)
        quarter += STEP
    return times


def _row(result, form: SearchForm) -> dict:
    tz = local_tz()
    start, end = result.start.astimezone(tz), result.end.astimezone(tz)
    resource = result.resource
    school_name = getattr(resource, "school_name", None) or resource.school.name
    row = {
        "resource_id": resource.pk,
        "resource_name": resource.name,
        "school_name": school_name,
        "start": start,
        "end": end,
        "travel_minutes": result.travel_minutes,
        "date": start.date().isoformat(),
        "repeat_min": (start.date() + dt.timedelta(days=1)).isoformat(),  # "repeat weekly until"
    }
    duration = form.cleaned_data.get("duration")
    if duration:
        row["starts"] = [(t.isoformat(), t) for t in _start_times(start, end, duration)]
    return row


def _search(request: HttpRequest, form: SearchForm) -> tuple[dict, int]:
    """The results page the form asks for (50 rows), from the API's selector: on PostgreSQL the
    count and this page come from one statement (search_sql.SearchResults.expect_page)."""
    wait = _throttled(request, "search")
    if wait is not None:
        message = _("Too many searches. Try again in %(seconds)d seconds.") % {"seconds": wait}
        return {"search_error": message, "retry_after": wait}, 429
    data = form.cleaned_data
    periods = None
    if data["periods"]:
        first, _sep, last = data["periods"].partition("-")
        periods = (int(first), int(last or first))
    query = selectors.SearchQuery(
        date_from=data["date_from"],
        date_to=data["date_to"],
        kind=data["kind"],
        subject=data["subject"] or None,
        duration=data["duration"],
        periods=periods,
        capacity_min=data["class_size"],
        near_school=request.user.school if data["near"] else None,
        max_travel_minutes=data["max_travel_minutes"] if data["near"] else None,
    )
    results = selectors.availability_search(user=request.user, query=query, now=timezone.now())
    number = request.GET.get("page", 1)
    if hasattr(results, "expect_page"):
        results.expect_page(PAGE_SIZE, number)
    try:
        page = Paginator(results, PAGE_SIZE).get_page(number)
        rows = [_row(result, form) for result in page.object_list]
    except DatabaseError as exc:
        # As the API answers (config.exceptions.database_refusal): the search ran past
        # SEARCH_STATEMENT_TIMEOUT_MS, 503 busy with Retry-After (_find_page); nothing changed.
        refused = database_refusal(exc)
        if refused is None:
            raise
        return {"search_error": " ".join(refused.messages)}, _status_for(refused)
    query_string = request.GET.copy()
    query_string.pop("page", None)
    context = {
        "page": page,
        "rows": rows,
        "query_string": query_string.urlencode(),
        "periods": data["periods"],
        "duration": data["duration"],
        "class_size": data["class_size"],
        "show_travel": data["near"],
    }
    return context, 200


def _find_page(
    request: HttpRequest,
    *,
    errors: list[str] | None = None,
    status: int = 200,
    retry_after: int | None = None,
) -> HttpResponse:
    """The search page: the form, and the results when the query string holds a search (after a
    refused booking too: the rows' forms post to the page's own address, query string included)."""
    school = request.user.school
    context = {"errors": errors or [], "searched": False, "action_query": request.GET.urlencode()}
    if request.GET:
        form = SearchForm(request.GET, school=school)
        if form.is_valid():
            found, found_status = _search(request, form)
            context |= found | {"searched": True}
            if found_status != 200:
                status = found_status
        elif status == 200:
            status = 400
    else:
        form = SearchForm(school=school)
    context["form"] = form
    response = render(request, "booking/find.html", context, status=status)
    wait = context.get("retry_after", retry_after)
    return _too_many(response, wait) if wait is not None else _busy(response)


@login_required
@require_http_methods(["GET", "POST"])
def find_and_book(request: HttpRequest) -> HttpResponse:
    """GET: find a free room (the city search). POST: book one of the results."""
    if not _books(request.user):
        return _not_allowed(request)
    if request.method == "GET":
        return _find_page(request)
    wait = _throttled(request, "booking_write")
    if wait is not None:
        message = _too_many_writes(wait)
        return _find_page(request, errors=[message], status=429, retry_after=wait)
    form = BookForm(request.POST)
    if not form.is_valid():
        errors = [
            f"{form.fields[name].label or name}: {message}" if name != "__all__" else message
            for name, messages_ in form.errors.items()
            for message in messages_
        ]
        return _find_page(request, errors=errors, status=400)
    data = form.cleaned_data
    # Only whether the caller may see it, as the API's serializer asks (another school's private
    # resource is not there: it answers exactly as one that does not exist).
    resource = (
        resource_list_for(request.user)
        .select_related(None)
        .prefetch_related(None)
        .select_related("school")
        .filter(pk=data["resource"])
        .first()
    )
    if resource is None:
        return _find_page(request, errors=[_("That resource was not found.")], status=400)
    try:
        with _database_refusals(_("Nothing was booked.")):
            asked = services.time_request(
                resource=resource,
                start=data["start"],
                end=data["end"],
                date=data["date"],
                periods=data["periods"],
            )
            start, end, periods = asked.start, asked.end, asked.periods
            if data["repeat_until"]:
                return _book_weekly(request, form, resource=resource, start=start, end=end, periods=periods)
            booking = services.booking_create(
                actor=request.user,
                resource=resource,
                start=start,
                end=end,
                class_size=data["class_size"],
                purpose=data["purpose"],
                periods=periods,
            )
    except ValidationError as exc:
        return _find_page(request, errors=exc.messages, status=_status_for(exc))
    tz = local_tz()
    facts = {
        "resource": resource.name,
        "date": booking.start.astimezone(tz).strftime("%Y-%m-%d"),
        "start": booking.start.astimezone(tz).strftime("%H:%M"),
        "end": booking.end.astimezone(tz).strftime("%H:%M"),
    }
    if booking.status == BookingStatus.PENDING:
        messages.success(
            request,
            _(
                "Requested %(resource)s on %(date)s, %(start)s to %(end)s: pending approval by the "
                "resource's school. You will be told when it decides."
            )
            % facts,
        )
    else:
        message = _("Booked %(resource)s on %(date)s, %(start)s to %(end)s: confirmed.")
        messages.success(request, message % facts)
    return redirect("booking-pass", pk=booking.pk)


def _weekly_rule(until: dt.date) -> str:
    """Every week up to and including `until` (Harbin's calendar). UNTIL as a bare date would be read
    as that day's midnight, leaving out an occurrence on the day itself: the end of that day in
    Harbin, written in UTC as RFC 5545 asks (booking.recurrence reads it back in local time)."""
    last = dt.datetime.combine(until, dt.time(23, 59, 59), tzinfo=local_tz()).astimezone(dt.UTC)
    return f"FREQ=WEEKLY;UNTIL={last:%Y%m%dT%H%M%SZ}"


def _not_booked(occurrence) -> str:
    """One occurrence left out of a weekly booking, with its reason (a holiday, a closure, taken...)."""
    tz = local_tz()
    start, end = occurrence.start.astimezone(tz), occurrence.end.astimezone(tz)
    return _("Not booked: %(date)s, %(start)s to %(end)s. %(reason)s") % {
        "date": dateformat.format(start, "Y-m-d l"),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "reason": occurrence.detail,
    }


def _book_weekly(
    request: HttpRequest, form: BookForm, *, resource, start: dt.datetime, end: dt.datetime, periods: str
) -> HttpResponse:
    """The row's time every week up to the form's date, as one series (POST /api/v1/series/ with
    mode skip_conflicts): the free occurrences are booked, the others reported with their reason on
    My bookings; none booked is the find page with every reason, 409, nothing written."""
    data = form.cleaned_data
    try:
        result = services.series_create(
            actor=request.user,
            resource=resource,
            first_start=start,
            first_end=end,
            rrule_text=_weekly_rule(data["repeat_until"]),
            class_size=data["class_size"],
            purpose=data["purpose"],
            periods=periods,
            mode=Series.Mode.SKIP_CONFLICTS,
        )
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        # The rule's errors (too many occurrences...) are about the form's "repeat weekly until".
        label = form.fields["repeat_until"].label
        errors = [
            f"{label}: {message}" if name == "rrule" else message
            for name, messages_ in exc.message_dict.items()
            for message in messages_
        ]
        return _find_page(request, errors=errors, status=_status_for(exc))
    missed = [occurrence for occurrence in result.occurrences if occurrence.booking is None]
    if result.series is None:
        # Nothing was booked (and nothing written): every occurrence's reason.
        errors = [_("No occurrence was booked.")] + [_not_booked(occurrence) for occurrence in missed]
        return _find_page(request, errors=errors, status=409)
    tz = local_tz()
    facts = {
        "resource": resource.name,
        "start": start.astimezone(tz).strftime("%H:%M"),
        "end": end.astimezone(tz).strftime("%H:%M"),
        "booked": len(result.occurrences) - len(missed),
        "skipped": len(missed),
    }
    if Booking.objects.filter(series=result.series, status=BookingStatus.PENDING).exists():
        message = _(
            "Weekly booking of %(resource)s, %(start)s to %(end)s: %(booked)d requested, pending "
            "approval by the resource's school; %(skipped)d not booked."
        )
    else:
        message = _(
            "Weekly booking of %(resource)s, %(start)s to %(end)s: %(booked)d booked, confirmed; "
            "%(skipped)d not booked."
        )
    messages.success(request, message % facts)
    for occurrence in missed:
        messages.warning(request, _not_booked(occurrence), extra_tags="not-booked")
    return redirect("my-bookings")


# --- my bookings -------------------------------------------------------------------------------

CANCELLABLE = (BookingStatus.PENDING, BookingStatus.APPROVED, BookingStatus.HELD)


def _my_bookings_page(request: HttpRequest, *, error: str | None = None, status: int = 200) -> HttpResponse:
    now = timezone.now()
    bookings = (
        Booking.objects.filter(booked_by_id=request.user.pk)
        .select_related("resource__school")
        # Upcoming (not yet over) first, soonest first; then the past, most recent first.
        .annotate(upcoming_start=Case(When(end__gt=now, then=F("start"))))
        .order_by(F("upcoming_start").asc(nulls_last=True), "-start", "-pk")
    )
    page = Paginator(bookings, PAGE_SIZE).get_page(request.GET.get("page", 1))
    tz = local_tz()
    rows = [
        {
            "booking": booking,
            "local_start": booking.start.astimezone(tz),
            "local_end": booking.end.astimezone(tz),
            "status_label": BookingStatus(booking.status).label,
            "cancellable": booking.status in CANCELLABLE and booking.start > now,
            "upcoming": booking.end > now,
        }
        for booking in page.object_list
    ]
    context = {"page": page, "rows": rows, "error": error}
    return _busy(render(request, "booking/my_bookings.html", context, status=status))


@login_required
@require_http_methods(["GET"])
def my_bookings(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own bookings (booked by them), with their passes and a Cancel button."""
    return _my_bookings_page(request)


@login_required
@require_POST
def my_booking_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel one of one's own bookings; anyone else's is not found here (404)."""
    booking = get_object_or_404(
        Booking.objects.select_related("resource"), pk=pk, booked_by_id=request.user.pk
    )
    wait = _throttled(request, "booking_write")
    if wait is not None:
        message = _too_many_writes(wait)
        return _too_many(_my_bookings_page(request, error=message, status=429), wait)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _my_bookings_page(request, error=" ".join(form.errors["reason"]), status=400)
    try:
        with _database_refusals(_("Nothing was changed.")):
            services.booking_cancel(actor=request.user, booking=booking, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        return _my_bookings_page(request, error=" ".join(exc.messages), status=_status_for(exc))
    messages.success(request, _("Booking of %(resource)s cancelled.") % {"resource": booking.resource.name})
    return redirect(reverse("my-bookings"))
