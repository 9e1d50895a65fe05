"""API of the clinic layer: who is signing in, and practitioners."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.models import Clinic, PractitionerQualification, StaffMember, StaffRole
from clinic.permissions import ClinicScopedQuerysetMixin, staff_member_of


class OwnClinicSerializer(serializers.ModelSerializer):
    class Meta:
        model = Clinic
        fields = ["id", "name", "slug", "time_zone"]


class SignedInStaffSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    clinic = OwnClinicSerializer()

    class Meta:
        model = StaffMember
        fields = ["id", "username", "display_name", "role", "clinic"]


class SignedInStaffView(APIView):
    """Who the token (or session) belongs to: their staff membership and clinic, with its time zone.

    What an integration asks first: which clinic its calls are scoped to, and the zone that the dates
    it sends are read in. Answered from the sign-in's own query; nothing more is read.
    """

    @extend_schema(responses=SignedInStaffSerializer)
    def get(self, request):
        return Response(SignedInStaffSerializer(staff_member_of(request.user)).data)


class QualificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = PractitionerQualification
        fields = ["modality", "max_depth_mm"]


class PractitionerSerializer(serializers.ModelSerializer):
    qualifications = QualificationSerializer(many=True, read_only=True)

    class Meta:
        model = StaffMember
        fields = ["id", "display_name", "qualifications"]


class PractitionerViewSet(ClinicScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Practitioners of the signed-in staff member's clinic, with what they are qualified for."""

    serializer_class = PractitionerSerializer
    queryset = (
        StaffMember.objects.filter(role=StaffRole.PRACTITIONER, is_active=True)
        .prefetch_related(
            Prefetch("qualifications", queryset=PractitionerQualification.objects.order_by("modality"))
        )
        .order_by("display_name", "id")
    )
