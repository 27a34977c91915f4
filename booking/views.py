"""Web pages of the booking app (signed-in users, session): a booking's pass, which shows the
teacher the check-in code and a QR code of the check-in link; and the page that link opens,
where the owner school confirms the teacher's arrival (or the teacher checks in)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import rules, selectors, services
from .calendar import local_tz
from .checkin import check_in_path, check_in_qr_svg, check_in_url
from .models import Booking, BookingStatus


def _facts(booking: Booking) -> dict:
    tz = local_tz()
    return {
        "booking": booking,
        "local_start": booking.start.astimezone(tz),
        "local_end": booking.end.astimezone(tz),
        "status_label": BookingStatus(booking.status).label,
    }


@login_required
def booking_pass(request: HttpRequest, pk: int) -> HttpResponse:
    """The booker's pass: only the teacher who booked sees it (the code is theirs to show)."""
    booking = get_object_or_404(
        Booking.objects.select_related("resource__school", "school"), pk=pk, booked_by_id=request.user.pk
    )
    url = check_in_url(booking, request)
    return render(
        request,
        "booking/pass.html",
        _facts(booking) | {"check_in_url": url, "qr_svg": check_in_qr_svg(url)},
    )


def _may_check_in(user, booking: Booking) -> bool:
    # As services.booking_check_in decides: the booker, or the resource's school admins with the code.
    return booking.booked_by_id == user.pk or user.administers(booking.resource.school_id)


@login_required
@require_http_methods(["GET", "POST"])
def check_in_page(request: HttpRequest, pk: int, code: str) -> HttpResponse:
    """What the pass's QR code opens. Someone who may not see the booking, or a link whose code is
    not the booking's, finds nothing here (404), as in the API."""
    booking = selectors.booking_list_for(request.user).filter(pk=pk).first()
    if booking is None or not constant_time_compare(code.upper(), booking.check_in_code):
        raise Http404
    error, status = None, 200
    if request.method == "POST":
        if not _may_check_in(request.user, booking):
            error, status = _("Only the teacher who booked, or the resource's school, can check in."), 403
        else:
            try:
                services.booking_check_in(actor=request.user, booking=booking, code=booking.check_in_code)
            except ValidationError as exc:
                error, status = " ".join(exc.messages), 409
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
    return render(request, "booking/check_in.html", context, status=status)
