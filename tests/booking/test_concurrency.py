"""Races on PostgreSQL: exactly one winner per slot, never an overlap, never a 500."""

import datetime as dt
import random
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction

from booking import services
from booking.models import Booking
from tests.booking.conftest import local, next_workday
from tests.factories import ResourceFactory, SchoolFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

OVERLAPS_SQL = """
    SELECT count(*) FROM booking_booking a JOIN booking_booking b
      ON a.resource_id = b.resource_id AND a.id < b.id
     AND tstzrange(a.block_start, a.block_end, '[)') && tstzrange(b.block_start, b.block_end, '[)')
     WHERE a.status IN ('pending', 'approved', 'checked_in', 'held')
       AND b.status IN ('pending', 'approved', 'checked_in', 'held')
"""


def run_in_threads(jobs):
    results = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def worker(i, job):
        try:
            barrier.wait()
            results[i] = ("ok", job())
        except ValidationError as exc:
            results[i] = ("refused", exc.error_list[0].code)
        except Exception as exc:  # anything else would be a 500
            results[i] = ("error", repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_many_threads_race_for_one_slot_exactly_one_wins():
    lab = ResourceFactory(capacity=40)
    teachers = [
        UserFactory(role="teacher", school=SchoolFactory(district=lab.school.district)) for _ in range(12)
    ]
    day = next_workday()
    start, end = local(day, 9), local(day, 10)
    jobs = [
        (lambda t=t: services.booking_create(actor=t, resource=lab, start=start, end=end, class_size=20))
        for t in teachers
    ]
    results = run_in_threads(jobs)
    assert [r[0] for r in results].count("ok") == 1, results
    assert all(r == ("refused", "conflict") for r in results if r[0] != "ok"), results
    assert Booking.objects.filter(resource=lab).count() == 1


def test_random_overlapping_requests_in_parallel_leave_no_overlap():
    rng = random.Random(42)
    district = SchoolFactory().district
    labs = [ResourceFactory(capacity=40, school=SchoolFactory(district=district)) for _ in range(3)]
    teachers = [UserFactory(role="teacher", school=SchoolFactory(district=district)) for _ in range(8)]
    day = next_workday()

    def job(teacher, lab, start):
        return lambda: services.booking_create(
            actor=teacher, resource=lab, start=start, end=start + dt.timedelta(minutes=45), class_size=10
        )

    jobs = [
        job(
            teachers[i % 8], rng.choice(labs), local(day, 8) + dt.timedelta(minutes=15 * rng.randrange(0, 28))
        )
        for i in range(48)
    ]
    results = []
    for batch in range(0, len(jobs), 8):
        results += run_in_threads(jobs[batch : batch + 8])
    assert not [r for r in results if r[0] == "error"], results
    assert {r[1] for r in results if r[0] == "refused"} <= {"conflict"}
    with connection.cursor() as cursor:
        cursor.execute(OVERLAPS_SQL)
        assert cursor.fetchone()[0] == 0
    assert Booking.objects.count() == [r[0] for r in results].count("ok") > 0


def test_the_exclusion_constraint_is_the_last_guard():
    """Even a write that skips the service cannot create an overlap on PostgreSQL."""
    lab = ResourceFactory()
    teacher = UserFactory(role="teacher", school=lab.school)
    day = next_workday()
    first = services.booking_create(
        actor=teacher, resource=lab, start=local(day, 9), end=local(day, 10), class_size=5
    )
    clone = Booking(
        resource=lab, school=lab.school, booked_by=teacher, start=local(day, 9, 30), end=local(day, 10, 30),
        block_start=local(day, 9, 30), block_end=local(day, 10, 30), class_size=5, status="approved",
        check_in_code="X",
    )  # fmt: skip
    with pytest.raises(IntegrityError) as err, transaction.atomic():
        clone.save()
    assert err.value.__cause__.sqlstate == "23P01"
    # An inactive booking may share the time: the constraint covers active statuses only.
    clone.status = "cancelled"
    clone.save()
    first.status = "cancelled"
    first.save()


def test_with_retries_turns_an_exclusion_violation_into_conflict():
    lab = ResourceFactory()
    teacher = UserFactory(role="teacher", school=lab.school)
    day = next_workday()
    services.booking_create(
        actor=teacher, resource=lab, start=local(day, 9), end=local(day, 10), class_size=5
    )

    def sneaky_insert():
        with transaction.atomic():
            return Booking.objects.create(
                resource=lab, school=lab.school, booked_by=teacher, start=local(day, 9), end=local(day, 10),
                block_start=local(day, 9), block_end=local(day, 10), class_size=5, status="pending",
                check_in_code="Y",
            )  # fmt: skip

    with pytest.raises(ValidationError) as err:
        services.with_retries(sneaky_insert)
    assert err.value.code == "conflict"


def test_with_retries_answers_busy_when_every_attempt_deadlocks():
    """PostgreSQL itself raises 40P01 on every attempt: retried MAX_ATTEMPTS times, then `busy`
    (503, try again) — never a false "that time is taken"."""
    attempts = []

    def always_deadlocks():
        attempts.append(1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$")

    with pytest.raises(ValidationError) as err:
        services.with_retries(always_deadlocks)
    assert err.value.code == "busy"
    assert len(attempts) == services.MAX_ATTEMPTS


def test_busy_is_a_503_with_retry_after():
    from config.exceptions import api_exception_handler

    response = api_exception_handler(services.busy_error(), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.data["code"] == "busy"


def test_an_uncommitted_cancellation_does_not_hold_up_an_overlapping_booking():
    """Another transaction has cancelled the booking but not committed yet (a cancellation that is
    offering the freed slot to the waitlist, waiting for the resource row). A new overlapping
    booking must answer 409 from what is committed, at once: an INSERT that waited on the
    exclusion constraint for that transaction would deadlock with it (the waitlist offer then
    waits for this booking's resource lock)."""
    import psycopg

    lab = ResourceFactory()
    owner = UserFactory(role="teacher", school=lab.school)
    day = next_workday()
    taken = services.booking_create(
        actor=owner, resource=lab, start=local(day, 9), end=local(day, 10), class_size=5
    )
    other = UserFactory(role="teacher", school=SchoolFactory(district=lab.school.district))
    params = connection.get_connection_params()
    with psycopg.connect(
        host=params.get("host"), port=params.get("port"), user=params.get("user"),
        password=params.get("password"), dbname=params["dbname"],
    ) as canceller:  # fmt: skip
        canceller.execute("UPDATE booking_booking SET status = 'cancelled' WHERE id = %s", (taken.pk,))
        results = []

        def book():
            try:
                services.booking_create(
                    actor=other, resource=lab, start=local(day, 9, 30), end=local(day, 10, 30), class_size=5
                )
                results.append("ok")
            except ValidationError as exc:
                results.append(exc.error_list[0].code)
            finally:
                connections.close_all()

        thread = threading.Thread(target=book)
        thread.start()
        thread.join(5)
        answered_in_time = not thread.is_alive()
        canceller.rollback()  # lets a waiting INSERT go on, so the thread ends either way
        thread.join(30)
    assert answered_in_time, "the booking waited for the other transaction"
    assert results == ["conflict"]
