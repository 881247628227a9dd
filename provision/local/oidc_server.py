"""The offline GitHub OIDC issuer's HTTP side: discovery document and JWKS.

Run as `python -m provision.local.oidc_server --port P --key FILE --issuer URL`.
It serves only public material; tokens are minted in-process by
provision.local.oidc.mint with the key file, like GitHub's token service would.
"""
from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from .oidc import discovery_document, public_jwks


def serve(port: int, key_file: Path, issuer: str) -> None:
    key = load_pem_private_key(key_file.read_bytes(), password=None)
    routes = {
        "/.well-known/openid-configuration": discovery_document(issuer),
        "/.well-known/jwks": public_jwks(key),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = routes.get(self.path.split("?")[0])
            if body is None:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):  # one line per request in the component's log
            print(f"{self.address_string()} {fmt % args}", flush=True)

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key", type=Path, required=True)
    p.add_argument("--issuer", required=True)
    a = p.parse_args()
    serve(a.port, a.key, a.issuer)


if __name__ == "__main__":
    main()
