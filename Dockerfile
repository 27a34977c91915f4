# Production image. The install steps mirror CI's (scripts/system-packages.sh, pip install of
# pyproject.toml), so a green CI proves them; there is no Docker engine on the CI machine.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    STATIC_ROOT=/app/staticfiles \
    MPLCONFIGDIR=/app/var/matplotlib

WORKDIR /app

COPY scripts/system-packages.sh scripts/system-packages.sh
# fonts-wqy-microhei: the CJK font the monthly report PDFs embed (booking/fonts.py).
RUN EDUSHARE_SYSTEM_PACKAGES="gettext curl fonts-wqy-microhei" scripts/system-packages.sh \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml README.md ./
COPY config config
COPY schools schools
COPY equipment equipment
COPY booking booking
COPY templates templates
COPY locale locale
COPY manage.py ./
RUN pip install --upgrade pip && pip install .

RUN useradd --system --uid 10001 --home /app edushare \
    && mkdir -p /app/var /app/staticfiles \
    && SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput \
    && chown -R edushare:edushare /app/var /app/staticfiles
USER edushare

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/healthz || exit 1

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--access-logfile", "-", "--timeout", "60"]
