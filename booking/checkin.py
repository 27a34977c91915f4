"""The check-in link and its QR code: the booker's pass shows them (web page and API), the owner
school scans or opens the link to confirm the teacher's arrival (booking.views.check_in_page)."""

from __future__ import annotations

import io

import segno
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from .models import Booking


def check_in_path(booking: Booking) -> str:
    return reverse("booking-check-in-page", args=[booking.pk, booking.check_in_code])


def absolute(path: str, request: HttpRequest | None) -> str:
    """Absolute when there is a request to say where we are (a QR code needs the host)."""
    return request.build_absolute_uri(path) if request is not None else path


def check_in_url(booking: Booking, request: HttpRequest | None) -> str:
    return absolute(check_in_path(booking), request)


def pass_url(booking: Booking, request: HttpRequest | None) -> str:
    return absolute(reverse("booking-pass", args=[booking.pk]), request)


def _qr(url: str) -> segno.QRCode:
    # Error correction M: still readable from a scratched phone screen or a crumpled print-out.
    return segno.make(url, error="m")


def check_in_qr_svg(url: str) -> str:
    """For inside an HTML page."""
    return _qr(url).svg_inline(scale=6, border=2, title=_("Check-in QR code"))


def check_in_qr_svg_file(url: str) -> bytes:
    """A standalone SVG document (the API's image)."""
    out = io.BytesIO()
    _qr(url).save(out, kind="svg", scale=6, border=2, title=_("Check-in QR code"), xmldecl=True)
    return out.getvalue()
