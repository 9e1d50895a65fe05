"""Email addresses as people mistype them: the providers most clients use, and near misses of them.

A mistyped domain (gmial.com, hotmail.con) is refused by no one at the desk and by the mail server
later, after the confirmation was due. Catching the common slips while the client or the desk is still
typing costs one question; the list is local, so nothing is looked up on the internet.
"""

import difflib
import functools

# The providers most clients' addresses are at (UK, US and the big international ones). A domain on
# this list is never questioned, so look-alikes that are real providers (mail.com, ymail.com, gmx.com)
# are here too.
COMMON_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "hotmail.com",
    "hotmail.co.uk",
    "outlook.com",
    "live.com",
    "live.co.uk",
    "msn.com",
    "yahoo.com",
    "yahoo.co.uk",
    "ymail.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "aol.co.uk",
    "btinternet.com",
    "sky.com",
    "virginmedia.com",
    "talktalk.net",
    "protonmail.com",
    "proton.me",
    "mail.com",
    "email.com",
    "gmx.com",
    "gmx.co.uk",
    "comcast.net",
    "verizon.net",
    "att.net",
)
# How alike a domain must be to a common one to be asked about (difflib's ratio): gmial.com and
# gmail.con are 0.89, example.com against any of the list at most 0.7.
SIMILARITY = 0.85


def likely_typo(email: str) -> str | None:
    """Return the address the person probably meant, when its domain is a near miss of a common one."""
    local, at, domain = email.strip().rpartition("@")
    domain = domain.lower()
    if not at or not local or not domain or domain in COMMON_DOMAINS:
        return None
    meant = _domain_meant(domain)
    return f"{local}@{meant}" if meant else None


@functools.lru_cache(maxsize=1024)
def _domain_meant(domain: str) -> str | None:
    """The common domain this one is a near miss of (remembered: a file of clients repeats domains)."""
    close = difflib.get_close_matches(domain, COMMON_DOMAINS, n=1, cutoff=SIMILARITY)
    return close[0] if close else None
