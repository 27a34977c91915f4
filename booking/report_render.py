"""Monthly report files: a report snapshot (a plain JSON-able dict) as CSV, XLSX and PDF.

The snapshot is the one the monthly report stores (schema in docs/api.md, "Monthly report
files"). Only the fields named here are written, so nothing outside the schema (no personal
data) can reach a file. Labels are English source strings translated under
`translation.override(language)`. Figures are numbers: minutes as integers, ratios as fractions
(0.734, shown with a percent format in the XLSX), fractions rounded to 6 decimal places, so the
CSV and the XLSX re-read to the same figures. Text cells that a spreadsheet would run as a
formula are escaped as in the asset export (equipment.rules.spreadsheet_safe).

The PDF is laid out by reportlab with an embedded TrueType CJK font (booking.fonts); its charts
are drawn with matplotlib's object API (Figure + FigureCanvasAgg, never pyplot, which keeps
global state and is not safe in worker threads), every text given the CJK font explicitly, so
no global rcParams are touched.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from equipment.importing import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE
from equipment.models import Resource, Subject
from equipment.rules import spreadsheet_safe
from schools.models import District

from .fonts import cjk_font

PDF_CONTENT_TYPE = "application/pdf"

# Cell formats.
TEXT, INT, RATIO, NUMBER = "text", "int", "ratio", "number"
XLSX_NUMBER_FORMATS = {INT: "#,##0", RATIO: "0.0%", NUMBER: "0.00"}
# Fractions in the spreadsheets are rounded to 6 decimal places (a ratio to 0.0001 %): Excel keeps
# only 15 significant digits and openpyxl writes 16, so full doubles would not re-read exactly;
# rounded, the CSV and the XLSX re-read to the same figures.
SHEET_DECIMALS = 6

# Source document 9.2: utilisation of labs and libraries from 65 % to 90 %.
UTILISATION_TARGET = 0.9
# How many idle resources the PDF lists (the spreadsheets list them all).
PDF_IDLE_ROWS = 30
NO_VALUE = "\u2013"  # an en dash: no figure (a ratio of nothing)

URBAN_COLOUR = "#2f6db5"
COUNTY_COLOUR = "#e07b24"
IDLE_COLOUR = "#c0392b"
MUTED_COLOUR = "#b8c2cc"


class Cell(NamedTuple):
    value: Any
    fmt: str


@dataclass(frozen=True)
class Column:
    key: str
    label: Any  # a lazy translation, evaluated under the report's language
    fmt: str
    get: Callable[[dict[str, Any]], Any] | None = None

    def cell(self, row: dict[str, Any]) -> Cell:
        value = self.get(row) if self.get else row.get(self.key)
        # A lazy label is fixed now, under the report's language, not when the file is written.
        return Cell(str(value) if isinstance(value, Promise) else value, self.fmt)


@dataclass
class Section:
    """One table of the report: a CSV block, an XLSX sheet, a PDF table."""

    key: str
    title: str
    keys: list[str]
    header: list[str]
    rows: list[list[Cell]]

    def pick(self, keys: Sequence[str]) -> tuple[list[str], list[list[Cell]]]:
        """The header and rows of some columns only (the PDF has less room than a sheet)."""
        index = [self.keys.index(k) for k in keys]
        return [self.header[i] for i in index], [[row[i] for i in index] for row in self.rows]


# --- the sections -----------------------------------------------------------------------------


def _choice_label(choices: Any, value: Any) -> Any:
    """The translated label of a code ('county' -> 县域); anything else unchanged."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _name(row: dict[str, Any]) -> Any:
    name = row.get("group_name")
    return name if name not in (None, "") else row.get("group")


def _code_name(choices: Any, row: dict[str, Any]) -> Any:
    """The translated label when the row's group is a code of `choices`, else the row's name."""
    label = _choice_label(choices, row.get("group"))
    return label if label != row.get("group") else _name(row)


