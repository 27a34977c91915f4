import os

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests.factories import DistrictFactory, SchoolFactory, UserFactory

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
HAS_REDIS = bool(settings.REDIS_URL)


def pytest_report_header(config):
    db = "PostgreSQL" if ON_POSTGRES else "SQLite"
    broker = f"Redis {settings.REDIS_URL}" if HAS_REDIS else "none (eager Celery)"
    return [f"EduShare test database: {db}; broker: {broker}"]


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (running on SQLite)")
    skip_redis = pytest.mark.skip(reason="needs Redis and a real Celery worker")
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not HAS_REDIS:
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _eager_celery_by_default(settings):
    # Unit tests run tasks in-process even when Redis is there; tests/integration start a
    # real worker and switch this off for themselves.
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _english_by_default(settings):
    # Messages are asserted in English unless a test asks for Chinese explicitly.
    settings.LANGUAGE_CODE = "en"
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def api():
    """An unauthenticated API client; use api.force_authenticate(user) or the role fixtures."""
    return APIClient()


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def urban_district(db):
    return DistrictFactory(kind="urban", zone="core")


@pytest.fixture
def county_district(db):
    return DistrictFactory(kind="county", zone="linkage")


@pytest.fixture
def urban_school(urban_district):
    return SchoolFactory(district=urban_district)


@pytest.fixture
def county_school(county_district):
    return SchoolFactory(district=county_district)


@pytest.fixture
def centre_admin(db):
    return UserFactory(role="centre_admin", school=None)


@pytest.fixture
def analyst(db):
    return UserFactory(role="analyst", school=None)


@pytest.fixture
def urban_admin(urban_school):
    return UserFactory(role="school_admin", school=urban_school)


@pytest.fixture
def urban_teacher(urban_school):
    return UserFactory(role="teacher", school=urban_school)


@pytest.fixture
def county_admin(county_school):
    return UserFactory(role="school_admin", school=county_school)


@pytest.fixture
def county_teacher(county_school):
    return UserFactory(role="teacher", school=county_school)


os.environ.setdefault("EDUSHARE_TESTING", "1")
