"""Metrics and monthly reports: centre admins and analysts (school admins: their own school's
metrics). Aggregates only, no personal data."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from booking import metrics, reports
from booking.models import MonthlyReport
from config.api import check_date_range, object_or_404, paginate, query_id
from equipment.models import Resource

from .serializers import (
    MetricsRowSerializer,
    ReportDetailSerializer,
    ReportOutputSerializer,
    ReportRequestSerializer,
)

MAX_DAYS = 366


class ReadsMetrics(BasePermission):
    def has_permission(self, request, view) -> bool:
        u = request.user
        return bool(u and u.is_authenticated and (u.is_centre_admin or u.is_analyst or u.is_school_admin))


class ReadsReports(BasePermission):
    def has_permission(self, request, view) -> bool:
        u = request.user
        return bool(u and u.is_authenticated and (u.is_centre_admin or u.is_analyst))


def _date(value, field):
    try:
        if not value or len(value) != 10:
            raise ValueError
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            {field: ValidationError(_("Enter a date as YYYY-MM-DD."), code="invalid")}
        ) from None
    return check_date_range(day, field)


def _id(value, field):
    found = query_id(value, field)
    if found is not None and len(str(value)) > 18:  # no id has 19 digits: a 400 as for any bad id
        raise ValidationError({field: ValidationError(_("Give a numeric id."), code="invalid")})
    return found


class UtilisationApi(APIView):
    """Utilisation, idle rate, external and county minutes, no-show rate per group."""

    permission_classes = [ReadsMetrics]

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", OpenApiTypes.DATE, required=True),
            OpenApiParameter("date_to", OpenApiTypes.DATE, required=True, description="inclusive"),
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(metrics.GROUPS)),
            OpenApiParameter("district", OpenApiTypes.INT),
            OpenApiParameter("school", OpenApiTypes.INT),
            OpenApiParameter("resource", OpenApiTypes.INT),
            OpenApiParameter("kind", OpenApiTypes.STR),
        ],
        responses=MetricsRowSerializer(many=True),
    )
    def get(self, request):
        p = request.query_params
        date_from, date_to = _date(p.get("date_from"), "date_from"), _date(p.get("date_to"), "date_to")
        if date_to < date_from:
            raise ValidationError(
                {"date_to": ValidationError(_("date_to is before date_from."), code="invalid_range")}
            )
        if (date_to - date_from).days >= MAX_DAYS:
            raise ValidationError(
                {"date_to": ValidationError(_("Ask for at most 366 days."), code="window_too_long")}
            )
        group_by = p.get("group_by") or "city"
        if group_by not in metrics.GROUPS:
            raise ValidationError({"group_by": ValidationError(_("Unknown grouping."), code="invalid")})
        qs = Resource.objects.all()
        user = request.user
        if user.is_school_admin:
            qs = qs.filter(school_id=user.school_id)  # their own school's figures only
        if (district := _id(p.get("district"), "district")) is not None:
            qs = qs.filter(school__district_id=district)
        if (school := _id(p.get("school"), "school")) is not None:
            qs = qs.filter(school_id=school)
        if (resource := _id(p.get("resource"), "resource")) is not None:
            qs = qs.filter(pk=resource)
        if kind := p.get("kind"):
            if kind not in Resource.Kind.values:
                raise ValidationError({"kind": ValidationError(_("Unknown kind."), code="invalid")})
            qs = qs.filter(kind=kind)
        rows = metrics.utilisation(resources=qs, date_from=date_from, date_to=date_to, group_by=group_by)
        return Response(MetricsRowSerializer(rows, many=True).data)


class ReportListCreateApi(generics.GenericAPIView):
    permission_classes = [ReadsReports]
    serializer_class = ReportOutputSerializer

    def get_queryset(self):
        return MonthlyReport.objects.all()

    @extend_schema(responses=ReportOutputSerializer(many=True))
    def get(self, request):
        return paginate(self, request, self.get_queryset(), ReportOutputSerializer)

    @extend_schema(
        request=ReportRequestSerializer, responses={201: ReportOutputSerializer, 200: ReportOutputSerializer}
    )
    def post(self, request):
        ser = ReportRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        month = reports.parse_month(ser.validated_data["month"])
        report, created = reports.report_request(actor=request.user, month=month)
        report.refresh_from_db()
        body = ReportOutputSerializer(report, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReportDetailApi(APIView):
    permission_classes = [ReadsReports]

    @extend_schema(responses=ReportDetailSerializer)
    def get(self, request, pk):
        report = object_or_404(MonthlyReport.objects.all(), pk=pk)
        return Response(ReportDetailSerializer(report, context={"request": request}).data)


class ReportDownloadApi(APIView):
    """The report as CSV, XLSX or PDF (charts and Chinese text), in the caller's language."""

    permission_classes = [ReadsReports]

    @extend_schema(
        parameters=[OpenApiParameter("format", OpenApiTypes.STR, enum=["csv", "xlsx", "pdf"], required=True)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, pk):
        from booking import report_render

        report = object_or_404(MonthlyReport.objects.all(), pk=pk)
        fmt = request.query_params.get("format", "")
        renderers = {
            "csv": (report_render.report_csv, "text/csv; charset=utf-8"),
            "xlsx": (
                report_render.report_xlsx,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            "pdf": (report_render.report_pdf, "application/pdf"),
        }
        if fmt not in renderers:
            raise ValidationError({"format": ValidationError(_("Choose csv, xlsx or pdf."), code="invalid")})
        if report.status != MonthlyReport.Status.READY:
            raise ValidationError(_("The report is not ready yet."), code="conflict")
        render, content_type = renderers[fmt]
        language = "en" if (get_language() or "").startswith("en") else "zh-hans"
        data = render(report.snapshot, language=language)
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="edushare-{report.month:%Y-%m}.{fmt}"'
        response["Last-Modified"] = timezone.localtime(report.ready_at).strftime("%a, %d %b %Y %H:%M:%S GMT")
        return response
