"""API of the clients layer: find and register clients."""

from rest_framework import filters, mixins, serializers, status, viewsets
from rest_framework.response import Response

from clients.models import Client
from clients.services import client_register
from clinic.permissions import ClinicScopedQuerysetMixin, clinic_of


class ClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "first_name", "last_name", "email", "phone", "date_of_birth"]
        extra_kwargs = {"email": {"required": False}, "phone": {"required": False}}

    def validate(self, attrs):
        if not attrs.get("email") and not attrs.get("phone"):
            raise serializers.ValidationError(
                "Give an email address or a phone number so we can reach the client."
            )
        return attrs


class ClientViewSet(
    ClinicScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Clients of the signed-in staff member's clinic; `?search=` matches name, email and phone."""

    serializer_class = ClientSerializer
    queryset = Client.objects.all()
    filter_backends = [filters.SearchFilter]
    search_fields = ["first_name", "last_name", "email", "phone"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        client = client_register(clinic=clinic_of(request), **serializer.validated_data)
        return Response(self.get_serializer(client).data, status=status.HTTP_201_CREATED)
