"""Is a date a working day in China? Statutory holidays and adjusted working days (调休).

Every year the State Council publishes the next year's arrangement (usually in November or
December): which days are off, and which Saturdays or Sundays are worked instead (调休上班).
Sources, most authoritative first:

1. the official arrangement a centre admin loaded (`HolidayYear` / `OfficialDay`); it replaces
   the packages for that whole year;
2. `chinese_calendar`, which ships the published arrangements from 2004 up to its release year
   and raises NotImplementedError for any other year;
3. the `holidays` package (1950 to 2100): the statutory holidays plus the 补假 days the law gives
   when one falls on a weekend, but no adjusted working days for years without a published
   arrangement, so its answer is provisional;
4. plain Monday to Friday, also provisional.

`day_info` never raises for a date: a package failing on an odd year falls through to the next
source. Package data is static and cached per year; the loaded arrangement is read from the
database on every `days_info` call, so loading a year takes effect at once in every process.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import chinese_calendar
import holidays as holidays_lib
from chinese_calendar.constants import Holiday as ChineseCalendarHoliday
from chinese_calendar.constants import holidays as chinese_calendar_holidays
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import HolidayYear, OfficialDay
from .models.holidays import ARRANGEMENT_MAX_YEAR, ARRANGEMENT_MIN_YEAR

logger = logging.getLogger(__name__)

# DayInfo.kind
WORKDAY = "workday"
WEEKEND = "weekend"
HOLIDAY = "holiday"
ADJUSTED_WORKDAY = "adjusted_workday"  # a Saturday or Sunday worked by the arrangement
KINDS = frozenset({WORKDAY, WEEKEND, HOLIDAY, ADJUSTED_WORKDAY})
WORKING_KINDS = frozenset({WORKDAY, ADJUSTED_WORKDAY})

# DayInfo.source
SOURCE_OFFICIAL = "official"
SOURCE_CHINESE_CALENDAR = "chinese_calendar"
SOURCE_HOLIDAYS = "holidays"
SOURCE_WEEKDAY = "weekday"

# OfficialDay.kind, as loaded
OFFICIAL_HOLIDAY = "holiday"
OFFICIAL_WORKDAY = "workday"

# The name the State Council's notices give a worked weekend day.
ADJUSTED_WORKDAY_NAME = "调休上班"

# chinese_calendar knows the arrangements of the years in its data, and raises outside them.
CHINESE_CALENDAR_YEARS = range(
    min(d.year for d in chinese_calendar_holidays), max(d.year for d in chinese_calendar_holidays) + 1
)
HOLIDAYS_LIB_YEARS = range(holidays_lib.CN.start_year, holidays_lib.CN.end_year + 1)

# chinese_calendar names days in English; these are the names the official notices use.
_CHINESE_CALENDAR_NAMES = {h.value: h.chinese for h in ChineseCalendarHoliday} | {
    ChineseCalendarHoliday.tomb_sweeping_day.value: "清明节",
    ChineseCalendarHoliday.dragon_boat_festival.value: "端午节",
    ChineseCalendarHoliday.mid_autumn_festival.value: "中秋节",
}


@dataclass(frozen=True)
class DayInfo:
    """What one date is. `provisional` means no published arrangement backs it (yet)."""

    date: dt.date
    kind: str  # workday | weekend | holiday | adjusted_workday
    name: str  # 国庆节, 调休上班, ...; "" for an ordinary day
    source: str  # official | chinese_calendar | holidays | weekday
    provisional: bool

    @property
    def is_working_day(self) -> bool:
        return self.kind in WORKING_KINDS


def _is_weekend(date: dt.date) -> bool:
    return date.weekday() >= 5


def _ordinary(date: dt.date, source: str, provisional: bool) -> DayInfo:
    return DayInfo(date, WEEKEND if _is_weekend(date) else WORKDAY, "", source, provisional)


def _from_official(date: dt.date, entry: tuple[str, str] | None) -> DayInfo:
    if entry is None:
        return _ordinary(date, SOURCE_OFFICIAL, False)
    kind, name = entry
    if kind == OFFICIAL_HOLIDAY:
        return DayInfo(date, HOLIDAY, name, SOURCE_OFFICIAL, False)
    if kind == OFFICIAL_WORKDAY:
        return DayInfo(
            date,
            ADJUSTED_WORKDAY if _is_weekend(date) else WORKDAY,
            name or ADJUSTED_WORKDAY_NAME,
            SOURCE_OFFICIAL,
            False,
        )
    raise ValueError(f"unknown official day kind {kind!r}")


def _from_chinese_calendar(date: dt.date) -> DayInfo | None:
    if date.year not in CHINESE_CALENDAR_YEARS:
        return None
    try:
        off, name = chinese_calendar.get_holiday_detail(date)
    except NotImplementedError:
        return None
    if name is None:
        return _ordinary(date, SOURCE_CHINESE_CALENDAR, False)
    festival = _CHINESE_CALENDAR_NAMES.get(name, name)
    if off:
        return DayInfo(date, HOLIDAY, festival, SOURCE_CHINESE_CALENDAR, False)
    # A listed working day: the weekend day worked to lengthen that festival's break (春节调休上班).
    kind = ADJUSTED_WORKDAY if _is_weekend(date) else WORKDAY
    return DayInfo(date, kind, f"{festival}{ADJUSTED_WORKDAY_NAME}", SOURCE_CHINESE_CALENDAR, False)


@functools.lru_cache(maxsize=256)
def _holidays_lib_year(year: int) -> Mapping[dt.date, str] | None:
    """The holidays package's days off in `year` (Chinese names), or None when it has none."""
    if year not in HOLIDAYS_LIB_YEARS:
        return None
    try:
        # language explicitly: its default follows the process locale (English under C.UTF-8).
        days = holidays_lib.country_holidays("CN", years=year, language="zh_CN")
        return types.MappingProxyType(dict(days.items()))
    except Exception:
        # A third-party calendar must never take the booking engine down; fall through.
        logger.exception("holidays package failed for CN %s", year)
        return None


