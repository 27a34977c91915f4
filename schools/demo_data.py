"""Demo / seed data for EduShare: Harbin's districts, a sample of its schools, bell schedules.

Pure Python, no Django imports: management commands, fixtures and tests import it.

Source document: ``shared/seeds/000_55db37f863060bcc.txt`` (Harbin education integration
plan). Section numbers in the comments below refer to that document.

Coordinates are approximate (seat of the district government; for schools a point inside the
district near the real campus where known). They are demo values, not survey data.
"""

# --- City totals -------------------------------------------------------------------------
# Section 1.1: "截至2022年,全市共有各级各类学校2876所,其中幼儿园1023所、小学958所、初中387所、
# 普通高中219所、中等职业学校156所、高等院校135所,在校生总数达156.7万人,专任教师11.3万人".
LEVEL_MIX: dict[str, int] = {
    "kindergarten": 1023,
    "primary": 958,
    "junior": 387,
    "senior": 219,
    "vocational": 156,
    "higher": 135,
}
# NB: the source states 2876 schools but its per-level figures add up to 2878; both are kept
# verbatim, so do not assert SCHOOLS_TOTAL == sum(LEVEL_MIX.values()).
SCHOOLS_TOTAL = 2876  # section 1.1, as stated
STUDENTS_TOTAL = 1_567_000  # section 1.1: 156.7万 students
TEACHERS_TOTAL = 113_000  # section 1.1: 11.3万 full-time teachers

LEVELS = ("kindergarten", "primary", "junior", "senior", "vocational", "higher")
KINDS = ("urban", "county")
ZONES = ("core", "radiating", "linkage")

