"""API of the treatments layer: services."""

from rest_framework import serializers, viewsets

from clinic.permissions import ClinicScopedQuerysetMixin
from treatments.models import Service


class ServiceSerializer(serializers.ModelSerializer):
    modalities = serializers.SerializerMethodField()

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "description",
            "modalities",
            "duration_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "price",
            "device_kind",
            "requires_room",
            "bookable_online",
        ]

    def get_modalities(self, service) -> list[str]:
        return sorted({protocol.modality for protocol in service.protocols.all()})


class ServiceViewSet(ClinicScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Active services the clinic sells."""

    serializer_class = ServiceSerializer
    queryset = Service.objects.filter(is_active=True).prefetch_related("protocols").order_by("name", "id")
