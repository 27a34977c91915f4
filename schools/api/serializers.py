from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from schools.models import ClassPeriod, District, School, User


class DistrictOutputSerializer(serializers.ModelSerializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()

    class Meta:
        model = District
        fields = ["id", "code", "name", "name_en", "kind", "zone", "latitude", "longitude"]


class SchoolOutputSerializer(serializers.ModelSerializer):
    is_county = serializers.SerializerMethodField()
    latitude = serializers.FloatField(allow_null=True)
    longitude = serializers.FloatField(allow_null=True)

    class Meta:
        model = School
        fields = [
            "id",
            "code",
            "name",
            "name_en",
            "district",
            "level",
            "is_public",
            "student_count",
            "is_county",
            "latitude",
            "longitude",
        ]

    @extend_schema_field(serializers.BooleanField())
    def get_is_county(self, obj: School) -> bool:
        return obj.district.kind == District.Kind.COUNTY


class SchoolInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = School
        fields = [
            "code",
            "name",
            "name_en",
            "district",
            "level",
            "is_public",
            "student_count",
            "latitude",
            "longitude",
        ]
        # Uniqueness is checked by the service's full_clean() (and the database), once.
        validators = []
        extra_kwargs = {"code": {"validators": []}}


class ClassPeriodSerializer(serializers.ModelSerializer):
    start = serializers.TimeField(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"])
    end = serializers.TimeField(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"])
    number = serializers.IntegerField(min_value=1, max_value=20)

    class Meta:
        model = ClassPeriod
        fields = ["number", "start", "end"]


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "role", "school", "is_active"]


class UserInputSerializer(serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})

    class Meta:
        model = User
        fields = [
            "username",
            "display_name",
            "email",
            "role",
            "school",
            "phone",
            "is_active",
            "password",
        ]
        extra_kwargs = {"username": {"validators": []}}


class MeOutputSerializer(serializers.ModelSerializer):
    calendar_url = serializers.SerializerMethodField(
        help_text=_("Absolute URL of the user's secret iCalendar feed (null until issued).")
    )

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "school", "calendar_url"]

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_calendar_url(self, obj: User) -> str | None:
        # Provided by the booking app's calendar feeds; see docs/api.md.
        getter = self.context.get("calendar_url_for")
        return getter(obj) if getter else None
