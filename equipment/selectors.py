"""Reads of the inventory, scoped to what the caller may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from schools.models import User

from .models import Asset, CatalogItem, MaintenanceTicket, Resource
from .rules import Adapter, Compatibility, compatibility


def _sees_everything(user: User) -> bool:
    return user.is_centre_admin or user.is_analyst


def resource_list_for(user: User) -> QuerySet[Resource]:
    """Centre admins and analysts: all. Others: their own school's resources and every shared one."""
    qs = Resource.objects.select_related("school", "school__district", "required_qualification", "kit_type")
    qs = qs.prefetch_related("opening_hours", "provides")
    if _sees_everything(user):
        return qs
    return qs.filter(Q(school_id=user.school_id) | Q(shared=True))


def asset_list_for(user: User) -> QuerySet[Asset]:
    """Own school's assets, and those inside a shared space or kit (what a visitor will use)."""
    qs = Asset.objects.select_related("catalog_item", "school", "space", "kit")
    if _sees_everything(user):
        return qs
    return qs.filter(Q(school_id=user.school_id) | Q(space__shared=True) | Q(kit__shared=True))


def ticket_list_for(user: User) -> QuerySet[MaintenanceTicket]:
    qs = MaintenanceTicket.objects.select_related("resource", "asset", "school", "reported_by", "resolved_by")
    if _sees_everything(user):
        return qs
    return qs.filter(school_id=user.school_id)


def catalog_list() -> QuerySet[CatalogItem]:
    return CatalogItem.objects.select_related("adapter_from", "adapter_to").prefetch_related("requires")


def _adapters() -> list[Adapter]:
    rows = CatalogItem.objects.filter(category=CatalogItem.Category.ADAPTER).values_list(
        "code", "adapter_from__code", "adapter_to__code"
    )
    return [Adapter(code=c, plugs_into=f, offers=t) for c, f, t in rows]


def compatibility_for(*, item: CatalogItem, space: Resource) -> Compatibility:
    """Can this catalogue item (or kit type) work in that space? Missing interfaces and adapters."""
    requires = item.requires.values_list("code", flat=True)
    provides = space.provides.values_list("code", flat=True)
    return compatibility(requires, provides, _adapters())


@dataclass
class SlaSummary:
    reported: int
    resolved: int
    resolved_within_24h: int
    open_overdue: int
    compliance: float | None  # share of decided tickets fixed within 24 h


def sla_summary(tickets: QuerySet[MaintenanceTicket], *, now: dt.datetime | None = None) -> SlaSummary:
    """Tickets resolved within their 24-hour due time, against all whose outcome is decided."""
    now = now or timezone.now()
    agg = tickets.aggregate(
        reported=Count("pk"),
        resolved=Count("pk", filter=Q(status=MaintenanceTicket.Status.RESOLVED)),
        within=Count("pk", filter=Q(status=MaintenanceTicket.Status.RESOLVED, resolved_at__lte=F("due_at"))),
        open_overdue=Count("pk", filter=~Q(status=MaintenanceTicket.Status.RESOLVED) & Q(due_at__lt=now)),
    )
    decided = agg["resolved"] + agg["open_overdue"]
    return SlaSummary(
        reported=agg["reported"],
        resolved=agg["resolved"],
        resolved_within_24h=agg["within"],
        open_overdue=agg["open_overdue"],
        compliance=round(agg["within"] / decided, 4) if decided else None,
    )