def _from_holidays_lib(date: dt.date) -> DayInfo | None:
    days = _holidays_lib_year(date.year)
    if days is None:
        return None
    name = days.get(date)
    if name:
        return DayInfo(date, HOLIDAY, name, SOURCE_HOLIDAYS, True)
    return _ordinary(date, SOURCE_HOLIDAYS, True)


def day_info(
    date: dt.date,
    official: Mapping[dt.date, tuple[str, str]] | None = None,
    official_years: set[int] | None = None,
) -> DayInfo:
    """What `date` is, without touching the database.

    `official` maps the loaded official days to (kind, name), kind "holiday" or "workday";
    `official_years` are the years loaded (default: the years of `official`'s dates). A loaded
    year overrides the packages for all its days. Never raises for a date.
    """
    if isinstance(date, dt.datetime):
        date = date.date()
    official = official or {}
    if official_years is None:
        official_years = {d.year for d in official}
    if date.year in official_years:
        return _from_official(date, official.get(date))
    return (
        _from_chinese_calendar(date)
        or _from_holidays_lib(date)
        or _ordinary(date, SOURCE_WEEKDAY, provisional=True)
    )


def days_info(start_date: dt.date, end_date: dt.date) -> dict[dt.date, DayInfo]:
    """DayInfo for every date from `start_date` to `end_date`, both included (two queries)."""
    if end_date < start_date:
        return {}
    years = list(range(start_date.year, end_date.year + 1))
    official_years = set(HolidayYear.objects.filter(year__in=years).values_list("year", flat=True))
    official: dict[dt.date, tuple[str, str]] = {}
    if official_years:
        official = {
            date: (kind, name)
            for date, kind, name in OfficialDay.objects.filter(
                date__range=(start_date, end_date)
            ).values_list("date", "kind", "name")
        }
    result = {}
    date = start_date
    while date <= end_date:
        result[date] = day_info(date, official, official_years)
        if date == dt.date.max:
            break
        date += dt.timedelta(days=1)
    return result


def year_status(years: Iterable[int]) -> list[dict]:
    """For each year, where its days come from: [{"year", "source", "provisional"}], by year.

    source is "official" (loaded), "chinese_calendar" (published arrangement shipped with the
    package), "holidays" (statutory days only, provisional) or "weekday" (provisional).
    """
    years = sorted(set(years))
    loaded = set(HolidayYear.objects.filter(year__in=years).values_list("year", flat=True))
    status = []
    for year in years:
        if year in loaded:
            source, provisional = SOURCE_OFFICIAL, False
        elif year in CHINESE_CALENDAR_YEARS:
            source, provisional = SOURCE_CHINESE_CALENDAR, False
        elif _holidays_lib_year(year):
            source, provisional = SOURCE_HOLIDAYS, True
        else:
            source, provisional = SOURCE_WEEKDAY, True
        status.append({"year": year, "source": source, "provisional": provisional})
    return status


