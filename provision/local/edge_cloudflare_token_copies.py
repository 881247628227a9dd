"""Not Cloudflare: the stand-in's way to get a narrower copy of an API token, for the rehearsal's fidelity
faults (harness/rehearsal_faults.py: "a Cloudflare token without a scope the run uses").

Live, the operator makes such a token in the dashboard (My Profile > API Tokens). The stand-in takes
the request from the holder of a token and only narrows: the copy holds a subset of the caller's
permissions, on the caller's zones, and only the token that made it may revoke it. Both calls are in
the request log under the caller's name; neither is a Cloudflare write (`WRITES`).

    POST   /__standin/tokens          {"name": ..., "permissions": [...]}  -> {"name", "value"}
    DELETE /__standin/tokens/<name>
"""
from __future__ import annotations

import secrets

from flask import current_app, g, jsonify, request

from .edge_cloudflare_model import ApiError
from .edge_cloudflare_tokens import AUTH_ERROR, IMPLIES, Token, check_permissions

ROUTE = "/__standin/tokens"
TOKENS = "cloudflare_tokens"      # edge_cloudflare_routes.TOKENS (the app's Tokens)
MADE_BY = "cloudflare_token_copies"
BAD_COPY = "a token copy needs a new name and a list of permissions: {why}"


def narrower(parent: Token, name: str, permissions) -> Token:
    """The copy of `parent` named `name` with `permissions`, refused (403, 10000) unless it only narrows."""
    try:
        wanted = check_permissions(permissions)
    except ValueError as exc:
        raise ApiError(400, 1001, BAD_COPY.format(why=exc)) from None
    held = parent.permissions | {IMPLIES[p] for p in parent.permissions if p in IMPLIES}
    if not wanted <= held:
        raise ApiError(403, 10000, AUTH_ERROR)
    return Token(name, wanted, parent.zones)


def _envelope(result):
    return jsonify({"success": True, "errors": [], "messages": [], "result": result}), 200


def copy_token():
    body = request.get_json(silent=True)
    name = body.get("name") if isinstance(body, dict) else None
    tokens = current_app.config[TOKENS]
    if not isinstance(name, str) or not name or any(t.name == name for t in tokens.by_secret.values()):
        raise ApiError(400, 1001, BAD_COPY.format(why=f"name {name!r} is missing or taken"))
    copy = narrower(g.token, name, body.get("permissions") or [])
    secret = secrets.token_urlsafe(30)
    tokens.by_secret[secret] = copy
    current_app.config.setdefault(MADE_BY, {})[name] = g.token.name
    return _envelope({"name": name, "value": secret, "permissions": sorted(copy.permissions)})


def revoke_token(name):
    tokens, made_by = current_app.config[TOKENS], current_app.config.get(MADE_BY, {})
    if made_by.get(name) != g.token.name:
        raise ApiError(403, 10000, AUTH_ERROR)
    for secret in [s for s, t in tokens.by_secret.items() if t.name == name]:
        del tokens.by_secret[secret]
    made_by.pop(name, None)
    return _envelope({"name": name})


def register(app) -> None:
    """Add the two routes to the stand-in's app (any valid token may call them: they only narrow)."""
    app.add_url_rule(ROUTE, endpoint=f"POST {ROUTE}", view_func=copy_token, methods=["POST"])
    app.add_url_rule(f"{ROUTE}/<name>", endpoint=f"DELETE {ROUTE}", view_func=revoke_token, methods=["DELETE"])
