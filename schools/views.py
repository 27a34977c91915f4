"""The sign-in page for every role (the web pages use the session; the admin's own login admits
staff only), limited like the API's token endpoint."""

from __future__ import annotations

from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.utils.translation import gettext as _

from config.throttling import PageRate


def _sign_in_rate() -> PageRate:
    """Sign-in attempts per client address, at the API token endpoint's rate (THROTTLE_AUTH)."""
    return PageRate("auth", key="web_sign_in", per_address=True)


def _failures_key(username: str) -> str:
    return f"sign-in-failures:{username.strip().lower()[:150]}"


class SignInView(LoginView):
    """Django's LoginView, with two limits: attempts per address (as the API's token endpoint),
    and failed attempts per username from any address (guessing one teacher's password from many
    machines), both over THROTTLE_AUTH's window. Over either: 429 and the form again."""

    def post(self, request, *args, **kwargs):
        throttle = _sign_in_rate()
        username = request.POST.get("username", "")
        failures = cache.get(_failures_key(username), 0) if username else 0
        wait = throttle.wait_seconds(request)
        if wait is not None or failures >= throttle.num_requests:
            wait = wait or throttle.duration
            form = self.get_form_class()(request)  # empty: nothing typed is shown back
            context = self.get_context_data(form=form)
            context["throttled"] = _("Too many sign-in attempts. Try again in %(seconds)d seconds.") % {
                "seconds": wait
            }
            response = self.render_to_response(context, status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        username = self.request.POST.get("username", "")
        if username:
            key = _failures_key(username)
            window = _sign_in_rate().duration
            cache.add(key, 0, timeout=window)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=window)
        return super().form_invalid(form)
