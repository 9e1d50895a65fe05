"""API token sign-in that loads the staff member and their clinic with the token, in one query."""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication


class StaffTokenAuthentication(TokenAuthentication):
    """DRF's token authentication; the user's staff membership and clinic come in the same query.

    Every API view asks who the staff member is and which clinic they work for (permissions,
    time zone, scoping); without this that is two more queries on every request.
    """

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user__staff__clinic").get(key=key)
        except model.DoesNotExist as error:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from error
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
