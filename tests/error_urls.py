"""The project's URLs plus two that fail, to show the error pages (see tests/test_error_pages.py)."""

from django.urls import path

from clinic.urls import handler404, handler500  # noqa: F401
from clinic.urls import urlpatterns as project_urlpatterns


def fail(request):
    raise RuntimeError("a bug, for the test")


urlpatterns = [path("broken/", fail), path("p/lumen-test/broken/", fail), *project_urlpatterns]
