"""Monthly report files (booking.report_render): CSV and XLSX re-read to the snapshot's figures,
formula-looking names are escaped, the PDF is a real multi-page report with an embedded CJK font.

No database: the renderers take the stored snapshot, a plain dict.
"""

import copy
import csv
import io
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from booking import fonts
from booking.report_render import (
    PDF_CONTENT_TYPE,
    chart_district_utilisation,
    render_report,
    report_csv,
    report_pdf,
    report_xlsx,
)
from equipment.importing import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE

DISTRICTS = [
    ("230102", "道里区", "urban", "core"),
    ("230103", "南岗区", "urban", "core"),
    ("230104", "道外区", "urban", "core"),
    ("230108", "平房区", "urban", "core"),
    ("230109", "松北区", "urban", "core"),
    ("230110", "香坊区", "urban", "core"),
    ("230111", "呼兰区", "urban", "core"),
    ("230112", "阿城区", "county", "radiating"),
    ("230113", "双城区", "county", "radiating"),
    ("230123", "依兰县", "county", "linkage"),
    ("230124", "方正县", "county", "linkage"),
    ("230125", "宾县", "county", "linkage"),
    ("230126", "巴彦县", "county", "linkage"),
    ("230127", "木兰县", "county", "linkage"),
    ("230128", "通河县", "county", "linkage"),
    ("230129", "延寿县", "county", "linkage"),
    ("230183", "尚志市", "county", "linkage"),
    ("230184", "五常市", "county", "radiating"),
]
FORMULA_SCHOOL = '=HYPERLINK("http://x.example")哈尔滨市第三中学'
MINUS_SCHOOL = "-1+2 双城区实验小学"
SCHOOLS = [
    (101, "哈尔滨市第一中学校", "道里区", False),
    (102, "哈尔滨师范大学附属中学", "南岗区", False),
    (103, FORMULA_SCHOOL, "道外区", False),
    (104, MINUS_SCHOOL, "双城区", True),
    (105, "巴彦县第一中学", "巴彦县", True),
    (106, "五常市实验中学", "五常市", True),
]
KINDS = [("lab", "实验室"), ("library", "图书馆"), ("venue", "体育场馆"), ("mobile_kit", "流动器材箱")]
SUBJECTS = [("physics", "物理"), ("chemistry", "化学"), ("biology", "生物"), ("reading", "阅读")]


def metrics(rnd, resources=1, idle_threshold=0.1):
    available = rnd.randint(2000, 9000) * resources
    used = rnd.randint(0, available)
    booked = min(available, used + rnd.randint(0, 600))
    external = rnd.randint(0, used)
    return {
        "resources": resources,
        "available_minutes": available,
        "booked_minutes": booked,
        "used_minutes": used,
        "utilisation": used / available,
        "idle_rate": rnd.randint(0, resources) / resources,
        "external_minutes": external,
        "county_minutes": rnd.randint(0, external),
        "no_show_rate": rnd.random() / 10,
    }


def resource_row(rnd, n):
    school = SCHOOLS[n % len(SCHOOLS)]
    kind = KINDS[n % len(KINDS)]
    subject = SUBJECTS[n % len(SUBJECTS)]
    return {
        "group": 5000 + n,
        "group_name": f"{subject[1]}{kind[1]} {n}",
        "school_name": school[1],
        "kind": kind[0],
        "subject": subject[0],
        **metrics(rnd),
    }


def make_snapshot():
    rnd = random.Random(6)
    resources = [resource_row(rnd, n) for n in range(40)]
    resources.sort(key=lambda r: r["utilisation"], reverse=True)
    return {
        "month": "2026-10",
        "generated_at": "2026-11-01T02:00:00+08:00",
        "language": "zh-hans",
        "date_from": "2026-10-01",
        "date_to": "2026-10-31",
        "idle_threshold": 0.1,
        "city": {"group": "city", "group_name": "哈尔滨市", **metrics(rnd, resources=412)},
        "by_district": [
            {"group": code, "group_name": name, "code": code, "kind": kind, "zone": zone, **metrics(rnd, 23)}
            for code, name, kind, zone in DISTRICTS
        ],
        "by_school": [
            {
                "group": pk,
                "group_name": name,
                "district_name": district,
                "is_county": county,
                **metrics(rnd, 7),
            }
            for pk, name, district, county in SCHOOLS
        ],
        "by_kind": [{"group": code, "group_name": name, **metrics(rnd, 10)} for code, name in KINDS],
        "by_subject": [{"group": code, "group_name": name, **metrics(rnd, 10)} for code, name in SUBJECTS],
        "top_resources": resources[:10],
        "bottom_resources": resources[-10:][::-1],
        "idle_resources": [
            {**resource_row(rnd, 100), "utilisation": 0.0, "used_minutes": 0},
            *[r for r in resources[::-1] if r["utilisation"] < 0.1],
        ],
        "trend": [
            {
                "month": f"2026-{m:02d}",
                "utilisation": 0.5 + m / 100,
                "idle_rate": 0.4 - m / 100,
                "county_share": m / 20,
            }
            for m in range(5, 11)
        ],
        "equity": {
            "minutes_per_student": [
                {"group": code, "group_name": name, "kind": kind, "minutes_per_student": rnd.random() * 3}
                for code, name, kind, _zone in DISTRICTS
            ],
            "county_share_of_external": 0.4375,
            "borrowing_schools": 37,
            "gini": 0.3121,
        },
        "service": {
            "approval_latency_hours_median": 5.25,
            "waitlist_unserved": 12,
            "tickets_reported": 31,
            "tickets_within_24h": 27,
            "sla_compliance": 27 / 31,
            "shared_lab_periods": 418,
            "no_show_rate": 0.043,
        },
    }


