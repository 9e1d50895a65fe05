"""Reading values people can edit in links (query strings, old bookmarks) without stopping a page."""


def parse_id(raw: str | None) -> int:
    """Read a row id from a link or form; 0 (which no row has) for anything that is not one.

    Ids arrive in query strings that people edit and old links; "x" or "12abc" must find nothing,
    not stop the page. Nineteen digits or more would not fit the database's integer either.
    """
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else 0


def text_typed(raw: str | None) -> str:
    """Words typed into a form, trimmed, without NUL characters: no stored text holds one, and
    PostgreSQL refuses one in a query or a row (a 500 instead of the answer)."""
    return (raw or "").replace("\x00", "").strip()
