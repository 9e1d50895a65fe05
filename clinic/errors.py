"""One application error type, and its mapping to HTTP for the API."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ClinicError(Exception):
    """A refusal a front-desk person can read: a stable code and a plain-language message."""

    http_status = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


class ConflictError(ClinicError):
    """The thing asked for is taken (a time, a room, a device)."""

    http_status = status.HTTP_409_CONFLICT


class NotAllowedError(ClinicError):
    """The signed-in person may not do this."""

    http_status = status.HTTP_403_FORBIDDEN


class GoneElsewhereError(ClinicError):
    """The record asked for is no longer here under that id, and the message says where it went."""

    http_status = status.HTTP_404_NOT_FOUND


def api_exception_handler(exc, context):
    """Turn ClinicError into {"code", "detail"} with its status; leave the rest to DRF."""
    if isinstance(exc, ClinicError):
        return Response({"code": exc.code, "detail": exc.message}, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        # A model's full_clean() refusing what a serializer let through: still the caller's input.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    return exception_handler(exc, context)