def empty_snapshot():
    nothing = {
        "resources": 0,
        "available_minutes": 0,
        "booked_minutes": 0,
        "used_minutes": 0,
        "utilisation": None,
        "idle_rate": None,
        "external_minutes": 0,
        "county_minutes": 0,
        "no_show_rate": None,
    }
    return {
        "month": "2026-02",
        "generated_at": "2026-03-01T02:00:00+08:00",
        "language": "zh-hans",
        "date_from": "2026-02-01",
        "date_to": "2026-02-28",
        "idle_threshold": 0.1,
        "city": {"group": "city", "group_name": "哈尔滨市", **nothing},
        "by_district": [],
        "by_school": [],
        "by_kind": [],
        "by_subject": [],
        "top_resources": [],
        "bottom_resources": [],
        "idle_resources": [],
        "trend": [{"month": "2026-02", "utilisation": None, "idle_rate": None, "county_share": None}],
        "equity": {
            "minutes_per_student": [],
            "county_share_of_external": None,
            "borrowing_schools": 0,
            "gini": None,
        },
        "service": {
            "approval_latency_hours_median": None,
            "waitlist_unserved": 0,
            "tickets_reported": 0,
            "tickets_within_24h": 0,
            "sla_compliance": None,
            "shared_lab_periods": 0,
            "no_show_rate": None,
        },
    }


@pytest.fixture(scope="module")
def snapshot():
    return make_snapshot()


@pytest.fixture(scope="module")
def pdf_en(snapshot):
    return report_pdf(snapshot, language="en")


@pytest.fixture(scope="module")
def pdf_zh(snapshot):
    return report_pdf(snapshot, language="zh-hans")


METRIC_HEADERS = {
    "resources": "Resources",
    "available_minutes": "Available minutes",
    "booked_minutes": "Booked minutes",
    "used_minutes": "Used minutes",
    "utilisation": "Utilisation",
    "idle_rate": "Idle rate",
    "external_minutes": "External minutes",
    "county_minutes": "County minutes",
    "no_show_rate": "No-show rate",
}
RESOURCE_HEADERS = {k: v for k, v in METRIC_HEADERS.items() if k not in ("resources", "idle_rate")}


# --- re-reading -------------------------------------------------------------------------------


def csv_sections(content: bytes) -> dict[str, list[dict[str, str]]]:
    """Title -> rows as dicts keyed by the header row."""
    assert content.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    sections, block = {}, []
    for row in [*rows, []]:
        if row:
            block.append(row)
        elif block:
            title, header, *body = block
            sections[title[0]] = [dict(zip(header, r, strict=True)) for r in body]
            block = []
    return sections


def csv_number(text: str):
    """A CSV cell as the number it holds (None when empty); other text unchanged."""
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def xlsx_sections(content: bytes) -> dict[str, list[dict]]:
    workbook = load_workbook(io.BytesIO(content))
    sections = {}
    for sheet in workbook.worksheets:
        header, *body = list(sheet.iter_rows(values_only=True))
        sections[sheet.title] = [dict(zip(header, r, strict=True)) for r in body]
    return sections


def sheet(value):
    """A snapshot figure as the spreadsheets hold it: fractions to 6 decimal places."""
    return round(value, 6) if isinstance(value, float) else value


def items(rows, read=lambda v: v):
    return {row["Item"]: read(row["Value"]) for row in rows}


