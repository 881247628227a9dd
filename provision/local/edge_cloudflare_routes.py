"""The Cloudflare v4 API subset of the edge stand-in: routes (Flask), request parsing, the envelope.

Bearer auth; every answer is Cloudflare's {success, errors, messages, result,
result_info} envelope; the model (edge_cloudflare_model) decides and refuses.
"""
from __future__ import annotations

from flask import Flask, current_app, jsonify, request

from .edge_cloudflare_model import SHARED_ACCOUNT, ApiError, Store

BASE = "/client/v4"
STORE = "cloudflare_store"
TOKEN = "cloudflare_token"
BAD_PAGING = "Invalid page or per_page"
NO_ROUTE = "No route for that URI"
NOT_ALLOWED = "Method not allowed for this route"
BAD_HEADERS = "Invalid request headers"
AUTH_ERROR = "Authentication error"
MALFORMED_JSON = "Malformed JSON in request body"

# ---------------------------------------------------------------- request parsing (pure)


def paging(args, default_per_page: int, max_per_page: int) -> tuple[int, int]:
    """(page, per_page) from the query, clamped as Cloudflare clamps them."""
    try:
        page = max(1, int(args.get("page", 1)))
        per_page = min(max_per_page, max(1, int(args.get("per_page", default_per_page))))
    except ValueError:
        raise ApiError(400, 1001, BAD_PAGING) from None
    return page, per_page


def bearer(header: str, token: str) -> None:
    """The Authorization header must carry exactly the stand-in's token."""
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise ApiError(400, 6003, BAD_HEADERS)
    if header[7:].strip() != token:
        raise ApiError(403, 10000, AUTH_ERROR)


def json_body(data) -> dict:
    if not isinstance(data, dict):
        raise ApiError(400, 6007, MALFORMED_JSON)
    return data


def record_filters(args) -> dict:
    """The dns_records list filters (name, type, content, proxied) of the query."""
    proxied = args.get("proxied")
    return {"name": args.get("name") or None, "rtype": args.get("type") or None,
            "content": args.get("content") or None,
            "proxied": (proxied == "true") if proxied in ("true", "false") else None}


# ---------------------------------------------------------------- the envelope


def envelope(result, status: int = 200, info: dict | None = None):
    body = {"success": True, "errors": [], "messages": [], "result": result}
    if info is not None:
        body["result_info"] = info
    return jsonify(body), status


def paged(items: list, default_per_page: int, max_per_page: int):
    page, per_page = paging(request.args, default_per_page, max_per_page)
    chunk = items[(page - 1) * per_page: page * per_page]
    total_pages = max(1, -(-len(items) // per_page))
    return envelope(chunk, info={"page": page, "per_page": per_page, "count": len(chunk),
                                 "total_count": len(items), "total_pages": total_pages})


def api_error(e: ApiError):
    return jsonify({"success": False, "errors": [{"code": e.code, "message": e.message}],
                    "messages": [], "result": None}), e.status


def _store() -> Store:
    return current_app.config[STORE]


def _body() -> dict:
    return json_body(request.get_json(silent=True))


# ---------------------------------------------------------------- routes


def list_zones():
    return paged(_store().list_zones(request.args.get("name")), 20, 50)


def create_zone():
    b = _body()
    account = (b.get("account") or {}).get("id") or SHARED_ACCOUNT
    return envelope(_store().add_zone(str(b.get("name", "")), account).as_json())


def get_zone(zone_id):
    return envelope(_store().zone(zone_id).as_json())


def delete_zone(zone_id):
    _store().delete_zone(zone_id)
    return envelope({"id": zone_id})


def list_records(zone_id):
    return paged(_store().list_records(zone_id, **record_filters(request.args)), 100, 5000)


def create_record(zone_id):
    return envelope(_store().create_record(zone_id, _body()))


def get_record(zone_id, record_id):
    return envelope(_store().get_record(zone_id, record_id))


def put_record(zone_id, record_id):
    return envelope(_store().update_record(zone_id, record_id, _body(), partial=False))


def patch_record(zone_id, record_id):
    return envelope(_store().update_record(zone_id, record_id, _body(), partial=True))


def delete_record(zone_id, record_id):
    return envelope(_store().delete_record(zone_id, record_id))


def get_setting(zone_id, sid):
    return envelope(_store().get_setting(zone_id, sid))


def patch_setting(zone_id, sid):
    store = _store()
    store.get_setting(zone_id, sid)  # an unknown setting or zone is refused before the body is read
    return envelope(store.set_setting(zone_id, sid, _body().get("value")))


def standin_dns_server(zone_id):
    """Not Cloudflare: where this stand-in serves a zone's DNS (one port per zone)."""
    return envelope({"dns_server": list(_store().zone(zone_id).dns.address)})


ZONE = f"{BASE}/zones/<zone_id>"
RECORD = f"{ZONE}/dns_records/<record_id>"
# rule -> {method: view}
ROUTES = {
    f"{BASE}/zones": {"GET": list_zones, "POST": create_zone},
    ZONE: {"GET": get_zone, "DELETE": delete_zone},
    f"{ZONE}/dns_records": {"GET": list_records, "POST": create_record},
    RECORD: {"GET": get_record, "PUT": put_record, "PATCH": patch_record, "DELETE": delete_record},
    f"{ZONE}/settings/<sid>": {"GET": get_setting, "PATCH": patch_setting},
    "/__standin/zones/<zone_id>/dns_server": {"GET": standin_dns_server},
}


def _authenticate():
    bearer(request.headers.get("Authorization", ""), current_app.config[TOKEN])


def make_app(store: Store, token: str) -> Flask:
    app = Flask("cloudflare-standin")
    app.config[STORE], app.config[TOKEN] = store, token
    for rule, views in ROUTES.items():
        for method, view in views.items():
            app.add_url_rule(rule, endpoint=f"{method} {rule}", view_func=view, methods=[method])
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(404, lambda e: api_error(ApiError(400, 7000, NO_ROUTE)))
    app.register_error_handler(405, lambda e: api_error(ApiError(405, 10405, NOT_ALLOWED)))
    app.before_request(_authenticate)
    return app
