from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from booking.feeds import calendar_feed_view
from config.health import healthz
from schools.views import SignInView

api_v1 = [
    path("", include("schools.api.urls")),
    path("", include("equipment.api.urls")),
    path("", include("booking.api.urls")),
    path("", include("booking.api.notification_urls")),
    path("", include("booking.api.rotation_urls")),
]

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    # The secret is the credential: no login, 404 when unknown or revoked (booking.feeds).
    re_path(r"^calendar/(?P<token>[A-Za-z0-9_-]{20,100})\.ics$", calendar_feed_view, name="calendar-feed"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Every user signs in here for the web pages (the admin's own login admits staff only).
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("booking.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

admin.site.site_header = admin.site.site_title = "EduShare"
if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
