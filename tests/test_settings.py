"""The settings' defaults and the production checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_time_zone_and_languages():
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]
    assert "django.middleware.locale.LocaleMiddleware" in settings.MIDDLEWARE
    assert settings.AUTH_USER_MODEL == "schools.User"


def test_embedded_default_is_sqlite_immediate_and_eager_celery():
    result = run_python(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.base'; django.setup();"
        "from django.conf import settings as s; d=s.DATABASES['default'];"
        "print(d['ENGINE'], d['OPTIONS']['transaction_mode'], str(d['NAME']).endswith('var/edushare.sqlite3'),"
        " s.CELERY_TASK_ALWAYS_EAGER, s.LANGUAGE_CODE, s.DEBUG)",
        {},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3",
        "IMMEDIATE",
        "True",
        "True",
        "zh-hans",
        "True",
    ]


def test_redis_url_switches_celery_to_the_broker_and_cache():
    result = run_python(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.base'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.CELERY_TASK_ALWAYS_EAGER, s.CELERY_BROKER_URL, s.CACHES['default']['BACKEND'])",
        {"REDIS_URL": "redis://127.0.0.1:6379/3"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "redis://127.0.0.1:6379/3",
        "django.core.cache.backends.redis.RedisCache",
    ]


def test_production_refuses_to_start_without_secret_key():
    result = run_python(
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.production'; django.setup()",
        {},
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_passes_with_production_values():
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 64 + "-production-like-secret-value-for-the-check",
        "ALLOWED_HOSTS": "edushare.example.org",
    }
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    clean.update(env)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_entry_points_import(module):
    result = run_python(
        f"import {module}",
        {"SECRET_KEY": "s" * 60, "DJANGO_SETTINGS_MODULE": "config.settings.production"},
    )
    assert result.returncode == 0, result.stderr