# --- the official arrangement ---------------------------------------------------------------


def _invalid(message: str, **params) -> ValidationError:
    return ValidationError(message, code="invalid_arrangement", params=params or None)


def check_arrangement(
    *, year: int, days: Sequence[tuple[dt.date, str, str]]
) -> list[tuple[dt.date, str, str]]:
    """A rule: is `days` a valid official arrangement for `year`? Returns it cleaned, by date.

    Every date lies in `year`, once; kind is "holiday" or "workday"; a working day is a
    Saturday or Sunday (weekdays are worked anyway); holidays are named; at least one holiday.
    Raises code='invalid_arrangement', with params["date"] (ISO) when one day is at fault.
    """
    if not isinstance(year, int) or not ARRANGEMENT_MIN_YEAR <= year <= ARRANGEMENT_MAX_YEAR:
        raise _invalid(
            _("The year must lie between %(min)s and %(max)s."),
            min=ARRANGEMENT_MIN_YEAR,
            max=ARRANGEMENT_MAX_YEAR,
        )
    cleaned: dict[dt.date, tuple[dt.date, str, str]] = {}
    for date, kind, name in days:
        if isinstance(date, dt.datetime) or not isinstance(date, dt.date):
            raise _invalid(_("%(date)s is not a date."), date=str(date))
        iso = date.isoformat()
        name = (name or "").strip()
        if date.year != year:
            raise _invalid(_("%(date)s is not in %(year)s."), date=iso, year=year)
        if date in cleaned:
            raise _invalid(_("%(date)s is listed twice."), date=iso)
        if kind not in (OFFICIAL_HOLIDAY, OFFICIAL_WORKDAY):
            raise _invalid(_("%(date)s: the kind must be “holiday” or “workday”."), date=iso)
        if kind == OFFICIAL_WORKDAY and not _is_weekend(date):
            raise _invalid(
                _("%(date)s is a weekday; only a Saturday or Sunday can be an adjusted working day."),
                date=iso,
            )
        if kind == OFFICIAL_HOLIDAY and not name:
            raise _invalid(_("The holiday on %(date)s needs a name."), date=iso)
        cleaned[date] = (date, kind, name or ADJUSTED_WORKDAY_NAME)
    if not any(kind == OFFICIAL_HOLIDAY for _date, kind, _name in cleaned.values()):
        raise _invalid(_("An arrangement lists at least one holiday."))
    return [cleaned[date] for date in sorted(cleaned)]


def official_arrangement_load(
    *, actor, year: int, days: Sequence[tuple[dt.date, str, str]], note: str = ""
) -> HolidayYear:
    """Service: make `days` the official arrangement of `year`, replacing any loaded before.

    Centre admins only (code='forbidden'); `days` must pass `check_arrangement`
    (code='invalid_arrangement'). One transaction: readers see the old year or the new one.
    """
    if not (getattr(actor, "is_active", False) and getattr(actor, "is_centre_admin", False)):
        raise ValidationError(
            _("Only centre administrators may load holiday arrangements."), code="forbidden"
        )
    rows = check_arrangement(year=year, days=days)
    with transaction.atomic():
        # Lock the year so two loads of the same year run one after the other.
        holiday_year, _created = HolidayYear.objects.select_for_update().get_or_create(year=year)
        holiday_year.source = HolidayYear.Source.OFFICIAL
        holiday_year.loaded_at = timezone.now()
        holiday_year.loaded_by = actor
        holiday_year.note = note
        holiday_year.full_clean()
        holiday_year.save()
        OfficialDay.objects.filter(year=holiday_year).delete()
        new_days = [OfficialDay(year=holiday_year, date=d, kind=k, name=n) for d, k, n in rows]
        for day in new_days:
            # check_arrangement vetted dates and kinds; the unique and check constraints stay
            # the last guard (the year's old rows are already gone).
            day.full_clean(validate_unique=False, validate_constraints=False)
        OfficialDay.objects.bulk_create(new_days)
    return holiday_year