METRICS = (
    Column("resources", gettext_lazy("Resources"), INT),
    Column("available_minutes", gettext_lazy("Available minutes"), INT),
    Column("booked_minutes", gettext_lazy("Booked minutes"), INT),
    Column("used_minutes", gettext_lazy("Used minutes"), INT),
    Column("utilisation", gettext_lazy("Utilisation"), RATIO),
    Column("idle_rate", gettext_lazy("Idle rate"), RATIO),
    Column("external_minutes", gettext_lazy("External minutes"), INT),
    Column("county_minutes", gettext_lazy("County minutes"), INT),
    Column("no_show_rate", gettext_lazy("No-show rate"), RATIO),
)
# A single resource has no resource count or idle rate of its own.
RESOURCE_METRICS = tuple(c for c in METRICS if c.key not in ("resources", "idle_rate"))
ID = Column("group", gettext_lazy("ID"), TEXT)
AREA = Column(
    "kind", gettext_lazy("Urban or county"), TEXT, lambda r: _choice_label(District.Kind, r.get("kind"))
)

DISTRICT_COLUMNS = (
    Column("code", gettext_lazy("Division code"), TEXT),
    Column("group_name", gettext_lazy("District"), TEXT, _name),
    AREA,
    Column("zone", gettext_lazy("Zone"), TEXT, lambda r: _choice_label(District.Zone, r.get("zone"))),
    *METRICS,
)
SCHOOL_COLUMNS = (
    ID,
    Column("group_name", gettext_lazy("School"), TEXT, _name),
    Column("district_name", gettext_lazy("District"), TEXT),
    Column(
        "kind",
        gettext_lazy("Urban or county"),
        TEXT,
        lambda r: (
            None
            if r.get("is_county") is None
            else District.Kind.COUNTY.label
            if r["is_county"]
            else District.Kind.URBAN.label
        ),
    ),
    *METRICS,
)
# Kinds and subjects are named from their codes, in the report's language (the snapshot's names
# are in the language it was built in).
KIND_COLUMNS = (
    ID,
    Column("group_name", gettext_lazy("Resource kind"), TEXT, lambda r: _code_name(Resource.Kind, r)),
    *METRICS,
)
SUBJECT_COLUMNS = (
    ID,
    Column("group_name", gettext_lazy("Subject"), TEXT, lambda r: _code_name(Subject, r)),
    *METRICS,
)
RESOURCE_COLUMNS = (
    ID,
    Column("group_name", gettext_lazy("Resource"), TEXT, _name),
    Column("school_name", gettext_lazy("School"), TEXT),
    Column(
        "kind", gettext_lazy("Resource kind"), TEXT, lambda r: _choice_label(Resource.Kind, r.get("kind"))
    ),
    Column("subject", gettext_lazy("Subject"), TEXT, lambda r: _choice_label(Subject, r.get("subject"))),
    *RESOURCE_METRICS,
)
TREND_COLUMNS = (
    Column("month", gettext_lazy("Month"), TEXT),
    Column("utilisation", gettext_lazy("Utilisation"), RATIO),
    Column("idle_rate", gettext_lazy("Idle rate"), RATIO),
    Column("county_share", gettext_lazy("County share of external use"), RATIO),
)
MINUTES_PER_STUDENT_COLUMNS = (
    ID,
    Column("group_name", gettext_lazy("District"), TEXT, _name),
    AREA,
    Column("minutes_per_student", gettext_lazy("Minutes per student"), NUMBER),
)


def _table(key: str, title: str, columns: Sequence[Column], rows: Iterable[dict[str, Any]] | None) -> Section:
    return Section(
        key=key,
        title=title,
        keys=[c.key for c in columns],
        header=[str(c.label) for c in columns],
        rows=[[c.cell(row) for c in columns] for row in rows or ()],
    )


def _items(key: str, title: str, items: Iterable[tuple[Any, Any, str]]) -> Section:
    """A two-column section: one figure a row."""
    return Section(
        key=key,
        title=title,
        keys=["item", "value"],
        header=[_("Item"), _("Value")],
        rows=[[Cell(str(label), TEXT), Cell(value, fmt)] for label, value, fmt in items],
    )


