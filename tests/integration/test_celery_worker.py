"""A real Celery worker on Redis: tasks leave the web process and come back."""

import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping for the ping check)
import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app, ping

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker():
    app.conf.task_always_eager = False
    with start_worker(
        app, pool="threads", concurrency=1, perform_ping_check=True, shutdown_timeout=10, loglevel="WARNING"
    ) as w:
        yield w


def test_a_task_runs_on_the_real_worker(worker):
    result = ping.delay()
    assert result.get(timeout=20) == "pong"


def test_healthz_sees_the_worker(worker, client):
    body = client.get("/healthz").json()
    assert body["broker"]["status"] == "up"
    assert body["worker"]["status"] == "up"
    assert body["worker"]["workers"] >= 1
