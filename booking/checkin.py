"""The check-in link and its QR code: the booker's pass shows them (web page and API), the owner
school scans or opens the link to confirm the teacher's arrival (booking.views.check_in_page)."""

from __future__ import annotations

import functools
import io

import segno
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from .models import Booking

# The link carries a token, not the six-character code: whoever may see a booking (every teacher
# of the booking school, for one) could otherwise try the 16.7 million codes on the page. The
# token is an HMAC of the id and the code under SECRET_KEY, 80 bits; the code stays for saying
# aloud and for the API's check-in, which is throttled.
TOKEN_LENGTH = 20


def check_in_token(booking: Booking) -> str:
    return salted_hmac("edushare.booking.check-in", f"{booking.pk}:{booking.check_in_code}").hexdigest()[
        :TOKEN_LENGTH
    ]


def token_matches(booking: Booking, token: str) -> bool:
    return constant_time_compare(token.lower(), check_in_token(booking))


# Stand-ins for a booking's id and token, to resolve each URL pattern once (per script prefix):
# every booking answer of the API carries both links, and reverse() cost as much CPU as the rest
# of writing the answer (docs/benchmarks.md, booking over HTTP).
_PK, _TOKEN = 918273645, "facade" * 3 + "00"


@functools.lru_cache(maxsize=8)
def _around(name: str, marker: str, prefix: str) -> tuple[str, str]:
    """What comes before and after `marker` in the URL `name` resolves to (`prefix` keys the cache:
    the script prefix is part of every URL)."""
    args = [_PK, _TOKEN] if marker.count("/") == 3 else [_PK]
    head, found, tail = reverse(name, args=args).rpartition(marker)
    if not found:
        raise ImproperlyConfigured(f"{name} does not end in the booking's id")
    return head, tail


def check_in_path(booking: Booking) -> str:
    head, tail = _around("booking-check-in-page", f"/{_PK}/{_TOKEN}/", get_script_prefix())
    return f"{head}/{booking.pk}/{check_in_token(booking)}/{tail}"


def pass_path(booking: Booking) -> str:
    head, tail = _around("booking-pass", f"/{_PK}/", get_script_prefix())
    return f"{head}/{booking.pk}/{tail}"


def absolute(path: str, request: HttpRequest | None) -> str:
    """Absolute when there is a request to say where we are (a QR code needs the host)."""
    return request.build_absolute_uri(path) if request is not None else path


def check_in_url(booking: Booking, request: HttpRequest | None) -> str:
    return absolute(check_in_path(booking), request)


def pass_url(booking: Booking, request: HttpRequest | None) -> str:
    return absolute(pass_path(booking), request)


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