def check_figures(sections, snapshot, read):
    """City, by-district and top-resource figures equal the snapshot's, exactly."""
    city = items(sections["Summary"], read)
    for key, header in METRIC_HEADERS.items():
        assert city[header] == sheet(snapshot["city"][key]), key
    assert city["Idle threshold"] == 0.1

    districts = sections["By district"]
    assert len(districts) == len(snapshot["by_district"])
    for row, expected in zip(districts, snapshot["by_district"], strict=True):
        assert row["Division code"] == expected["code"]
        assert row["District"] == expected["group_name"]
        assert row["Urban or county"] == ("County" if expected["kind"] == "county" else "Urban")
        for key, header in METRIC_HEADERS.items():
            assert read(row[header]) == sheet(expected[key]), (expected["group_name"], key)

    top = sections["Most used resources"]
    assert len(top) == 10
    for row, expected in zip(top, snapshot["top_resources"], strict=True):
        assert read(row["ID"]) == expected["group"]
        assert row["Resource"] == expected["group_name"]
        for key, header in RESOURCE_HEADERS.items():
            assert read(row[header]) == sheet(expected[key]), (expected["group_name"], key)

    service = items(sections["Service"], read)
    assert service["Repair SLA compliance"] == sheet(snapshot["service"]["sla_compliance"]) == 0.870968
    assert service["Shared lab periods"] == 418
    trend = sections["Trend"]
    assert [read(r["County share of external use"]) for r in trend] == [
        sheet(t["county_share"]) for t in snapshot["trend"]
    ]


def test_csv_re_reads_to_the_snapshot_figures(snapshot):
    sections = csv_sections(report_csv(snapshot, language="en"))
    assert list(sections) == [
        "Summary",
        "By district",
        "By school",
        "By resource kind",
        "By subject",
        "Most used resources",
        "Least used resources",
        "Idle resources",
        "Trend",
        "Equity",
        "Minutes per student",
        "Service",
    ]
    check_figures(sections, snapshot, csv_number)
    assert items(sections["Summary"])["Month"] == "2026-10"
    assert items(sections["Equity"], csv_number)["Gini coefficient of use across borrowing schools"] == 0.3121


def test_xlsx_re_reads_to_the_snapshot_figures(snapshot):
    content = report_xlsx(snapshot, language="en")
    check_figures(xlsx_sections(content), snapshot, lambda v: v)

    sheet = load_workbook(io.BytesIO(content))["By district"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.b for cell in sheet[1])
    header = [c.value for c in sheet[1]]
    utilisation = sheet.cell(row=2, column=header.index("Utilisation") + 1)
    assert isinstance(utilisation.value, float)
    assert utilisation.number_format == "0.0%"
    used = sheet.cell(row=2, column=header.index("Used minutes") + 1)
    assert isinstance(used.value, int)
    assert sheet.column_dimensions["B"].width >= 8


def test_csv_and_xlsx_hold_the_same_figures(snapshot):
    from_csv = csv_sections(report_csv(snapshot))
    from_xlsx = xlsx_sections(report_xlsx(snapshot))
    assert list(from_csv) == list(from_xlsx)
    for title, rows in from_csv.items():
        for row, other in zip(rows, from_xlsx[title], strict=True):
            assert row.keys() == other.keys()
            for key, value in row.items():
                expected = other[key]
                assert (value if isinstance(expected, str) else csv_number(value)) == expected, (title, key)


def test_chinese_labels_and_sheet_names_fit(snapshot):
    built_in_english = copy.deepcopy(snapshot)
    built_in_english["by_kind"][0]["group_name"] = "Laboratory"
    built_in_english["by_subject"][0]["group_name"] = "Physics"
    workbook = load_workbook(io.BytesIO(report_xlsx(built_in_english)))
    # Kinds and subjects are named from their codes in the file's language.
    assert workbook.worksheets[3]["B2"].value == "实验室"
    assert workbook.worksheets[4]["B2"].value == "物理"
    assert len(workbook.sheetnames) == 12
    assert all(len(name) <= 31 for name in workbook.sheetnames)
    districts = workbook.worksheets[1]
    row = [c.value for c in districts[2]]
    assert "道里区" in row
    assert "城区" in row  # District.Kind.URBAN in Chinese
    assert "核心区" in row  # District.Zone.CORE


def test_formula_looking_names_are_escaped_in_both_spreadsheets(snapshot):
    csv_cells = [
        cell for row in csv.reader(io.StringIO(report_csv(snapshot).decode("utf-8-sig"))) for cell in row
    ]
    workbook = load_workbook(io.BytesIO(report_xlsx(snapshot)))
    xlsx_cells = [
        cell for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True) for cell in row
    ]
    for cells in (csv_cells, xlsx_cells):
        texts = [c for c in cells if isinstance(c, str)]
        assert "'" + FORMULA_SCHOOL in texts
        assert "'" + MINUS_SCHOOL in texts
        assert not [t for t in texts if t[:1] in ("=", "+", "-", "@")]


