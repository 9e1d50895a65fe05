from django.urls import path
from rest_framework.routers import SimpleRouter

from treatments.api import (
    AppointmentViewSet,
    AvailabilityView,
    ClientEverythingView,
    CourseViewSet,
    EarlierSessionViewSet,
    GiftVoucherViewSet,
    PaymentViewSet,
    ServiceViewSet,
    TreatmentRecordViewSet,
    WaitlistViewSet,
)

router = SimpleRouter()
router.register("services", ServiceViewSet, basename="api-service")
router.register("appointments", AppointmentViewSet, basename="api-appointment")
router.register("courses", CourseViewSet, basename="api-course")
router.register("payments", PaymentViewSet, basename="api-payment")
router.register("vouchers", GiftVoucherViewSet, basename="api-voucher")
router.register("waitlist", WaitlistViewSet, basename="api-waitlist")
router.register("earlier-sessions", EarlierSessionViewSet, basename="api-earlier-session")
router.register("treatment-records", TreatmentRecordViewSet, basename="api-treatment-record")
urlpatterns = [
    path("availability/", AvailabilityView.as_view(), name="availability"),
    path("clients/<int:pk>/fhir/everything/", ClientEverythingView.as_view(), name="client-everything"),
    *router.urls,
]
