"""Cells of the CSV files the clinic's data leaves and arrives in.

A cell someone typed (a name on the online booking page) that begins like a formula is written with an
apostrophe first, so a spreadsheet shows it rather than running it (CSV injection). A file read back in
(a clinic's own export, moved to another clinic) has the apostrophe taken off again.
"""

from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    """A value as a CSV cell a spreadsheet shows as written; a number (an amount given back, -20.00) is
    a number, not text to guard."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell_read(text: str) -> str:
    """A cell as `cell` wrote it, as it was: "'+44 7700 900123" is "+44 7700 900123"."""
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text