def test_only_schema_fields_are_written(snapshot):
    """A stray field (say, a teacher's name) in a snapshot row never reaches a file."""
    leaky = copy.deepcopy(snapshot)
    leaky["top_resources"][0]["teacher_name"] = "张老师"
    leaky["top_resources"][0]["phone"] = "13800000000"
    leaky["by_school"][0]["contact"] = "张老师"
    assert "张老师".encode() not in report_csv(leaky)
    workbook = load_workbook(io.BytesIO(report_xlsx(leaky)))
    values = {c for s in workbook.worksheets for r in s.iter_rows(values_only=True) for c in r}
    assert not values & {"张老师", "13800000000"}


# --- PDF --------------------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def embedded_font_files(content: bytes) -> set[str]:
    found = set()
    for page in PdfReader(io.BytesIO(content)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descendants = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            for f in descendants:
                descriptor = f.get("/FontDescriptor")
                if descriptor is not None:
                    found |= {
                        k for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in descriptor.get_object()
                    }
    return found


def test_pdf_is_a_multi_page_report_with_an_embedded_font(pdf_en):
    assert pdf_en.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf_en))
    assert len(reader.pages) >= 2
    assert "/FontFile2" in embedded_font_files(pdf_en)  # the TrueType CJK font, embedded
    text = pdf_text(pdf_en)
    for heading in (
        "2026-10",
        "Monthly report on shared education resources",
        "Utilisation by district",
        "County share of external use by month",
        "Idle resources",
        "Most used resources",
        "Least used resources",
    ):
        assert heading in text
    assert "43.8%" in text  # county share of external use, formatted
    # The charts are images: one each for districts, trend and idle resources.
    images = sum(len(page.images) for page in reader.pages)
    assert images == 3


def test_pdf_lists_the_least_used_idle_resources_only(snapshot):
    many = copy.deepcopy(snapshot)
    rnd = random.Random(7)
    many["idle_resources"] = [
        {**resource_row(rnd, 200 + n), "group_name": f"idle-{n:03d}", "utilisation": (45 - n) / 1000}
        for n in range(45)
    ]
    text = pdf_text(report_pdf(many, language="en"))
    assert "idle-044" in text  # utilisation 0.1 %: the least used
    assert "idle-015" in text  # the 30th least used
    assert "idle-014" not in text
    assert "The 30 least used are listed; the CSV and XLSX files list all 45." in text.replace("\n", " ")
    assert "45 resources were used under 10.0% of their available time." in text.replace("\n", " ")


def test_pdf_renders_chinese_text(snapshot, pdf_zh):
    assert pdf_zh.startswith(b"%PDF")
    assert "/FontFile2" in embedded_font_files(pdf_zh)
    text = pdf_text(pdf_zh).replace("\n", "")
    assert "2026-10" in text
    for name in ("哈尔滨市", "道里区", "五常市", snapshot["top_resources"][0]["school_name"]):
        assert name in text
    assert "城区" in text  # a Chinese label from the existing catalogue (District.Kind)


def test_chart_is_a_png_and_safe_in_threads(snapshot):
    rows = snapshot["by_district"]
    alone = chart_district_utilisation(rows)
    assert alone.startswith(b"\x89PNG")
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _n: chart_district_utilisation(rows), range(3)))
    assert all(r == alone for r in results)


# --- edges ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_an_empty_month_renders_every_format(language):
    snapshot = empty_snapshot()
    sections = csv_sections(report_csv(snapshot, language="en"))
    city = items(sections["Summary"], csv_number)
    assert city["Utilisation"] is None
    assert city["Resources"] == 0
    assert sections["By district"] == []

    workbook = load_workbook(io.BytesIO(report_xlsx(snapshot, language=language)))
    assert len(workbook.sheetnames) == 12

    pdf = report_pdf(snapshot, language=language)
    assert pdf.startswith(b"%PDF")
    assert "2026-02" in pdf_text(pdf)


def test_render_report_gives_content_type_and_filename(snapshot):
    content, content_type, filename = render_report(snapshot, "csv", language="en")
    assert (content_type, filename) == (CSV_CONTENT_TYPE, "edushare-report-2026-10.csv")
    assert content.startswith(b"\xef\xbb\xbf")
    assert render_report(snapshot, "xlsx")[1:] == (XLSX_CONTENT_TYPE, "edushare-report-2026-10.xlsx")
    with pytest.raises(ValueError, match="Unknown report format"):
        render_report(snapshot, "docx")
    assert PDF_CONTENT_TYPE == "application/pdf"


def test_a_missing_cjk_font_names_the_package_to_install(monkeypatch, tmp_path):
    fonts.cjk_font.cache_clear()
    monkeypatch.setattr(fonts, "CJK_FONT_CANDIDATES", ((str(tmp_path / "missing.ttc"), 0),))
    try:
        with pytest.raises(fonts.CJKFontMissing, match="fonts-wqy-microhei"):
            fonts.cjk_font_path()
    finally:
        fonts.cjk_font.cache_clear()  # found afresh once the real candidates are back
