"""Forms of the clients layer."""

from django import forms

from clients.models import NO_WAY_TO_REACH, Client
from clients.services import CLIENT_DETAIL_FIELDS


class ReachableClientMixin:
    """A form of a client's details refuses one with neither email nor phone."""

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("email") and not cleaned.get("phone"):
            raise forms.ValidationError(NO_WAY_TO_REACH)
        return cleaned


class ClientDetailsForm(ReachableClientMixin, forms.ModelForm):
    """A client's name, contact details and date of birth, as staff correct them."""

    class Meta:
        model = Client
        fields = CLIENT_DETAIL_FIELDS
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        labels = {"gp_details": "GP"}

    def changes(self) -> dict:
        """The fields the form changed, with their new values."""
        return {name: self.cleaned_data[name] for name in self.changed_data}
