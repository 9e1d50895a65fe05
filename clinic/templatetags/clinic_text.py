"""Template filters for how the clinic's pages lay out text."""

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
