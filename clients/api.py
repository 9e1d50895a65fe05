"""API of the clients layer: find and register clients."""

from rest_framework import filters, mixins, serializers, status, viewsets
from rest_framework.response import Response

from clients.models import NO_WAY_TO_REACH, Client
from clients.selectors import search_clients
from clients.services import client_register, client_update_details
from clinic.permissions import ClinicScopedQuerysetMixin, clinic_of


class ClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "first_name", "last_name", "email", "phone", "date_of_birth"]
        extra_kwargs = {"email": {"required": False}, "phone": {"required": False}}

    def validate(self, attrs):
        # a partial update keeps what it does not name
        email = attrs.get("email", getattr(self.instance, "email", ""))
        phone = attrs.get("phone", getattr(self.instance, "phone", ""))
        if not email and not phone:
            raise serializers.ValidationError(NO_WAY_TO_REACH)
        return attrs


class ClientSearch(filters.SearchFilter):
    """`?search=` as the client list page searches (`clients.selectors.search_clients`): every word in
    the name, email or phone, and a phone number however it is written."""

    def filter_queryset(self, request, queryset, view):
        query = request.query_params.get(self.search_param, "")
        return search_clients(queryset, query) if query.strip() else queryset


class ClientViewSet(
    ClinicScopedQuerysetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Clients of the signed-in staff member's clinic; `?search=` matches name, email and phone.

    PATCH corrects a client's details; their scheduled emails follow a changed address.
    """

    http_method_names = ["get", "post", "patch", "head", "options"]

    serializer_class = ClientSerializer
    queryset = Client.objects.all()
    filter_backends = [ClientSearch]
    search_fields = ["first_name", "last_name", "email", "phone"]  # named in the schema

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        client = client_register(clinic=clinic_of(request), **serializer.validated_data)
        return Response(self.get_serializer(client).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        client_update_details(client=serializer.instance, **serializer.validated_data)
        serializer.instance.refresh_from_db()
