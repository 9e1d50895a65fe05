"""Forms of the clients layer."""

from django import forms

from clients.addresses import likely_typo
from clients.models import NO_WAY_TO_REACH, Client
from clients.services import CLIENT_DETAIL_FIELDS

AS_TYPED = "email_as_typed"


class ReachableClientMixin:
    """A form of a client's details refuses one with neither email nor phone."""

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("email") and not cleaned.get("phone"):
            raise forms.ValidationError(NO_WAY_TO_REACH)
        return cleaned


class EmailTypoMixin(forms.Form):
    """A form with a client's email asks once about an address whose domain looks mistyped.

    "Did you mean olivia@gmail.com?" comes back beside the field; the form sent again with the address
    as it was typed keeps it (the hidden field remembers what was asked about), so a real address
    at an unusual domain is never refused. The hidden field never reaches `cleaned_data`.
    """

    email_as_typed = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email") or ""
        as_typed = cleaned.pop(AS_TYPED, "")
        suggestion = likely_typo(email)
        if suggestion and as_typed != email:
            self.data = self.data.copy()
            self.data[self.add_prefix(AS_TYPED)] = email  # sent again unchanged: taken as it is
            self.add_error(
                "email",
                f"Did you mean {suggestion}? Check the address: if {email} is right, send the form again.",
            )
        return cleaned


class DetailChangesMixin:
    """A form of a client's details says which it changed, for `client_update_details`."""

    def changes(self) -> dict:
        """The fields the form changed, with their new values."""
        return {name: self.cleaned_data[name] for name in self.changed_data if name in CLIENT_DETAIL_FIELDS}


class ClientDetailsForm(DetailChangesMixin, EmailTypoMixin, ReachableClientMixin, forms.ModelForm):
    """A client's name, contact details and date of birth, as staff correct them."""

    class Meta:
        model = Client
        fields = CLIENT_DETAIL_FIELDS
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        labels = {"gp_details": "GP"}


class IntakeContactsForm(DetailChangesMixin, forms.ModelForm):
    """Who to call in an emergency and the client's GP, as the client gives them with their intake."""

    class Meta:
        model = Client
        fields = ("emergency_contact_name", "emergency_contact_phone", "gp_details")
        labels = {
            "emergency_contact_name": "Someone we can call in an emergency: their name",
            "emergency_contact_phone": "Their phone number",
            "gp_details": "Your GP: their name and practice",
        }
        widgets = {
            "emergency_contact_name": forms.TextInput(attrs={"autocomplete": "off"}),
            "emergency_contact_phone": forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
        }

    def changes(self) -> dict:
        """The details the client changed; one the page sent no field for (a page opened before the
        field was added) is kept as it was, never emptied."""
        return {
            name: value for name, value in super().changes().items() if self.add_prefix(name) in self.data
        }

    def clean(self):
        cleaned = super().clean()
        name, phone = cleaned.get("emergency_contact_name"), cleaned.get("emergency_contact_phone")
        if phone and not name:
            self.add_error("emergency_contact_name", "Please give the name of the person at this number.")
        if name and not phone and "emergency_contact_phone" not in self.errors:
            self.add_error("emergency_contact_phone", f"Please give a phone number for {name}.")
        return cleaned
