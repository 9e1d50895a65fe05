"""How pages and messages put things into words, where more than one place says them."""


def listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': items as a sentence names them ('' for none)."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"
