from rest_framework.routers import SimpleRouter

from clients.api import ClientViewSet

router = SimpleRouter()
router.register("clients", ClientViewSet, basename="api-client")
urlpatterns = router.urls
