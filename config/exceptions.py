"""One error type crosses the layers: services raise Django's ValidationError with a stable
code; this handler turns it into the API's 400 (or 409 for conflicts with the current state).
A database error that is the request's lot rather than a fault (a constraint behind the services'
own checks, a statement timeout) is mapped to such an error first, in one place
(database_refusal), which the web pages use too."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from config.db import sqlstate

logger = logging.getLogger(__name__)

# Codes that mean "the request is fine but the world has moved": 409, not 400.
CONFLICT_CODES = frozenset(
    {
        "conflict",
        "invalid_transition",
        "idempotency_key_reused",
        "stale",
        "in_use",
    }
)

# A service's own permission check ("you may not do this here") is a 403.
FORBIDDEN_CODES = frozenset({"forbidden"})

# The database kept refusing for contention (deadlocks, serialization failures) through every
# retry: nothing was decided about the request, so it may simply be sent again (503 + Retry-After).
BUSY_CODES = frozenset({"busy"})
BUSY_RETRY_AFTER_SECONDS = 1
QUERY_CANCELED = "57014"  # PostgreSQL: statement_timeout reached


def busy_error() -> DjangoValidationError:
    # Not "taken": contention or a timeout, and nothing was decided (503, try again).
    return DjangoValidationError(_("The booking system is busy; please try again in a moment."), code="busy")


def current_state_error() -> DjangoValidationError:
    # The data changed under the request (a constraint, a row deleted meanwhile): 409.
    return DjangoValidationError(
        _("The request conflicts with the current state of the data."), code="conflict"
    )


def database_refusal(exc: DatabaseError) -> DjangoValidationError | None:
    """The answer a database error gets, as the ValidationError a service would have raised (its
    code gives the status, status_for), or None for a server fault (500). Every service writes in
    one transaction, so whatever it mapped left nothing written.

    A statement past its statement_timeout (the city search sets one; a lock waited on too long)
    is `busy`: nothing was decided, the same request may succeed later (503). An integrity error
    (a constraint the services' own checks did not foresee, a row deleted under the request: a
    foreign key) is a `conflict` with the current state of the data (409)."""
    if isinstance(exc, OperationalError) and sqlstate(exc) == QUERY_CANCELED:
        logger.warning("Statement timeout mapped to 503: %s", exc)
        return busy_error()
    if isinstance(exc, IntegrityError):
        # The database constraint is the last guard behind the services' own checks.
        logger.info("Integrity error mapped to 409: %s", exc)
        return current_state_error()
    return None


def status_for(codes: set[str]) -> int:
    if codes & BUSY_CODES:
        return status.HTTP_503_SERVICE_UNAVAILABLE
    if codes & FORBIDDEN_CODES:
        return status.HTTP_403_FORBIDDEN
    if codes & CONFLICT_CODES:
        return status.HTTP_409_CONFLICT
    return status.HTTP_400_BAD_REQUEST


def _first_code(error: DjangoValidationError) -> str:
    for item in error.error_list if not hasattr(error, "error_dict") else []:
        if item.code:
            return item.code
    return "invalid"


def validation_error_body(error: DjangoValidationError) -> tuple[dict, int]:
    """Body and status for a Django ValidationError raised by a service or a rule."""
    if hasattr(error, "error_dict"):
        body = {
            field: [str(msg) for e in errs for msg in e.messages] for field, errs in error.error_dict.items()
        }
        codes = sorted({e.code or "invalid" for errs in error.error_dict.values() for e in errs})
        if "__all__" in body:
            body["non_field_errors"] = body.pop("__all__")
        return body, status_for(set(codes))
    code = _first_code(error)
    messages = [str(m) for m in error.messages]
    body = {"detail": messages[0] if messages else _("Invalid request."), "code": code}
    if len(error.error_list) > 1:
        body["errors"] = [
            {"code": e.code or "invalid", "detail": str(e.message % (e.params or {}))}
            for e in error.error_list
        ]
    return body, status_for({code})


def _encodable(data):
    """`data` with its lone surrogates replaced by "?". A JSON string may escape one ("\\ud800"),
    and an error body may quote the client's value back ('"\\ud800" is not a valid choice.'),
    which cannot be written as UTF-8: the 400 would become a 500 while being rendered."""
    if isinstance(data, str):
        try:
            data.encode()
        except UnicodeEncodeError:
            fixed = data.encode("utf-8", "replace").decode()
            if isinstance(data, exceptions.ErrorDetail):
                return exceptions.ErrorDetail(fixed, data.code)
            return fixed
        return data
    if isinstance(data, dict):
        return {_encodable(key): _encodable(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_encodable(value) for value in data]
    return data


def api_exception_handler(exc, context):
    response = _exception_response(exc, context)
    if response is not None:
        response.data = _encodable(response.data)
    return response


def _exception_response(exc, context):
    if isinstance(exc, DatabaseError):
        exc = database_refusal(exc) or exc
    if isinstance(exc, DjangoValidationError):
        body, status_code = validation_error_body(exc)
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)} if status_code == 503 else None
        return Response(body, status=status_code, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.APIException) and isinstance(data, dict) and "code" not in data:
        codes = exc.get_codes()
        if "detail" in data:
            data["code"] = codes if isinstance(codes, str) else "invalid"
    return response
