import datetime as dt

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from booking import checkin
from booking.models import Booking, BookingStatus, Closure
from config.api import check_date_range
from equipment.models import Resource

_DATETIME = serializers.DateTimeField()


class DateTimeField(serializers.DateTimeField):
    """DRF's DateTimeField, answering its own 400 'Datetime value out of range.' for a naive time
    too close to year 1 to exist in UTC once placed in Asia/Shanghai: DRF checks the time it made
    aware by converting it to UTC, which raised OverflowError (a 500) for 0001-01-01T00:00."""

    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("overflow")


class BookingOutputSerializer(serializers.Serializer):
    # Declared, not a ModelSerializer: building the fields from the model on every instance was
    # about a tenth of a booking POST's CPU (docs/benchmarks.md, booking over HTTP). The fields
    # describe the answer (the schema); to_representation writes it directly, without copying and
    # walking the fields for every booking (a test checks both give the same answer).
    id = serializers.IntegerField(read_only=True)
    resource = serializers.IntegerField(source="resource_id", read_only=True)
    school = serializers.IntegerField(source="school_id", read_only=True)
    booked_by = serializers.IntegerField(source="booked_by_id", read_only=True)
    booked_by_name = serializers.SerializerMethodField()
    start = serializers.DateTimeField(read_only=True)
    end = serializers.DateTimeField(read_only=True)
    date = serializers.SerializerMethodField()
    periods = serializers.CharField(read_only=True)
    class_size = serializers.IntegerField(read_only=True)
    purpose = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=BookingStatus.choices, read_only=True)
    series = serializers.SerializerMethodField()
    is_external = serializers.BooleanField(read_only=True)
    check_in_code = serializers.SerializerMethodField()
    check_in_url = serializers.SerializerMethodField()
    pass_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance: Booking) -> dict:
        request = self.context.get("request")
        return booking_output(instance, request.user if request is not None else None, request)

    @extend_schema_field(serializers.CharField())
    def get_booked_by_name(self, obj: Booking) -> str:
        return obj.booked_by.display_name or obj.booked_by.username

    @extend_schema_field(serializers.DateField())
    def get_date(self, obj: Booking):
        from booking.calendar import local_tz

        return obj.start.astimezone(local_tz()).date().isoformat()

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_series(self, obj: Booking):
        return obj.series_id

    def _booker_request(self, obj: Booking):
        """The request when the caller booked `obj`: only the booker sees the code and the links
        (the owner school confirms arrival by asking for the code, or by opening the link)."""
        request = self.context.get("request")
        return request if request is not None and request.user.pk == obj.booked_by_id else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_check_in_code(self, obj: Booking):
        return obj.check_in_code if self._booker_request(obj) is not None else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_check_in_url(self, obj: Booking):
        request = self._booker_request(obj)
        return checkin.check_in_url(obj, request) if request is not None else None

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_pass_url(self, obj: Booking):
        request = self._booker_request(obj)
        return checkin.pass_url(obj, request) if request is not None else None


def booking_output(booking: Booking, user, request=None) -> dict:
    """BookingOutputSerializer's answer for `booking`, as seen by `user` (None: no code shown);
    `request` makes the booker's links absolute."""
    from booking.calendar import local_tz

    start = booking.start
    booker = getattr(user, "pk", None) == booking.booked_by_id
    return {
        "id": booking.pk,
        "resource": booking.resource_id,
        "school": booking.school_id,
        "booked_by": booking.booked_by_id,
        "booked_by_name": booking.booked_by.display_name or booking.booked_by.username,
        "start": _DATETIME.to_representation(start),
        "end": _DATETIME.to_representation(booking.end),
        "date": start.astimezone(local_tz()).date().isoformat(),
        "periods": str(booking.periods),
        "class_size": booking.class_size,
        "purpose": str(booking.purpose),
        "status": str(booking.status),
        "series": booking.series_id,
        "is_external": bool(booking.is_external),
        # Only the booker sees the code; the owner school confirms arrival by asking for it.
        "check_in_code": booking.check_in_code if booker else None,
        # The pass (web page) shows the code and a QR code of the check-in link.
        "check_in_url": checkin.check_in_url(booking, request) if booker else None,
        "pass_url": checkin.pass_url(booking, request) if booker else None,
        "created_at": _DATETIME.to_representation(booking.created_at),
    }