def _summary_items(snapshot: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    return [
        (_("Month"), snapshot.get("month"), TEXT),
        (_("First day"), snapshot.get("date_from"), TEXT),
        (_("Last day"), snapshot.get("date_to"), TEXT),
        (_("Generated at"), snapshot.get("generated_at"), TEXT),
        (_("Idle threshold"), snapshot.get("idle_threshold"), RATIO),
        *_city_items(snapshot.get("city") or {}),
    ]


def _city_items(city: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    return [(_("Area"), _name(city), TEXT), *((c.label, city.get(c.key), c.fmt) for c in METRICS)]


def _equity_items(equity: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    return [
        (_("County share of external use"), equity.get("county_share_of_external"), RATIO),
        (_("Borrowing schools"), equity.get("borrowing_schools"), INT),
        (_("Gini coefficient of use across borrowing schools"), equity.get("gini"), NUMBER),
    ]


def _service_items(service: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    return [
        (_("Median approval time (hours)"), service.get("approval_latency_hours_median"), NUMBER),
        (_("Waitlist requests not served"), service.get("waitlist_unserved"), INT),
        (_("Maintenance tickets reported"), service.get("tickets_reported"), INT),
        (_("Tickets closed within 24 hours"), service.get("tickets_within_24h"), INT),
        (_("Repair SLA compliance"), service.get("sla_compliance"), RATIO),
        (_("Shared lab periods"), service.get("shared_lab_periods"), INT),
        (_("No-show rate"), service.get("no_show_rate"), RATIO),
    ]


def report_sections(snapshot: dict[str, Any]) -> list[Section]:
    """Every section of the report, in order, labelled in the active language."""
    equity = snapshot.get("equity") or {}
    return [
        _items("summary", _("Summary"), _summary_items(snapshot)),
        _table("by_district", _("By district"), DISTRICT_COLUMNS, snapshot.get("by_district")),
        _table("by_school", _("By school"), SCHOOL_COLUMNS, snapshot.get("by_school")),
        _table("by_kind", _("By resource kind"), KIND_COLUMNS, snapshot.get("by_kind")),
        _table("by_subject", _("By subject"), SUBJECT_COLUMNS, snapshot.get("by_subject")),
        _table("top_resources", _("Most used resources"), RESOURCE_COLUMNS, snapshot.get("top_resources")),
        _table(
            "bottom_resources", _("Least used resources"), RESOURCE_COLUMNS, snapshot.get("bottom_resources")
        ),
        _table("idle_resources", _("Idle resources"), RESOURCE_COLUMNS, snapshot.get("idle_resources")),
        _table("trend", _("Trend"), TREND_COLUMNS, snapshot.get("trend")),
        _items("equity", _("Equity"), _equity_items(equity)),
        _table(
            "minutes_per_student",
            _("Minutes per student"),
            MINUTES_PER_STUDENT_COLUMNS,
            equity.get("minutes_per_student"),
        ),
        _items("service", _("Service"), _service_items(snapshot.get("service") or {})),
    ]


def report_title() -> str:
    return _("Monthly report on shared education resources")


def report_filename(snapshot: dict[str, Any], fmt: str) -> str:
    month = re.sub(r"[^0-9A-Za-z-]", "", str(snapshot.get("month") or "")) or "report"
    return f"edushare-report-{month}.{fmt}"


# --- spreadsheets -----------------------------------------------------------------------------


def _sheet_value(cell: Cell) -> Any:
    """A cell as a spreadsheet holds it: numbers as numbers, text escaped, nothing as None."""
    value, fmt = cell
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return spreadsheet_safe(str(value))
    if fmt == INT:
        return int(value)
    if fmt in (RATIO, NUMBER):
        return round(float(value), SHEET_DECIMALS)
    return value  # a numeric id


def report_csv(snapshot: dict[str, Any], language: str = "zh-hans") -> bytes:
    """The report as one CSV (UTF-8 with a BOM, for Excel): for each section a title row, a
    header row and its rows, and an empty row between sections. Ratios are fractions (0.734)."""
    with translation.override(language):
        sections = report_sections(snapshot)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for number, section in enumerate(sections):
        if number:
            writer.writerow([])
        writer.writerow([spreadsheet_safe(section.title)])
        writer.writerow([spreadsheet_safe(label) for label in section.header])
        for row in section.rows:
            writer.writerow(["" if (value := _sheet_value(cell)) is None else value for cell in row])
    # The BOM makes Excel open the file as UTF-8 instead of the system code page.
    return buffer.getvalue().encode("utf-8-sig")


def _display_width(value: Any) -> int:
    """Columns a text takes in a spreadsheet: wide (CJK) characters count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(value))


def _sheet_name(title: str, taken: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "Sheet"
    base, counter = name, 2
    while name.casefold() in taken:
        suffix = f" ({counter})"
        name, counter = base[: 31 - len(suffix)] + suffix, counter + 1
    taken.add(name.casefold())
    return name


def report_xlsx(snapshot: dict[str, Any], language: str = "zh-hans") -> bytes:
    """The report as a workbook: one sheet a section, the header row bold and frozen, figures as
    numbers (ratios with a percent format), text cells escaped."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    with translation.override(language):
        sections = report_sections(snapshot)
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    taken: set[str] = set()
    for section in sections:
        sheet = workbook.create_sheet(title=_sheet_name(section.title, taken))
        widths = [_display_width(label) for label in section.header]
        for row in section.rows:
            for index, cell in enumerate(row):
                widths[index] = max(widths[index], _display_width(_pdf_text(cell)))
        for index, width in enumerate(widths, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
        sheet.freeze_panes = "A2"
        header_cells = []
        for label in section.header:
            cell = WriteOnlyCell(sheet, value=spreadsheet_safe(label))
            cell.font = bold
            header_cells.append(cell)
        sheet.append(header_cells)
        for row in section.rows:
            cells = []
            for item in row:
                value = _sheet_value(item)
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, int | float) and item.fmt in XLSX_NUMBER_FORMATS:
                    cell.number_format = XLSX_NUMBER_FORMATS[item.fmt]
                cells.append(cell)
            sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- PDF: charts ------------------------------------------------------------------------------


def _ratio(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def _font(size: float):
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=str(cjk_font()[0]), size=size)


def _figure(height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.7, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=200)
    return buffer.getvalue()


def _no_data(axes) -> None:
    axes.text(
        0.5, 0.5, _("No data"), transform=axes.transAxes, ha="center", va="center", fontproperties=_font(11)
    )


def _percent_axis(axis) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    for label in axis.get_ticklabels():
        label.set_fontproperties(_font(8))


def chart_district_utilisation(rows: Sequence[dict[str, Any]]) -> bytes:
    """Bars of utilisation per district, urban and county in two colours, with the 90 % target."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure = _figure(3.2)
    axes = figure.add_subplot()
    values = [_ratio(r.get("utilisation")) for r in rows]
    heights = [0.0 if math.isnan(v) else v for v in values]
    colours = [COUNTY_COLOUR if r.get("kind") == "county" else URBAN_COLOUR for r in rows]
    bars = axes.bar(range(len(rows)), heights, color=colours, width=0.7)
    axes.bar_label(
        bars,
        labels=[NO_VALUE if math.isnan(v) else f"{v:.0%}" for v in values],
        fontproperties=_font(6.5),
        padding=1,
    )
    axes.set_xticks(range(len(rows)), [str(_name(r)) for r in rows], rotation=45, ha="right")
    for label in axes.get_xticklabels():
        label.set_fontproperties(_font(8))
    top = max([UTILISATION_TARGET, *heights]) * 1.12
    axes.set_ylim(0, top)
    axes.axhline(UTILISATION_TARGET, color="#555555", linestyle="--", linewidth=1)
    _percent_axis(axes.yaxis)
    axes.set_ylabel(_("Utilisation"), fontproperties=_font(9))
    axes.spines[["top", "right"]].set_visible(False)
    if not rows:
        axes.set_xlim(-0.5, 0.5)
        _no_data(axes)
    axes.legend(
        handles=[
            Patch(color=URBAN_COLOUR, label=District.Kind.URBAN.label),
            Patch(color=COUNTY_COLOUR, label=District.Kind.COUNTY.label),
            Line2D(
                [],
                [],
                color="#555555",
                linestyle="--",
                label=_("Target: %(target)s (labs and libraries)") % {"target": f"{UTILISATION_TARGET:.0%}"},
            ),
        ],
        prop=_font(8),
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
    )
    return _png(figure)


def chart_trend(trend: Sequence[dict[str, Any]]) -> bytes:
    """Lines over the trend months: county share of external use, with utilisation and idle rate."""
    figure = _figure(3.0)
    axes = figure.add_subplot()
    months = [str(t.get("month", "")) for t in trend]
    x = range(len(trend))
    series = (
        ("county_share", _("County share of external use"), COUNTY_COLOUR, "-", 2.4),
        ("utilisation", _("Utilisation"), URBAN_COLOUR, "--", 1.4),
        ("idle_rate", _("Idle rate"), IDLE_COLOUR, ":", 1.4),
    )
    top, shown = 1.0, False
    for key, label, colour, style, width in series:
        values = [_ratio(t.get(key)) for t in trend]
        axes.plot(
            x, values, color=colour, linestyle=style, linewidth=width, marker="o", markersize=4, label=label
        )
        figures = [v for v in values if not math.isnan(v)]
        top = max([top, *figures])
        shown = shown or bool(figures)
    axes.set_ylim(0, top * 1.05)
    axes.set_xticks(x, months, rotation=45, ha="right")
    for label in axes.get_xticklabels():
        label.set_fontproperties(_font(8))
    _percent_axis(axes.yaxis)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.spines[["top", "right"]].set_visible(False)
    if not trend:
        axes.set_xlim(-0.5, 0.5)
    if not shown:
        _no_data(axes)
    axes.legend(prop=_font(8), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _png(figure)


def chart_idle_by_kind(idle: Sequence[dict[str, Any]], by_kind: Sequence[dict[str, Any]]) -> bytes:
    """Horizontal bars per resource kind: idle resources over all resources of the kind."""
    counts = Counter(r.get("kind") for r in idle)
    totals = {k.get("group"): k.get("resources") for k in by_kind}
    kinds = [k.get("group") for k in by_kind if k.get("group") in counts or k.get("resources")]
    kinds += [k for k in counts if k not in kinds]
    figure = _figure(0.9 + 0.32 * max(len(kinds), 2))
    axes = figure.add_subplot()
    y = range(len(kinds))
    total = [totals.get(k) or counts[k] for k in kinds]
    axes.barh(y, total, color=MUTED_COLOUR, height=0.6, label=_("All resources"))
    bars = axes.barh(y, [counts[k] for k in kinds], color=IDLE_COLOUR, height=0.6, label=_("Idle resources"))
    axes.bar_label(
        bars,
        labels=[f"{counts[k]} / {t}" for k, t in zip(kinds, total, strict=True)],
        fontproperties=_font(7),
        padding=3,
    )
    names = {k.get("group"): _code_name(Resource.Kind, k) for k in by_kind}
    labels = [str(names.get(k) or _choice_label(Resource.Kind, k)) for k in kinds]
    axes.set_yticks(y, labels)
    for label in axes.get_yticklabels():
        label.set_fontproperties(_font(8))
    for label in axes.get_xticklabels():
        label.set_fontproperties(_font(8))
    axes.invert_yaxis()
    axes.set_xlim(0, max([1, *total]) * 1.15)
    axes.set_xlabel(_("Resources"), fontproperties=_font(9))
    axes.spines[["top", "right"]].set_visible(False)
    if not kinds:
        _no_data(axes)
    axes.legend(prop=_font(8), loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _png(figure)


# --- PDF: pages -------------------------------------------------------------------------------

PAGE_MARGIN_CM = 1.8


def _pdf_text(cell: Cell) -> str:
    value, fmt = cell
    if value is None or value == "":
        return NO_VALUE if fmt != TEXT else ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if fmt == RATIO:
        return f"{value:.1%}"
    if fmt == INT:
        return f"{int(value):,}"
    if fmt == NUMBER:
        return f"{value:,.2f}"
    return str(value)


@functools.cache
def _pdf_font_name() -> str:
    """Register the CJK font with reportlab once per process (embedded as a TrueType subset)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path, index = cjk_font()
    name = "EduShareCJK"
    pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=index))
    return name


class _Pdf:
    """Styles and building blocks of one report PDF."""

    def __init__(self) -> None:
        from reportlab.lib import colors
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.lib.units import cm

        self.colors = colors
        self.cm = cm
        self.font = _pdf_font_name()
        base = ParagraphStyle("base", fontName=self.font, fontSize=9, leading=12)
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=7.5, leading=9.5)
        self.small_right = ParagraphStyle("small_right", parent=self.small, alignment=2)
        self.header = ParagraphStyle("header", parent=self.small, fontSize=7, leading=8.5)
        self.header_right = ParagraphStyle("header_right", parent=self.header, alignment=2)
        self.note = ParagraphStyle("note", parent=base, fontSize=8, textColor=colors.HexColor("#555555"))
        self.title = ParagraphStyle("title", parent=base, fontSize=20, leading=26, spaceAfter=6)
        self.month = ParagraphStyle(
            "month", parent=base, fontSize=30, leading=36, textColor=colors.HexColor(URBAN_COLOUR)
        )
        self.h1 = ParagraphStyle("h1", parent=base, fontSize=14, leading=18, spaceBefore=10, spaceAfter=6)
        self.h2 = ParagraphStyle("h2", parent=base, fontSize=11, leading=14, spaceBefore=8, spaceAfter=4)
        self.width = (21.0 - 2 * PAGE_MARGIN_CM) * cm
        self._cjk: dict[str, ParagraphStyle] = {}

    def p(self, text: str, style=None):
        """A paragraph of plain text. Chinese text breaks between any two characters, other text
        between words (an English header must not break inside a word)."""
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.platypus import Paragraph

        text, style = str(text), style or self.body
        if _display_width(text) > len(text):  # holds wide (CJK) characters
            if style.name not in self._cjk:
                self._cjk[style.name] = ParagraphStyle(f"{style.name}_cjk", parent=style, wordWrap="CJK")
            style = self._cjk[style.name]
        return Paragraph(escape(text), style)

    def image(self, png: bytes):
        from reportlab.platypus import Image

        image = Image(io.BytesIO(png))
        scale = self.width / image.imageWidth
        image.drawWidth, image.drawHeight = self.width, image.imageHeight * scale
        return image

    def table(self, header: Sequence[str] | None, rows: Sequence[Sequence[Cell]], weights: Sequence[float]):
        """A table over the page width; text columns wrap, figures are right-aligned. The header
        row (if any) is shaded and repeated on every page the table runs over."""
        from reportlab.platypus import Table, TableStyle

        total = sum(weights)
        widths = [self.width * w / total for w in weights]
        data: list[list[Any]] = []
        if header:
            numeric = [cell.fmt != TEXT for cell in rows[0]] if rows else [False] * len(header)
            styles = [self.header_right if n else self.header for n in numeric]
            data.append([self.p(label, style) for label, style in zip(header, styles, strict=True)])
        for row in rows:
            data.append(
                [
                    self.p(_pdf_text(cell), self.small if cell.fmt == TEXT else self.small_right)
                    for cell in row
                ]
            )
        first = 1 if header else 0
        commands: list[tuple[Any, ...]] = [
            ("ROWBACKGROUNDS", (0, first), (-1, -1), [self.colors.white, self.colors.HexColor("#f4f6f8")]),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        if header:
            commands += [
                ("BACKGROUND", (0, 0), (-1, 0), self.colors.HexColor("#e8eef6")),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, self.colors.HexColor(URBAN_COLOUR)),
            ]
        return Table(data, colWidths=widths, repeatRows=first, style=TableStyle(commands))

    def section_table(self, section: Section, keys: Sequence[str], weights: Sequence[float]) -> list[Any]:
        header, rows = section.pick(keys)
        if not rows:
            return [self.p(_("No data"), self.note)]
        return [self.table(header, rows, weights)]

    def figures(self, items: Sequence[tuple[Any, Any, str]], pairs: int = 2):
        """Key figures in label/value pairs, `pairs` to a line."""
        cells = [(Cell(str(label), TEXT), Cell(value, fmt)) for label, value, fmt in items]
        rows = []
        for start in range(0, len(cells), pairs):
            chunk = [c for pair in cells[start : start + pairs] for c in pair]
            chunk += [Cell("", TEXT)] * (2 * pairs - len(chunk))
            rows.append(chunk)
        return self.table(None, rows, [2.6, 1.4] * pairs)


RESOURCE_PDF_KEYS = (
    "group_name",
    "school_name",
    "kind",
    "subject",
    "used_minutes",
    "utilisation",
    "external_minutes",
    "county_minutes",
)
RESOURCE_PDF_WEIGHTS = (2.6, 2.8, 1.3, 1.1, 1.2, 1.1, 1.2, 1.2)
METRIC_PDF_KEYS = (
    "resources",
    "available_minutes",
    "used_minutes",
    "utilisation",
    "idle_rate",
    "external_minutes",
    "county_minutes",
    "no_show_rate",
)
METRIC_PDF_WEIGHTS = (1.0, 1.35, 1.3, 1.1, 1.0, 1.3, 1.25, 1.0)


def report_pdf(snapshot: dict[str, Any], language: str = "zh-hans") -> bytes:
    """The report as a PDF: key figures, charts (utilisation by district, county share trend, idle
    resources by kind) and tables, with the CJK font embedded."""
    from reportlab.platypus import CondPageBreak, KeepTogether, PageBreak, SimpleDocTemplate, Spacer

    with translation.override(language):
        pdf = _Pdf()
        cm = pdf.cm
        sections = {s.key: s for s in report_sections(snapshot)}
        month = str(snapshot.get("month") or "")
        title = report_title()
        page_label = _("Page %(page)d")
        threshold = snapshot.get("idle_threshold")
        equity = snapshot.get("equity") or {}
        idle = snapshot.get("idle_resources") or []
        story: list[Any] = [
            pdf.p("EduShare", pdf.note),
            pdf.p(title, pdf.title),
            pdf.p(month, pdf.month),
            pdf.p(
                _("Period %(first)s to %(last)s (Asia/Shanghai). Generated at %(generated)s.")
                % {
                    "first": snapshot.get("date_from", ""),
                    "last": snapshot.get("date_to", ""),
                    "generated": snapshot.get("generated_at", ""),
                },
                pdf.note,
            ),
            pdf.p(
                _(
                    "Figures as of that moment: bookings changed later are not included. A resource is "
                    "idle when its utilisation is under %(threshold)s."
                )
                % {"threshold": _pdf_text(Cell(threshold, RATIO))},
                pdf.note,
            ),
            Spacer(1, 0.4 * cm),
            pdf.p(_("City summary"), pdf.h1),
            pdf.figures(_city_items(snapshot.get("city") or {})),
            pdf.p(_("Service"), pdf.h1),
            pdf.figures(_service_items(snapshot.get("service") or {})),
            pdf.p(_("Equity"), pdf.h1),
            pdf.figures(_equity_items(equity)),
            pdf.p(_("Minutes per student"), pdf.h2),
            *pdf.section_table(
                sections["minutes_per_student"], ("group_name", "kind", "minutes_per_student"), (3, 2, 2)
            ),
            PageBreak(),
            KeepTogether(
                [
                    pdf.p(_("Utilisation by district"), pdf.h1),
                    pdf.image(chart_district_utilisation(snapshot.get("by_district") or [])),
                ]
            ),
            pdf.p(_("By district"), pdf.h2),
            *pdf.section_table(
                sections["by_district"],
                ("group_name", "kind", *METRIC_PDF_KEYS),
                (1.5, 1.0, *METRIC_PDF_WEIGHTS),
            ),
            CondPageBreak(9 * cm),
            KeepTogether(
                [
                    pdf.p(_("County share of external use by month"), pdf.h1),
                    pdf.image(chart_trend(snapshot.get("trend") or [])),
                ]
            ),
            *pdf.section_table(sections["trend"], [c.key for c in TREND_COLUMNS], (1, 1, 1, 1.6)),
            CondPageBreak(9 * cm),
            KeepTogether(
                [
                    pdf.p(_("Idle resources"), pdf.h1),
                    pdf.p(
                        ngettext(
                            "%(count)d resource was used under %(threshold)s of its available time.",
                            "%(count)d resources were used under %(threshold)s of their available time.",
                            len(idle),
                        )
                        % {"count": len(idle), "threshold": _pdf_text(Cell(threshold, RATIO))},
                        pdf.note,
                    ),
                    pdf.image(chart_idle_by_kind(idle, snapshot.get("by_kind") or [])),
                ]
            ),
        ]
        if len(idle) > PDF_IDLE_ROWS:
            story.append(
                pdf.p(
                    _("The %(shown)d least used are listed; the CSV and XLSX files list all %(count)d.")
                    % {"shown": PDF_IDLE_ROWS, "count": len(idle)},
                    pdf.note,
                )
            )
        # The least used first (a resource with no available minutes has no utilisation: last).
        least_used = sorted(idle, key=lambda r: (math.isnan(u := _ratio(r.get("utilisation"))), u))
        idle_table = _table("idle", "", RESOURCE_COLUMNS, least_used[:PDF_IDLE_ROWS])
        story += pdf.section_table(idle_table, RESOURCE_PDF_KEYS, RESOURCE_PDF_WEIGHTS)
        for key in ("top_resources", "bottom_resources"):
            story += [
                CondPageBreak(5 * cm),
                pdf.p(sections[key].title, pdf.h1),
                *pdf.section_table(sections[key], RESOURCE_PDF_KEYS, RESOURCE_PDF_WEIGHTS),
            ]
        for key in ("by_kind", "by_subject"):
            story += [
                CondPageBreak(5 * cm),
                pdf.p(sections[key].title, pdf.h1),
                *pdf.section_table(
                    sections[key], ("group_name", *METRIC_PDF_KEYS), (1.6, *METRIC_PDF_WEIGHTS)
                ),
            ]
        story.append(pdf.p(_("The list of every school is in the CSV and XLSX files."), pdf.note))

        def footer(canvas, document) -> None:
            canvas.saveState()
            canvas.setFont(pdf.font, 7.5)
            canvas.setFillColor(pdf.colors.HexColor("#777777"))
            canvas.drawString(PAGE_MARGIN_CM * cm, 1.0 * cm, f"EduShare · {title} · {month}")
            canvas.drawRightString(
                (21.0 - PAGE_MARGIN_CM) * cm, 1.0 * cm, page_label % {"page": canvas.getPageNumber()}
            )
            canvas.restoreState()

        buffer = io.BytesIO()
        document = SimpleDocTemplate(
            buffer,
            pagesize=(21.0 * cm, 29.7 * cm),
            leftMargin=PAGE_MARGIN_CM * cm,
            rightMargin=PAGE_MARGIN_CM * cm,
            topMargin=1.6 * cm,
            bottomMargin=1.8 * cm,
            title=f"{title} {month}",
            author="EduShare",
            subject=title,
        )
        document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


# --- one entry point --------------------------------------------------------------------------

RENDERERS = {
    "csv": (report_csv, CSV_CONTENT_TYPE),
    "xlsx": (report_xlsx, XLSX_CONTENT_TYPE),
    "pdf": (report_pdf, PDF_CONTENT_TYPE),
}
FORMATS = tuple(RENDERERS)


def render_report(snapshot: dict[str, Any], fmt: str, language: str = "zh-hans") -> tuple[bytes, str, str]:
    """The report file: (content, content type, filename), as equipment.importing.export_assets."""
    if fmt not in RENDERERS:
        raise ValueError(f"Unknown report format {fmt!r}")
    render, content_type = RENDERERS[fmt]
    return render(snapshot, language=language), content_type, report_filename(snapshot, fmt)
