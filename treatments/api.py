"""API of the treatments layer: services, availability, appointments, courses and the waitlist."""

import datetime as dt

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.access_log import health_data_read, health_data_read_many
from clients.api import refuse_if_merged
from clients.models import Client, HealthDataRead
from clinic.models import Device, Room, StaffMember
from clinic.pagination import ClinicPagination
from clinic.permissions import (
    ClinicScopedPrimaryKeyField,
    ClinicScopedQuerysetMixin,
    ClinicTimeMixin,
    IsClinicStaff,
    MayReadHealthData,
    clinic_of,
    require_manager_of,
    staff_member_of,
)
from treatments.availability import Slot, available_slots
from treatments.booking import (
    PRICE_REASON_MAX_CHARACTERS,
    BookingRequest,
    appointment_book,
    appointment_cancel,
    appointment_price_change,
    appointment_reschedule,
    appointment_set_status,
    appointment_undo_status,
    course_book,
    course_cancel_remaining,
    course_check,
    course_progress,
)
from treatments.earlier_sessions import (
    EARLIEST_NOTED_YEARS,
    GIVEN_BY_MAX_CHARACTERS,
    earlier_session_record,
    earlier_session_remove,
)
from treatments.fhir import (
    RECORD_PHOTOS,
    appointment_as_fhir_bundle,
    client_everything_as_fhir_bundle,
    record_as_fhir_bundle,
)
from treatments.models import (
    EARLIER_SESSION_NOTE_MAX_CHARACTERS,
    MONEY_PAYMENT_METHODS,
    NOTE_MAX_CHARACTERS,
    PAYMENT_REASON_MAX_CHARACTERS,
    Appointment,
    AppointmentStatus,
    Course,
    EarlierSession,
    GiftVoucher,
    MesotherapyRecord,
    MicrocurrentRecord,
    MicroneedlingRecord,
    Payment,
    PaymentMethod,
    Service,
    SessionAddendum,
    TreatmentSession,
    WaitlistEnded,
    WaitlistEntry,
)
from treatments.payments import payment_refund, payment_take, visit_money
from treatments.selectors import (
    FIRST_CALENDAR_DAY,
    LAST_CALENDAR_DAY,
    appointments_between,
    with_recorded_areas,
    within_calendar,
)
from treatments.vouchers import code_typed, voucher_sell, with_left
from treatments.waitlist import ENTRY_RELATED, free_times_for, open_entries, waitlist_add, waitlist_end

# What a 409 carries: the time, room, device or client that is taken, in words.
CONFLICT = inline_serializer("Conflict", {"code": serializers.CharField(), "detail": serializers.CharField()})
MAX_AVAILABILITY_DAYS = 62
MAX_LIST_DAYS = 62


def validated(serializer_class, request) -> dict:
    """Return the request body's validated data (DRF answers 400 with field errors otherwise)."""
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ServiceSerializer(serializers.ModelSerializer):
    modalities = serializers.SerializerMethodField()
    currency = serializers.CharField(source="clinic.currency", read_only=True, help_text="ISO 4217")

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
            "currency",
            "device_kind",
            "second_device_kind",
            "requires_room",
            "bookable_online",
        ]

    def get_modalities(self, service) -> list[str]:
        return sorted({protocol.modality for protocol in service.protocols.all()})


