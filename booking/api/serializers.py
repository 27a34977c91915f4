from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from booking.models import Booking, Closure
from equipment.models import Resource


class BookingOutputSerializer(serializers.ModelSerializer):
    booked_by_name = serializers.SerializerMethodField()
    date = serializers.SerializerMethodField()
    series = serializers.SerializerMethodField()
    check_in_code = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = [
            "id", "resource", "school", "booked_by", "booked_by_name", "start", "end", "date", "periods",
            "class_size", "purpose", "status", "series", "is_external", "check_in_code", "created_at",
        ]  # fmt: skip

    @extend_schema_field(serializers.CharField())
    def get_booked_by_name(self, obj: Booking) -> str:
        return obj.booked_by.display_name or obj.booked_by.username

    @extend_schema_field(serializers.DateField())
    def get_date(self, obj: Booking):
        from booking.calendar import local_tz

        return obj.start.astimezone(local_tz()).date().isoformat()

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_series(self, obj: Booking):
        return getattr(obj, "series_id", None)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_check_in_code(self, obj: Booking):
        # Only the booker sees the code; the owner school confirms arrival by asking for it.
        request = self.context.get("request")
        if request is not None and request.user.pk == obj.booked_by_id:
            return obj.check_in_code
        return None


class BookingCreateInputSerializer(serializers.Serializer):
    resource = serializers.PrimaryKeyRelatedField(queryset=Resource.objects.none())
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
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
    school_name = serializers.CharField(source="resource.school.name")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    travel_minutes = serializers.IntegerField(allow_null=True)


class ClosureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Closure
        fields = ["id", "scope", "kind", "school", "resource", "start_date", "end_date", "reason"]
        read_only_fields = ["id"]
