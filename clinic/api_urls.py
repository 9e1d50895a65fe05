from rest_framework.routers import SimpleRouter

from clinic.api import PractitionerViewSet

router = SimpleRouter()
router.register("practitioners", PractitionerViewSet, basename="api-practitioner")
urlpatterns = router.urls
