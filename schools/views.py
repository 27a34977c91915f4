"""The sign-in page for every role (the web pages use the session; the admin's own login admits
staff only), limited like the API's token endpoint."""

from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.utils.translation import gettext as _
from rest_framework.throttling import SimpleRateThrottle


class _SignInRate(SimpleRateThrottle):
    """Sign-in attempts per client address, at the API token endpoint's rate (THROTTLE_AUTH)."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": "web_sign_in", "ident": self.get_ident(request)}


def _failures_key(username: str) -> str:
    return f"sign-in-failures:{username.strip().lower()[:150]}"


class SignInView(LoginView):
    """Django's LoginView, with two limits: attempts per address (as the API's token endpoint),
    and failed attempts per username from any address (guessing one teacher's password from many
    machines), both over THROTTLE_AUTH's window. Over either: 429 and the form again."""

    def post(self, request, *args, **kwargs):
        throttle = _SignInRate()
        username = request.POST.get("username", "")
        failures = cache.get(_failures_key(username), 0) if username else 0
        address_ok = throttle.allow_request(request, self)
        if not address_ok or failures >= throttle.num_requests:
            wait = (throttle.wait() if not address_ok else None) or throttle.duration
            form = self.get_form_class()(request)  # empty: nothing typed is shown back
            context = self.get_context_data(form=form)
            context["throttled"] = _("Too many sign-in attempts. Try again in %(seconds)d seconds.") % {
                "seconds": max(int(wait), 1)
            }
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(max(int(wait), 1))
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        username = self.request.POST.get("username", "")
        if username:
            key = _failures_key(username)
            window = _SignInRate().duration
            cache.add(key, 0, timeout=window)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=window)
        return super().form_invalid(form)
