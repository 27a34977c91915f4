from django.urls import path

from . import notifications as views

urlpatterns = [
    path("notifications/", views.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/<int:pk>/read/", views.NotificationReadApi.as_view(), name="notification-read"),
    path("notifications/read-all/", views.NotificationReadAllApi.as_view(), name="notification-read-all"),
    path(
        "notifications/preferences/",
        views.NotificationPreferencesApi.as_view(),
        name="notification-preferences",
    ),
    path(
        "calendar-feeds/regenerate/",
        views.CalendarFeedRegenerateApi.as_view(),
        name="calendar-feed-regenerate",
    ),
    path("calendar-feeds/revoke/", views.CalendarFeedRevokeApi.as_view(), name="calendar-feed-revoke"),
    path(
        "resources/<int:pk>/calendar-feed/",
        views.ResourceCalendarFeedApi.as_view(),
        name="resource-calendar-feed",
    ),
]
