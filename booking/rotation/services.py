"""Rotation of mobile kits: requests, plans (through the planner), apply, handovers.

Every write is here, one transaction each, like booking.services; placements become bookings of
the kit through booking.services.booking_create, so the no-overlap invariant holds for kits too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from equipment import services as equipment_services
from equipment.models import Asset, MaintenanceTicket, Resource
from equipment.rules import compatibility
from equipment.selectors import compatibility_for
from schools.models import School, User

from .. import services as booking_services
from ..calendar import local_midnight, local_tz
from ..holidays import days_info
from ..models import (
    ACTIVE_STATUSES,
    Booking,
    Closure,
    CustodyEvent,
    Handover,
    HandoverCheck,
    Placement,
    RotationPlan,
    RotationRequest,
)
from . import planner as p

MAX_WINDOW_DAYS = 366
RETURN_SLACK_DAYS = 60


def _forbidden(message: str) -> ValidationError:
    return ValidationError(message, code="forbidden")


# --- requests -------------------------------------------------------------------------------


def check_request(*, days: int, earliest: dt.date, latest_end: dt.date) -> None:
    """The window holds the days asked for (calendar days at least; school days are the planner's)."""
    if latest_end < earliest:
        raise ValidationError(
            {"latest_end": ValidationError(_("The window ends before it starts."), code="invalid_range")}
        )
    if (latest_end - earliest).days + 1 < days:
        raise ValidationError(
            {
                "days": ValidationError(
                    _("The window (%(window)s days) is shorter than the %(days)s days asked for.")
                    % {"window": (latest_end - earliest).days + 1, "days": days},
                    code="window_too_short",
                )
            }
        )
    if (latest_end - earliest).days >= MAX_WINDOW_DAYS:
        raise ValidationError(
            {"latest_end": ValidationError(_("A request spans at most a year."), code="window_too_long")}
        )


@transaction.atomic
def request_create(*, actor: User, data: Mapping[str, Any]) -> RotationRequest:
    """A school admin asks for a kit for their school. Schools without coordinates cannot be
    reached by a rotating kit (400 no_coordinates)."""
    if not actor.is_school_admin:
        raise _forbidden(_("School administrators file kit requests for their school."))
    request = RotationRequest(school_id=actor.school_id, requested_by=actor, **data)
    if request.kit_type_id is None and request.kit_id is None:
        raise ValidationError({"kit_type": ValidationError(_("Name a kit type or a kit."), code="required")})
    if request.kit_type_id and request.kit_type.category != "kit":
        raise ValidationError(
            {"kit_type": ValidationError(_("That catalogue item is not a kit type."), code="no_kit_type")}
        )
    if request.kit_id and not request.kit.is_kit:
        raise ValidationError(
            {"kit": ValidationError(_("That resource is not a mobile kit."), code="invalid")}
        )
    check_request(days=request.days, earliest=request.earliest, latest_end=request.latest_end)
    school = actor.school
    if school.latitude is None or school.longitude is None:
        raise ValidationError(
            _("Your school has no coordinates: a kit cannot be routed there. Ask the centre to add them."),
            code="no_coordinates",
        )
    if (
        request.kit_type_id
        and not Resource.objects.filter(kind="mobile_kit", kit_type_id=request.kit_type_id)
        .exclude(status="retired")
        .exists()
    ):
        raise ValidationError(
            {"kit_type": ValidationError(_("No kit of that type exists in the city."), code="no_kit_type")}
        )
    request.full_clean()
    request.save()
    return request


@transaction.atomic
def request_cancel(*, actor: User, request: RotationRequest) -> RotationRequest:
    request = RotationRequest.objects.select_for_update().get(pk=request.pk)
    if not actor.administers(request.school_id):
        raise _forbidden(_("You may not cancel this request."))
    if request.status != RotationRequest.Status.OPEN:
        raise ValidationError(_("Only an open request can be cancelled."), code="invalid_transition")
    request.status = RotationRequest.Status.CANCELLED
    request.save(update_fields=["status"])
    return request


# --- planning -------------------------------------------------------------------------------


def _working_weekend_days(date_from: dt.date, date_to: dt.date) -> frozenset[dt.date]:
    """调休: weekend days that are school days (unless the centre keeps them closed)."""
    from ..models import EquitySettings

    if EquitySettings.current().adjusted_day_mode != EquitySettings.AdjustedDayMode.OPEN:
        return frozenset()
    return frozenset(d for d, i in days_info(date_from, date_to).items() if i.kind == "adjusted_workday")


def _closed_days(date_from: dt.date, date_to: dt.date) -> frozenset[dt.date]:
    info = days_info(date_from, date_to)
    closed = {d for d, i in info.items() if i.kind in ("holiday", "weekend")}
    for start, end in Closure.objects.filter(
        scope="city", start_date__lte=date_to, end_date__gte=date_from
    ).values_list("start_date", "end_date"):
        d = max(start, date_from)
        while d <= min(end, date_to):
            closed.add(d)
            d += dt.timedelta(days=1)
    return frozenset(closed)


def _kit_location(kit: Resource, before: dt.date) -> int:
    """Where a kit is when the window opens: its last applied placement's school, else its depot."""
    last = (
        Placement.objects.filter(kit=kit, plan__status=RotationPlan.Status.APPLIED, start__lt=before)
        .order_by("-start")
        .values_list("school_id", flat=True)
        .first()
    )
    return last or kit.school_id


def _adapter_for(kit: Resource, spaces: Sequence[Resource]) -> tuple[bool, str | None]:
    """Compatible as is (True, None), with an adapter (True, code), or not at all (False, None):
    the best of the school's spaces. A school with no spaces recorded offers no interface, so
    only a kit that needs none fits there (equipment.rules.compatibility decides)."""
    if kit.kit_type is None:
        return True, None
    results = (
        [compatibility_for(item=kit.kit_type, space=space) for space in spaces]
        if spaces
        else [compatibility(kit.kit_type.requires.values_list("code", flat=True), (), ())]
    )
    if any(r.compatible for r in results):
        return True, None
    for r in results:
        if r.compatible_with_adapters:
            return True, ",".join(codes[0] for codes in r.bridges.values())
    return False, None


def planner_inputs(date_from: dt.date, date_to: dt.date, *, dropped: Iterable[int] = ()):
    """Kits, schools and open requests of the window, as the planner's plain values."""
    tz = local_tz()
    w0, w1 = local_midnight(date_from), local_midnight(date_to + dt.timedelta(days=1))
    kits_qs = list(
        Resource.objects.filter(kind="mobile_kit")
        .exclude(status="retired")
        .select_related("kit_type", "school")
    )
    blocked: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for rid, start, end in Booking.objects.filter(
        resource__in=kits_qs, status__in=ACTIVE_STATUSES, start__lt=w1, end__gt=w0, placement__isnull=True
    ).values_list("resource_id", "start", "end"):
        blocked[rid].append(
            (start.astimezone(tz).date(), (end - dt.timedelta(seconds=1)).astimezone(tz).date())
        )
    for rid, reported in (
        MaintenanceTicket.objects.filter(resource__in=kits_qs, takes_out_of_service=True)
        .exclude(status="resolved")
        .values_list("resource_id", "reported_at")
    ):
        blocked[rid].append((max(date_from, reported.astimezone(tz).date()), date_to))
    for rid, start, end in Closure.objects.filter(
        scope="resource", resource__in=kits_qs, start_date__lte=date_to, end_date__gte=date_from
    ).values_list("resource_id", "start_date", "end_date"):
        blocked[rid].append((start, end))
    kits = [
        p.Kit(
            id=k.pk,
            kit_type=k.kit_type.code if k.kit_type else "",
            depot_school_id=_kit_location(k, date_from),
            available_from=date_from,
            # The kit may stay at its last school after the window: its trip home is not planned here.
            available_to=date_to + dt.timedelta(days=RETURN_SLACK_DAYS),
            blocked=tuple(sorted(blocked.get(k.pk, []))),
        )
        for k in kits_qs
    ]
    requests_qs = list(
        RotationRequest.objects.filter(
            status=RotationRequest.Status.OPEN, earliest__lte=date_to, latest_end__gte=date_from
        )
        .exclude(pk__in=list(dropped))
        .select_related("kit_type", "school")
    )
    school_ids = (
        {r.school_id for r in requests_qs}
        | {k.depot_school_id for k in kits}
        | {k.school_id for k in kits_qs}
    )
    schools = [
        p.School(
            id=s.pk,
            lat=float(s.latitude) if s.latitude is not None else None,
            lon=float(s.longitude) if s.longitude is not None else None,
            is_county=s.district.kind == "county",
        )
        for s in School.objects.filter(pk__in=school_ids).select_related("district")
    ]
    spaces = defaultdict(list)
    for space in (
        Resource.objects.filter(school_id__in={r.school_id for r in requests_qs})
        .exclude(kind="mobile_kit")
        .prefetch_related("provides")
    ):
        spaces[space.school_id].append(space)
    requests = []
    for r in requests_qs:
        compatible = {}
        for kit in kits_qs:
            if (r.kit_id and kit.pk != r.kit_id) or (not r.kit_id and kit.kit_type_id != r.kit_type_id):
                continue
            ok, adapter = _adapter_for(kit, spaces.get(r.school_id, []))
            if ok:
                compatible[kit.pk] = adapter
        requests.append(
            p.Request(
                id=r.pk,
                school_id=r.school_id,
                kit_type=r.kit_type.code if r.kit_type else None,
                kit_id=r.kit_id,
                days=r.days,
                earliest=max(r.earliest, date_from),
                latest_end=min(r.latest_end, date_to),
                students=r.students,
                requested_on=r.created_at.astimezone(tz).date(),
                compatible_kits=compatible,
            )
        )
    return kits, schools, requests


def plan_create(
    *,
    actor: User,
    date_from: dt.date,
    date_to: dt.date,
    solver: str = "cp-sat",
    pinned: Sequence[Placement] = (),
    dropped: Iterable[int] = (),
    time_limit_s: float = 10.0,
) -> RotationPlan:
    """Propose a plan for the window (nothing is booked until it is applied)."""
    if not actor.is_centre_admin:
        raise _forbidden(_("Only the sharing centre plans kit rotation."))
    if date_to < date_from:
        raise ValidationError(
            {"date_to": ValidationError(_("The window ends before it starts."), code="invalid_range")}
        )
    if (date_to - date_from).days >= MAX_WINDOW_DAYS:
        raise ValidationError(
            {"date_to": ValidationError(_("Plan at most a year at a time."), code="window_too_long")}
        )
    dropped = set(dropped)
    kits, schools, requests = planner_inputs(date_from, date_to, dropped=dropped)
    horizon = date_to + dt.timedelta(days=RETURN_SLACK_DAYS)
    settings = p.Settings(
        closed_days=_closed_days(date_from, horizon),
        working_weekend_days=_working_weekend_days(date_from, horizon),
        time_limit_s=time_limit_s,
        seed=0,
    )
    pins = [
        p.Placement(
            request_id=x.request_id,
            kit_id=x.kit_id,
            school_id=x.school_id,
            start=x.start,
            end=x.end,
            adapter=x.adapter or None,
            transit_in_days=x.transit_in_days,
            km_in=x.km_in,
        )
        for x in pinned
    ]
    fn = p.plan if solver == "cp-sat" else p.greedy_plan
    try:
        result = fn(
            kits,
            schools,
            requests,
            settings,
            window=(date_from, date_to),
            pinned=pins,
            dropped_request_ids=tuple(dropped),
        )
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid_plan") from None
    unserved = {str(k): v for k, v in result.unserved.items()}
    unserved.update({str(r): "dropped" for r in dropped})
    with transaction.atomic():
        plan = RotationPlan.objects.create(
            date_from=date_from,
            date_to=date_to,
            solver=result.solver,
            solver_status=result.status,
            objective=result.objective,
            bound=result.bound,
            gap=result.gap,
            travel_km=result.travel_km,
            seconds=result.seconds,
            unserved=unserved,
            created_by=actor,
        )
        pinned_keys = {(x.request_id, x.kit_id) for x in pins}
        Placement.objects.bulk_create(
            Placement(
                plan=plan,
                request_id=x.request_id,
                kit_id=x.kit_id,
                school_id=x.school_id,
                start=x.start,
                end=x.end,
                adapter=x.adapter or "",
                transit_in_days=x.transit_in_days,
                km_in=x.km_in,
                pinned=(x.request_id, x.kit_id) in pinned_keys,
            )
            for x in result.placements
        )
    return plan


def plan_replan(
    *,
    actor: User,
    plan: RotationPlan,
    pin: Iterable[int] = (),
    drop: Iterable[int] = (),
    solver: str = "cp-sat",
) -> RotationPlan:
    """Re-plan with some placements pinned (kept as they are) and some requests dropped."""
    if plan.status != RotationPlan.Status.DRAFT:
        raise ValidationError(_("Only a proposed plan can be re-planned."), code="invalid_transition")
    pin = set(pin)
    pinned = list(plan.placements.filter(pk__in=pin))
    if len(pinned) != len(pin):
        raise ValidationError({"pin": ValidationError(_("Unknown placement in this plan."), code="invalid")})
    drop = set(drop)
    if drop - set(RotationRequest.objects.filter(pk__in=drop).values_list("pk", flat=True)):
        raise ValidationError({"drop": ValidationError(_("Unknown request."), code="invalid")})
    new = plan_create(
        actor=actor,
        date_from=plan.date_from,
        date_to=plan.date_to,
        solver=solver,
        pinned=pinned,
        dropped=drop,
    )
    RotationPlan.objects.filter(pk=plan.pk).update(status=RotationPlan.Status.DISCARDED)
    return new


def plan_apply(*, actor: User, plan: RotationPlan, now: dt.datetime | None = None) -> RotationPlan:
    """Book every placement through booking_create, all or nothing. A conflict found now (the
    kit was booked meanwhile) changes nothing and names the placement (409)."""
    now = now or timezone.now()
    if not actor.is_centre_admin:
        raise _forbidden(_("Only the sharing centre applies a rotation plan."))
    tz = local_tz()
    with transaction.atomic():
        plan = RotationPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status != RotationPlan.Status.DRAFT:
            raise ValidationError(_("This plan is not a proposal any more."), code="invalid_transition")
        placements = list(
            plan.placements.select_related("request", "request__requested_by", "kit").order_by("start")
        )
        for x in placements:
            if x.request.status != RotationRequest.Status.OPEN:
                raise ValidationError(
                    _("Request #%(id)s is no longer open.") % {"id": x.request_id}, code="conflict"
                )
            start = dt.datetime.combine(x.start, dt.time(), tzinfo=tz)
            end = dt.datetime.combine(x.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
            try:
                booking = booking_services.booking_create(
                    actor=x.request.requested_by,
                    resource=x.kit,
                    start=start,
                    end=end,
                    class_size=x.request.students,
                    purpose=str(_("Kit rotation")),
                    now=now,
                    placement=True,
                )
            except ValidationError as exc:
                code = exc.error_list[0].code if hasattr(exc, "error_list") else "conflict"
                raise ValidationError(
                    _(
                        "Placement #%(id)s (%(kit)s at %(school)s, %(start)s to %(end)s) "
                        "cannot be booked: %(why)s"
                    )
                    % {
                        "id": x.pk,
                        "kit": x.kit.name,
                        "school": x.school_id,
                        "start": x.start,
                        "end": x.end,
                        "why": "; ".join(exc.messages),
                    },
                    code="conflict" if code in ("conflict", "forbidden") else code,
                ) from None
            Placement.objects.filter(pk=x.pk).update(booking=booking)
        RotationRequest.objects.filter(pk__in=[x.request_id for x in placements]).update(
            status=RotationRequest.Status.PLANNED
        )
        _create_legs(placements)
        plan.status = RotationPlan.Status.APPLIED
        plan.applied_at = now
        plan.save(update_fields=["status", "applied_at"])
    return plan


def _create_legs(placements: Sequence[Placement]) -> None:
    by_kit: dict[int, list[Placement]] = defaultdict(list)
    for x in placements:
        by_kit[x.kit_id].append(x)
    for kit_id, kit_placements in by_kit.items():
        kit = kit_placements[0].kit
        sequence = Handover.objects.filter(kit_id=kit_id).aggregate(m=Max("sequence"))["m"] or 0
        previous = (
            Placement.objects.filter(kit_id=kit_id, plan__status=RotationPlan.Status.APPLIED)
            .exclude(pk__in=[x.pk for x in kit_placements])
            .filter(start__lt=kit_placements[0].start)
            .order_by("-start")
            .values_list("school_id", flat=True)
            .first()
        )
        here = previous or kit.school_id
        for x in sorted(kit_placements, key=lambda x: x.start):
            sequence += 1
            Handover.objects.create(
                kit_id=kit_id, placement=x, from_school_id=here, to_school_id=x.school_id, sequence=sequence
            )
            here = x.school_id


# --- handovers ------------------------------------------------------------------------------

BAD_CONDITIONS = {Asset.Condition.BROKEN}


def _checklist(handover: Handover, items: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Every asset of the kit appears once, with present/condition; anything else is a 400."""
    contents = {
        a.pk: a for a in Asset.objects.filter(kit_id=handover.kit_id).exclude(status__in=["lost", "retired"])
    }
    seen: dict[int, dict] = {}
    for item in items:
        asset_id = item.get("asset")
        if asset_id not in contents:
            raise ValidationError(
                {
                    "items": ValidationError(
                        _("Asset %(id)s is not in this kit.") % {"id": asset_id}, code="invalid"
                    )
                }
            )
        if asset_id in seen:
            raise ValidationError(
                {
                    "items": ValidationError(
                        _("Asset %(id)s is listed twice.") % {"id": asset_id}, code="invalid"
                    )
                }
            )
        seen[asset_id] = dict(item)
    missing = sorted(set(contents) - set(seen))
    if missing:
        raise ValidationError(
            {
                "items": ValidationError(
                    _("The checklist must cover every item of the kit; missing: %(ids)s.")
                    % {"ids": ", ".join(map(str, missing[:20]))},
                    code="incomplete_checklist",
                )
            }
        )
    return [{**seen[pk], "asset_obj": contents[pk]} for pk in sorted(seen)]


def _previous_leg(handover: Handover) -> Handover | None:
    return (
        Handover.objects.filter(kit_id=handover.kit_id, sequence__lt=handover.sequence)
        .order_by("-sequence")
        .first()
    )


def handover_check_out(
    *, actor: User, handover: Handover, items: Sequence[Mapping[str, Any]], now: dt.datetime | None = None
) -> Handover:
    """The sending school checks the kit out, item by item. A kit that came back incomplete
    cannot leave until its tickets are resolved or the centre overrides (409 kit_incomplete)."""
    now = now or timezone.now()
    with transaction.atomic():
        handover = Handover.objects.select_for_update().get(pk=handover.pk)
        if not actor.administers(handover.from_school_id):
            raise _forbidden(_("Only the sending school checks the kit out."))
        if handover.status != Handover.Status.PLANNED:
            raise ValidationError(_("This leg has already left."), code="invalid_transition")
        previous = _previous_leg(handover)
        if previous is not None and previous.status in (Handover.Status.PLANNED, Handover.Status.IN_TRANSIT):
            raise ValidationError(
                _("The kit has not arrived from its previous leg yet."), code="invalid_transition"
            )
        if previous is not None and previous.status == Handover.Status.INCOMPLETE:
            open_tickets = MaintenanceTicket.objects.filter(
                pk__in=previous.checks.exclude(ticket=None).values("ticket")
            ).exclude(status="resolved")
            if open_tickets.exists():
                raise ValidationError(
                    _("The kit came back incomplete; resolve its tickets or ask the centre to override."),
                    code="kit_incomplete",
                )
            Handover.objects.filter(pk=previous.pk).update(status=Handover.Status.CLEARED)
        for item in _checklist(handover, items):
            HandoverCheck.objects.create(
                handover=handover,
                stage="out",
                asset=item["asset_obj"],
                present=bool(item.get("present", True)),
                condition=item.get("condition") or item["asset_obj"].condition,
                note=item.get("note", "")[:300],
            )
        handover.status = Handover.Status.IN_TRANSIT
        handover.checked_out_by, handover.checked_out_at = actor, now
        handover.save()
        CustodyEvent.objects.create(
            kit_id=handover.kit_id,
            school_id=handover.from_school_id,
            event="checked_out",
            at=now,
            actor=actor,
            handover=handover,
        )
    return handover


def handover_check_in(
    *, actor: User, handover: Handover, items: Sequence[Mapping[str, Any]], now: dt.datetime | None = None
) -> Handover:
    """The receiving school checks each item in. Missing or broken items open maintenance tickets
    and mark the leg incomplete, which blocks the kit's next leg."""
    now = now or timezone.now()
    with transaction.atomic():
        handover = Handover.objects.select_for_update().get(pk=handover.pk)
        if not actor.administers(handover.to_school_id):
            raise _forbidden(_("Only the receiving school checks the kit in."))
        if handover.status != Handover.Status.IN_TRANSIT:
            raise ValidationError(_("This kit is not on its way here."), code="invalid_transition")
        problems = 0
        for item in _checklist(handover, items):
            asset = item["asset_obj"]
            present = bool(item.get("present", True))
            condition = item.get("condition") or asset.condition
            if condition not in Asset.Condition.values:
                raise ValidationError({"items": ValidationError(_("Unknown condition."), code="invalid")})
            ticket = None
            if not present or condition in BAD_CONDITIONS:
                problems += 1
                what = _("missing") if not present else _("broken")
                ticket = equipment_services.ticket_report(
                    actor=actor,
                    asset=asset,
                    severity="high",
                    now=now,
                    custodian=True,
                    description=_("Kit handover: %(tag)s %(what)s on arrival. %(note)s")
                    % {"tag": asset.tag, "what": what, "note": item.get("note", "")},
                )
                if not present:
                    Asset.objects.filter(pk=asset.pk).update(status=Asset.Status.LOST)
            if condition != asset.condition:
                Asset.objects.filter(pk=asset.pk).update(condition=condition)
            HandoverCheck.objects.create(
                handover=handover,
                stage="in",
                asset=asset,
                present=present,
                condition=condition,
                note=item.get("note", "")[:300],
                ticket=ticket,
            )
            CustodyEvent.objects.create(
                kit_id=handover.kit_id,
                asset=asset,
                school_id=handover.to_school_id,
                event="received" if present else "missing",
                at=now,
                actor=actor,
                handover=handover,
            )
        handover.status = Handover.Status.INCOMPLETE if problems else Handover.Status.RECEIVED
        handover.checked_in_by, handover.checked_in_at = actor, now
        handover.save()
        CustodyEvent.objects.create(
            kit_id=handover.kit_id,
            school_id=handover.to_school_id,
            event="checked_in",
            at=now,
            actor=actor,
            handover=handover,
            note=_("%(count)s problems") % {"count": problems} if problems else "",
        )
    return handover


def handover_override(
    *, actor: User, handover: Handover, reason: str, now: dt.datetime | None = None
) -> Handover:
    """The centre lets a kit that came back incomplete travel on (with a reason)."""
    now = now or timezone.now()
    if not actor.is_centre_admin:
        raise _forbidden(_("Only the sharing centre overrides a handover."))
    if not reason.strip():
        raise ValidationError({"reason": ValidationError(_("Give a reason."), code="required")})
    with transaction.atomic():
        handover = Handover.objects.select_for_update().get(pk=handover.pk)
        if handover.status != Handover.Status.INCOMPLETE:
            raise ValidationError(
                _("Only an incomplete handover can be overridden."), code="invalid_transition"
            )
        handover.status = Handover.Status.CLEARED
        handover.override_by, handover.override_reason = actor, reason[:500]
        handover.save()
        CustodyEvent.objects.create(
            kit_id=handover.kit_id,
            school_id=handover.to_school_id,
            event="override",
            at=now,
            actor=actor,
            handover=handover,
            note=reason[:300],
        )
    return handover


def handovers_for(user: User):
    qs = Handover.objects.select_related("kit", "from_school", "to_school", "placement")
    if user.is_centre_admin:
        return qs
    return qs.filter(Q(from_school_id=user.school_id) | Q(to_school_id=user.school_id))