class ServiceViewSet(ClinicScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Active services the clinic sells."""

    serializer_class = ServiceSerializer
    queryset = (
        Service.objects.filter(is_active=True)
        .select_related("clinic")
        .prefetch_related("protocols")
        .order_by("name", "id")
    )


class CalendarDateField(serializers.DateField):
    """A local date the calendar can show or book; one outside it is a field error, not a 500."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not within_calendar(day):
            raise serializers.ValidationError(
                f"Give a date between {FIRST_CALENDAR_DAY} and {LAST_CALENDAR_DAY}.", code="outside_calendar"
            )
        return day


# --- availability ------------------------------------------------------------------------------------
class AvailabilityQuerySerializer(serializers.Serializer):
    service = ClinicScopedPrimaryKeyField(model=Service)
    start = CalendarDateField(help_text="First local date, YYYY-MM-DD.")
    end = CalendarDateField(help_text="Last local date (inclusive), YYYY-MM-DD.")
    practitioner = ClinicScopedPrimaryKeyField(model=StaffMember, required=False)

    def validate(self, attrs):
        if attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": "The end date is before the start date."})
        if (attrs["end"] - attrs["start"]).days >= MAX_AVAILABILITY_DAYS:
            raise serializers.ValidationError(
                {"end": f"Ask for at most {MAX_AVAILABILITY_DAYS} days at a time."}
            )
        return attrs


class SlotSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    practitioner = serializers.IntegerField(source="practitioner_id")
    room = serializers.IntegerField(source="room_id", allow_null=True)
    device = serializers.IntegerField(source="device_id", allow_null=True)
    second_device = serializers.IntegerField(
        source="second_device_id",
        allow_null=True,
        help_text="The device of the service's second kind (a combined treatment), else null.",
    )


def slots_as_json(slots: list[Slot], zone) -> list[dict]:
    """Return what `SlotSerializer(slots, many=True).data` gives, built directly.

    Thirty open days are ~13,000 slots, and DRF's field machinery took ~180 ms of a 230 ms answer.
    Times are ISO 8601 in the clinic's zone, a zero offset written "Z" as DRF writes it;
    `tests/test_booking_api.py` checks the two agree.
    """

    written: dict[dt.datetime, str] = {}  # practitioners share start times: write each instant once

    def iso(instant: dt.datetime) -> str:
        text = written.get(instant)
        if text is None:
            text = instant.astimezone(zone).isoformat()
            text = written[instant] = text[:-6] + "Z" if text.endswith("+00:00") else text
        return text

    return [
        {
            "start": iso(slot.start),
            "end": iso(slot.end),
            "practitioner": slot.practitioner_id,
            "room": slot.room_id,
            "device": slot.device_id,
            "second_device": slot.second_device_id,
        }
        for slot in slots
    ]


class AvailabilityView(ClinicTimeMixin, APIView):
    """Free start times for a service over local dates, in the clinic's time zone."""

    @extend_schema(
        parameters=[AvailabilityQuerySerializer],
        responses=inline_serializer("Availability", {"slots": SlotSerializer(many=True)}),
    )
    def get(self, request):
        query = AvailabilityQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        data = query.validated_data
        slots = available_slots(
            service=data["service"],
            start_date=data["start"],
            end_date=data["end"],
            practitioner_id=data["practitioner"].id if data.get("practitioner") else None,
        )
        return Response({"slots": slots_as_json(slots, data["service"].clinic.zone)})


# --- appointments ----------------------------------------------------------------------------------
class AppointmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Appointment
        fields = [
            "id",
            "start",
            "end",
            "client",
            "service",
            "practitioner",
            "room",
            "device",
            "second_device",
            "status",
            "course",
            "sequence",
            "price",
        ]
        read_only_fields = ["price"]
        extra_kwargs = {
            "price": {"help_text": "The service's price when the visit was booked, in the clinic's currency."}
        }


class AppointmentEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.CharField(source="actor.username", default=None)
    details = serializers.JSONField()


class AppointmentDetailSerializer(AppointmentSerializer):
    events = AppointmentEventSerializer(many=True, read_only=True)

    class Meta(AppointmentSerializer.Meta):
        fields = [
            *AppointmentSerializer.Meta.fields,
            "notes",
            "client_note",
            "cancellation_reason",
            "events",
        ]
        extra_kwargs = {
            "notes": {"help_text": "The clinic's note on the visit; the client never sees it."},
            "client_note": {
                "help_text": "What the client wrote for the clinic, booking online or from their link."
            },
        }


class AppointmentCreateSerializer(serializers.Serializer):
    client = ClinicScopedPrimaryKeyField(model=Client)
    service = ClinicScopedPrimaryKeyField(model=Service)
    practitioner = ClinicScopedPrimaryKeyField(model=StaffMember)
    start = serializers.DateTimeField(
        help_text="ISO 8601; without an offset it is read in the clinic's zone."
    )
    room = ClinicScopedPrimaryKeyField(model=Room, required=False, allow_null=True)
    device = ClinicScopedPrimaryKeyField(model=Device, required=False, allow_null=True)
    second_device = ClinicScopedPrimaryKeyField(
        model=Device,
        required=False,
        allow_null=True,
        help_text="For a service that needs a second kind of device; assigned when omitted.",
    )
    relative_contraindication_reason = serializers.CharField(required=False, allow_blank=True, default="")
    interval_override_reason = serializers.CharField(required=False, allow_blank=True, default="")
    notes = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=NOTE_MAX_CHARACTERS
    )


