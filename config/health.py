"""/healthz: 200 while the web process and the database answer, 503 when the database does not.

Broker and worker states are reported, not required: bookings still commit with Redis down
(the notification outbox catches up), so a dead broker must not take the site out of a
load balancer.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return {"status": "down", "error": exc.__class__.__name__}
    return {
        "status": "up",
        "vendor": connection.vendor,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


def _check_broker() -> dict:
    if not settings.REDIS_URL:
        return {"status": "eager", "detail": "no REDIS_URL: tasks run in-process"}
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
    except redis.RedisError as exc:
        return {"status": "down", "error": exc.__class__.__name__}
    return {"status": "up"}


def _check_worker(broker_up: bool) -> dict:
    if not settings.REDIS_URL:
        return {"status": "eager"}
    if not broker_up:
        return {"status": "unknown"}
    from config.celery import app

    try:
        replies = app.control.ping(timeout=0.5) or []
    except Exception as exc:  # kombu raises several transport-specific errors
        return {"status": "unknown", "error": exc.__class__.__name__}
    names = sorted(name for reply in replies for name in reply)
    return {"status": "up" if names else "down", "workers": len(names)}


@never_cache
@require_GET
def healthz(request):
    database = _check_database()
    broker = _check_broker()
    worker = _check_worker(broker["status"] == "up")
    ok = database["status"] == "up"
    body = {
        "status": "ok" if ok else "error",
        "database": database,
        "broker": broker,
        "worker": worker,
    }
    return JsonResponse(body, status=200 if ok else 503)
