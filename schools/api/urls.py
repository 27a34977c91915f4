from django.urls import path

from . import views

urlpatterns = [
    path("auth/token/", views.TokenApi.as_view(), name="auth-token"),
    path("me/", views.MeApi.as_view(), name="me"),
    path("districts/", views.DistrictListApi.as_view(), name="district-list"),
    path("districts/<int:pk>/", views.DistrictDetailApi.as_view(), name="district-detail"),
    path("schools/", views.SchoolListCreateApi.as_view(), name="school-list"),
    path("schools/<int:pk>/", views.SchoolDetailApi.as_view(), name="school-detail"),
    path("schools/<int:pk>/periods/", views.SchoolPeriodsApi.as_view(), name="school-periods"),
    path("users/", views.UserListCreateApi.as_view(), name="user-list"),
    path("users/<int:pk>/", views.UserDetailApi.as_view(), name="user-detail"),
]
