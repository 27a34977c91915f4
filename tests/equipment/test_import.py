"""Spreadsheet import and export of assets: every row checked, all or nothing, exports re-import."""

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError

from equipment.importing import MAX_ROWS, export_assets, import_assets, parse_asset_file
from equipment.models import Asset
from tests.factories import AssetFactory, CatalogItemFactory, KitFactory, ResourceFactory

pytestmark = pytest.mark.django_db

EN_HEADER = [
    "tag",
    "catalog_code",
    "serial_number",
    "status",
    "condition",
    "purchase_date",
    "value_cny",
    "location",
    "notes",
]
ZH_HEADER = ["资产编号", "目录编码", "序列号", "状态", "状况", "购置日期", "价值(元)", "位置", "备注"]
ASSET_FIELDS = [
    "tag",
    "catalog_item_id",
    "serial_number",
    "school_id",
    "space_id",
    "kit_id",
    "status",
    "condition",
    "purchase_date",
    "value_cny",
    "notes",
]


def csv_bytes(rows, encoding="utf-8-sig"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def snapshot(queryset):
    return sorted(queryset.values_list(*ASSET_FIELDS))


@pytest.fixture
def microscope(db):
    return CatalogItemFactory(
        code="BIO-0101", name="显微镜", category="biology", unit_value_cny=Decimal("850.00")
    )


@pytest.fixture
def multimeter(db):
    return CatalogItemFactory(code="PHY-0202", name="数字万用表", unit_value_cny=Decimal("120.00"))


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(school=urban_school, name="生物实验室", kind="lab", subject="biology")


@pytest.fixture
def kit(urban_school):
    return KitFactory(school=urban_school, name="移动物理箱一号")


def import_file(content, filename, *, actor, school):
    return import_assets(actor=actor, school=school, rows=parse_asset_file(content, filename))


# --- reading good files ---------------------------------------------------------------------


def test_a_good_csv_creates_every_asset_with_defaults(
    urban_admin, urban_school, microscope, multimeter, lab, kit
):
    content = csv_bytes(
        [
            EN_HEADER,
            [
                "BIO-001",
                "BIO-0101",
                "SN-1",
                "in_service",
                "new",
                "2024-09-01",
                "900.50",
                "生物实验室",
                "讲台左侧",
            ],
            ["PHY-001", "PHY-0202", "", "In repair", "fair", "", "", "移动物理箱一号", ""],
            ["PHY-002", "phy-0202", "", "", "", "2023/3/5", "1,200", "", ""],
        ]
    )
    result = import_file(content, "assets.csv", actor=urban_admin, school=urban_school)
    assert result.ok, result.errors
    assert result.count == 3
    bio = Asset.objects.get(tag="BIO-001")
    assert (bio.catalog_item, bio.space, bio.kit, bio.school) == (microscope, lab, None, urban_school)
    assert (bio.status, bio.condition, bio.purchase_date) == ("in_service", "new", dt.date(2024, 9, 1))
    assert bio.value_cny == Decimal("900.50")
    assert bio.notes == "讲台左侧"
    in_kit = Asset.objects.get(tag="PHY-001")
    assert (in_kit.kit, in_kit.space, in_kit.status, in_kit.condition) == (kit, None, "in_repair", "fair")
    assert in_kit.value_cny == Decimal("120.00")  # blank: the catalogue item's unit value
    in_store = Asset.objects.get(tag="PHY-002")
    assert (in_store.space, in_store.kit) == (None, None)
    assert (in_store.status, in_store.condition) == ("in_service", "good")
    assert in_store.purchase_date == dt.date(2023, 3, 5)
    assert in_store.value_cny == Decimal("1200")


def test_a_good_xlsx_with_excel_dates_and_numbers_is_read(centre_admin, urban_school, microscope, lab):
    content = xlsx_bytes(
        [
            ZH_HEADER,
            [1001, "BIO-0101", 20240901, "在用", "良好", dt.datetime(2024, 9, 1), 850.5, "生物实验室", None],
            [None] * 9,
            ["BIO-002", "BIO-0101", None, "维修中", "损坏", dt.date(2022, 1, 31), 0, None, "镜头裂了"],
        ]
    )
    rows = parse_asset_file(content, "资产清单.XLSX")
    assert [r["row"] for r in rows] == [2, 4]
    result = import_assets(actor=centre_admin, school=urban_school, rows=rows)
    assert result.ok, result.errors
    first = Asset.objects.get(tag="1001")
    assert first.serial_number == "20240901"
    assert first.purchase_date == dt.date(2024, 9, 1)
    assert first.value_cny == Decimal("850.50")
    assert first.space == lab
    second = Asset.objects.get(tag="BIO-002")
    assert (second.status, second.condition, second.value_cny) == ("in_repair", "broken", Decimal("0"))
    assert second.notes == "镜头裂了"


def test_a_gb18030_csv_with_chinese_headers_is_read(urban_admin, urban_school, microscope, lab):
    content = csv_bytes(
        [
            ZH_HEADER,
            [
                "哈三中-生物-001",
                "BIO-0101",
                "",
                "维修中",
                "较差",
                "2021-05-06",
                "800",
                "生物实验室",
                "目镜模糊",
            ],
        ],
        encoding="gb18030",
    )
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")
    result = import_file(content, "export.csv", actor=urban_admin, school=urban_school)
    assert result.ok, result.errors
    asset = Asset.objects.get(tag="哈三中-生物-001")
    assert (asset.status, asset.condition, asset.notes, asset.space) == ("in_repair", "poor", "目镜模糊", lab)


def test_headers_ignore_case_spaces_and_full_width_forms(urban_admin, urban_school, microscope):
    content = csv_bytes(
        [[" TAG ", "Catalog Code", "价值\uff08元\uff09"], ["X-1", "BIO-0101", "\uff11\uff12.\uff15"]]
    )
    result = import_file(content, "a.csv", actor=urban_admin, school=urban_school)
    assert result.ok, result.errors
    assert Asset.objects.get(tag="X-1").value_cny == Decimal("12.50")


def test_semicolon_separated_csv_and_empty_rows_are_handled(urban_admin, urban_school, microscope):
    content = b"tag;catalog_code\n\nS-1;BIO-0101\n;\nS-2;BIO-0101\n"
    rows = parse_asset_file(content, "a.csv")
    assert [(r["row"], r["tag"]) for r in rows] == [(3, "S-1"), (5, "S-2")]
    assert import_assets(actor=urban_admin, school=urban_school, rows=rows).count == 2


def test_an_import_of_200_assets_works(urban_admin, urban_school, microscope, lab):
    rows = [EN_HEADER] + [
        [f"BIO-{n:04d}", "BIO-0101", f"SN{n}", "", "", "2024-01-01", "", "生物实验室" if n % 2 else "", ""]
        for n in range(200)
    ]
    result = import_file(csv_bytes(rows), "many.csv", actor=urban_admin, school=urban_school)
    assert result.ok, result.errors[:3]
    assert result.count == 200
    assert Asset.objects.filter(school=urban_school).count() == 200
    assert Asset.objects.filter(space=lab).count() == 100


# --- bad rows -------------------------------------------------------------------------------


def test_every_bad_row_is_reported_with_its_row_number_and_nothing_is_written(
    urban_admin, urban_school, county_school, microscope, lab
):
    AssetFactory(tag="OLD-1", catalog_item=microscope, school=urban_school)
    ResourceFactory(school=county_school, name="县里的实验室")
    content = csv_bytes(
        [
            EN_HEADER,
            ["OK-1", "BIO-0101", "", "", "", "", "", "", ""],  # row 2: fine
            ["BAD-1", "NOPE-999", "", "", "", "", "", "", ""],  # 3: unknown catalogue code
            ["TWICE", "BIO-0101", "", "", "", "", "", "", ""],  # 4: first of a pair: fine
            [],  # 5: empty, skipped but counted
            ["TWICE", "BIO-0101", "", "", "", "", "", "", ""],  # 6: duplicate tag in the file
            ["OLD-1", "BIO-0101", "", "", "", "", "", "", ""],  # 7: tag already in the database
            ["NEG-1", "BIO-0101", "", "", "", "", "-5", "", ""],  # 8: negative value
            ["DATE-1", "BIO-0101", "", "", "", "2024-02-30", "", "", ""],  # 9: no such date
            ["LOC-1", "BIO-0101", "", "", "", "", "", "县里的实验室", ""],  # 10: another school's room
            ["ST-1", "BIO-0101", "", "broken-ish", "", "", "", "", ""],  # 11: wrong status
            ["", "", "", "", "", "", "abc", "", ""],  # 12: no tag, no code, bad value
        ]
    )
    result = import_file(content, "bad.csv", actor=urban_admin, school=urban_school)
    assert not result.ok
    assert result.count == 0
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "catalog_code"),
        (6, "tag"),
        (7, "tag"),
        (8, "value_cny"),
        (9, "purchase_date"),
        (10, "location"),
        (11, "status"),
        (12, "tag"),
        (12, "catalog_code"),
        (12, "value_cny"),
    ]
    messages = {(e.row, e.field): e.message for e in result.errors}
    assert "NOPE-999" in messages[(3, "catalog_code")]
    assert "row 4" in messages[(6, "tag")]
    assert "already exists" in messages[(7, "tag")]
    assert "negative" in messages[(8, "value_cny")]
    assert "YYYY-MM-DD" in messages[(9, "purchase_date")]
    assert "县里的实验室" in messages[(10, "location")]
    assert "in_service" in messages[(11, "status")]
    assert result.errors[0].column == "目录编码 (catalog_code)"
    assert list(Asset.objects.values_list("tag", flat=True)) == ["OLD-1"]


