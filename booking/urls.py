"""Web pages of the booking app (see booking.views)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("book/", views.find_and_book, name="find-and-book"),
    path("bookings/", views.my_bookings, name="my-bookings"),
    path("bookings/<int:pk>/cancel/", views.my_booking_cancel, name="my-booking-cancel"),
    path("bookings/<int:pk>/pass/", views.booking_pass, name="booking-pass"),
    # The token is 20 hexadecimal characters (booking.checkin), the id at most 18 digits (a longer
    # one would not even be a number to Python); anything else is no link of ours (404).
    re_path(
        r"^check-in/(?P<pk>[0-9]{1,18})/(?P<token>[0-9A-Fa-f]{20})/$",
        views.check_in_page,
        name="booking-check-in-page",
    ),
]
