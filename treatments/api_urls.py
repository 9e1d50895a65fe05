from django.urls import path
from rest_framework.routers import SimpleRouter

from treatments.api import AppointmentViewSet, AvailabilityView, CourseView, ServiceViewSet

router = SimpleRouter()
router.register("services", ServiceViewSet, basename="api-service")
router.register("appointments", AppointmentViewSet, basename="api-appointment")
urlpatterns = [
    path("availability/", AvailabilityView.as_view(), name="availability"),
    path("courses/", CourseView.as_view(), name="course-create"),
    *router.urls,
]