def test_model_rules_from_the_service_become_row_errors(urban_admin, urban_school, microscope):
    content = csv_bytes(
        [["tag", "catalog_code", "value_cny", "notes"], ["V-1", "BIO-0101", "1.005", "x" * 501]]
    )
    result = import_file(content, "a.csv", actor=urban_admin, school=urban_school)
    assert sorted((e.row, e.field) for e in result.errors) == [(2, "notes"), (2, "value_cny")]
    assert not Asset.objects.exists()


def test_a_file_with_only_a_header_has_no_rows_to_import(urban_admin, urban_school):
    result = import_file(csv_bytes([EN_HEADER]), "a.csv", actor=urban_admin, school=urban_school)
    assert [(e.row, e.message) for e in result.errors] == [(None, "The file has no asset rows.")]


# --- bad files ------------------------------------------------------------------------------


def test_missing_required_columns_are_named():
    with pytest.raises(ValidationError) as caught:
        parse_asset_file(csv_bytes([["serial_number", "状态"], ["1", "在用"]]), "a.csv")
    assert caught.value.code == "invalid_columns"
    assert "tag (资产编号)" in caught.value.message
    assert "catalog_code (目录编码)" in caught.value.message


def test_unknown_columns_are_named():
    with pytest.raises(ValidationError) as caught:
        parse_asset_file(
            csv_bytes([["tag", "catalog_code", "colour", "价格"], ["1", "X", "red", "3"]]), "a.csv"
        )
    assert caught.value.code == "invalid_columns"
    assert "Unknown columns: colour, 价格." in caught.value.message
    assert "Missing" not in caught.value.message


