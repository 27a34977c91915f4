#!/usr/bin/env bash
# The embedded demo: SQLite under var/, eager Celery, Harbin demo data, Django's dev server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The demo is always the embedded one, whatever the shell exports.
unset DATABASE_URL REDIS_URL
export DJANGO_SETTINGS_MODULE=config.settings.base DEBUG=true
PORT="${PORT:-8000}"
export SITE_URL="${SITE_URL:-http://127.0.0.1:${PORT}}"  # e-mails link to the booking pass
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py seed_demo
echo
echo "EduShare is starting at http://127.0.0.1:${PORT}/  (admin: /admin/, API docs: /api/docs/)"
echo "Stop it with Ctrl-C."
exec .venv/bin/python manage.py runserver "127.0.0.1:${PORT}"
