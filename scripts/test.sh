#!/usr/bin/env bash
# Run the whole test suite.
#   PostgreSQL + Redis when both are reachable (CI always has them), else SQLite + eager Celery.
#   EDUSHARE_REQUIRE_SERVICES=1  fail instead of falling back to SQLite (CI sets it).
#   EDUSHARE_TEST_DB=sqlite      force the embedded mode (CI runs the suite this way too).
#   TEST_DATABASE_URL / TEST_REDIS_URL override where the services are.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/schools -k periods
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh

PG_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/edushare}"
RD_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

reachable() {
  .venv/bin/python - "$PG_URL" "$RD_URL" <<'PY'
import sys, urllib.parse
import psycopg, redis
pg, rd = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(pg)
try:
    psycopg.connect(host=u.hostname, port=u.port or 5432, user=u.username or "postgres",
                    password=u.password, dbname="postgres", connect_timeout=3).close()
except Exception as exc:
    print(f"   PostgreSQL not reachable at {u.hostname}:{u.port or 5432}: {exc}".strip())
    sys.exit(1)
try:
    redis.Redis.from_url(rd, socket_connect_timeout=2).ping()
except Exception as exc:
    print(f"   Redis not reachable at {rd}: {exc}")
    sys.exit(1)
PY
}

mode="sqlite"
if [ "${EDUSHARE_TEST_DB:-auto}" != "sqlite" ]; then
  if reachable; then
    mode="postgres"
  elif [ "${EDUSHARE_REQUIRE_SERVICES:-0}" = "1" ]; then
    echo "!! EDUSHARE_REQUIRE_SERVICES=1 but PostgreSQL/Redis are not reachable: failing." >&2
    exit 2
  fi
fi

if [ "$mode" = "postgres" ]; then
  export DATABASE_URL="$PG_URL" REDIS_URL="$RD_URL"
  echo "=================================================================================="
  echo " EduShare tests on PostgreSQL ($PG_URL) + Redis ($RD_URL)"
  echo "=================================================================================="
else
  unset DATABASE_URL REDIS_URL
  echo "=================================================================================="
  echo " EduShare tests on SQLITE with EAGER Celery (no PostgreSQL/Redis in use)."
  echo " PostgreSQL-only and real-worker tests will be SKIPPED in this mode."
  echo "=================================================================================="
fi
export DJANGO_SETTINGS_MODULE=config.settings.test
workers="${PYTEST_WORKERS:-2}"
exec .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
