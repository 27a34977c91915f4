"""The Celery app. Settings live in Django settings under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("edushare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="edushare.ping")
def ping() -> str:
    """Answered by any live worker; /healthz uses the control ping, this is for smoke tests."""
    return "pong"
