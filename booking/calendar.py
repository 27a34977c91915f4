"""The calendar a booking lives in: local time, months, statutory holidays and closures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from config.db import id_in
from equipment.models import Resource

from .holidays import days_info
from .models import Closure
from .rules import DayRule, hours_weekday_for


@cache
def local_tz() -> ZoneInfo:
    # Asia/Shanghai: Harbin's wall clock. No DST since 1991, but never assume: always convert.
    return ZoneInfo(settings.TIME_ZONE)


def local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=local_tz())


def month_bounds(when: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """[first local midnight of when's month, first local midnight of the next month)."""
    local = when.astimezone(local_tz())
    first = local.date().replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return local_midnight(first), local_midnight(following)


def dates(start: dt.date, end: dt.date) -> Iterable[dt.date]:
    """start..end inclusive."""
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def closures_for(resource_ids: Iterable[int], school_ids: Iterable[int], start: dt.date, end: dt.date):
    """Closure rows touching [start, end] for these resources/schools, and every city-wide one."""
    return Closure.objects.filter(start_date__lte=end, end_date__gte=start).filter(
        Q(scope=Closure.Scope.CITY)
        | Q(scope=Closure.Scope.SCHOOL, school_id__in=list(school_ids))
        | (Q(scope=Closure.Scope.RESOURCE) & id_in("resource_id", resource_ids))
    )


def day_rules_for(resource: Resource, start: dt.date, end: dt.date) -> dict[dt.date, DayRule]:
    """For each date: the statutory kind of day and the reasons of closures covering it."""
    info = days_info(start, end)
    rows = list(
        closures_for([resource.pk], [resource.school_id], start, end).values_list(
            "start_date", "end_date", "reason"
        )
    )
    out = {}
    for day in dates(start, end):
        reasons = tuple(reason for s, e, reason in rows if s <= day <= e)
        d = info[day]
        out[day] = DayRule(kind=d.kind, name=d.name, closures=reasons)
    return out


def open_days(first: dt.date, last: dt.date, equity) -> tuple[list[dt.date], list[int]]:
    """The dates of [first, last] that may open at all (statutory holidays closed, 调休 days as the
    centre's `equity` settings say), and the weekday whose hours each one uses: for the SQL of the
    city search and of the usage metrics, decided by the same rule as the Python paths."""
    info = days_info(first, last)
    days, weekdays = [], []
    for day in dates(first, last):
        weekday = hours_weekday_for(
            day,
            DayRule(kind=info[day].kind, name=info[day].name),
            adjusted_mode=equity.adjusted_day_mode,
            adjusted_weekday=equity.adjusted_day_weekday,
        )
        if weekday is not None:
            days.append(day)
            weekdays.append(weekday)
    return days, weekdays
