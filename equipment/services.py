"""Every write to the inventory. One transaction per use case; permissions checked here too,
so the API, the admin, the importer and the Celery jobs share them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from schools.models import ClassPeriod, School, User

from . import catalog_data
from .models import (
    Asset,
    CatalogItem,
    Interface,
    KitTypeContent,
    MaintenanceTicket,
    OpeningHours,
    Resource,
)
from .rules import check_kit_fields, check_opening_hours, default_opening_hours, ticket_due_at

logger = logging.getLogger(__name__)

RESOURCE_FIELDS = frozenset(
    {
        "name", "kind", "subject", "school", "capacity", "shared", "requires_approval", "status",
        "building", "room", "description", "min_notice_hours", "max_advance_days", "min_minutes",
        "max_minutes", "required_qualification", "kit_type", "transit_buffer_minutes",
    }
)  # fmt: skip
ASSET_FIELDS = frozenset(
    {
        "tag", "catalog_item", "serial_number", "school", "space", "kit", "status", "condition",
        "purchase_date", "value_cny", "notes",
    }
)  # fmt: skip


def _forbidden(message: str) -> ValidationError:
    return ValidationError(message, code="forbidden")


def check_manages(actor: User, school_id: int | None) -> None:
    """Raises code='forbidden' unless the actor administers that school (or is a centre admin)."""
    if not actor.administers(school_id):
        raise _forbidden(_("You may only manage your own school's inventory."))


def _assign(obj: Any, data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for name, value in data.items():
        if name not in allowed:
            raise ValidationError({name: ValidationError(_("This field cannot be set."), code="invalid")})
        setattr(obj, name, value)


# --- resources ------------------------------------------------------------------------------


def _replace_opening_hours(resource: Resource, ranges: Iterable[tuple[int, dt.time, dt.time]]) -> None:
    ranges = check_opening_hours(ranges)
    OpeningHours.objects.filter(resource=resource).delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(resource=resource, weekday=w, start=s, end=e) for w, s, e in ranges
    )


def _bell_day(school: School) -> list[tuple[int, dt.time, dt.time]]:
    periods = ClassPeriod.objects.filter(school=school).values_list("number", "start", "end")
    return default_opening_hours(list(periods))


def _validate_resource(resource: Resource) -> None:
    check_kit_fields(
        kind=resource.kind,
        transit_buffer_minutes=resource.transit_buffer_minutes or 0,
        kit_type_category=resource.kit_type.category if resource.kit_type_id else None,
    )
    resource.full_clean()


def _set_provides(resource: Resource, codes: Iterable[str]) -> None:
    codes = set(codes)
    found = {i.code: i for i in Interface.objects.filter(code__in=codes)}
    unknown = sorted(codes - found.keys())
    if unknown:
        raise ValidationError(
            {
                "provides": ValidationError(
                    _("Unknown interface codes: %(codes)s.") % {"codes": ", ".join(unknown)},
                    code="unknown_interface",
                )
            }
        )
    resource.provides.set(found.values())


@transaction.atomic
def resource_create(
    *,
    actor: User,
    data: Mapping[str, Any],
    opening_hours: Iterable[tuple[int, dt.time, dt.time]] | None = None,
    provides: Iterable[str] | None = None,
) -> Resource:
    """Create a bookable resource. Without opening hours it opens on the owner school's bell day."""
    data = dict(data)
    if actor.is_school_admin:
        data.setdefault("school", actor.school)
    resource = Resource()
    _assign(resource, data, RESOURCE_FIELDS)
    check_manages(actor, resource.school_id)
    _validate_resource(resource)
    resource.save()
    _replace_opening_hours(
        resource, opening_hours if opening_hours is not None else _bell_day(resource.school)
    )
    if provides is not None:
        _set_provides(resource, provides)
    return resource


@transaction.atomic
def resource_update(
    *,
    actor: User,
    resource: Resource,
    data: Mapping[str, Any],
    opening_hours: Iterable[tuple[int, dt.time, dt.time]] | None = None,
    provides: Iterable[str] | None = None,
) -> Resource:
    resource = Resource.objects.select_for_update().get(pk=resource.pk)
    check_manages(actor, resource.school_id)
    _assign(resource, data, RESOURCE_FIELDS)
    # Moving a resource to another school is a centre-admin act.
    check_manages(actor, resource.school_id)
    if (
        resource.status == Resource.Status.ACTIVE
        and resource.tickets.filter(takes_out_of_service=True)
        .exclude(status=MaintenanceTicket.Status.RESOLVED)
        .exists()
    ):
        raise ValidationError(
            {
                "status": ValidationError(
                    _("An open maintenance ticket keeps this resource out of service; resolve it first."),
                    code="open_ticket",
                )
            }
        )
    _validate_resource(resource)
    resource.save()
    if opening_hours is not None:
        _replace_opening_hours(resource, opening_hours)
    if provides is not None:
        _set_provides(resource, provides)
    return resource


# --- assets ---------------------------------------------------------------------------------


