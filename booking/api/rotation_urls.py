from django.urls import path

from . import rotation as v

urlpatterns = [
    path("rotation/requests/", v.RequestListCreateApi.as_view(), name="rotation-request-list"),
    path("rotation/requests/<int:pk>/", v.RequestDetailApi.as_view(), name="rotation-request-detail"),
    path("rotation/plans/", v.PlanCreateApi.as_view(), name="rotation-plan-create"),
    path("rotation/plans/<int:pk>/", v.PlanDetailApi.as_view(), name="rotation-plan-detail"),
    path("rotation/plans/<int:pk>/replan/", v.PlanReplanApi.as_view(), name="rotation-plan-replan"),
    path("rotation/plans/<int:pk>/apply/", v.PlanApplyApi.as_view(), name="rotation-plan-apply"),
    path("rotation/handovers/", v.HandoverListApi.as_view(), name="rotation-handover-list"),
    path(
        "rotation/handovers/<int:pk>/check-out/", v.HandoverCheckOutApi.as_view(), name="rotation-check-out"
    ),
    path("rotation/handovers/<int:pk>/check-in/", v.HandoverCheckInApi.as_view(), name="rotation-check-in"),
    path("rotation/handovers/<int:pk>/override/", v.HandoverOverrideApi.as_view(), name="rotation-override"),
    path("rotation/kits/<int:pk>/custody/", v.CustodyApi.as_view(), name="rotation-custody"),
]
