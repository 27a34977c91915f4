from django.urls import path

from . import reports, views

urlpatterns = [
    path("bookings/", views.BookingListCreateApi.as_view(), name="booking-list"),
    path("bookings/<int:pk>/", views.BookingDetailApi.as_view(), name="booking-detail"),
    path("bookings/<int:pk>/cancel/", views.BookingCancelApi.as_view(), name="booking-cancel"),
    path("bookings/<int:pk>/approve/", views.BookingApproveApi.as_view(), name="booking-approve"),
    path("bookings/<int:pk>/reject/", views.BookingRejectApi.as_view(), name="booking-reject"),
    path("bookings/<int:pk>/check-in/", views.BookingCheckInApi.as_view(), name="booking-check-in"),
    path("bookings/<int:pk>/check-in-qr/", views.BookingCheckInQrApi.as_view(), name="booking-check-in-qr"),
    path("bookings/<int:pk>/check-out/", views.BookingCheckOutApi.as_view(), name="booking-check-out"),
    path(
        "resources/<int:pk>/availability/",
        views.ResourceAvailabilityApi.as_view(),
        name="resource-availability",
    ),
    path("availability/", views.AvailabilitySearchApi.as_view(), name="availability-search"),
    path("closures/", views.ClosureListCreateApi.as_view(), name="closure-list"),
    path("closures/<int:pk>/", views.ClosureDetailApi.as_view(), name="closure-detail"),
    path("series/", views.SeriesCreateApi.as_view(), name="series-create"),
    path("series/<int:pk>/", views.SeriesDetailApi.as_view(), name="series-detail"),
    path("series/<int:pk>/cancel/", views.SeriesCancelApi.as_view(), name="series-cancel"),
    path("series/<int:pk>/approve/", views.SeriesApproveApi.as_view(), name="series-approve"),
    path("series/<int:pk>/reject/", views.SeriesRejectApi.as_view(), name="series-reject"),
    path("waitlist/", views.WaitlistListCreateApi.as_view(), name="waitlist-list"),
    path("waitlist/<int:pk>/", views.WaitlistDetailApi.as_view(), name="waitlist-detail"),
    path("waitlist/<int:pk>/confirm/", views.WaitlistConfirmApi.as_view(), name="waitlist-confirm"),
    path("waitlist/<int:pk>/decline/", views.WaitlistDeclineApi.as_view(), name="waitlist-decline"),
    path("metrics/utilisation/", reports.UtilisationApi.as_view(), name="metrics-utilisation"),
    path("reports/", reports.ReportListCreateApi.as_view(), name="report-list"),
    path("reports/<int:pk>/", reports.ReportDetailApi.as_view(), name="report-detail"),
    path("reports/<int:pk>/download/", reports.ReportDownloadApi.as_view(), name="report-download"),
]
