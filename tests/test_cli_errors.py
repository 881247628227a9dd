"""A target that cannot be reached or whose access is not configured: one line naming what and what to do,
exit 4, no traceback, whichever command meets it (provision/cli.py main, errors.unavailable)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from provision import errors

pytestmark = [pytest.mark.offline, pytest.mark.unit]

PROVISION = Path(sys.executable).parent / "provision"
KUBECONFIG_DOWN = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def _env(tmp_path, **extra) -> dict:
    """No credentials, endpoint or kubeconfig from this machine; no offline stack behind them."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG", "CLOUDFLARE_"))}
    env.update({"CTL_STACK_DIR": str(tmp_path / "no-stack"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_MAX_ATTEMPTS": "1"})
    env.update(extra)
    return env


def _run(env: dict, *argv: str) -> tuple[int, str]:
    p = subprocess.run([str(PROVISION), *argv], capture_output=True, text=True, env=env, timeout=120)
    return p.returncode, p.stderr


def _one_line(code: int, stderr: str, command: str, message: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert stderr.splitlines() == [f"provision {command}: {message}"], stderr
    assert code == errors.EXIT_TARGET


FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE", "AWS_SECRET_ACCESS_KEY": "fake"}


def test_an_aws_endpoint_that_refuses_connections(tmp_path):
    code, err = _run(_env(tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:1", **FAKE_KEYS), "stacks", "plan",
                     "--env", "dev")
    _one_line(code, err, "stacks plan", errors.AWS_UNREACHABLE.format(endpoint="http://127.0.0.1:1/"))


def test_an_aws_endpoint_whose_name_does_not_resolve(tmp_path):
    url = "http://no-such-host.invalid:4566"
    code, err = _run(_env(tmp_path, AWS_ENDPOINT_URL=url, **FAKE_KEYS), "stacks", "plan", "--env", "dev")
    _one_line(code, err, "stacks plan", errors.AWS_UNREACHABLE.format(endpoint=url + "/"))


def test_missing_aws_credentials(tmp_path):
    code, err = _run(_env(tmp_path, AWS_ENDPOINT_URL="http://127.0.0.1:1"), "stacks", "plan", "--env", "dev")
    _one_line(code, err, "stacks plan", errors.AWS_NO_CREDENTIALS)


class _Expired(BaseHTTPRequestHandler):
    """An AWS endpoint that refuses every request's credentials as expired (query/XML and JSON protocols)."""

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "json" in (self.headers.get("Content-Type") or ""):
            body = json.dumps({"__type": "ExpiredTokenException", "message": "The security token is expired"})
        else:
            body = ("<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token "
                    "included in the request is expired</Message></Error><RequestId>1</RequestId></ErrorResponse>")
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST

    def log_message(self, *args):
        pass


def test_expired_aws_credentials(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Expired)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = _env(tmp_path, AWS_ENDPOINT_URL=f"http://127.0.0.1:{server.server_port}", AWS_SESSION_TOKEN="old",
                   **FAKE_KEYS)
        code, err = _run(env, "stacks", "plan", "--env", "dev")
    finally:
        server.shutdown()
    _one_line(code, err, "stacks plan", errors.AWS_CREDENTIALS_REJECTED.format(code="ExpiredToken"))


def test_no_kubeconfig_at_all(tmp_path):
    from provision import targets

    code, err = _run(_env(tmp_path), "app", "status", "--env", "dev")
    _one_line(code, err, "app status", targets.NO_KUBECONFIG)


def test_a_kubeconfig_file_that_does_not_exist(tmp_path):
    path = tmp_path / "missing" / "kubeconfig"
    code, err = _run(_env(tmp_path, KUBECONFIG=str(path)), "app", "status", "--env", "dev")
    _one_line(code, err, "app status", errors.KUBECONFIG_BROKEN.format(path=path, reason="the file does not exist"))


@pytest.mark.parametrize("text, reason", [
    ("apiVersion: v1\nclusters: [\n", "ParserError: while parsing a flow node"),
    ("apiVersion: v1\nkind: Config\ncurrent-context: nope\n", "ConfigException: Invalid kube-config file. "
                                                              "Expected object with name nope in {path}/contexts list"),
], ids=["not-yaml", "no-such-context"])
def test_a_broken_kubeconfig(tmp_path, text, reason):
    path = tmp_path / "kubeconfig"
    path.write_text(text)
    code, err = _run(_env(tmp_path, KUBECONFIG=str(path)), "app", "status", "--env", "dev")
    _one_line(code, err, "app status", errors.KUBECONFIG_BROKEN.format(path=path, reason=reason.format(path=path)))


def test_a_kubernetes_api_server_that_is_down(tmp_path):
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG_DOWN)
    code, err = _run(_env(tmp_path, KUBECONFIG=str(path)), "app", "status", "--env", "dev")
    _one_line(code, err, "app status", errors.KUBE_UNREACHABLE.format(server="127.0.0.1:1"))


def test_kubectls_words_for_an_api_server_it_cannot_reach_or_a_kubeconfig_it_cannot_load():
    refused = "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
    assert str(errors._kubectl(refused, "/k")) == errors.KUBE_UNREACHABLE.format(server="127.0.0.1:6443")
    broken = 'error: error loading config file "/k": yaml: line 2: did not find expected node content'
    assert str(errors._kubectl(broken, "/k")) == errors.KUBECONFIG_BROKEN.format(
        path="/k", reason="yaml: line 2: did not find expected node content")
    assert errors._kubectl('Error from server (Forbidden): pods is forbidden: User "x"', "/k") is None


@pytest.mark.parametrize("exc", [
    ValueError("a bug"), KeyError("x"),
    ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DescribeStacks"),
    ClientError({"Error": {"Code": "ValidationError", "Message": "Stack does not exist"}}, "DescribeStacks"),
], ids=["bug", "keyerror", "access-denied", "validation"])
def test_other_errors_are_not_called_an_unavailable_target(exc):
    # a refusal of the request (not of the credentials) or a bug stays what it is: never hidden as exit 4
    assert errors.unavailable(exc) is None
