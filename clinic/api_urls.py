from django.urls import path
from rest_framework.routers import SimpleRouter

from clinic.api import PractitionerViewSet, SignedInStaffView

router = SimpleRouter()
router.register("practitioners", PractitionerViewSet, basename="api-practitioner")
urlpatterns = [path("me/", SignedInStaffView.as_view(), name="api-me"), *router.urls]
