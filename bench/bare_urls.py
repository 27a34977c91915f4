"""config.urls plus `bench/bare/`: the least a booking POST can do, as the HTTP benchmark's limit.

One INSERT ... SELECT through connection.cursor() (autocommit: its own transaction) that also
authenticates the token and fills school and booker: no DRF, no serializer, no rules, no lock,
no overlap query, no history row. The exclusion constraint still decides: 23P01 -> 409, a
deadlock (40P01) is retried. It answers 201 {"id"}, 401 for an unknown token.

`bench/bare-prepared/` is the same INSERT as a server-side prepared statement (config.db.fetch_prepared,
as the booking path's own statements and the token lookup are): PostgreSQL then plans it once per
connection instead of for every request.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets

from django.db import IntegrityError, OperationalError, connection
from django.http import HttpResponseNotAllowed, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as app_urlpatterns

INSERT = """
INSERT INTO booking_booking (resource_id, school_id, booked_by_id, start, "end", block_start, block_end,
    class_size, purpose, status, periods, is_external, check_in_code, created_at, updated_at)
SELECT r.id, u.school_id, u.id, %(start)s, %(end)s, %(start)s, %(end)s, %(class_size)s, %(purpose)s,
       'approved', '', u.school_id IS DISTINCT FROM r.school_id, %(code)s, now(), now()
FROM authtoken_token t
JOIN schools_user u ON u.id = t.user_id AND u.is_active
JOIN equipment_resource r ON r.id = %(resource)s
WHERE t.key = %(key)s
RETURNING booking_booking.id
"""


def _sqlstate(exc: BaseException) -> str | None:
    return getattr(exc.__cause__, "sqlstate", None)


_NAMES = re.findall(r"%\((\w+)\)s", INSERT)
INSERT_POSITIONAL = re.sub(r"%\((\w+)\)s", "%s", INSERT)


def _run(params: dict, prepared: bool):
    if prepared:
        from config.db import fetch_prepared  # here: bench/bare/ also runs on code from before it

        rows = fetch_prepared(INSERT_POSITIONAL, [params[name] for name in _NAMES])
        return rows[0] if rows else None
    with connection.cursor() as cursor:
        cursor.execute(INSERT, params)
        return cursor.fetchone()


@csrf_exempt
def bare_booking(request, prepared: bool = False):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    auth = request.headers.get("Authorization", "")
    data = json.loads(request.body)
    params = {
        "key": auth[6:] if auth.startswith("Token ") else "",
        "resource": int(data["resource"]),
        "start": dt.datetime.fromisoformat(data["start"]),
        "end": dt.datetime.fromisoformat(data["end"]),
        "class_size": int(data["class_size"]),
        "purpose": str(data.get("purpose", ""))[:500],
        "code": secrets.token_hex(3).upper(),
    }
    for _attempt in range(5):
        try:
            row = _run(params, prepared)
            break
        except IntegrityError as exc:
            if _sqlstate(exc) == "23P01":
                return JsonResponse({"code": "conflict"}, status=409)
            raise
        except OperationalError as exc:
            if _sqlstate(exc) != "40P01":
                raise
    else:
        return JsonResponse({"code": "conflict"}, status=409)
    if row is None:
        return JsonResponse({"code": "not_authenticated"}, status=401)
    return JsonResponse({"id": row[0]}, status=201)


urlpatterns = [
    path("bench/bare/", bare_booking, name="bench-bare"),
    path("bench/bare-prepared/", bare_booking, {"prepared": True}, name="bench-bare-prepared"),
    *app_urlpatterns,
]
