"""Production settings with the bench URLconf (config.urls plus bench/bare/). Bench only."""

from config.settings.production import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
