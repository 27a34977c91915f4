"""The booking service on the real database: rules, locks, history, transitions, sweeps."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from booking import services
from booking.models import Booking, BookingEvent, Closure, EquitySettings, SchoolQuota
from schools.models import Qualification, TeacherQualification
from tests.booking.conftest import SH, local, next_workday
from tests.factories import KitFactory, ResourceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(urban_school):
    return ResourceFactory(school=urban_school, shared=True, capacity=40)


def book(actor, resource, start, end, size=30, **kw):
    return services.booking_create(
        actor=actor, resource=resource, start=start, end=end, class_size=size, **kw
    )


def codes(exc_info):
    return [e.code for e in exc_info.value.error_list]


def test_a_county_teacher_books_an_urban_lab(county_teacher, lab, day):
    booking = book(county_teacher, lab, local(day, 9), local(day, 10, 30), purpose="物理分组实验")
    assert booking.status == "approved"
    assert booking.school == county_teacher.school
    assert booking.is_external
    assert (booking.block_start, booking.block_end) == (booking.start, booking.end)
    event = BookingEvent.objects.get(booking=booking)
    assert (event.from_status, event.to_status, event.actor) == ("", "approved", county_teacher)


def test_a_booking_its_history_and_its_messages_are_written_together_or_not_at_all(
    county_teacher, urban_teacher, urban_admin, urban_school, day
):
    from booking.models import Notification

    lab = ResourceFactory(school=urban_school, shared=True, requires_approval=True)
    booking = book(county_teacher, lab, local(day, 9), local(day, 10), purpose="实验")
    stored = Booking.objects.get(pk=booking.pk)
    assert (stored.status, stored.purpose, stored.check_in_code) == ("pending", "实验", booking.check_in_code)
    assert stored.created_at == booking.created_at
    assert stored.updated_at == booking.updated_at
    assert list(BookingEvent.objects.filter(booking=booking).values_list("to_status", "actor")) == [
        ("pending", county_teacher.pk)
    ]
    rows = Notification.objects.filter(booking=booking)
    assert sorted(rows.values_list("kind", "recipient")) == [
        ("approval_requested", urban_admin.pk),
        ("booking_pending", county_teacher.pk),
    ]
    assert all(n.dedupe_key.startswith(f"{n.kind}:{booking.pk}:pending:") for n in rows)
    counts = (Booking.objects.count(), BookingEvent.objects.count(), Notification.objects.count())
    with pytest.raises(ValidationError) as exc:
        book(urban_teacher, lab, local(day, 9, 30), local(day, 10, 30))
    assert codes(exc) == ["conflict"]
    assert (Booking.objects.count(), BookingEvent.objects.count(), Notification.objects.count()) == counts


def test_back_to_back_bookings_do_not_overlap(county_teacher, urban_teacher, lab, day):
    book(county_teacher, lab, local(day, 9), local(day, 10))
    book(urban_teacher, lab, local(day, 10), local(day, 11))
    book(urban_teacher, lab, local(day, 8), local(day, 9))
    assert Booking.objects.count() == 3


def test_an_overlapping_booking_is_a_conflict(county_teacher, urban_teacher, lab, day):
    book(county_teacher, lab, local(day, 9), local(day, 10))
    with pytest.raises(ValidationError) as err:
        book(urban_teacher, lab, local(day, 9, 30), local(day, 10, 30))
    assert codes(err) == ["conflict"]
    assert Booking.objects.count() == 1


def test_a_cancelled_booking_frees_the_slot(county_teacher, urban_teacher, lab, day):
    first = book(county_teacher, lab, local(day, 9), local(day, 10))
    services.booking_cancel(actor=county_teacher, booking=first, reason="改期")
    book(urban_teacher, lab, local(day, 9), local(day, 10))


def test_a_kits_transit_buffer_blocks_neighbours(county_teacher, urban_teacher, urban_school, day):
    kit = KitFactory(school=urban_school, transit_buffer_minutes=60)
    first = book(county_teacher, kit, local(day, 10), local(day, 11))
    assert (first.block_start, first.block_end) == (local(day, 9), local(day, 12))
    with pytest.raises(ValidationError) as err:
        book(urban_teacher, kit, local(day, 11, 30), local(day, 12, 30))
    assert codes(err) == ["conflict"]
    book(urban_teacher, kit, local(day, 13), local(day, 14))  # 12:00 + 60 min buffer = 13:00


def test_every_broken_rule_is_reported_together(county_teacher, urban_school, day):
    lab = ResourceFactory(school=urban_school, shared=True, capacity=20)
    with pytest.raises(ValidationError) as err:
        book(county_teacher, lab, local(day, 6), local(day, 6, 10), size=30)
    assert set(codes(err)) >= {"outside_opening_hours", "too_short", "over_capacity"}
    assert Booking.objects.count() == 0


def test_another_schools_private_resource_is_refused_for_that_alone(county_teacher, urban_school, day):
    # Its hours, capacity and calendar are its school's business: the answer names the access rule only.
    lab = ResourceFactory(school=urban_school, shared=False, capacity=20)
    with pytest.raises(ValidationError) as err:
        book(county_teacher, lab, local(day, 6), local(day, 6, 10), size=30)
    assert codes(err) == ["not_shared"]
    assert Booking.objects.count() == 0


def test_maintenance_and_retired_resources_refuse(county_teacher, lab, day):
    lab.status = "maintenance"
    lab.save()
    with pytest.raises(ValidationError) as err:
        book(county_teacher, lab, local(day, 9), local(day, 10))
    assert "in_maintenance" in codes(err)


def test_notice_and_advance(county_teacher, urban_teacher, lab):
    now = dt.datetime.now(SH)
    soon = now + dt.timedelta(hours=3)
    with pytest.raises(ValidationError) as err:
        book(county_teacher, lab, soon, soon + dt.timedelta(hours=1))
    assert "insufficient_notice" in codes(err)
    far = next_workday(min_days=20)
    with pytest.raises(ValidationError) as err:
        book(urban_teacher.__class__.objects.create(username="u2", role="teacher", school=UserFactory().school),
             lab, local(far, 9), local(far, 10))  # fmt: skip
    assert "too_far_ahead" in codes(err)
    # A county school may book 20 days ahead: the county priority window (28 days).
    book(county_teacher, lab, local(far, 9), local(far, 10))


def test_the_owner_school_books_its_own_horizon(urban_teacher, lab):
    far = next_workday(min_days=20)
    book(urban_teacher, lab, local(far, 9), local(far, 10))  # 20 <= the resource's 28 days


def test_qualification_is_required_and_checked_for_expiry(county_teacher, lab, day):
    chem = Qualification.objects.create(code="chem", name="化学实验室安全培训")
    lab.required_qualification = chem
    lab.save()
    with pytest.raises(ValidationError) as err:
        book(county_teacher, lab, local(day, 9), local(day, 10))
    assert codes(err) == ["qualification_required"]
    held = TeacherQualification.objects.create(
        user=county_teacher, qualification=chem, obtained_on=day - dt.timedelta(days=400),
        expires_on=day - dt.timedelta(days=1),
    )  # fmt: skip
    with pytest.raises(ValidationError) as err:
        book(county_teacher, lab, local(day, 9), local(day, 10))
    assert codes(err) == ["qualification_expired"]
    held.expires_on = day + dt.timedelta(days=365)
    held.save()
    book(county_teacher, lab, local(day, 9), local(day, 10))


def test_closures_city_school_and_resource(county_teacher, lab, day, centre_admin):
    for scope, target in (("city", {}), ("school", {"school": lab.school}), ("resource", {"resource": lab})):
        closure = Closure.objects.create(
            scope=scope, start_date=day, end_date=day, reason=f"关闭-{scope}", **target
        )
        with pytest.raises(ValidationError) as err:
            book(county_teacher, lab, local(day, 9), local(day, 10))
        assert "closed" in codes(err)
        assert f"关闭-{scope}" in str(err.value)
        closure.delete()
    book(county_teacher, lab, local(day, 9), local(day, 10))


def test_the_first_day_after_a_break_is_bookable(county_teacher, lab, day):
    Closure.objects.create(scope="city", kind="term_break", start_date=day - dt.timedelta(days=30),
                           end_date=day - dt.timedelta(days=1), reason="寒假")  # fmt: skip
    book(county_teacher, lab, local(day, 8), local(day, 9))


def test_monthly_quota_is_collective_for_the_school(county_school, lab):
    EquitySettings.objects.update_or_create(pk=1, defaults={"monthly_quota_hours": 3})
    t1 = UserFactory(role="teacher", school=county_school)
    t2 = UserFactory(role="teacher", school=county_school)
    day = next_workday()
    other = next_workday(after=day, min_days=1)
    if other.month != day.month:  # keep both in one month
        day, other = next_workday(min_days=2), next_workday(min_days=3)
    book(t1, lab, local(day, 8), local(day, 10))
    with pytest.raises(ValidationError) as err:
        book(t2, lab, local(day, 13, 30), local(day, 15))
    assert codes(err) == ["quota_exceeded"]
    book(t2, lab, local(day, 13, 30), local(day, 14, 30))  # exactly the 3rd hour
    SchoolQuota.objects.create(school=county_school, monthly_hours=0)  # 0 = no quota
    book(t2, lab, local(day, 15), local(day, 17))


def test_own_school_bookings_do_not_count_against_the_quota(urban_teacher, lab, day):
    EquitySettings.objects.update_or_create(pk=1, defaults={"monthly_quota_hours": 1})
    book(urban_teacher, lab, local(day, 8), local(day, 11))


def test_approval_flow_for_external_requests(
    county_teacher, urban_teacher, urban_admin, county_admin, lab, day
):
    lab.requires_approval = True
    lab.save()
    own = book(urban_teacher, lab, local(day, 8), local(day, 9))
    assert own.status == "approved"  # the owner school needs no approval
    pending = book(county_teacher, lab, local(day, 9), local(day, 10))
    assert pending.status == "pending"
    with pytest.raises(ValidationError) as err:  # a pending request holds the slot
        book(urban_teacher, lab, local(day, 9), local(day, 10))
    assert codes(err) == ["conflict"]
    with pytest.raises(ValidationError) as err:
        services.booking_approve(actor=county_admin, booking=pending)
    assert err.value.code == "forbidden"
    approved = services.booking_approve(actor=urban_admin, booking=pending, reason="欢迎")
    assert approved.status == "approved"
    with pytest.raises(ValidationError) as err:
        services.booking_approve(actor=urban_admin, booking=pending)
    assert err.value.code == "invalid_transition"
    history = list(
        BookingEvent.objects.filter(booking=pending).values_list("from_status", "to_status", "reason")
    )
    assert history == [("", "pending", ""), ("pending", "approved", "欢迎")]


def test_pending_requests_expire_and_free_the_slot(county_teacher, urban_teacher, lab, day):
    lab.requires_approval = True
    lab.save()
    pending = book(county_teacher, lab, local(day, 9), local(day, 10))
    assert services.bookings_expire_pending(now=dt.datetime.now(SH) + dt.timedelta(hours=1)) == []
    expired = services.bookings_expire_pending(now=dt.datetime.now(SH) + dt.timedelta(hours=49))
    assert expired == [pending.pk]
    pending.refresh_from_db()
    assert pending.status == "rejected"
    assert services.bookings_expire_pending(now=dt.datetime.now(SH) + dt.timedelta(hours=50)) == []
    book(urban_teacher, lab, local(day, 9), local(day, 10))


def test_check_in_no_show_and_completion(county_teacher, urban_admin, lab, day):
    a = book(county_teacher, lab, local(day, 9), local(day, 10))
    b = book(county_teacher, lab, local(day, 10), local(day, 11))
    with pytest.raises(ValidationError) as err:
        services.booking_check_in(actor=county_teacher, booking=a, now=local(day, 8))
    assert err.value.code == "too_early"
    with pytest.raises(ValidationError):
        services.booking_check_in(actor=urban_admin, booking=a, code="WRONG", now=local(day, 8, 50))
    checked = services.booking_check_in(
        actor=urban_admin, booking=a, code=a.check_in_code.lower(), now=local(day, 8, 50)
    )
    assert checked.status == "checked_in"
    assert services.bookings_mark_no_show(now=local(day, 10, 10)) == []  # b's grace runs to 10:15
    assert services.bookings_mark_no_show(now=local(day, 10, 16)) == [b.pk]
    assert services.bookings_complete(now=local(day, 9, 59)) == []
    assert services.bookings_complete(now=local(day, 10)) == [a.pk]
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("completed", "no_show")


def test_who_may_cancel(county_teacher, urban_admin, lab, day, county_school):
    other_teacher = UserFactory(role="teacher", school=county_school)
    booking = book(county_teacher, lab, local(day, 9), local(day, 10))
    with pytest.raises(ValidationError) as err:
        services.booking_cancel(actor=other_teacher, booking=booking)
    assert err.value.code == "forbidden"
    cancelled = services.booking_cancel(actor=urban_admin, booking=booking, reason="实验室检修")
    assert cancelled.status == "cancelled"
    assert BookingEvent.objects.filter(booking=booking, to_status="cancelled", reason="实验室检修").exists()


def test_analysts_and_centre_admins_do_not_book(analyst, centre_admin, lab, day):
    for user in (analyst, centre_admin):
        with pytest.raises(ValidationError) as err:
            book(user, lab, local(day, 9), local(day, 10))
        assert err.value.code == "forbidden"


def test_periods_resolve_in_the_resource_schools_bell_schedule(county_teacher, lab, day):
    resolved = services.resolve_periods(resource=lab, date=day, periods="5-6")
    # The factory's schedule: period 5 starts 13:30, period 6 ends 15:10.
    assert (resolved.start, resolved.end, resolved.periods) == (local(day, 13, 30), local(day, 15, 10), "5-6")
    with pytest.raises(ValidationError) as err:
        services.resolve_periods(resource=lab, date=day, periods="9-10")
    assert "periods" in err.value.message_dict


def test_periodic_tasks_are_scheduled_and_run(settings, county_teacher, lab, day):
    from booking import tasks

    tasks_in_beat = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"booking.expire_pending", "booking.mark_no_shows", "booking.complete_finished"} <= tasks_in_beat
    book(county_teacher, lab, local(day, 9), local(day, 10))
    assert tasks.bookings_expire_pending_task.delay().get() == 0
    assert tasks.bookings_mark_no_show_task.delay().get() == 0  # it has not started yet
    assert tasks.bookings_complete_task.delay().get() == 0


def test_a_kits_long_buffer_keeps_far_away_bookings_in_its_free_intervals():
    """A kit with a 3-day transit buffer: a stay whose blocked range ends two days before the asked
    day leaves that day unbookable (a new booking's buffer would reach back into it), so the
    one-resource availability must not offer it, and booking it must agree."""
    from django.utils import timezone

    from booking.selectors import free_slots_for

    kit = KitFactory(transit_buffer_minutes=3 * 24 * 60, max_advance_days=60, min_notice_hours=0)
    teacher = UserFactory(role="teacher", school=kit.school)
    day = next_workday(min_days=14)
    earlier = local(day - dt.timedelta(days=8), 9)
    # The earlier stay, written as the engine would (its block widened by the buffer).
    Booking.objects.create(
        resource=kit, school=kit.school, booked_by=teacher, start=earlier, end=earlier + dt.timedelta(days=3),
        block_start=earlier - dt.timedelta(days=3), block_end=earlier + dt.timedelta(days=6),  # two days before `day`
        class_size=5, status="approved", check_in_code="K1",
    )  # fmt: skip
    free = free_slots_for(
        user=teacher, resource=kit, start=local(day, 8), end=local(day, 17), now=timezone.now()
    )
    assert free == []
    with pytest.raises(ValidationError) as err:
        book(teacher, kit, local(day, 9), local(day, 11))
    assert codes(err) == ["conflict"]
    # A week later the buffer no longer reaches: the day is free again.
    later = day + dt.timedelta(days=7)
    while local(later, 8).weekday() > 4:
        later += dt.timedelta(days=1)
    assert free_slots_for(
        user=teacher, resource=kit, start=local(later, 8), end=local(later, 17), now=timezone.now()
    )


def test_external_minutes_in_month_sums_the_holding_and_used_bookings_of_the_local_month():
    """Summed in the database; the statuses that hold or used the time count, others do not, and
    the month is Harbin's (a booking at 23:30 local on the last day belongs to that month)."""
    lab = ResourceFactory()
    teacher = UserFactory(role="teacher")
    school = teacher.school

    def row(start, minutes, status, external=True, seconds=0):
        end = start + dt.timedelta(minutes=minutes, seconds=seconds)
        return Booking.objects.create(
            resource=lab, school=school, booked_by=teacher, start=start, end=end, block_start=start,
            block_end=end, class_size=5, status=status, is_external=external, check_in_code="Q",
        )  # fmt: skip

    nov = dt.datetime(2026, 11, 2, 9, tzinfo=SH)
    row(nov, 45, "approved", seconds=30)
    row(nov + dt.timedelta(days=1), 90, "completed", seconds=40)
    row(nov + dt.timedelta(days=2), 60, "pending")
    row(nov + dt.timedelta(days=3), 60, "checked_in")
    row(nov + dt.timedelta(days=4), 600, "cancelled")
    row(nov + dt.timedelta(days=5), 600, "no_show")
    row(nov + dt.timedelta(days=6), 600, "approved", external=False)
    row(dt.datetime(2026, 11, 30, 23, 30, tzinfo=SH), 20, "approved")  # 15:30 UTC: still November here
    row(dt.datetime(2026, 12, 1, 0, 10, tzinfo=SH), 600, "approved")  # 30 November in UTC: December here
    excluded = row(nov + dt.timedelta(days=8), 30, "approved")
    when = dt.datetime(2026, 11, 15, 12, tzinfo=SH)
    # 45.5 + 90 + 60 + 60 + 20 + 30 minutes and 70 seconds: whole minutes of the total
    assert services.external_minutes_in_month(school.pk, when) == 306
    assert services.external_minutes_in_month(school.pk, when, exclude_pk=excluded.pk) == 276
    assert services.external_minutes_in_month(school.pk, dt.datetime(2026, 10, 15, tzinfo=SH)) == 0
