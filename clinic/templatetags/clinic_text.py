"""Template filters for how the clinic's pages lay out text."""

from decimal import Decimal, InvalidOperation

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def breakable_email(address: str) -> str:
    """An email address that a narrow table cell may wrap after its "@", and nowhere else."""
    local, at, domain = str(address).partition("@")
    if not at:
        return conditional_escape(address)
    return mark_safe(f"{conditional_escape(local)}@<wbr>{conditional_escape(domain)}")  # noqa: S308 (escaped)


@register.filter
def plain_number(value) -> str:
    """A measured amount as a person writes it: 0.50 → 0.5, 2.00 → 2, 0.75 → 0.75 (no rounding)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format(number.normalize(), "f")


@register.filter
def price_in(amount, clinic) -> str:
    """`{{ service.price|price_in:clinic }}`: the price with the clinic's currency ("£260", "$85.50")."""
    return clinic.price_text(amount)
