"""The API's rates (REST_FRAMEWORK's DEFAULT_THROTTLE_RATES) applied to plain Django pages: the web
pages must not be a way around the API's limits (sign-in, city search, booking writes)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle


class PageRate(SimpleRateThrottle):
    """The API's rate `scope`, counted per signed-in user or, with `per_address`, per client address
    (DRF's own rule for finding it), in DRF's sliding window in the cache. The window's key is
    `key` (default: the scope itself, i.e. the same budget as the API's ScopedRateThrottle)."""

    def __init__(self, scope: str, *, key: str | None = None, per_address: bool = False):
        self.scope, self.key_scope, self.per_address = scope, key or scope, per_address
        super().__init__()

    def get_cache_key(self, request, view):
        ident = self.get_ident(request) if self.per_address else request.user.pk
        return self.cache_format % {"scope": self.key_scope, "ident": ident}

    def wait_seconds(self, request) -> int | None:
        """None when the request may go on (it is counted); else whole seconds to wait (≥ 1)."""
        if self.allow_request(request, None):
            return None
        return max(int(self.wait() or self.duration), 1)
