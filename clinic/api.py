"""API of the clinic layer: practitioners."""

from django.db.models import Prefetch
from rest_framework import serializers, viewsets

from clinic.models import PractitionerQualification, StaffMember, StaffRole
from clinic.permissions import ClinicScopedQuerysetMixin


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
