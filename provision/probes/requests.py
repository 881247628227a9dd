"""The end-to-end request path through the app's domains, as a user's browser takes it: a web page, an API
route, and a read that reaches PostgreSQL (settings dns.request_paths), over verified HTTPS.

kwok runs no container, so offline and in the rehearsal no app process is behind the Services: the edge
stand-in answers the health paths alone (provision/local/edge_https.py), and the path is unverifiable there,
with the gap named. It is never passed on what a stand-in answers.
"""
from __future__ import annotations

import json
import ssl

from .. import config
from ..config import Target
from ..dns import probes as dns_probes
from ..findings import Finding, combine, failed, passed, unverifiable
from . import health

SUBJECT = "end-to-end request path: a web page, an API route, a read that reaches the database"
NO_APP = ("no app process answers on this target: the edge stand-in serves the health paths only "
          "(the smoke requests check those)")


def _paths() -> dict:
    return config.settings()["dns"]["request_paths"]


def judge(kind: str, url: str, status: int, headers: dict, body: bytes) -> Finding:
    """Pure: one answer of the path. web_page: 200 text/html with an <html> document; api: 200 JSON;
    database_read: 200 JSON whose status is not an error (the API read the database to answer)."""
    subject = f"{kind.replace('_', ' ')}: GET {url}"
    ctype = headers.get("content-type", "")
    problems = []
    if status != 200:
        problems.append(f"HTTP {status or 'no status'}")
    if kind == "web_page":
        if "text/html" not in ctype or b"<html" not in body[:4096].lower():
            problems.append(f"not an HTML page (content-type {ctype or 'none'})")
        expected = "200, an HTML page"
    else:
        expected = "200, JSON" + (" with a healthy database status" if kind == "database_read" else "")
        try:
            doc = json.loads(body.decode(errors="replace") or "null")
        except ValueError:
            doc = None
            problems.append(f"not JSON (content-type {ctype or 'none'})")
        if kind == "database_read" and isinstance(doc, dict) and str(doc.get("status", "")).lower() in (
                "error", "degraded", "unhealthy", "down"):
            problems.append(f"database status {doc.get('status')}")
    if problems:
        return failed(subject, expected, "; ".join(problems), [f"FAIL {url}: {'; '.join(problems)}"])
    return passed(subject, expected, f"HTTP {status} {ctype}")


def legs(target: Target) -> list[tuple[str, str, str]]:
    """(kind, domain, path) of the path: the web page on every web domain, the API legs on the api domains."""
    p = _paths()
    api = [d for d in target.domains if d.lower().startswith("api.")]
    web = [d for d in target.domains if d not in api]
    return ([("web_page", d, p["web_page"]) for d in web] + [("api", d, p["api"]) for d in api]
            + [("database_read", d, p["database_read"]) for d in api])


def check_request_path(target: Target, fetch=dns_probes.fetch) -> Finding:
    expected = f"{len(legs(target))} requests answered by the app"
    gap = target.gap(health.POD_GAP)
    if gap:
        return unverifiable(SUBJECT, expected, "no app process on this target", (NO_APP,), gaps=(gap,),
                            grade=target.grade("pods"))
    r = dns_probes.resolver(target)
    parts = []
    for kind, domain, path in legs(target):
        url = f"https://{domain}{path}"
        try:
            status, headers, body = fetch(target, domain, path, r)
        except (OSError, ssl.SSLError) as exc:
            parts.append(failed(f"{kind.replace('_', ' ')}: GET {url}", "an answer", str(exc)[:200],
                                [f"FAIL {url}: {str(exc)[:200]}"]))
            continue
        parts.append(judge(kind, url, status, headers, body))
    if not parts:
        return failed(SUBJECT, expected, "the target names no domain")
    return combine(SUBJECT, parts).graded(target.grade("tls"))