class RescheduleSerializer(serializers.Serializer):
    start = serializers.DateTimeField(
        help_text="The new start; the same start with another practitioner moves only them."
    )
    practitioner = ClinicScopedPrimaryKeyField(
        model=StaffMember, required=False, help_text="Move to this practitioner (default: the same one)."
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class RangeQuerySerializer(serializers.Serializer):
    start = CalendarDateField(required=False, help_text="First local date (default today).")
    end = CalendarDateField(required=False, help_text="Last local date, inclusive (default start).")

    def validate(self, attrs):
        start = attrs.get("start") or self.context["today"]
        end = attrs.get("end") or start
        if end < start:
            raise serializers.ValidationError({"end": "The end date is before the start date."})
        if (end - start).days >= MAX_LIST_DAYS:
            raise serializers.ValidationError({"end": f"Ask for at most {MAX_LIST_DAYS} days at a time."})
        return {"start": start, "end": end}


class CalendarPagination(ClinicPagination):
    default_limit = 200


# --- payments -----------------------------------------------------------------------------------------
class PaymentSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField()
    taken_by = serializers.CharField(source="taken_by.display_name", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "appointment",
            "kind",
            "amount",
            "method",
            "reference",
            "refund_of",
            "reason",
            "waived",
            "taken_by",
            "taken_at",
        ]

    def get_kind(self, payment) -> str:
        return "refund" if payment.refund_of_id else "payment"


class VisitMoneySerializer(serializers.Serializer):
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    waived = serializers.DecimalField(
        max_digits=10, decimal_places=2, help_text="Given back and let go: the price is lowered by it."
    )
    paid = serializers.DecimalField(max_digits=10, decimal_places=2)
    owed = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text="Nothing for a visit cancelled or missed: see `chargeable`.",
    )
    chargeable = serializers.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text="What can still be taken for it: what it owes, or for a visit cancelled or missed, a fee "
        "up to its price.",
    )
    payments = PaymentSerializer(many=True)


class PaymentTakeSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="In the clinic's currency, e.g. 45 or 45.50.")
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
    email_receipt = serializers.BooleanField(required=False, default=False)


class PriceChangeSerializer(serializers.Serializer):
    price = serializers.CharField(
        help_text="In the clinic's currency, e.g. 80 or 79.50; 0 for a visit given free."
    )
    reason = serializers.CharField(max_length=PRICE_REASON_MAX_CHARACTERS)


class RefundSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="At most what is left of the payment, e.g. 45 or 45.50.")
    reason = serializers.CharField(max_length=PAYMENT_REASON_MAX_CHARACTERS)
    waive = serializers.BooleanField(
        help_text="true: the client need not pay it again (goodwill, a treatment not given), the visit's "
        "price is lowered by it; false: it was taken by mistake and the visit owes it again."
    )
    email_receipt = serializers.BooleanField(required=False, default=False)