# --- Districts ---------------------------------------------------------------------------
# All 18 county-level divisions of Harbin (哈尔滨市, 2301xx) with their GB/T 2260 codes:
# 9 districts (市辖区), 7 counties (县) and 2 county-level cities (县级市).
# Zones follow the three-tier layout of section 5.1 (核心区 / 辐射区 / 联动区).
DISTRICTS: list[dict] = [
    # Core, urban: section 1.1 names the main city (主城区) as 道里、道外、南岗、香坊、平房.
    {
        "code": "230102",
        "name": "道里区",
        "name_en": "Daoli District",
        "kind": "urban",
        "zone": "core",
        "latitude": 45.7556,
        "longitude": 126.6170,
    },
    # Core, urban: main city (1.1); the Haxi new area (哈西新区, 5.1 core) lies in Nangang.
    {
        "code": "230103",
        "name": "南岗区",
        "name_en": "Nangang District",
        "kind": "urban",
        "zone": "core",
        "latitude": 45.7600,
        "longitude": 126.6686,
    },
    # Core, urban: main city (1.1).
    {
        "code": "230104",
        "name": "道外区",
        "name_en": "Daowai District",
        "kind": "urban",
        "zone": "core",
        "latitude": 45.7920,
        "longitude": 126.6490,
    },
    # Core, urban: main city (1.1).
    {
        "code": "230108",
        "name": "平房区",
        "name_en": "Pingfang District",
        "kind": "urban",
        "zone": "core",
        "latitude": 45.5978,
        "longitude": 126.6372,
    },
    # Core, urban: section 5.1 makes the Songbei new area (松北新区) a focus of the core zone.
    {
        "code": "230109",
        "name": "松北区",
        "name_en": "Songbei District",
        "kind": "urban",
        "zone": "core",
        "latitude": 45.8043,
        "longitude": 126.5110,
    },
    # Core, urban: main city (1.1).
    {
        "code": "230110",
        "name": "香坊区",
        "name_en": "Xiangfang District",
        "kind": "urban",
        "zone": "core",
        "latitude": 45.7137,
        "longitude": 126.6630,
    },
    # Core, urban: NOT named by the source document; treated as part of the main city
    # (a city district since 2004, contiguous with Songbei) by project decision.
    {
        "code": "230111",
        "name": "呼兰区",
        "name_en": "Hulan District",
        "kind": "urban",
        "zone": "core",
        "latitude": 45.8896,
        "longitude": 126.5875,
    },
    # Radiating, county: section 5.1 puts Acheng in the radiating zone of "近郊区县"; although
    # a city district, it is counted with the county areas, so kind "county".
    {
        "code": "230112",
        "name": "阿城区",
        "name_en": "Acheng District",
        "kind": "county",
        "zone": "radiating",
        "latitude": 45.5483,
        "longitude": 126.9582,
    },
    # Radiating, county: sections 1.1 (县域: 五常、双城、巴彦等) and 5.1 (radiating zone);
    # a city district since 2014 but counted as a county area by the document.
    {
        "code": "230113",
        "name": "双城区",
        "name_en": "Shuangcheng District",
        "kind": "county",
        "zone": "radiating",
        "latitude": 45.3834,
        "longitude": 126.3125,
    },
    # Linkage, county: remote county; section 5.1 linkage zone covers "巴彦、木兰等远郊县".
    {
        "code": "230123",
        "name": "依兰县",
        "name_en": "Yilan County",
        "kind": "county",
        "zone": "linkage",
        "latitude": 46.3247,
        "longitude": 129.5677,
    },
    # Linkage, county: remote county (5.1 "等远郊县"); named in section 5.2 (方正县职业技术学校).
    {
        "code": "230124",
        "name": "方正县",
        "name_en": "Fangzheng County",
        "kind": "county",
        "zone": "linkage",
        "latitude": 45.8517,
        "longitude": 128.8296,
    },
    # Linkage, county: remote county (5.1 "等远郊县").
    {
        "code": "230125",
        "name": "宾县",
        "name_en": "Bin County",
        "kind": "county",
        "zone": "linkage",
        "latitude": 45.7456,
        "longitude": 127.4660,
    },
    # Linkage, county: named explicitly in sections 1.1 (县域) and 5.1 (联动区).
    {
        "code": "230126",
        "name": "巴彦县",
        "name_en": "Bayan County",
        "kind": "county",
        "zone": "linkage",
        "latitude": 46.0850,
        "longitude": 127.4034,
    },
    # Linkage, county: named explicitly in section 5.1 (联动区, Manchu heritage courses).
    {
        "code": "230127",
        "name": "木兰县",
        "name_en": "Mulan County",
        "kind": "county",
        "zone": "linkage",
        "latitude": 45.9497,
        "longitude": 128.0434,
    },
    # Linkage, county: remote county (5.1 "等远郊县").
    {
        "code": "230128",
        "name": "通河县",
        "name_en": "Tonghe County",
        "kind": "county",
        "zone": "linkage",
        "latitude": 45.9902,
        "longitude": 128.7462,
    },
    # Linkage, county: remote county (5.1 "等远郊县").
    {
        "code": "230129",
        "name": "延寿县",
        "name_en": "Yanshou County",
        "kind": "county",
        "zone": "linkage",
        "latitude": 45.4514,
        "longitude": 128.3318,
    },
    # Linkage, county: remote county-level city (5.1 "等远郊县").
    {
        "code": "230183",
        "name": "尚志市",
        "name_en": "Shangzhi City",
        "kind": "county",
        "zone": "linkage",
        "latitude": 45.2092,
        "longitude": 127.9611,
    },
    # Radiating, county: sections 1.1 (县域) and 5.1 (radiating zone, branch of 哈三中 planned).
    {
        "code": "230184",
        "name": "五常市",
        "name_en": "Wuchang City",
        "kind": "county",
        "zone": "radiating",
        "latitude": 44.9318,
        "longitude": 127.1676,
    },
]

