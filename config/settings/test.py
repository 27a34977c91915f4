"""Tests: the same settings as base, made fast and deterministic.

The database and Redis come from DATABASE_URL / REDIS_URL exactly as in production;
scripts/test.sh chooses them (PostgreSQL + Redis when reachable, else SQLite + eager Celery).
"""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Throttling is tested explicitly with overridden rates; keep it out of the way elsewhere.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {  # noqa: F405
    "booking_write": "10000/min",
    "auth": "10000/min",
    "search": "10000/min",
}
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
