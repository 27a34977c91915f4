import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from booking.holidays import day_info

SH = ZoneInfo("Asia/Shanghai")


def next_workday(min_days: int = 2, after: dt.date | None = None) -> dt.date:
    """The first ordinary working day (Mon-Fri, not a holiday) at least `min_days` from today."""
    day = (after or dt.datetime.now(SH).date()) + dt.timedelta(days=min_days)
    while day_info(day).kind != "workday":
        day += dt.timedelta(days=1)
    return day


def local(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=SH)


@pytest.fixture
def day():
    return next_workday()