class AppointmentViewSet(ClinicScopedQuerysetMixin, viewsets.GenericViewSet):
    """Appointments of the clinic: list a range, book, and change one."""

    queryset = Appointment.objects.all()
    serializer_class = AppointmentSerializer
    pagination_class = CalendarPagination

    def get_queryset(self):
        return super().get_queryset().select_related("clinic", "client", "service", "practitioner")

    @extend_schema(parameters=[RangeQuerySerializer], responses=AppointmentSerializer(many=True))
    def list(self, request):
        clinic = clinic_of(request)
        query = RangeQuerySerializer(
            data=request.query_params, context={"today": timezone.localdate(timezone=clinic.zone)}
        )
        query.is_valid(raise_exception=True)
        appointments = appointments_between(
            clinic=clinic, first_day=query.validated_data["start"], last_day=query.validated_data["end"]
        )
        page = self.paginate_queryset(appointments)
        return self.get_paginated_response(AppointmentSerializer(page, many=True).data)

    @extend_schema(responses=AppointmentDetailSerializer)
    def retrieve(self, request, pk=None):
        appointment = self.get_object()
        return Response(AppointmentDetailSerializer(appointment).data)

    @extend_schema(
        request=AppointmentCreateSerializer,
        responses={
            201: AppointmentSerializer,
            409: CONFLICT,
        },
    )
    def create(self, request):
        data = validated(AppointmentCreateSerializer, request)
        appointment = appointment_book(BookingRequest(**data, source="api"), actor=request.user)
        return Response(AppointmentSerializer(appointment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="The visit as an HL7 FHIR R4 Bundle (type collection): the Appointment (status as in "
        "this API, start and end with the clinic's offset, the service's modalities) and its participants: "
        "Patient, Practitioner, the room as a Location and the devices.",
    )
    @action(detail=True, methods=["get"], url_path="fhir")
    def fhir(self, request, pk=None):
        return Response(appointment_as_fhir_bundle(self.get_object()))

    @extend_schema(request=CancelSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = validated(CancelSerializer, request)
        appointment = appointment_cancel(self.get_object(), actor=request.user, reason=data["reason"])
        return Response(AppointmentSerializer(appointment).data)

    @extend_schema(request=RescheduleSerializer, responses={200: AppointmentSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def reschedule(self, request, pk=None):
        data = validated(RescheduleSerializer, request)
        appointment = appointment_reschedule(
            self.get_object(),
            start=data["start"],
            practitioner=data.get("practitioner"),
            actor=request.user,
            reason=data["reason"],
        )
        return Response(AppointmentSerializer(appointment).data)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        return self._set_status(AppointmentStatus.ARRIVED)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        return self._set_status(AppointmentStatus.NOSHOW)

    @extend_schema(request=None, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        return self._set_status(AppointmentStatus.FULFILLED)

    @extend_schema(
        request=None,
        responses={200: AppointmentSerializer, 409: CONFLICT},
        description="Undo a check-in or no-show made by mistake, on the visit's day: the visit is booked "
        "again (409 if a no-show's time has been given to another visit meanwhile).",
    )
    @action(detail=True, methods=["post"], url_path="undo-status")
    def undo_status(self, request, pk=None):
        appointment = appointment_undo_status(self.get_object(), actor=request.user)
        return Response(AppointmentSerializer(appointment).data)

    def _set_status(self, new_status):
        appointment = appointment_set_status(self.get_object(), status=new_status, actor=self.request.user)
        return Response(AppointmentSerializer(appointment).data)

    @extend_schema(
        request=PriceChangeSerializer,
        responses=AppointmentSerializer,
        description="Change what the visit costs, saying why (the history keeps the price before); never "
        "below what was paid for it or let go (400 `price_below_paid`).",
    )
    @action(detail=True, methods=["post"])
    def price(self, request, pk=None):
        data = validated(PriceChangeSerializer, request)
        appointment = appointment_price_change(self.get_object(), **data, actor=request.user)
        return Response(AppointmentSerializer(appointment).data)

    @extend_schema(
        methods=["GET"],
        responses=VisitMoneySerializer,
        description="The visit's price as booked, what was paid (net of refunds), what it still owes, and "
        "each payment and refund.",
    )
    @extend_schema(
        methods=["POST"],
        request=PaymentTakeSerializer,
        responses={201: PaymentSerializer},
        description="Take a payment toward the visit's price: never more than it still owes (400 saying "
        "so). `email_receipt` writes the client's receipt to the outbox in the same transaction.",
    )
    @action(detail=True, methods=["get", "post"])
    def payments(self, request, pk=None):
        appointment = self.get_object()
        if request.method == "GET":
            return Response(VisitMoneySerializer(visit_money(appointment)).data)
        data = validated(PaymentTakeSerializer, request)
        payment = payment_take(appointment, **data, by=staff_member_of(request.user))
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class GiftVoucherSerializer(serializers.ModelSerializer):
    left = serializers.DecimalField(max_digits=10, decimal_places=2, read_only=True)

    class Meta:
        model = GiftVoucher
        fields = ["id", "code", "amount", "left", "bought_by", "for_whom", "email", "expires_on", "sold_at"]


class VoucherSellSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="What it is worth, in the clinic's currency.")
    method = serializers.ChoiceField(choices=MONEY_PAYMENT_METHODS, help_text="How it was paid.")
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
    bought_by = serializers.CharField(max_length=150)
    for_whom = serializers.CharField(required=False, allow_blank=True, default="", max_length=150)
    email = serializers.EmailField(
        required=False, allow_blank=True, default="", help_text="Emailed there if given."
    )
    expires_on = serializers.DateField()


class VoucherQuerySerializer(serializers.Serializer):
    code = serializers.CharField(required=False, help_text="Find one by its code, however typed.")


class GiftVoucherViewSet(ClinicScopedQuerysetMixin, viewsets.GenericViewSet):
    """Gift vouchers: find one by its code (what is left on it, until when), sell one."""

    queryset = GiftVoucher.objects.all()
    serializer_class = GiftVoucherSerializer

    def get_queryset(self):
        return with_left(super().get_queryset())

    @extend_schema(parameters=[VoucherQuerySerializer], responses=GiftVoucherSerializer(many=True))
    def list(self, request):
        query = VoucherQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        vouchers = self.get_queryset().order_by("-sold_at", "-id")
        if query.validated_data.get("code"):
            vouchers = vouchers.filter(code=code_typed(query.validated_data["code"]))
        page = self.paginate_queryset(vouchers)
        return self.get_paginated_response(GiftVoucherSerializer(page, many=True).data)

    @extend_schema(responses=GiftVoucherSerializer)
    def retrieve(self, request, pk=None):
        return Response(GiftVoucherSerializer(self.get_object()).data)

    @extend_schema(request=VoucherSellSerializer, responses={201: GiftVoucherSerializer})
    def create(self, request):
        member = staff_member_of(request.user)
        voucher = voucher_sell(clinic=member.clinic, **validated(VoucherSellSerializer, request), by=member)
        return Response(
            GiftVoucherSerializer(self.get_queryset().get(pk=voucher.pk)).data, status=status.HTTP_201_CREATED
        )


class PaymentViewSet(ClinicScopedQuerysetMixin, viewsets.GenericViewSet):
    """Payments and refunds of the clinic's visits: read one, refund one (managers)."""

    queryset = Payment.objects.select_related("clinic", "taken_by")
    serializer_class = PaymentSerializer

    @extend_schema(responses=PaymentSerializer)
    def retrieve(self, request, pk=None):
        return Response(PaymentSerializer(self.get_object()).data)

    @extend_schema(
        request=RefundSerializer,
        responses={201: PaymentSerializer},
        description="Give back part or all of one payment, saying why; managers only (403 otherwise). The "
        "refund goes back the way the payment came.",
    )
    @action(detail=True, methods=["post"])
    def refund(self, request, pk=None):
        payment, member = self.get_object(), staff_member_of(request.user)
        require_manager_of(payment.clinic, member, to="give a refund")  # before the body is read
        data = validated(RefundSerializer, request)
        refund = payment_refund(payment, **data, by=member)
        return Response(PaymentSerializer(refund).data, status=status.HTTP_201_CREATED)


# --- courses -----------------------------------------------------------------------------------------
class CourseCreateSerializer(serializers.Serializer):
    client = ClinicScopedPrimaryKeyField(model=Client)
    service = ClinicScopedPrimaryKeyField(model=Service)
    practitioner = ClinicScopedPrimaryKeyField(model=StaffMember)
    starts = serializers.ListField(child=serializers.DateTimeField(), min_length=1, max_length=52)
    relative_contraindication_reason = serializers.CharField(required=False, allow_blank=True, default="")
    interval_override_reason = serializers.CharField(required=False, allow_blank=True, default="")
    price_total = serializers.CharField(
        required=False,
        allow_null=True,
        default=None,
        help_text="What the whole course costs, shared between its sessions (each its service's price "
        "when left out).",
    )


CourseSchema = inline_serializer(
    "Course",
    {
        "id": serializers.IntegerField(),
        "client": serializers.IntegerField(),
        "service": serializers.IntegerField(),
        "appointments": AppointmentSerializer(many=True),
        "progress": serializers.DictField(child=serializers.IntegerField()),
    },
)


def course_as_json(course: Course) -> dict:
    """A course with its sessions in time order and its progress (done, upcoming, missed or cancelled)."""
    appointments = list(
        course.appointments.select_related("clinic", "client", "service", "practitioner").order_by(
            "start", "id"
        )
    )
    return {
        "id": course.id,
        "client": course.client_id,
        "service": course.service_id,
        "appointments": AppointmentSerializer(appointments, many=True).data,
        "progress": course_progress(course, appointments),
    }


class CourseViewSet(ClinicScopedQuerysetMixin, viewsets.GenericViewSet):
    """Courses: book every session or none, read one with its progress, cancel the sessions ahead."""

    queryset = Course.objects.all()
    serializer_class = CourseCreateSerializer

    @extend_schema(request=CourseCreateSerializer, responses={201: CourseSchema, 409: CONFLICT})
    def create(self, request):
        course = course_book(**validated(CourseCreateSerializer, request), actor=request.user)
        return Response(course_as_json(course), status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CourseCreateSerializer,
        responses=inline_serializer(
            "CourseCheck",
            {
                "bookable": serializers.BooleanField(),
                "sessions": inline_serializer(
                    "CourseCheckSession",
                    {"start": serializers.DateTimeField(), "problem": serializers.CharField()},
                    many=True,
                ),
            },
        ),
    )
    @action(detail=False, methods=["post"])
    def check(self, request):
        """Say, for each session in time order, what would stop booking it ('' if nothing); book nothing."""
        order = validated(CourseCreateSerializer, request)
        problems = course_check(**order, actor=request.user)
        starts = sorted(order["starts"])
        return Response(
            {
                "bookable": not any(problems),
                "sessions": [
                    {"start": serializers.DateTimeField().to_representation(start), "problem": problem}
                    for start, problem in zip(starts, problems, strict=True)
                ],
            }
        )

    @extend_schema(responses=CourseSchema)
    def retrieve(self, request, pk=None):
        return Response(course_as_json(self.get_object()))

    @extend_schema(request=CancelSerializer, responses=CourseSchema)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel every session still ahead (booked, not begun); the client gets one email."""
        data = validated(CancelSerializer, request)
        course = self.get_object()
        course_cancel_remaining(course, actor=request.user, reason=data["reason"])
        return Response(course_as_json(course))


class MayReadRecords(MayReadHealthData):
    """Treatment records are health data: the clinic's practitioners and managers read them, not the desk."""

    message = "Treatment records are for the clinic's practitioners and managers."


class MicroneedlingAreaSerializer(serializers.ModelSerializer):
    area = serializers.CharField(source="area.code")
    device = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = MicroneedlingRecord
        fields = ["area", "device", "depth_mm", "passes", "cartridge_lot", "outside_protocol_reason"]


class MicrocurrentAreaSerializer(serializers.ModelSerializer):
    area = serializers.CharField(source="area.code")
    device = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = MicrocurrentRecord
        fields = [
            "area",
            "device",
            "current_ua",
            "frequency_hz",
            "waveform",
            "minutes",
            "outside_protocol_reason",
        ]


class MesotherapyAreaSerializer(serializers.ModelSerializer):
    area = serializers.CharField(source="area.code")

    class Meta:
        model = MesotherapyRecord
        fields = [
            "area",
            "product_name",
            "lot_number",
            "expiry_date",
            "volume_ml",
            "depth_mm",
            "technique",
            "outside_protocol_reason",
        ]


class AddendumSerializer(serializers.ModelSerializer):
    written_by = serializers.CharField(source="written_by.display_name")

    class Meta:
        model = SessionAddendum
        fields = ["written_at", "written_by", "text"]


class TreatmentRecordSerializer(serializers.ModelSerializer):
    """A visit's treatment record as signed: areas by modality (mm, µA, Hz, mL), notes and addenda."""

    practitioner = serializers.PrimaryKeyRelatedField(read_only=True)
    signed_off_by = serializers.PrimaryKeyRelatedField(read_only=True)
    microneedling = MicroneedlingAreaSerializer(many=True, read_only=True)
    microcurrent = MicrocurrentAreaSerializer(many=True, read_only=True)
    mesotherapy = MesotherapyAreaSerializer(many=True, read_only=True)
    addenda = AddendumSerializer(many=True, read_only=True)

    class Meta:
        model = TreatmentSession
        fields = [
            "id",
            "appointment",
            "client",
            "practitioner",
            "started_at",
            "signed_off_at",
            "signed_off_by",
            "notes",
            "microneedling",
            "microcurrent",
            "mesotherapy",
            "addenda",
        ]


class RecordQuerySerializer(serializers.Serializer):
    client = ClinicScopedPrimaryKeyField(model=Client, required=False)


class TreatmentRecordViewSet(ClinicScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    """Treatment records, newest first; `?client=<id>` for one client's. Read-only: records are written
    on the record page, where each area is checked."""

    permission_classes = [IsClinicStaff, MayReadRecords]
    serializer_class = TreatmentRecordSerializer
    queryset = TreatmentSession.objects.order_by("-started_at", "-id")

    def get_queryset(self):
        records = with_recorded_areas(super().get_queryset())
        return records.select_related("clinic", "client").prefetch_related(
            "addenda__written_by", RECORD_PHOTOS
        )

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="The record as an HL7 FHIR R4 Bundle (type collection): Patient, Practitioner, "
        "Procedure, an Observation per setting in UCUM units, Devices, and Medication with its lot plus "
        "MedicationAdministration for each product given.",
    )
    @action(detail=True, methods=["get"], url_path="fhir")
    def fhir(self, request, pk=None):
        record = self.get_object()
        health_data_read(staff_member_of(request.user), record.client_id, HealthDataRead.EXPORT)
        return Response(record_as_fhir_bundle(record))

    def retrieve(self, request, *args, **kwargs):
        record = self.get_object()
        health_data_read(staff_member_of(request.user), record.client_id, HealthDataRead.TREATMENT_RECORD)
        return Response(self.get_serializer(record).data)

    @extend_schema(parameters=[RecordQuerySerializer])
    def list(self, request, *args, **kwargs):
        query = RecordQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        records = self.get_queryset()
        if query.validated_data.get("client"):
            records = records.filter(client=query.validated_data["client"])
        page = self.paginate_queryset(records)
        health_data_read_many(
            staff_member_of(request.user), {r.client_id for r in page}, HealthDataRead.TREATMENT_RECORD
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


# --- the waitlist ----------------------------------------------------------------------------------
class WaitlistEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "client",
            "service",
            "practitioner",
            "first_day",
            "last_day",
            "from_time",
            "until_time",
            "note",
            "added_at",
            "ended_at",
            "ended_because",
            "appointment",
            "visit_to_move",
        ]
        read_only_fields = fields


class WaitlistCreateSerializer(serializers.Serializer):
    client = ClinicScopedPrimaryKeyField(model=Client)
    service = ClinicScopedPrimaryKeyField(model=Service)
    practitioner = ClinicScopedPrimaryKeyField(
        model=StaffMember, required=False, allow_null=True, default=None
    )
    first_day = CalendarDateField()
    last_day = CalendarDateField()
    from_time = serializers.TimeField(required=False, allow_null=True, default=None)
    until_time = serializers.TimeField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    visit_to_move = ClinicScopedPrimaryKeyField(
        model=Appointment,
        required=False,
        allow_null=True,
        default=None,
        help_text="The client's booked visit a time that suits them moves (omit: a time books a new visit).",
    )


class WaitlistQuerySerializer(serializers.Serializer):
    client = ClinicScopedPrimaryKeyField(model=Client, required=False)


class WaitlistViewSet(ClinicScopedQuerysetMixin, viewsets.GenericViewSet):
    """Clients waiting for a time: the open entries, add one, take one off, the times free now for one."""

    queryset = WaitlistEntry.objects.select_related(*ENTRY_RELATED)
    serializer_class = WaitlistEntrySerializer

    @extend_schema(parameters=[WaitlistQuerySerializer], responses=WaitlistEntrySerializer(many=True))
    def list(self, request):
        """The entries still waiting (not ended, last day not passed), first day first."""
        query = WaitlistQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        entries = open_entries(clinic_of(request)).order_by("first_day", "added_at", "id")
        if query.validated_data.get("client"):
            entries = entries.filter(client=query.validated_data["client"])
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(WaitlistEntrySerializer(page, many=True).data)

    @extend_schema(request=WaitlistCreateSerializer, responses={201: WaitlistEntrySerializer})
    def create(self, request):
        entry = waitlist_add(**validated(WaitlistCreateSerializer, request), actor=request.user)
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=WaitlistEntrySerializer)
    def retrieve(self, request, pk=None):
        return Response(WaitlistEntrySerializer(self.get_object()).data)

    @extend_schema(request=None, responses=WaitlistEntrySerializer)
    @action(detail=True, methods=["post"])
    def remove(self, request, pk=None):
        """Take the client off the waitlist; an entry already ended is a 400 saying so."""
        entry = waitlist_end(self.get_object(), because=WaitlistEnded.REMOVED, actor=request.user)
        return Response(WaitlistEntrySerializer(entry).data)

    @extend_schema(responses=inline_serializer("WaitlistFreeTimes", {"slots": SlotSerializer(many=True)}))
    @action(detail=True, methods=["get"], url_path="free-times")
    def free_times(self, request, pk=None):
        """The free starts that suit the entry now (none once it has ended or its days have passed)."""
        entry = self.get_object()
        waiting = entry.ended_at is None and entry.last_day >= timezone.localdate(timezone=entry.clinic.zone)
        slots = free_times_for([entry])[entry.pk] if waiting else []
        return Response({"slots": slots_as_json(slots, entry.clinic.zone)})


# --- sessions had before this calendar ------------------------------------------------------------
class EarlierSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = EarlierSession
        fields = [
            "id",
            "client",
            "service",
            "given_on",
            "given_by",
            "source",
            "notes",
            "client_import",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


class EarlierSessionCreateSerializer(serializers.Serializer):
    client = ClinicScopedPrimaryKeyField(model=Client)
    service = ClinicScopedPrimaryKeyField(model=Service)
    given_on = CalendarDateField(
        help_text=f"The day the client had it (not ahead, at most {EARLIEST_NOTED_YEARS} years ago)."
    )
    given_by = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=GIVEN_BY_MAX_CHARACTERS
    )
    notes = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=EARLIER_SESSION_NOTE_MAX_CHARACTERS
    )


class EarlierSessionQuerySerializer(serializers.Serializer):
    client = ClinicScopedPrimaryKeyField(model=Client, required=False)


class EarlierSessionViewSet(ClinicScopedQuerysetMixin, viewsets.GenericViewSet):
    """Sessions clients had before this calendar held them (in the software used before, or at another
    clinic): the interval between a protocol's sessions counts them as it counts visits here."""

    queryset = EarlierSession.objects.filter(removed_at=None).select_related("service")
    serializer_class = EarlierSessionSerializer

    @extend_schema(parameters=[EarlierSessionQuerySerializer], responses=EarlierSessionSerializer(many=True))
    def list(self, request):
        """The sessions had before, the latest first; of one client with `?client=`."""
        query = EarlierSessionQuerySerializer(data=request.query_params, context={"request": request})
        query.is_valid(raise_exception=True)
        sessions = self.get_queryset().order_by("-given_on", "-id")
        if query.validated_data.get("client"):
            sessions = sessions.filter(client=query.validated_data["client"])
        page = self.paginate_queryset(sessions)
        return self.get_paginated_response(EarlierSessionSerializer(page, many=True).data)

    @extend_schema(request=EarlierSessionCreateSerializer, responses={201: EarlierSessionSerializer})
    def create(self, request):
        """Note a session the client had elsewhere; a day ahead or more than 10 years ago is a 400."""
        earlier = earlier_session_record(
            **validated(EarlierSessionCreateSerializer, request), by=staff_member_of(request.user)
        )
        return Response(EarlierSessionSerializer(earlier).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=EarlierSessionSerializer)
    def retrieve(self, request, pk=None):
        return Response(EarlierSessionSerializer(self.get_object()).data)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def remove(self, request, pk=None):
        """Take off a session noted by mistake: the interval no longer counts it."""
        earlier_session_remove(earlier=self.get_object(), by=staff_member_of(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClientEverythingView(APIView):
    """Everything the clinic holds about one client, as FHIR R4 (FHIR's Patient `$everything`)."""

    permission_classes = [IsClinicStaff, MayReadHealthData]

    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        description="Everything the clinic holds about the client as one HL7 FHIR R4 Bundle (type "
        "collection), as FHIR's Patient $everything: the client's own Bundle (Patient, intake forms, "
        "consents, emails), each visit as an Appointment with its participants, each place on the "
        "waitlist as an Appointment with status waitlist (cancelled once ended) and the days asked as "
        "requestedPeriod, and each treatment record (Procedure, Observations, Devices, Medications, and "
        "a Media per photo); each resource once. A photo's Media gives the address it is served at, or "
        "with ?photos=embedded the image itself (base64, with its SHA-1). For a client's request for "
        "their data, or moving them to another clinic. Health data: for practitioners and managers.",
        parameters=[
            OpenApiParameter(
                "photos",
                str,
                enum=["embedded"],
                required=False,
                description="embedded: each photo's image inside the file (larger).",
            )
        ],
    )
    def get(self, request, pk):
        clinic = clinic_of(request)
        client = Client.objects.select_related("clinic").filter(pk=pk, clinic=clinic).first()
        if client is None:
            refuse_if_merged(pk, clinic)
            raise Http404
        health_data_read(staff_member_of(request.user), client.pk, HealthDataRead.EXPORT)
        embed = request.query_params.get("photos") == "embedded"
        return Response(client_everything_as_fhir_bundle(client, embed_photos=embed))