# --- Bell schedules ----------------------------------------------------------------------
# name -> [(period number, "HH:MM" start, "HH:MM" end)], increasing and non-overlapping.
BELL_SCHEDULES: dict[str, list[tuple[int, str, str]]] = {
    # Senior high: 45-min periods, 4 in the morning (30-min 大课间 after period 2),
    # noon break 11:45-13:30, periods 5-6 early afternoon, period 9 before supper.
    "senior": [
        (1, "07:50", "08:35"),
        (2, "08:45", "09:30"),
        (3, "10:00", "10:45"),
        (4, "11:00", "11:45"),
        (5, "13:30", "14:15"),
        (6, "14:25", "15:10"),
        (7, "15:25", "16:10"),
        (8, "16:20", "17:05"),
        (9, "17:15", "18:00"),
    ],
    # Junior high: 45-min periods, 8 a day.
    "junior": [
        (1, "08:00", "08:45"),
        (2, "08:55", "09:40"),
        (3, "10:10", "10:55"),
        (4, "11:05", "11:50"),
        (5, "13:20", "14:05"),
        (6, "14:15", "15:00"),
        (7, "15:15", "16:00"),
        (8, "16:10", "16:55"),
    ],
    # Primary: 40-min periods, 7 a day.
    "primary": [
        (1, "08:00", "08:40"),
        (2, "08:50", "09:30"),
        (3, "10:00", "10:40"),
        (4, "10:50", "11:30"),
        (5, "13:30", "14:10"),
        (6, "14:20", "15:00"),
        (7, "15:10", "15:50"),
    ],
    # Kindergarten: 4 activity blocks of 30 min around meals and nap time.
    "kindergarten": [
        (1, "09:00", "09:30"),
        (2, "10:00", "10:30"),
        (3, "15:00", "15:30"),
        (4, "15:50", "16:20"),
    ],
    # Secondary vocational: 45-min periods, 8 a day (workshop sessions use 2 periods).
    "vocational": [
        (1, "08:00", "08:45"),
        (2, "08:55", "09:40"),
        (3, "10:00", "10:45"),
        (4, "10:55", "11:40"),
        (5, "13:30", "14:15"),
        (6, "14:25", "15:10"),
        (7, "15:20", "16:05"),
        (8, "16:15", "17:00"),
    ],
    # Higher education: 45-min periods taught in 2x45 blocks (1-2, 3-4, 5-6, 7-8, 9-10).
    "higher": [
        (1, "08:00", "08:45"),
        (2, "08:50", "09:35"),
        (3, "10:00", "10:45"),
        (4, "10:50", "11:35"),
        (5, "13:30", "14:15"),
        (6, "14:20", "15:05"),
        (7, "15:30", "16:15"),
        (8, "16:20", "17:05"),
        (9, "18:30", "19:15"),
        (10, "19:20", "20:05"),
    ],
}


# --- Schools -----------------------------------------------------------------------------
def _school(
    code: str,
    name: str,
    name_en: str,
    district: str,
    level: str,
    public: bool,
    student_count: int,
    latitude: float,
    longitude: float,
) -> dict:
    return {
        "code": code,
        "name": name,
        "name_en": name_en,
        "district": district,
        "level": level,
        "public": public,
        "student_count": student_count,
        "latitude": latitude,
        "longitude": longitude,
        "bell": level,
    }


