"""Thin HTTP adapters: parse, check permission, call one service or selector, render."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from config.api import object_or_404, paginate
from schools import selectors, services
from schools.models import User

from .filters import DistrictFilter, SchoolFilter, UserFilter
from .permissions import ManagesAccounts, ReadAnyWriteCentreAdmin
from .serializers import (
    ClassPeriodSerializer,
    DistrictOutputSerializer,
    MeOutputSerializer,
    SchoolInputSerializer,
    SchoolOutputSerializer,
    UserInputSerializer,
    UserOutputSerializer,
)


class TokenApi(ObtainAuthToken):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


def _calendar_url_for(request):
    try:
        from booking.feeds import calendar_url_for  # booking is optional at this layer
    except ImportError:
        return None
    return lambda user: calendar_url_for(user, request)


class MeApi(APIView):
    @extend_schema(responses=MeOutputSerializer)
    def get(self, request):
        ctx = {"request": request, "calendar_url_for": _calendar_url_for(request)}
        return Response(MeOutputSerializer(request.user, context=ctx).data)


class DistrictListApi(generics.ListAPIView):
    serializer_class = DistrictOutputSerializer
    filterset_class = DistrictFilter

    def get_queryset(self):
        return selectors.district_list()


class DistrictDetailApi(generics.RetrieveAPIView):
    serializer_class = DistrictOutputSerializer

    def get_queryset(self):
        return selectors.district_list()


class SchoolListCreateApi(generics.GenericAPIView):
    permission_classes = [ReadAnyWriteCentreAdmin]
    serializer_class = SchoolOutputSerializer
    filterset_class = SchoolFilter

    def get_queryset(self):
        return selectors.school_list()

    @extend_schema(responses=SchoolOutputSerializer(many=True))
    def get(self, request):
        qs = self.filter_queryset(self.get_queryset())
        return paginate(self, request, qs, SchoolOutputSerializer)

    @extend_schema(request=SchoolInputSerializer, responses={201: SchoolOutputSerializer})
    def post(self, request):
        ser = SchoolInputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        school = services.school_create(actor=request.user, data=ser.validated_data)
        return Response(SchoolOutputSerializer(school).data, status=status.HTTP_201_CREATED)


class SchoolDetailApi(APIView):
    permission_classes = [ReadAnyWriteCentreAdmin]

    @extend_schema(responses=SchoolOutputSerializer)
    def get(self, request, pk):
        return Response(SchoolOutputSerializer(object_or_404(selectors.school_list(), pk=pk)).data)

    @extend_schema(request=SchoolInputSerializer, responses=SchoolOutputSerializer)
    def patch(self, request, pk):
        school = object_or_404(selectors.school_list(), pk=pk)
        ser = SchoolInputSerializer(school, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        school = services.school_update(actor=request.user, school=school, data=ser.validated_data)
        return Response(SchoolOutputSerializer(school).data)


class SchoolPeriodsApi(APIView):
    """GET: anyone. PUT: the school's admin or a centre admin; replaces the whole schedule."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ClassPeriodSerializer(many=True))
    def get(self, request, pk):
        school = object_or_404(selectors.school_list(), pk=pk)
        return Response(ClassPeriodSerializer(selectors.bell_schedule_for(school), many=True).data)

    @extend_schema(request=ClassPeriodSerializer(many=True), responses=ClassPeriodSerializer(many=True))
    def put(self, request, pk):
        school = object_or_404(selectors.school_list(), pk=pk)
        ser = ClassPeriodSerializer(data=request.data, many=True, allow_empty=True)
        ser.is_valid(raise_exception=True)
        periods = [(p["number"], p["start"], p["end"]) for p in ser.validated_data]
        services.bell_schedule_replace(actor=request.user, school=school, periods=periods)
        return Response(ClassPeriodSerializer(selectors.bell_schedule_for(school), many=True).data)


class UserListCreateApi(generics.GenericAPIView):
    permission_classes = [ManagesAccounts]
    serializer_class = UserOutputSerializer
    filterset_class = UserFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return User.objects.none()
        return selectors.user_list_for(self.request.user)

    @extend_schema(responses=UserOutputSerializer(many=True))
    def get(self, request):
        qs = self.filter_queryset(self.get_queryset())
        return paginate(self, request, qs, UserOutputSerializer)

    @extend_schema(request=UserInputSerializer, responses={201: UserOutputSerializer})
    def post(self, request):
        ser = UserInputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        password = data.pop("password")
        user = services.user_create(actor=request.user, data=data, password=password)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class UserDetailApi(APIView):
    permission_classes = [ManagesAccounts]

    def _get(self, request, pk) -> User:
        return object_or_404(selectors.user_list_for(request.user), pk=pk)

    @extend_schema(responses=UserOutputSerializer)
    def get(self, request, pk):
        return Response(UserOutputSerializer(self._get(request, pk)).data)

    @extend_schema(request=UserInputSerializer, responses=UserOutputSerializer)
    def patch(self, request, pk):
        user = self._get(request, pk)
        ser = UserInputSerializer(user, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        password = data.pop("password", None)
        user = services.user_update(actor=request.user, user=user, data=data, password=password)
        return Response(UserOutputSerializer(user).data)
