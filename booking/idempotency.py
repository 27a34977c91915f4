"""Idempotency-Key for booking creation: the same key and body within 24 h replays the first
answer and creates nothing; the same key with another body is 409 idempotency_key_reused."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.response import Response

from .models import IdempotencyRecord

TTL = dt.timedelta(hours=24)
MAX_KEY = 100


def _hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(request, handler: Callable[[], Response]) -> Response:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return handler()
    key = key.strip()
    if not key or len(key) > MAX_KEY:
        raise ValidationError(
            _("Idempotency-Key must be 1 to %(max)s characters.") % {"max": MAX_KEY},
            code="invalid_idempotency_key",
        )
    digest = _hash(request.data)
    now = timezone.now()
    existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
    if existing is not None and existing.created_at < now - TTL:
        existing.delete()  # older than a day: the key is free again
        existing = None
    if existing is not None:
        return _replay(existing, digest)
    response = handler()
    if response.status_code < 500:
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    request_hash=digest,
                    status_code=response.status_code,
                    body=json.loads(json.dumps(response.data, default=str)),
                    created_at=now,
                )
        except IntegrityError:
            # A concurrent request with the same key won the race: answer as it did.
            return _replay(IdempotencyRecord.objects.get(user=request.user, key=key), digest)
    return response


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise ValidationError(
            _("This Idempotency-Key was already used with a different request."),
            code="idempotency_key_reused",
        )
    response = Response(record.body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response
