"""Spreadsheet import and export of assets (CSV and XLSX).

An export re-imports: the same columns, Chinese headers by default, and formula-looking text
escaped on the way out (and un-escaped on the way back in). The import is all or nothing:
every row is checked, every error is reported with its spreadsheet row number, and nothing is
written while any row is wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from schools.models import School, User

from .models import Asset, CatalogItem, Resource
from .rules import FORMULA_PREFIXES, spreadsheet_safe
from .services import asset_validate, assets_bulk_create, check_manages

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000
# An .xlsx is a zip: cap what it inflates to, so a small upload cannot expand into gigabytes.
MAX_XLSX_INFLATED = 80 * 1024 * 1024

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    aliases: tuple[str, ...] = ()


COLUMNS = (
    Column("tag", "资产编号", ("资产标签",)),
    Column("catalog_code", "目录编码", ("目录代码", "器材编码")),
    Column("serial_number", "序列号", ("出厂编号",)),
    Column("status", "状态"),
    Column("condition", "状况", ("完好状况",)),
    Column("purchase_date", "购置日期", ("购买日期",)),
    Column("value_cny", "价值(元)", ("价值",)),
    Column("location", "位置", ("存放位置", "存放地点")),
    Column("notes", "备注"),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)
REQUIRED_COLUMNS = ("tag", "catalog_code")
COLUMN_ZH = {c.key: c.zh for c in COLUMNS}

# Canonical Chinese labels used in exports; the translated labels of the catalogue are accepted too.
STATUS_ZH = {"in_service": "在用", "in_repair": "维修中", "lost": "丢失", "retired": "报废"}
CONDITION_ZH = {"new": "全新", "good": "良好", "fair": "一般", "poor": "较差", "broken": "损坏"}
STATUS_ALIASES = {"正常": "in_service", "在役": "in_service", "遗失": "lost", "已报废": "retired"}
CONDITION_ALIASES = {"新": "new", "好": "good", "差": "poor", "坏": "broken", "已损坏": "broken"}

# Which spreadsheet column a model field's error belongs to.
FIELD_TO_COLUMN = {
    "tag": "tag",
    "catalog_item": "catalog_code",
    "serial_number": "serial_number",
    "status": "status",
    "condition": "condition",
    "purchase_date": "purchase_date",
    "value_cny": "value_cny",
    "space": "location",
    "kit": "location",
    "notes": "notes",
}

_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


def _normalise(text: str) -> str:
    """Header and label matching ignores case, spaces, underscores and full-width forms."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\s_\-]+", "", text)


HEADER_TO_KEY: dict[str, str] = {}
for _column in COLUMNS:
    for _name in (_column.key, _column.key.replace("_", " "), _column.zh, *_column.aliases):
        HEADER_TO_KEY[_normalise(_name)] = _column.key


