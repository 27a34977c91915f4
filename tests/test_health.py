import pytest
from django.db import connection

from config import health


@pytest.mark.django_db
def test_healthz_reports_database_broker_and_worker(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "up"
    assert body["database"]["vendor"] == connection.vendor
    if settings.REDIS_URL:
        assert body["broker"]["status"] == "up"
        assert body["worker"]["status"] in {"up", "down"}
    else:
        assert body["broker"]["status"] == "eager"
        assert body["worker"]["status"] == "eager"


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["status"] == "down"


@pytest.mark.django_db
def test_healthz_reports_a_broker_that_does_not_answer(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    body = client.get("/healthz").json()
    assert body["broker"]["status"] == "down"
    assert body["worker"]["status"] == "unknown"
    assert body["status"] == "ok"  # the site stays up: bookings still commit


@pytest.mark.django_db
def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