def test_a_column_given_twice_is_refused():
    with pytest.raises(ValidationError, match="twice"):
        parse_asset_file(csv_bytes([["tag", "catalog_code", "资产编号"], ["1", "X", "2"]]), "a.csv")


def test_undecodable_bytes_are_refused():
    with pytest.raises(ValidationError) as caught:
        parse_asset_file(b"tag,catalog_code\n\x80\xff,\xfe\xfe\n", "a.csv")
    assert caught.value.code == "undecodable"
    assert "UTF-8" in caught.value.message


@pytest.mark.parametrize(
    ("content", "filename", "code"),
    [
        (b"", "a.csv", "no_header"),
        (b"\n\n,,\n", "a.csv", "no_header"),
        (b"tag,catalog_code\n", "a.xls", "unsupported_format"),
        (b"tag,catalog_code\n", "a", "unsupported_format"),
        (b"not a zip at all", "a.xlsx", "invalid_file"),
        (b"tag,catalog_code\x00\n", "a.csv", "invalid_file"),
    ],
)
def test_broken_files_are_refused_with_one_clear_error(content, filename, code):
    with pytest.raises(ValidationError) as caught:
        parse_asset_file(content, filename)
    assert caught.value.code == code


def test_more_than_5000_rows_are_refused():
    rows = [["tag", "catalog_code"]] + [[f"T{n}", "X"] for n in range(MAX_ROWS + 1)]
    with pytest.raises(ValidationError) as caught:
        parse_asset_file(csv_bytes(rows), "a.csv")
    assert caught.value.code == "too_many_rows"
    assert len(parse_asset_file(csv_bytes(rows[:-1]), "a.csv")) == MAX_ROWS


