from django.urls import path
from rest_framework.routers import SimpleRouter

from treatments.api import AppointmentViewSet, AvailabilityView, CourseViewSet, ServiceViewSet

router = SimpleRouter()
router.register("services", ServiceViewSet, basename="api-service")
router.register("appointments", AppointmentViewSet, basename="api-appointment")
router.register("courses", CourseViewSet, basename="api-course")
urlpatterns = [
    path("availability/", AvailabilityView.as_view(), name="availability"),
    *router.urls,
]