def asset_validate(*, actor: User, asset: Asset) -> None:
    """Everything asset_create checks, without writing: used by the spreadsheet importer too."""
    check_manages(actor, asset.school_id)
    for place in ("space", "kit"):
        holder = getattr(asset, place)
        if holder is not None and holder.school_id != asset.school_id and not actor.is_centre_admin:
            raise ValidationError(
                {
                    place: ValidationError(
                        _("The asset must be placed in its own school's space or kit."), code="invalid"
                    )
                }
            )
    if asset.space_id and asset.space.is_kit:
        raise ValidationError(
            {"space": ValidationError(_("A mobile kit is not a space; use 'kit'."), code="invalid")}
        )
    if asset.kit_id and not asset.kit.is_kit:
        raise ValidationError(
            {"kit": ValidationError(_("This resource is not a mobile kit."), code="invalid")}
        )
    asset.full_clean()


@transaction.atomic
def asset_create(*, actor: User, data: Mapping[str, Any]) -> Asset:
    data = dict(data)
    if actor.is_school_admin:
        data.setdefault("school", actor.school)
    asset = Asset()
    _assign(asset, data, ASSET_FIELDS)
    if data.get("value_cny") in (None, "") and asset.catalog_item_id:
        asset.value_cny = asset.catalog_item.unit_value_cny
    asset_validate(actor=actor, asset=asset)
    asset.save()
    return asset


@transaction.atomic
def asset_update(*, actor: User, asset: Asset, data: Mapping[str, Any]) -> Asset:
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    check_manages(actor, asset.school_id)
    _assign(asset, data, ASSET_FIELDS)
    asset_validate(actor=actor, asset=asset)
    asset.save()
    return asset


@transaction.atomic
def assets_bulk_create(*, actor: User, assets: list[Asset]) -> list[Asset]:
    """All or nothing: every asset is validated first; one bad asset writes none."""
    tags = [a.tag for a in assets]
    if len(tags) != len(set(tags)):
        raise ValidationError(
            {"tag": ValidationError(_("The same tag appears twice."), code="duplicate_tag")}
        )
    for asset in assets:
        asset_validate(actor=actor, asset=asset)
    return Asset.objects.bulk_create(assets, batch_size=1000)


# --- maintenance tickets --------------------------------------------------------------------


@transaction.atomic
def ticket_report(
    *,
    actor: User,
    resource: Resource | None = None,
    asset: Asset | None = None,
    severity: str = MaintenanceTicket.Severity.MEDIUM,
    description: str,
    takes_out_of_service: bool = False,
    now: dt.datetime | None = None,
    custodian: bool = False,
) -> MaintenanceTicket:
    """Anyone of the owner school (and centre admins) reports a fault; due 24 h later.

    A ticket that takes a resource out of service sets it to 'maintenance' until resolved.
    """
    now = now or timezone.now()
    if (resource is None) == (asset is None):
        raise ValidationError(_("Report a fault on exactly one resource or one asset."), code="invalid")
    if asset is not None and resource is None:
        resource_for_status = asset.space or asset.kit
        school_id = asset.school_id
    else:
        resource_for_status = resource
        school_id = resource.school_id
    # `custodian`: the school that holds a rotating kit reports on its contents (the caller checked).
    if not (actor.is_centre_admin or actor.school_id == school_id or custodian):
        raise _forbidden(_("Only members of the owner school can report a fault here."))
    ticket = MaintenanceTicket(
        resource=resource,
        asset=asset,
        school_id=school_id,
        severity=severity,
        description=description,
        takes_out_of_service=takes_out_of_service,
        reported_by=actor,
        reported_at=now,
        due_at=ticket_due_at(now),
    )
    ticket.full_clean()
    ticket.save()
    if asset is not None:
        Asset.objects.filter(pk=asset.pk, status=Asset.Status.IN_SERVICE).update(
            status=Asset.Status.IN_REPAIR
        )
    if takes_out_of_service and resource_for_status is not None:
        # Retired stays retired; an active resource goes to maintenance until resolved.
        Resource.objects.filter(pk=resource_for_status.pk, status=Resource.Status.ACTIVE).update(
            status=Resource.Status.MAINTENANCE, updated_at=now
        )
        if ticket.resource_id is None:
            ticket.resource = resource_for_status
            ticket.save(update_fields=["resource"])
    return ticket


