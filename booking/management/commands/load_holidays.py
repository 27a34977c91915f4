"""Load a year's official holiday arrangement (放假安排) from a CSV file, or show each year's status.

    manage.py load_holidays 2027 arrangement-2027.csv [--actor USERNAME] [--note TEXT]
    manage.py load_holidays --status

The CSV has the columns date,kind,name (header row optional), UTF-8 or GB18030 (Excel on a
Chinese Windows saves GB18030). kind is holiday/休 or workday/班; a workday is a Saturday or
Sunday worked instead (调休上班) and may be left unnamed. The loaded year replaces any earlier
load of it and overrides the packages' data for the whole year.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from booking.holidays import OFFICIAL_HOLIDAY, OFFICIAL_WORKDAY, official_arrangement_load, year_status
from booking.models.holidays import ARRANGEMENT_MAX_YEAR, ARRANGEMENT_MIN_YEAR
from schools.models import User

KIND_ALIASES = {
    "holiday": OFFICIAL_HOLIDAY,
    "休": OFFICIAL_HOLIDAY,
    "放假": OFFICIAL_HOLIDAY,
    "workday": OFFICIAL_WORKDAY,
    "班": OFFICIAL_WORKDAY,
    "上班": OFFICIAL_WORKDAY,
}
HEADER_FIRST_CELLS = frozenset({"date", "日期"})
ENCODINGS = ("utf-8-sig", "gb18030")
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


def _parse_date(text: str) -> dt.date | None:
    match = _DATE.match(text.strip())
    if not match:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def read_arrangement(path: Path) -> tuple[list[tuple[dt.date, str, str]], dict[str, int]]:
    """The CSV's days, and the line number of each date (ISO) for error messages."""
    raw = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise CommandError(f"{path}: not UTF-8 or GB18030 text.")
    days: list[tuple[dt.date, str, str]] = []
    lines: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text))
    first = True
    for cells in reader:
        row = reader.line_num
        cells = [c.strip() for c in cells]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if first and cells[0].lower() in HEADER_FIRST_CELLS:
            first = False
            continue
        first = False
        if len(cells) < 2 or len(cells) > 3:
            raise CommandError(f"Row {row}: expected date,kind,name; got {len(cells)} columns.")
        date = _parse_date(cells[0])
        if date is None:
            raise CommandError(f"Row {row}: {cells[0]!r} is not a date (YYYY-MM-DD).")
        kind = KIND_ALIASES.get(cells[1].lower())
        if kind is None:
            raise CommandError(f"Row {row}: kind {cells[1]!r} is neither holiday (休) nor workday (班).")
        if date.isoformat() in lines:
            raise CommandError(
                f"Row {row}: {date.isoformat()} is listed twice (also on row {lines[date.isoformat()]})."
            )
        days.append((date, kind, cells[2] if len(cells) > 2 else ""))
        lines[date.isoformat()] = row
    if not days:
        raise CommandError(f"{path}: no rows.")
    return days, lines


class Command(BaseCommand):
    help = "Load a year's official holiday arrangement from a CSV file (date,kind,name), or --status."

    def add_arguments(self, parser):
        parser.add_argument("year", nargs="?", help="the year the arrangement is for")
        parser.add_argument("file", nargs="?", help="CSV file: date,kind,name")
        parser.add_argument(
            "--actor", help="username of the centre admin loading it (default: the first centre admin)"
        )
        parser.add_argument("--note", default="", help="e.g. the State Council notice it comes from")
        parser.add_argument("--status", action="store_true", help="show where each year's days come from")

    def handle(self, *args, **options):
        if options["status"]:
            self._print_status()
            return
        if options["year"] is None or options["file"] is None:
            raise CommandError("Give YEAR and FILE.csv, or --status.")
        year = self._year(options["year"])
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        days, lines = read_arrangement(path)
        actor = self._actor(options["actor"])
        try:
            loaded = official_arrangement_load(actor=actor, year=year, days=days, note=options["note"])
        except ValidationError as exc:
            raise CommandError(self._explain(exc, lines)) from None
        holidays = loaded.days.filter(kind=OFFICIAL_HOLIDAY).count()
        workdays = loaded.days.filter(kind=OFFICIAL_WORKDAY).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded the official arrangement for {year}: {holidays} holidays, "
                f"{workdays} adjusted working days (by {actor.username})."
            )
        )

    def _year(self, text: str) -> int:
        try:
            year = int(text)
        except ValueError:
            year = None
        if year is None or not ARRANGEMENT_MIN_YEAR <= year <= ARRANGEMENT_MAX_YEAR:
            raise CommandError(
                f"Bad year {text!r}: give a year from {ARRANGEMENT_MIN_YEAR} to {ARRANGEMENT_MAX_YEAR}."
            )
        return year

    def _actor(self, username: str | None) -> User:
        if username:
            actor = User.objects.filter(username=username).first()
            if actor is None:
                raise CommandError(f"No user {username!r}.")
            return actor
        actor = (
            User.objects.filter(Q(is_superuser=True) | Q(role=User.Role.CENTRE_ADMIN), is_active=True)
            .order_by("pk")
            .first()
        )
        if actor is None:
            raise CommandError("No centre administrator exists: create one, or pass --actor.")
        return actor

    def _explain(self, exc: ValidationError, lines: dict[str, int]) -> str:
        message = " ".join(exc.messages)
        date = (getattr(exc, "params", None) or {}).get("date")
        if date in lines:
            return f"Row {lines[date]}: {message}"
        return message

    def _print_status(self) -> None:
        this_year = timezone.localdate().year
        for row in year_status(range(this_year - 1, this_year + 4)):
            state = "provisional" if row["provisional"] else "final"
            self.stdout.write(f"{row['year']}  {row['source']:<16}  {state}")