# Real, well-known schools where known; names marked "plausible" in the comments are
# illustrative (demo) schools. About 60 % are in the urban core, 40 % in the counties.
# One call per school, kept compact on purpose (a table, not code).
# fmt: off
SCHOOLS: list[dict] = [
    # Nangang 南岗区 (230103)
    # 哈三中: named in sections 1.1, 2.1, 5.1, 5.2; old campus at 果戈里大街.
    _school(
        "HRB-NG-001", "哈尔滨市第三中学校南岗校区", "Harbin No.3 High School (Nangang Campus)",
        "230103", "senior", True, 2400, 45.7575, 126.6480,
    ),
    # 师大附中: named in sections 1.1, 2.2, 5.4.
    _school(
        "HRB-NG-002", "哈尔滨师范大学附属中学",
        "High School Affiliated to Harbin Normal University",
        "230103", "senior", True, 4200, 45.7365, 126.6395,
    ),
    _school(
        "HRB-NG-003", "哈尔滨工业大学附属中学校", "Middle School Attached to HIT",
        "230103", "senior", True, 3600, 45.7478, 126.6335,
    ),
    _school(
        "HRB-NG-004", "哈尔滨市第九中学校", "Harbin No.9 High School",
        "230103", "senior", True, 3300, 45.7520, 126.6580,
    ),
    _school(
        "HRB-NG-005", "哈尔滨市第十三中学校", "Harbin No.13 Middle School",
        "230103", "junior", True, 2100, 45.7640, 126.6760,
    ),
    _school(
        "HRB-NG-006", "哈尔滨市第四十七中学校", "Harbin No.47 Middle School",
        "230103", "junior", True, 2300, 45.7455, 126.6745,
    ),
    _school(
        "HRB-NG-007", "哈尔滨市第六十九中学校", "Harbin No.69 Middle School",
        "230103", "junior", True, 2600, 45.7650, 126.6560,
    ),
    # 继红, 花园: the "hot" primary schools named in section 1.3.
    _school(
        "HRB-NG-008", "哈尔滨市继红小学校", "Harbin Jihong Primary School",
        "230103", "primary", True, 3200, 45.7560, 126.6625,
    ),
    _school(
        "HRB-NG-009", "哈尔滨市花园小学校", "Harbin Huayuan Primary School",
        "230103", "primary", True, 2900, 45.7618, 126.6605,
    ),
    # Private high school (民办).
    _school(
        "HRB-NG-010", "哈尔滨市德强高级中学", "Harbin Deqiang High School",
        "230103", "senior", False, 3000, 45.7330, 126.6550,
    ),
    # plausible (private kindergarten)
    _school(
        "HRB-NG-011", "哈尔滨市南岗区博苑幼儿园", "Nangang Boyuan Kindergarten",
        "230103", "kindergarten", False, 380, 45.7425, 126.6690,
    ),
    # Higher education: HIT and HEU are named in sections 2.4, 5.1, 5.3.
    _school(
        "HRB-NG-012", "哈尔滨工业大学", "Harbin Institute of Technology",
        "230103", "higher", True, 38000, 45.7437, 126.6318,
    ),
    _school(
        "HRB-NG-013", "哈尔滨工程大学", "Harbin Engineering University",
        "230103", "higher", True, 28000, 45.7748, 126.6790,
    ),
    # Daoli 道里区 (230102)
    _school(
        "HRB-DL-001", "哈尔滨市第三中学校群力校区", "Harbin No.3 High School (Qunli Campus)",
        "230102", "senior", True, 2600, 45.7310, 126.5560,
    ),
    _school(
        "HRB-DL-002", "哈尔滨市第六中学校", "Harbin No.6 High School",
        "230102", "senior", True, 3100, 45.7700, 126.6080,
    ),
    _school(
        "HRB-DL-003", "哈尔滨市萧红中学", "Harbin Xiao Hong Middle School",
        "230102", "junior", True, 2200, 45.7660, 126.6020,
    ),
    _school(
        "HRB-DL-004", "哈尔滨市第四中学校", "Harbin No.4 Middle School",
        "230102", "senior", True, 2500, 45.7615, 126.5960,
    ),
    _school(
        "HRB-DL-005", "哈尔滨市兆麟小学校", "Harbin Zhaolin Primary School",
        "230102", "primary", True, 2400, 45.7720, 126.6200,
    ),
    _school(
        "HRB-DL-006", "哈尔滨市第一职业高级中学校", "Harbin No.1 Vocational High School",
        "230102", "vocational", True, 1800, 45.7550, 126.5900,
    ),
    # plausible
    _school(
        "HRB-DL-007", "哈尔滨市道里区第一幼儿园", "Daoli District No.1 Kindergarten",
        "230102", "kindergarten", True, 450, 45.7600, 126.6120,
    ),
    # Daowai 道外区 (230104)
    _school(
        "HRB-DW-001", "哈尔滨市第二中学校", "Harbin No.2 Middle School",
        "230104", "senior", True, 2300, 45.7830, 126.6500,
    ),
    _school(
        "HRB-DW-002", "哈尔滨市第十四中学校", "Harbin No.14 Middle School",
        "230104", "junior", True, 1800, 45.7880, 126.6430,
    ),
    # plausible
    _school(
        "HRB-DW-003", "哈尔滨市道外区靖宇小学", "Daowai Jingyu Primary School",
        "230104", "primary", True, 1500, 45.7860, 126.6390,
    ),
    # Xiangfang 香坊区 (230110)
    # Northeast Forestry University: named in section 5.1 (core zone).
    _school(
        "HRB-XF-001", "东北林业大学", "Northeast Forestry University",
        "230110", "higher", True, 30000, 45.7219, 126.6380,
    ),
    _school(
        "HRB-XF-002", "哈尔滨市第七中学校", "Harbin No.7 Middle School",
        "230110", "senior", True, 2400, 45.7100, 126.6680,
    ),
    _school(
        "HRB-XF-003", "哈尔滨市第十九中学校", "Harbin No.19 Middle School",
        "230110", "junior", True, 1900, 45.7020, 126.6750,
    ),
    _school(
        "HRB-XF-004", "哈尔滨市第一二四中学校", "Harbin No.124 Middle School",
        "230110", "junior", True, 1600, 45.6980, 126.6900,
    ),
    # plausible
    _school(
        "HRB-XF-005", "哈尔滨市香坊区中山小学", "Xiangfang Zhongshan Primary School",
        "230110", "primary", True, 1700, 45.7150, 126.6580,
    ),
    # Pingfang 平房区 (230108)
    _school(
        "HRB-PF-001", "哈尔滨市第七十三中学校", "Harbin No.73 Middle School",
        "230108", "senior", True, 2000, 45.6010, 126.6320,
    ),
    # plausible
    _school(
        "HRB-PF-002", "哈尔滨市平房区实验中学", "Pingfang Experimental Middle School",
        "230108", "junior", True, 1400, 45.5960, 126.6290,
    ),
    # plausible
    _school(
        "HRB-PF-003", "哈尔滨市平房区新伟小学", "Pingfang Xinwei Primary School",
        "230108", "primary", True, 1200, 45.6050, 126.6380,
    ),
    # Songbei 松北区 (230109)
    # 哈一中: its physics lab is opened to county schools, 5,000 periods a year (7.3);
    # partner of 方正县职业技术学校 (5.2).
    _school(
        "HRB-SB-001", "哈尔滨市第一中学校", "Harbin No.1 Middle School",
        "230109", "senior", True, 3600, 45.8040, 126.5350,
    ),
    # plausible
    _school(
        "HRB-SB-002", "哈尔滨市松北区实验学校", "Songbei Experimental School",
        "230109", "junior", True, 1500, 45.8100, 126.5200,
    ),
    # plausible
    _school(
        "HRB-SB-003", "哈尔滨市松北区实验小学", "Songbei Experimental Primary School",
        "230109", "primary", True, 1300, 45.8020, 126.5100,
    ),
    # Hulan 呼兰区 (230111)
    _school(
        "HRB-HL-001", "哈尔滨市呼兰区第一中学校", "Hulan No.1 High School",
        "230111", "senior", True, 3200, 45.8880, 126.5900,
    ),
    # plausible
    _school(
        "HRB-HL-002", "哈尔滨市呼兰区第四中学", "Hulan No.4 Middle School",
        "230111", "junior", True, 1300, 45.8950, 126.5800,
    ),
    # Wuchang 五常市 (230184) - radiating zone, pilot area (3.3, 8.1)
    _school(
        "HRB-WC-001", "五常市第一中学", "Wuchang No.1 High School",
        "230184", "senior", True, 3800, 44.9320, 127.1620,
    ),
    # plausible (5.1: food-industry vocational base in Wuchang)
    _school(
        "HRB-WC-002", "五常市职业技术教育中心学校", "Wuchang Vocational Education Centre",
        "230184", "vocational", True, 1500, 44.9250, 127.1750,
    ),
    # plausible
    _school(
        "HRB-WC-003", "五常市山河镇中学", "Wuchang Shanhe Town Middle School",
        "230184", "junior", True, 700, 44.7080, 127.1950,
    ),
    # Shuangcheng 双城区 (230113) - radiating zone, pilot area (3.3, 8.1)
    _school(
        "HRB-SC-001", "哈尔滨市双城区兆麟中学", "Shuangcheng Zhaolin High School",
        "230113", "senior", True, 3500, 45.3800, 126.3100,
    ),
    # plausible (8.1: vocational park in Shuangcheng)
    _school(
        "HRB-SC-002", "哈尔滨市双城区职业技术教育中心学校",
        "Shuangcheng Vocational Education Centre",
        "230113", "vocational", True, 1300, 45.3760, 126.3200,
    ),
    # plausible
    _school(
        "HRB-SC-003", "哈尔滨市双城区周家镇中学", "Shuangcheng Zhoujia Town Middle School",
        "230113", "junior", True, 600, 45.4300, 126.4500,
    ),
    # Acheng 阿城区 (230112) - radiating zone
    _school(
        "HRB-AC-001", "哈尔滨市阿城区第一中学校", "Acheng No.1 High School",
        "230112", "senior", True, 2800, 45.5470, 126.9600,
    ),
    # plausible
    _school(
        "HRB-AC-002", "哈尔滨市阿城区实验小学", "Acheng Experimental Primary School",
        "230112", "primary", True, 1400, 45.5420, 126.9650,
    ),
    # Fangzheng 方正县 (230124) - linkage zone
    _school(
        "HRB-FZ-001", "方正县第一中学", "Fangzheng No.1 High School",
        "230124", "senior", True, 2600, 45.8500, 128.8300,
    ),
    # Named in section 5.2 (intelligent-manufacturing training centre with 哈一中).
    _school(
        "HRB-FZ-002", "方正县职业技术学校", "Fangzheng Vocational and Technical School",
        "230124", "vocational", True, 1100, 45.8450, 128.8380,
    ),
    # plausible
    _school(
        "HRB-FZ-003", "方正县实验小学", "Fangzheng Experimental Primary School",
        "230124", "primary", True, 1000, 45.8530, 128.8250,
    ),
    # Bayan 巴彦县 (230126) - linkage zone
    _school(
        "HRB-BY-001", "巴彦县第一中学", "Bayan No.1 High School",
        "230126", "senior", True, 3000, 46.0830, 127.4000,
    ),
    # plausible
    _school(
        "HRB-BY-002", "巴彦县兴隆镇中学", "Bayan Xinglong Town Middle School",
        "230126", "junior", True, 800, 46.2400, 127.2300,
    ),
    # Mulan 木兰县 (230127) - linkage zone
    _school(
        "HRB-ML-001", "木兰县高级中学", "Mulan Senior High School",
        "230127", "senior", True, 1900, 45.9500, 128.0400,
    ),
    # plausible
    _school(
        "HRB-ML-002", "木兰县第一幼儿园", "Mulan No.1 Kindergarten",
        "230127", "kindergarten", True, 350, 45.9480, 128.0460,
    ),
    # Yilan 依兰县 (230123) - linkage zone
    _school(
        "HRB-YL-001", "依兰县高级中学", "Yilan Senior High School",
        "230123", "senior", True, 2500, 46.3250, 129.5600,
    ),
    # plausible
    _school(
        "HRB-YL-002", "依兰县达连河镇中学", "Yilan Dalianhe Town Middle School",
        "230123", "junior", True, 650, 46.4000, 129.4200,
    ),
    # Bin 宾县 (230125) - linkage zone
    _school(
        "HRB-BX-001", "宾县第一中学", "Bin County No.1 High School",
        "230125", "senior", True, 3200, 45.7500, 127.4700,
    ),
    # plausible
    _school(
        "HRB-BX-002", "宾县宾西镇中学", "Bin County Binxi Town Middle School",
        "230125", "junior", True, 900, 45.7450, 127.2500,
    ),
    # Tonghe 通河县 (230128) - linkage zone
    _school(
        "HRB-TH-001", "通河县第一中学", "Tonghe No.1 High School",
        "230128", "senior", True, 1800, 45.9900, 128.7500,
    ),
    # plausible
    _school(
        "HRB-TH-002", "通河县实验小学", "Tonghe Experimental Primary School",
        "230128", "primary", True, 1100, 45.9870, 128.7420,
    ),
    # Yanshou 延寿县 (230129) - linkage zone
    _school(
        "HRB-YS-001", "延寿县第一中学", "Yanshou No.1 High School",
        "230129", "senior", True, 2000, 45.4530, 128.3300,
    ),
    # Shangzhi 尚志市 (230183) - linkage zone
    _school(
        "HRB-SZ-001", "尚志市尚志中学", "Shangzhi High School",
        "230183", "senior", True, 3000, 45.2150, 127.9650,
    ),
    # plausible
    _school(
        "HRB-SZ-002", "尚志市亚布力镇中学", "Shangzhi Yabuli Town Middle School",
        "230183", "junior", True, 550, 44.9300, 128.5400,
    ),
]
# fmt: on