def test_more_than_5_mb_is_refused():
    content = b"tag,catalog_code,notes\n" + b"T,X," + b"x" * (5 * 1024 * 1024)
    with pytest.raises(ValidationError) as caught:
        parse_asset_file(content, "a.csv")
    assert caught.value.code == "file_too_large"


def test_a_school_admin_cannot_import_into_another_school(urban_admin, county_school, microscope):
    rows = parse_asset_file(csv_bytes([["tag", "catalog_code"], ["C-1", "BIO-0101"]]), "a.csv")
    with pytest.raises(ValidationError) as caught:
        import_assets(actor=urban_admin, school=county_school, rows=rows)
    assert caught.value.code == "forbidden"
    assert not Asset.objects.exists()


# --- export ---------------------------------------------------------------------------------

FORMULAS = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)"]


@pytest.fixture
def dangerous_assets(urban_school, microscope):
    room = ResourceFactory(school=urban_school, name="@SUM(1)")
    return [
        AssetFactory(tag=FORMULAS[0], catalog_item=microscope, school=urban_school, serial_number="+1"),
        AssetFactory(tag="SAFE-1", catalog_item=microscope, school=urban_school, notes="-1", space=room),
    ]


def test_csv_export_is_utf8_with_bom_chinese_headers_and_escapes_formulas(dangerous_assets):
    content, content_type, filename = export_assets(Asset.objects.all(), "csv")
    assert content_type.startswith("text/csv")
    assert filename.endswith(".csv")
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ZH_HEADER
    cells = {cell for row in rows[1:] for cell in row}
    for formula in FORMULAS:
        assert formula not in cells
        assert "'" + formula in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_xlsx_export_escapes_formulas_and_holds_no_formula_cells(dangerous_assets):
    content, content_type, filename = export_assets(Asset.objects.all(), "xlsx")
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    values = {cell.value for cell in cells}
    for formula in FORMULAS:
        assert "'" + formula in values


def test_english_export_uses_column_keys_and_codes(dangerous_assets):
    content, *_ = export_assets(Asset.objects.filter(tag="SAFE-1"), "csv", language="en")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == EN_HEADER
    assert rows[1][3:5] == ["in_service", "good"]


def test_an_unknown_export_format_is_a_programming_error():
    with pytest.raises(ValueError, match="pdf"):
        export_assets(Asset.objects.none(), "pdf")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_export_imports_back_to_the_same_assets(
    fmt, language, urban_admin, urban_school, microscope, lab, kit, dangerous_assets
):
    AssetFactory(
        tag="FULL-1",
        catalog_item=microscope,
        school=urban_school,
        serial_number="00123",
        status="in_repair",
        condition="poor",
        purchase_date=dt.date(2019, 12, 31),
        value_cny=Decimal("1234.56"),
        space=lab,
        notes='第一行, 带逗号 "引号"',
    )
    AssetFactory(
        tag="KIT-1", catalog_item=microscope, school=urban_school, kit=kit, status="lost", condition="new"
    )
    AssetFactory(
        tag="RET-1", catalog_item=microscope, school=urban_school, status="retired", value_cny=Decimal("0")
    )
    before = snapshot(Asset.objects.all())
    content, _, filename = export_assets(Asset.objects.all(), fmt, language=language)

    Asset.objects.all().delete()
    result = import_file(content, filename, actor=urban_admin, school=urban_school)

    assert result.ok, result.errors
    assert result.count == len(before)
    after = snapshot(Asset.objects.all())
    # Ids are new; everything else is as it was.
    assert after == before


def test_an_empty_export_is_an_importable_template(urban_admin, urban_school):
    content, *_ = export_assets(Asset.objects.none(), "xlsx")
    assert parse_asset_file(content, "template.xlsx") == []
