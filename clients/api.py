"""API of the clients layer: find, register and correct clients, and export one as FHIR."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import filters, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from clients.access_log import health_data_read
from clients.erasure import client_erase
from clients.fhir import client_as_fhir_bundle
from clients.merging import (
    SAME_EMAIL,
    SAME_NAME_AND_BIRTHDAY,
    SAME_PHONE,
    client_merged_into,
    clients_like,
)
from clients.models import NO_WAY_TO_REACH, Client, HealthDataRead
from clients.selectors import refused_address, refused_addresses, search_clients
from clients.services import client_register, client_update_details
from clinic.errors import GoneElsewhereError
from clinic.parsing import parse_id
from clinic.permissions import (
    ClinicScopedQuerysetMixin,
    IsClinicStaff,
    MayReadHealthData,
    clinic_of,
    staff_member_of,
)


class EmailRefusalSerializer(serializers.Serializer):
    """The client's mail server refused their current address for good (no such mailbox)."""

    address = serializers.EmailField(help_text="The address refused: the client's current one.")
    refused_at = serializers.DateTimeField()
    reply = serializers.CharField(help_text="What the mail server answered, in its own words.")


class ClientSerializer(serializers.ModelSerializer):
    email_refused = serializers.SerializerMethodField(
        help_text="Set while the client's mail server refuses their current address (nothing sent to it "
        "has got through since); correcting `email` clears it. Null otherwise."
    )

    class Meta:
        model = Client
        fields = [
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "date_of_birth",
            "email_refused",
            "erased_at",
            "erased_because",
        ]
        extra_kwargs = {"email": {"required": False}, "phone": {"required": False}}
        read_only_fields = ["erased_at", "erased_because"]

    @extend_schema_field(EmailRefusalSerializer(allow_null=True))
    def get_email_refused(self, client: Client) -> dict | None:
        # a list reads its page's refusals in one query (ClientViewSet.list); one client, its own
        refusals = self.context.get("refusals")
        refusal = refusals.get(client.pk) if refusals is not None else refused_address(client)
        if refusal is None:
            return None
        return EmailRefusalSerializer(
            {
                "address": refusal.recipient_email,
                "refused_at": refusal.address_refused_at,
                "reply": refusal.last_error,
            }
        ).data

    def validate(self, attrs):
        # a partial update keeps what it does not name
        email = attrs.get("email", getattr(self.instance, "email", ""))
        phone = attrs.get("phone", getattr(self.instance, "phone", ""))
        if not email and not phone:
            raise serializers.ValidationError(NO_WAY_TO_REACH)
        return attrs


# What a possible duplicate shares with the client just registered, as the API names it.
SHARED_DETAIL = {
    SAME_EMAIL: "email",
    SAME_PHONE: "phone",
    SAME_NAME_AND_BIRTHDAY: "name_and_date_of_birth",
}


class PossibleDuplicateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    shares = serializers.ListField(
        child=serializers.ChoiceField(choices=list(SHARED_DETAIL.values())),
        help_text="What the two records share: the same email, the same phone however written, or the same "
        "name and date of birth.",
    )


class ClientRegisteredSerializer(ClientSerializer):
    possible_duplicates = PossibleDuplicateSerializer(
        many=True,
        read_only=True,
        help_text="The clinic's other clients these details may belong to, best matches first (empty when "
        "none): the client is registered all the same; the clinic's duplicates page lists the pair to "
        "compare and merge, or to say they are two people.",
    )

    class Meta(ClientSerializer.Meta):
        fields = [*ClientSerializer.Meta.fields, "possible_duplicates"]


def refuse_if_merged(pk, clinic) -> None:
    """Raise a 404 naming the record kept (`GoneElsewhereError`, code `merged`) when `pk` names a record
    merged into one of the clinic's clients; return for any other id not found."""
    became = client_merged_into(parse_id(str(pk)))
    if became is not None and became.clinic_id == clinic.pk:
        raise GoneElsewhereError(
            f"This client's record was merged into {became.full_name}'s: client {became.pk}.", code="merged"
        )


class ClientSearch(filters.SearchFilter):
    """`?search=` as the client list page searches (`clients.selectors.search_clients`): every word in
    the name, email or phone, a phone number however it is written, and a date of birth
    ("17/05/1990", "1990-05-17")."""

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

    def get_object(self):
        """The client; one whose record was merged into another is a 404 that names the record kept."""
        try:
            return super().get_object()
        except Http404:
            refuse_if_merged(self.kwargs.get("pk"), clinic_of(self.request))
            raise

    def list(self, request, *args, **kwargs):
        # erased records are kept only for the schedule's past: not listed, as nobody is to be found
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset().filter(erased_at=None)))
        context = {**self.get_serializer_context(), "refusals": refused_addresses(page)}
        return self.get_paginated_response(self.get_serializer(page, many=True, context=context).data)

    @extend_schema(responses={201: ClientRegisteredSerializer})
    def create(self, request, *args, **kwargs):
        """Register a client; the answer names the clinic's clients who may be the same person."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        clinic = clinic_of(request)
        client = client_register(clinic=clinic, **serializer.validated_data)
        client.possible_duplicates = [
            {
                "id": match.client.pk,
                "first_name": match.client.first_name,
                "last_name": match.client.last_name,
                "shares": [SHARED_DETAIL[reason] for reason in match.reasons],
            }
            for match in clients_like(clinic=clinic, exclude=client, **serializer.validated_data)
        ]
        answer = ClientRegisteredSerializer(client, context=self.get_serializer_context())
        return Response(answer.data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        client_update_details(client=serializer.instance, **serializer.validated_data)
        serializer.instance.refresh_from_db()

    @extend_schema(
        request=None,
        responses={
            200: ClientSerializer,
            400: inline_serializer(
                "ErasureRefused", {"code": serializers.CharField(), "detail": serializers.CharField()}
            ),
        },
        description="Erase the client's record at their request (managers only). Refused (400, code "
        "`cannot_erase`) while it holds health records the clinic must still keep (intake, consents, "
        "photo consents, treatment records: the clinic's years after the last) or a visit still "
        "booked. Their details, notes, emails and health records are erased; the record stays, "
        "`erased_at` set, so past visits keep their times.",
    )
    @action(detail=True, methods=["post"], url_path="erase")
    def erase(self, request, pk=None):
        erased = client_erase(client=self.get_object(), by=staff_member_of(request.user))
        return Response(self.get_serializer(erased).data)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="The client as an HL7 FHIR R4 Bundle (type collection): Patient; each intake form they "
        "filled as a QuestionnaireResponse pinned to its Questionnaire version (url|version), the version "
        "included; each signed consent as a Consent (scope treatment) with the exact text signed; each "
        "photo consent as a Consent (scope patient-privacy), inactive once withdrawn; each email sent as a "
        "Communication and each still scheduled as a CommunicationRequest. Health data: for "
        "practitioners and managers.",
    )
    @action(
        detail=True, methods=["get"], url_path="fhir", permission_classes=[IsClinicStaff, MayReadHealthData]
    )
    def fhir(self, request, pk=None):
        client = self.get_object()
        health_data_read(staff_member_of(request.user), client.pk, HealthDataRead.EXPORT)
        return Response(client_as_fhir_bundle(client))
