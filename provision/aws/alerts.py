"""Who the alert topic notifies: settings.yaml `alerts.email`, refused when it is a placeholder.

A placeholder (an RFC 2606/6761 reserved domain such as example.com, *.test,
*.invalid, or no address at all) is never silently subscribed: every template
rendering that needs it raises BadInput naming the setting, so nothing is applied.
"""

from __future__ import annotations

import re

from .. import config, errors

ALERT_EMAIL_REFUSED = (
    "settings.yaml alerts.email {email!r} is {why}: set the team's real address "
    "(the recipient must confirm AWS's subscription mail); nothing was changed"
)
# Reserved for documentation and tests (RFC 2606, RFC 6761): never a team's mailbox.
PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")
PLACEHOLDER_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local")
_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def placeholder_reason(email: str) -> str:
    """Why `email` cannot be the team's alert address ('' when it can). Pure."""
    email = (email or "").strip()
    if not email:
        return "empty"
    if not _SHAPE.match(email):
        return "not an e-mail address"
    domain = email.rsplit("@", 1)[1].lower()
    if domain in PLACEHOLDER_DOMAINS or any(domain == s[1:] or domain.endswith(s) for s in PLACEHOLDER_SUFFIXES):
        return f"a placeholder (the reserved domain {domain})"
    if any(domain.endswith("." + d) for d in PLACEHOLDER_DOMAINS):
        return f"a placeholder (the reserved domain {domain})"
    return ""


def alert_email(settings: dict | None = None) -> str:
    """The team's alert address from settings; BadInput when it is missing or a placeholder."""
    s = config.settings() if settings is None else settings
    email = str(((s.get("alerts") or {}).get("email")) or "")
    why = placeholder_reason(email)
    if why:
        raise errors.BadInput(ALERT_EMAIL_REFUSED.format(email=email, why=why))
    return email