@transaction.atomic
def ticket_resolve(
    *, actor: User, ticket: MaintenanceTicket, resolution: str = "", now: dt.datetime | None = None
) -> MaintenanceTicket:
    """An admin of the owner school (or the centre) resolves; the resource returns to service
    when no other out-of-service ticket is open on it. Raises code='invalid_transition' twice."""
    now = now or timezone.now()
    ticket = MaintenanceTicket.objects.select_for_update().get(pk=ticket.pk)
    if not actor.administers(ticket.school_id):
        raise _forbidden(_("Only the owner school's administrators can resolve this ticket."))
    if ticket.status == MaintenanceTicket.Status.RESOLVED:
        raise ValidationError(_("This ticket is already resolved."), code="invalid_transition")
    ticket.status = MaintenanceTicket.Status.RESOLVED
    ticket.resolved_by = actor
    ticket.resolved_at = max(now, ticket.reported_at)
    ticket.resolution = resolution
    ticket.full_clean()
    ticket.save()
    if ticket.asset_id:
        Asset.objects.filter(pk=ticket.asset_id, status=Asset.Status.IN_REPAIR).update(
            status=Asset.Status.IN_SERVICE
        )
    if ticket.takes_out_of_service and ticket.resource_id:
        still_open = (
            MaintenanceTicket.objects.filter(resource_id=ticket.resource_id, takes_out_of_service=True)
            .exclude(status=MaintenanceTicket.Status.RESOLVED)
            .exists()
        )
        if not still_open:
            Resource.objects.filter(pk=ticket.resource_id, status=Resource.Status.MAINTENANCE).update(
                status=Resource.Status.ACTIVE, updated_at=now
            )
    return ticket


@transaction.atomic
def ticket_start(*, actor: User, ticket: MaintenanceTicket) -> MaintenanceTicket:
    ticket = MaintenanceTicket.objects.select_for_update().get(pk=ticket.pk)
    if not actor.administers(ticket.school_id):
        raise _forbidden(_("Only the owner school's administrators can work on this ticket."))
    if ticket.status != MaintenanceTicket.Status.OPEN:
        raise ValidationError(_("Only an open ticket can be started."), code="invalid_transition")
    ticket.status = MaintenanceTicket.Status.IN_PROGRESS
    ticket.save(update_fields=["status"])
    return ticket


def tickets_flag_overdue(*, now: dt.datetime | None = None) -> list[int]:
    """Flag unresolved tickets past their 24-hour due time, once each, and tell the school's admins.

    Safe to run twice: the conditional update claims each ticket exactly once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            MaintenanceTicket.objects.filter(due_at__lt=now, overdue_flagged_at__isnull=True)
            .exclude(status=MaintenanceTicket.Status.RESOLVED)
            .values_list("pk", flat=True)
        )
        claimed = MaintenanceTicket.objects.filter(pk__in=ids, overdue_flagged_at__isnull=True).update(
            overdue_flagged_at=now
        )
    if claimed:
        logger.warning("%d maintenance tickets are overdue (24 h SLA): %s", claimed, ids)
        tickets = MaintenanceTicket.objects.filter(pk__in=ids).select_related("school", "resource", "asset")
        for ticket in tickets:
            _tell_admins_overdue(ticket)
    return ids


def _tell_admins_overdue(ticket: MaintenanceTicket) -> None:
    recipients = list(
        User.objects.filter(school_id=ticket.school_id, role=User.Role.SCHOOL_ADMIN, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    subject = _("Maintenance ticket #%(id)s is overdue") % {"id": ticket.pk}
    body = _("The fault reported at %(reported)s (%(what)s) was due for repair by %(due)s.") % {
        "reported": timezone.localtime(ticket.reported_at).strftime("%Y-%m-%d %H:%M"),
        "what": ticket.resource or ticket.asset,
        "due": timezone.localtime(ticket.due_at).strftime("%Y-%m-%d %H:%M"),
    }
    send_mail(subject, body, None, recipients, fail_silently=True)


# --- catalogue ------------------------------------------------------------------------------


@transaction.atomic
def catalog_load(
    interfaces: Mapping[str, Mapping[str, str]] = catalog_data.INTERFACES,
    items: Iterable[Mapping[str, Any]] = catalog_data.CATALOG,
) -> dict[str, int]:
    """Load the standard catalogue idempotently (by code). Returns counts of rows created."""
    created = {"interfaces": 0, "items": 0}
    by_code: dict[str, Interface] = {}
    for code, spec in interfaces.items():
        obj, was_created = Interface.objects.update_or_create(
            code=code, defaults={"kind": spec["kind"], "name": spec["name"], "name_en": spec["name_en"]}
        )
        by_code[code] = obj
        created["interfaces"] += was_created
    items = list(items)
    item_objs: dict[str, CatalogItem] = {}
    for spec in items:
        obj, was_created = CatalogItem.objects.update_or_create(
            code=spec["code"],
            defaults={
                "name": spec["name"],
                "name_en": spec["name_en"],
                "category": spec["category"],
                "unit_value_cny": spec.get("unit_value_cny", 0),
                "adapter_from": by_code.get(spec.get("adapter_from")),
                "adapter_to": by_code.get(spec.get("adapter_to")),
            },
        )
        wanted = {by_code[c].pk for c in spec.get("requires", [])}
        if set(obj.requires.values_list("pk", flat=True)) != wanted:
            obj.requires.set(wanted)
        item_objs[spec["code"]] = obj
        created["items"] += was_created
    for spec in items:
        for item_code, quantity in spec.get("contents", []):
            KitTypeContent.objects.update_or_create(
                kit_type=item_objs[spec["code"]], item=item_objs[item_code], defaults={"quantity": quantity}
            )
    return created
