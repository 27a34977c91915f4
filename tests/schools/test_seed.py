"""seed_demo and seed_city: deterministic, idempotent, the source document's classification.

Most tests run the schools seeder alone: the command also seeds the inventory, which takes
seconds (tests/equipment/test_seed.py covers it).
"""

import pytest
from django.core.management import CommandError, call_command

from schools import demo, demo_data
from schools.models import ClassPeriod, District, School, User

pytestmark = pytest.mark.django_db


def _snapshot():
    return (
        list(District.objects.order_by("code").values()),
        list(School.objects.order_by("code").values()),
        list(
            ClassPeriod.objects.order_by("school__code", "number").values(
                "school__code", "number", "start", "end"
            )
        ),
        list(User.objects.order_by("username").values()),
    )


def test_seed_demo_is_idempotent():
    call_command("seed_demo", verbosity=0)
    first = _snapshot()
    call_command("seed_demo", verbosity=0)
    assert _snapshot() == first


def test_all_18_harbin_units_with_their_division_codes():
    demo.seed_demo()
    assert District.objects.count() == 18
    names = dict(District.objects.values_list("code", "name"))
    assert names["230103"] == "南岗区"
    assert names["230184"] == "五常市"
    assert names["230127"] == "木兰县"
    assert all(code.startswith("2301") for code in names)


@pytest.mark.parametrize(
    ("code", "kind", "zone"),
    [
        ("230102", "urban", "core"),  # Daoli
        ("230103", "urban", "core"),  # Nangang
        ("230109", "urban", "core"),  # Songbei, a new core area
        ("230184", "county", "radiating"),  # Wuchang
        ("230113", "county", "radiating"),  # Shuangcheng: a district, counted with the counties
        ("230112", "county", "radiating"),  # Acheng: likewise
        ("230126", "county", "linkage"),  # Bayan
        ("230127", "county", "linkage"),  # Mulan
        ("230124", "county", "linkage"),  # Fangzheng
    ],
)
def test_district_classification_follows_the_source_document(code, kind, zone):
    demo.seed_demo()
    district = District.objects.get(code=code)
    assert (district.kind, district.zone) == (kind, zone)


def test_schools_named_by_the_source_document_are_there():
    demo.seed_demo()
    names = set(School.objects.values_list("name", flat=True))
    for fragment in ["第三中学", "师范大学附属中学", "第一中学校", "五常", "方正"]:
        assert any(fragment in n for n in names), fragment
    assert 50 <= School.objects.count() <= 80
    assert School.objects.filter(district__kind="county").count() >= 15


def test_every_demo_school_has_a_bell_schedule_and_staff():
    demo.seed_demo()
    for school in School.objects.all():
        assert ClassPeriod.objects.filter(school=school).count() >= 4
        assert User.objects.filter(school=school, role="school_admin").count() >= 1
        assert User.objects.filter(school=school, role="teacher").count() >= 2


def test_demo_accounts_log_in_with_the_documented_password(client, settings):
    demo.seed_demo()
    for username, role, _school, _name in demo.NAMED_ACCOUNTS:
        user = User.objects.get(username=username)
        assert user.role == role
        assert user.check_password(settings.DEMO_PASSWORD)
    assert User.objects.get(username="admin").is_superuser


def test_seed_city_builds_the_document_mix_in_bulk():
    call_command("seed_city", schools=300, seed=7, verbosity=0)
    synthetic = School.objects.filter(code__startswith=demo.CITY_CODE_PREFIX)
    assert synthetic.count() == 300
    counts = {lvl: synthetic.filter(level=lvl).count() for lvl in demo_data.LEVEL_MIX}
    assert counts == demo.level_counts(300)
    assert counts["kindergarten"] > counts["primary"] > counts["junior"] > counts["higher"]
    assert ClassPeriod.objects.filter(school__in=synthetic).count() >= 300 * 4


def test_seed_city_is_deterministic_for_a_seed():
    call_command("seed_city", schools=50, seed=3, verbosity=0)
    first = list(
        School.objects.filter(code__startswith="CITY-")
        .order_by("code")
        .values_list("code", "district__code", "level", "latitude")
    )
    call_command("seed_city", schools=50, seed=3, verbosity=0)
    second = list(
        School.objects.filter(code__startswith="CITY-")
        .order_by("code")
        .values_list("code", "district__code", "level", "latitude")
    )
    assert first == second


def test_level_counts_sum_exactly():
    for total in (1, 7, 2876, 10_000):
        assert sum(demo.level_counts(total).values()) == total


@pytest.mark.parametrize("args", [{"schools": 0}, {"schools": -5}, {"schools": 10**7}, {"seed": -1}])
def test_seed_city_refuses_nonsense(args):
    with pytest.raises(CommandError):
        call_command("seed_city", verbosity=0, **args)
    assert not School.objects.filter(code__startswith="CITY-").exists()


def test_seed_city_refuses_non_numbers():
    with pytest.raises(CommandError):
        call_command("seed_city", "--schools", "many", verbosity=0)