def _file_error(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


# --- reading ----------------------------------------------------------------------------------


def parse_asset_file(uploaded_bytes: bytes, filename: str) -> list[dict[str, Any]]:
    """Rows of a .csv or .xlsx asset list as dicts keyed by column ('tag', 'catalog_code', ...)
    plus 'row', the spreadsheet row number (the header is row 1). Empty rows are skipped.

    Raises ValidationError (one message about the whole file) for an unsupported, oversized,
    undecodable or malformed file, or for missing or unknown columns.
    """
    if len(uploaded_bytes) > MAX_BYTES:
        raise _file_error(
            _("The file is larger than %(mb)d MB; split it into smaller files.") % {"mb": MAX_BYTES // 2**20},
            code="file_too_large",
        )
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".csv":
        table = _csv_table(uploaded_bytes)
    elif suffix in (".xlsx", ".xlsm"):
        table = _xlsx_table(uploaded_bytes)
    else:
        raise _file_error(
            _("Upload a .csv or .xlsx file (save an old .xls workbook as .xlsx first)."),
            code="unsupported_format",
        )
    return _table_to_rows(table)


def _decode(data: bytes) -> str:
    # Excel on a Chinese Windows saves "CSV" in GBK (a subset of GB18030); "CSV UTF-8" has a BOM.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _file_error(
        _("The file could not be read as text: save it as CSV in UTF-8 or GBK (GB18030) encoding."),
        code="undecodable",
    )


def _csv_table(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    text = _decode(data)
    if "\x00" in text:
        raise _file_error(_("This is not a CSV text file."), code="invalid_file")
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count) if first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # Excel shows one record per row even when a quoted cell holds a line break.
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise _file_error(
            _("The CSV file is malformed near row %(row)d: %(error)s")
            % {"row": reader.line_num, "error": exc},
            code="invalid_file",
        ) from None


def _xlsx_table(data: bytes) -> Iterator[tuple[int, tuple[Any, ...]]]:
    from openpyxl import load_workbook

    invalid = _file_error(_("This is not a valid .xlsx workbook."), code="invalid_file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise invalid from None
    if inflated > MAX_XLSX_INFLATED:
        raise _file_error(
            _("The workbook is too large once unpacked; split it into smaller files."), code="file_too_large"
        )
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types (KeyError, zipfile, XML) for broken files
        raise invalid from None
    try:
        sheet = workbook.active or workbook.worksheets[0]
        # read_only fills missing rows with empty ones, so the position is the sheet's row number.
        yield from enumerate(sheet.iter_rows(values_only=True), start=1)
    except (KeyError, ValueError, zipfile.BadZipFile):
        raise invalid from None
    finally:
        workbook.close()


def _cell(value: Any) -> str | dt.date:
    """A cell as stripped text, or a date for Excel date cells."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # Excel keeps numbers as floats: 1001.0 is the tag "1001", 0.30000000000000004 is 0.3.
        return str(int(value)) if value.is_integer() else str(round(value, 6))
    text = str(value).strip()
    # Undo the export's formula escape ('=SUM(1) -> =SUM(1)) so an export re-imports as it was.
    if text[:1] == "'" and text[1:2] in FORMULA_PREFIXES:
        text = text[1:]
    return text


def _table_to_rows(table: Iterable[tuple[int, Iterable[Any]]]) -> list[dict[str, Any]]:
    header: list[str | None] | None = None
    rows: list[dict[str, Any]] = []
    for number, raw in table:
        cells = [_cell(v) for v in raw]
        if not any(c != "" for c in cells):
            continue
        if header is None:
            header = _read_header(cells)
            continue
        if len(rows) >= MAX_ROWS:
            raise _file_error(
                _("The file has more than %(max)d asset rows; split it into smaller files.")
                % {"max": MAX_ROWS},
                code="too_many_rows",
            )
        row: dict[str, Any] = {"row": number}
        for key, value in zip(header, cells, strict=False):
            if key is not None:
                row[key] = value
        rows.append(row)
    if header is None:
        raise _file_error(_("The file is empty: a header row is required."), code="no_header")
    return rows


def _read_header(cells: list[str | dt.date]) -> list[str | None]:
    keys: list[str | None] = []
    unknown: list[str] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    for cell in cells:
        name = str(cell)
        if not name:
            keys.append(None)  # a blank header cell: an unused column
            continue
        key = HEADER_TO_KEY.get(_normalise(name))
        if key is None:
            unknown.append(name)
        elif key in seen:
            duplicates.append(name)
        seen.add(key or "")
        keys.append(key)
    missing = [f"{key} ({COLUMN_ZH[key]})" for key in REQUIRED_COLUMNS if key not in seen]
    problems = []
    if missing:
        problems.append(_("Missing required columns: %(columns)s.") % {"columns": ", ".join(missing)})
    if unknown:
        problems.append(_("Unknown columns: %(columns)s.") % {"columns": ", ".join(unknown)})
    if duplicates:
        problems.append(_("Columns given twice: %(columns)s.") % {"columns": ", ".join(duplicates)})
    if problems:
        allowed = ", ".join(f"{c.key} / {c.zh}" for c in COLUMNS)
        problems.append(
            _("The first row must name the columns; allowed: %(allowed)s.") % {"allowed": allowed}
        )
        raise _file_error(" ".join(problems), code="invalid_columns")
    return keys


# --- importing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    """One problem: row is the spreadsheet row number (None: the whole file); field a column key."""

    row: int | None
    field: str
    message: str

    @property
    def column(self) -> str:
        return f"{COLUMN_ZH[self.field]} ({self.field})" if self.field in COLUMN_ZH else ""


@dataclass
class ImportResult:
    created: list[Asset] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def count(self) -> int:
        return len(self.created)


def _choices_lookup(choices: Iterable[tuple[str, Any]], zh: dict[str, str], aliases: dict[str, str]):
    lookup = {_normalise(value): value for value, _label in choices}
    lookup.update({_normalise(label): value for value, label in zh.items()})
    lookup.update({_normalise(label): value for label, value in aliases.items()})
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            lookup.update({_normalise(str(label)): value for value, label in choices})
    return lookup


def _error_items(exc: ValidationError) -> list[tuple[str, str]]:
    if hasattr(exc, "error_dict"):
        return [(name, message) for name, errors in exc.message_dict.items() for message in errors]
    return [(NON_FIELD_ERRORS, message) for message in exc.messages]


def _parse_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    match = _DATE.match(value)
    if not match:
        raise ValueError(value)
    return dt.date(*(int(part) for part in match.groups()))


def _parse_value(value: str | dt.date) -> Decimal:
    if isinstance(value, dt.date):
        raise ValueError(value)
    # NFKC turns full-width digits, commas and the yen sign into their ASCII forms first.
    cleaned = re.sub(r"[\s,¥元]", "", unicodedata.normalize("NFKC", value))
    number = Decimal(cleaned)
    if not number.is_finite():
        raise ValueError(value)
    return number


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value or "")


def import_assets(*, actor: User, school: School, rows: list[dict[str, Any]]) -> ImportResult:
    """Create one asset per row for the school, all or nothing.

    Every row is validated with the rules of asset_create (asset_validate) before anything is
    written; if any row fails, nothing is written and result.errors lists every problem by row.
    Raises code='forbidden' when the actor may not manage the school's inventory.
    """
    check_manages(actor, school.pk)
    if not rows:
        return ImportResult(errors=[RowError(None, "", _("The file has no asset rows."))])

    codes = {_text(r.get("catalog_code")) for r in rows} - {""}
    catalogue = {
        item.code.casefold(): item
        for item in CatalogItem.objects.filter(code__in=codes | {c.upper() for c in codes})
    }
    places = {_normalise(r.name): r for r in Resource.objects.filter(school=school)}
    tags = {_text(r.get("tag")) for r in rows} - {""}
    existing = set(Asset.objects.filter(tag__in=tags).values_list("tag", flat=True))
    statuses = _choices_lookup(Asset.Status.choices, STATUS_ZH, STATUS_ALIASES)
    conditions = _choices_lookup(Asset.Condition.choices, CONDITION_ZH, CONDITION_ALIASES)

    first_row_of_tag: dict[str, int] = {}
    built: list[tuple[int, Asset, set[str]]] = []  # (row number, asset, columns that failed to parse)
    errors: list[RowError] = []
    refused: ValidationError | None = None
    for row in rows:
        number = row["row"]
        row_errors: dict[str, str] = {}

        tag = _text(row.get("tag"))
        if not tag:
            row_errors["tag"] = _("An asset tag is required.")
        elif tag in first_row_of_tag:
            row_errors["tag"] = _("The tag %(tag)s already appears in row %(row)d.") % {
                "tag": tag,
                "row": first_row_of_tag[tag],
            }
        elif tag in existing:
            row_errors["tag"] = _("An asset with the tag %(tag)s already exists.") % {"tag": tag}
        else:
            first_row_of_tag[tag] = number

        code = _text(row.get("catalog_code"))
        item = catalogue.get(code.casefold())
        if not code:
            row_errors["catalog_code"] = _("A catalogue code is required.")
        elif item is None:
            row_errors["catalog_code"] = _("Unknown catalogue code %(code)s.") % {"code": code}

        choice = {}
        for key, lookup, labels, default, message in (
            (
                "status",
                statuses,
                STATUS_ZH,
                Asset.Status.IN_SERVICE,
                _("%(value)s is not a status; use one of: %(allowed)s."),
            ),
            (
                "condition",
                conditions,
                CONDITION_ZH,
                Asset.Condition.GOOD,
                _("%(value)s is not a condition; use one of: %(allowed)s."),
            ),
        ):
            raw = _text(row.get(key))
            choice[key] = lookup.get(_normalise(raw)) if raw else default
            if choice[key] is None:
                allowed = ", ".join(f"{value} / {label}" for value, label in labels.items())
                row_errors[key] = message % {"value": raw, "allowed": allowed}

        purchase_date = None
        raw_date = row.get("purchase_date") or ""
        if raw_date != "":
            try:
                purchase_date = _parse_date(raw_date)
            except ValueError:
                row_errors["purchase_date"] = _("%(value)s is not a date; use YYYY-MM-DD.") % {
                    "value": _text(raw_date)
                }

        value = item.unit_value_cny if item else Decimal(0)
        raw_value = row.get("value_cny") or ""
        if raw_value != "":
            try:
                value = _parse_value(raw_value)
            except (InvalidOperation, ValueError):
                row_errors["value_cny"] = _("%(value)s is not an amount in yuan.") % {
                    "value": _text(raw_value)
                }
            else:
                if value < 0:
                    row_errors["value_cny"] = _("The value must not be negative.")

        space = kit = None
        location = _text(row.get("location"))
        if location:
            place = places.get(_normalise(location))
            if place is None:
                row_errors["location"] = _(
                    "%(school)s has no space or mobile kit named %(name)s (leave it empty for the store)."
                ) % {"school": school.name, "name": location}
            elif place.is_kit:
                kit = place
            else:
                space = place

        asset = Asset(
            tag=tag,
            catalog_item=item,
            serial_number=_text(row.get("serial_number")),
            school=school,
            space=space,
            kit=kit,
            status=choice["status"] or Asset.Status.IN_SERVICE,
            condition=choice["condition"] or Asset.Condition.GOOD,
            purchase_date=purchase_date,
            value_cny=value,
            notes=_text(row.get("notes")),
        )
        errors.extend(RowError(number, key, message) for key, message in row_errors.items())
        built.append((number, asset, set(row_errors)))

    if not errors:
        # Optimistic: the service validates every asset once more before writing any, so a clean
        # file costs one validation pass, not two. Only a refused file is checked row by row.
        try:
            return ImportResult(created=assets_bulk_create(actor=actor, assets=[a for _n, a, _f in built]))
        except ValidationError as exc:
            refused = exc
        except IntegrityError:
            return ImportResult(
                errors=[
                    RowError(
                        None, "", _("The inventory changed while importing; nothing was imported. Try again.")
                    )
                ]
            )
    for number, asset, flagged in built:
        try:
            asset_validate(actor=actor, asset=asset)
        except ValidationError as exc:
            for name, message in _error_items(exc):
                column = FIELD_TO_COLUMN.get(name, "")
                # A column that already failed to parse would only repeat itself ("cannot be null").
                if not (column and column in flagged):
                    errors.append(RowError(number, column, message))
    if not errors:
        # Every row passes on its own, yet the service refused (say, the same tags were imported
        # by someone else a moment ago): report its reason for the whole file.
        assert refused is not None
        errors = [RowError(None, FIELD_TO_COLUMN.get(n, ""), m) for n, m in _error_items(refused)]
    order = {key: i for i, key in enumerate(("", *COLUMN_KEYS))}
    errors.sort(key=lambda e: (e.row or 0, order.get(e.field, 99)))
    return ImportResult(errors=errors)


# --- exporting --------------------------------------------------------------------------------


def _export_rows(queryset: QuerySet[Asset], language: str) -> Iterator[list[Any]]:
    if not queryset.ordered:
        queryset = queryset.order_by("tag")
    queryset = queryset.select_related("catalog_item", "space", "kit")
    for asset in queryset.iterator(chunk_size=2000):
        place = asset.space or asset.kit
        yield [
            asset.tag,
            asset.catalog_item.code,
            asset.serial_number,
            STATUS_ZH.get(asset.status, asset.status) if language == "zh" else asset.status,
            CONDITION_ZH.get(asset.condition, asset.condition) if language == "zh" else asset.condition,
            asset.purchase_date,
            asset.value_cny,
            place.name if place else "",
            asset.notes,
        ]


def export_assets(
    queryset: QuerySet[Asset], fmt: str = "csv", *, language: str = "zh"
) -> tuple[bytes, str, str]:
    """The assets as a spreadsheet that parse_asset_file reads back: (content, content type, filename).

    language='zh' writes Chinese headers and labels, 'en' the column keys and codes. Text cells
    that a spreadsheet would run as a formula are escaped.
    """
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"Unknown export format {fmt!r}")
    header = [c.zh if language == "zh" else c.key for c in COLUMNS]
    rows = _export_rows(queryset, language)
    filename = f"assets-{timezone.localdate():%Y%m%d}.{fmt}"
    if fmt == "csv":
        return _write_csv(header, rows), CSV_CONTENT_TYPE, filename
    return _write_xlsx(header, rows), XLSX_CONTENT_TYPE, filename


def _write_csv(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            [
                value.isoformat() if isinstance(value, dt.date) else spreadsheet_safe(value)
                for value in (("" if v is None else v) for v in row)
            ]
        )
    # The BOM makes Excel open the file as UTF-8 instead of the system code page.
    return buffer.getvalue().encode("utf-8-sig")


def _write_xlsx(header: list[str], rows: Iterable[list[Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="assets")
    for index, width in enumerate((18, 14, 18, 10, 10, 12, 12, 24, 40), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    header_cells = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=spreadsheet_safe(value))
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(value, Decimal):
                cell.number_format = "0.00"
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
