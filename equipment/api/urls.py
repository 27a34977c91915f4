from django.urls import path

from . import views

urlpatterns = [
    path("resources/", views.ResourceListCreateApi.as_view(), name="resource-list"),
    path("resources/<int:pk>/", views.ResourceDetailApi.as_view(), name="resource-detail"),
    path(
        "resources/<int:pk>/compatibility/", views.ResourceCompatibilityApi.as_view(), name="resource-compat"
    ),
    path("catalog/", views.CatalogListApi.as_view(), name="catalog-list"),
    path("catalog/<str:code>/", views.CatalogDetailApi.as_view(), name="catalog-detail"),
    path("interfaces/", views.InterfaceListApi.as_view(), name="interface-list"),
    path("qualifications/", views.QualificationListApi.as_view(), name="qualification-list"),
    path("assets/", views.AssetListCreateApi.as_view(), name="asset-list"),
    path("assets/<int:pk>/", views.AssetDetailApi.as_view(), name="asset-detail"),
    path("maintenance-tickets/", views.TicketListCreateApi.as_view(), name="ticket-list"),
    path("maintenance-tickets/sla/", views.TicketSlaApi.as_view(), name="ticket-sla"),
    path("maintenance-tickets/<int:pk>/", views.TicketDetailApi.as_view(), name="ticket-detail"),
    path("maintenance-tickets/<int:pk>/resolve/", views.TicketResolveApi.as_view(), name="ticket-resolve"),
    path("maintenance-tickets/<int:pk>/start/", views.TicketStartApi.as_view(), name="ticket-start"),
]