class BookingCreateInputSerializer(serializers.Serializer):
    resource = serializers.PrimaryKeyRelatedField(queryset=Resource.objects.none())
    start = DateTimeField(required=False)
    end = DateTimeField(required=False)
    date = serializers.DateField(required=False)
    periods = serializers.CharField(required=False, max_length=10)
    class_size = serializers.IntegerField(min_value=1, max_value=5000)
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate(self, attrs):
        by_time = "start" in attrs or "end" in attrs
        by_periods = "date" in attrs or "periods" in attrs
        if by_time == by_periods:
            raise serializers.ValidationError(
                _("Give either start and end, or date and periods."), code="invalid_range"
            )
        if by_time and not ("start" in attrs and "end" in attrs):
            raise serializers.ValidationError(_("Give both start and end."), code="invalid_range")
        if by_periods and not ("date" in attrs and "periods" in attrs):
            raise serializers.ValidationError(_("Give both date and periods."), code="invalid_range")
        return attrs


def booking_input_by_time(data) -> dict | None:
    """BookingCreateInputSerializer's validated data for the usual request (a JSON object with an
    integer resource, start, end, class_size and maybe purpose), each value read by the serializer's
    own field; the resource as its id, its visibility not checked. None for anything else (any
    invalid value, periods, another resource form): the serializer then gives the full answer."""
    if type(data) is not dict or "date" in data or "periods" in data:
        return None
    resource = data.get("resource")
    if type(resource) is not int or not 0 < resource < 2**63:
        return None
    fields = BookingCreateInputSerializer._declared_fields
    try:
        out = {name: fields[name].run_validation(data[name]) for name in ("start", "end", "class_size")}
        out["purpose"] = fields["purpose"].run_validation(data["purpose"]) if "purpose" in data else ""
    except (KeyError, serializers.ValidationError):
        return None
    out["resource"] = resource
    return out


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class CheckInInputSerializer(serializers.Serializer):
    code = serializers.CharField(required=False, allow_blank=True, max_length=12)


class IntervalSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class AvailabilityOutputSerializer(serializers.Serializer):
    resource = serializers.IntegerField()
    free = IntervalSerializer(many=True)


class SearchResultSerializer(serializers.Serializer):
    resource = serializers.IntegerField(source="resource.pk")
    resource_name = serializers.CharField(source="resource.name")
    school = serializers.IntegerField(source="resource.school_id")
    school_name = serializers.CharField(source="resource.school_name")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    travel_minutes = serializers.IntegerField(allow_null=True)


class ClosureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Closure
        fields = ["id", "scope", "kind", "school", "resource", "start_date", "end_date", "reason"]
        read_only_fields = ["id"]


class SeriesCreateInputSerializer(serializers.Serializer):
    resource = serializers.PrimaryKeyRelatedField(queryset=Resource.objects.none())
    start = DateTimeField(required=False, help_text=_("start of the first occurrence"))
    end = DateTimeField(required=False, help_text=_("end of the first occurrence"))
    date = serializers.DateField(required=False, help_text=_("date of the first occurrence (with periods)"))
    periods = serializers.CharField(required=False, max_length=10)
    rrule = serializers.CharField(max_length=500, help_text=_("RFC 5545 RRULE, e.g. FREQ=WEEKLY;COUNT=8"))
    class_size = serializers.IntegerField(min_value=1, max_value=5000)
    purpose = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")
    mode = serializers.ChoiceField(choices=["all_or_nothing", "skip_conflicts"], default="skip_conflicts")
    preview = serializers.BooleanField(default=False)
    waitlist = serializers.BooleanField(
        default=False, help_text=_("wait on the waitlist for occurrences lost to a conflict")
    )

    def validate(self, attrs):
        attrs = BookingCreateInputSerializer.validate(self, attrs)
        # The rule is expanded from the first occurrence (booking.recurrence): from one near year
        # 9999 it ran past the last year a datetime holds (OverflowError, a 500). Like every date
        # the API reads, the first occurrence is between 2000 and 2100.
        for field in ("start", "end", "date"):
            if field in attrs:
                value = attrs[field]
                check_date_range(value.date() if isinstance(value, dt.datetime) else value, field)
        return attrs


class OccurrenceSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    booking = serializers.IntegerField(allow_null=True)
    code = serializers.CharField(allow_null=True)
    detail = serializers.CharField(allow_blank=True)


class SeriesResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    preview = serializers.BooleanField()
    complete = serializers.BooleanField()
    occurrences = OccurrenceSerializer(many=True)


class SeriesOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    resource = serializers.IntegerField(source="resource_id")
    school = serializers.IntegerField(source="school_id")
    booked_by = serializers.IntegerField(source="booked_by_id")
    rrule = serializers.CharField()
    periods = serializers.CharField()
    class_size = serializers.IntegerField()
    purpose = serializers.CharField()
    mode = serializers.CharField()
    status = serializers.CharField()
    occurrences = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_occurrences(self, obj) -> list[dict]:
        return [
            {"start": b.start.isoformat(), "end": b.end.isoformat(), "booking": b.pk, "status": b.status}
            for b in obj.bookings.order_by("start")
        ]


class SeriesCancelInputSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["all", "following"], default="all")
    booking = serializers.IntegerField(
        required=False, help_text=_("first occurrence to cancel, for 'following'")
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class WaitlistInputSerializer(BookingCreateInputSerializer):
    pass


class WaitlistOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    resource = serializers.IntegerField(source="resource_id")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    periods = serializers.CharField()
    class_size = serializers.IntegerField()
    purpose = serializers.CharField()
    series = serializers.IntegerField(source="series_id", allow_null=True)
    status = serializers.CharField()
    booking = serializers.IntegerField(source="booking_id", allow_null=True)
    hold_until = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_hold_until(self, obj):
        if obj.booking_id and obj.status == "offered":
            value = obj.booking.hold_until
            return serializers.DateTimeField().to_representation(value) if value else None
        return None


class MetricsRowSerializer(serializers.Serializer):
    group = serializers.CharField()
    group_name = serializers.CharField()
    resources = serializers.IntegerField()
    available_minutes = serializers.IntegerField()
    booked_minutes = serializers.IntegerField()
    used_minutes = serializers.IntegerField()
    utilisation = serializers.FloatField(allow_null=True)
    idle_rate = serializers.FloatField(allow_null=True)
    external_minutes = serializers.IntegerField()
    county_minutes = serializers.IntegerField()
    no_show_rate = serializers.FloatField(allow_null=True)


class ReportOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    month = serializers.SerializerMethodField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    ready_at = serializers.DateTimeField(allow_null=True)
    summary = serializers.SerializerMethodField()
    downloads = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField())
    def get_month(self, obj) -> str:
        return f"{obj.month:%Y-%m}"

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_summary(self, obj):
        return obj.snapshot["city"] if obj.snapshot else None

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_downloads(self, obj) -> dict:
        if obj.status != "ready":
            return {}
        request = self.context.get("request")
        base = f"/api/v1/reports/{obj.pk}/download/"
        if request is not None:
            base = request.build_absolute_uri(base)
        return {fmt: f"{base}?format={fmt}" for fmt in ("csv", "xlsx", "pdf")}


class ReportDetailSerializer(ReportOutputSerializer):
    snapshot = serializers.JSONField()


class ReportRequestSerializer(serializers.Serializer):
    month = serializers.CharField(max_length=7, help_text=_("YYYY-MM, a month that has ended"))
