"""The few named errors of the provisioner, and the messages users see.

Messages are constants so tests assert the exact text. Every error carries
an exit code (documented in docs/exit-codes.md) and prints as one line.
"""
from __future__ import annotations

import os

# Exit codes of the `provision` CLI.
EXIT_OK = 0
EXIT_FAILED = 1          # a check or an action failed (the world is not as it should be)
EXIT_USAGE = 2           # bad input: nothing was changed
EXIT_REFUSED = 3         # sign-off refused / a guard refused to act (wrong cluster, lock held)
EXIT_TARGET = 4          # the target is not reachable or not configured

UNKNOWN_ENV = "unknown environment {env!r}: expected one of {known}"
MISSING_SETTING = "live target: missing setting {name} ({how})"
INVALID_IMAGE_TAG = "invalid image tag {tag!r}: expected a full 40-character lowercase hex commit SHA"
SIGNOFF_REFUSED = "sign-off refused: {reason}"


class ProvisionError(Exception):
    """Base: one line of text and an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, evidence: tuple[str, ...] = ()):
        super().__init__(message)
        self.evidence = tuple(evidence)


class BadInput(ProvisionError):
    """The caller asked for something invalid; nothing was changed."""

    exit_code = EXIT_USAGE


class Refused(ProvisionError):
    """A guard refused to act (wrong cluster, lock held, sign-off refused)."""

    exit_code = EXIT_REFUSED


class TargetUnavailable(ProvisionError):
    """The target is not configured or not reachable."""

    exit_code = EXIT_TARGET


# What a user sees when the target cannot be reached or its access is not configured (exit 4).
AWS_UNREACHABLE = ("cannot reach the AWS endpoint {endpoint}: check AWS_ENDPOINT_URL, AWS_REGION and the network "
                   "(offline: `provision local up`, then eval its export lines)")
AWS_NO_CREDENTIALS = ("no AWS credentials found: a workflow job assumes its role through OIDC; a shell sets "
                      "AWS_PROFILE or the AWS_* variables (offline: eval the export lines of `provision local up`)")
AWS_CREDENTIALS_REJECTED = ("the AWS credentials were refused ({code}): they are expired or not valid; renew them "
                            "(`aws sso login`, or re-run the job's OIDC step) and run again")
KUBE_UNREACHABLE = ("cannot reach the Kubernetes API server {server}: check the cluster KUBECONFIG names and the "
                    "network (offline: `provision local up`)")
UNREACHABLE = "cannot reach {url}: check the endpoint's setting and the network"
KUBECONFIG_BROKEN = ("cannot use the kubeconfig {path}: {reason}; run `aws eks update-kubeconfig` "
                     "(offline: `provision local up`)")
# AWS error codes that mean the caller's credentials, not the request, are the problem.
CREDENTIAL_CODES = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
                    "UnrecognizedClientException", "InvalidAccessKeyId", "InvalidToken", "AuthFailure",
                    "SignatureDoesNotMatch", "IncompleteSignature", "MissingAuthenticationToken"}


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _raised_in(exc: BaseException, where: str) -> bool:
    """Whether the exception was raised inside a module whose path contains `where`."""
    import traceback

    return any(where in f.filename.replace(os.sep, "/") for f in traceback.extract_tb(exc.__traceback__))


def _first_line(text: object) -> str:
    return (str(text).strip().splitlines() or ["unreadable"])[0][:200]


def unavailable(exc: BaseException, kubeconfig: str | None = None) -> TargetUnavailable | None:
    """The one-line TargetUnavailable for an exception that means the target is unreachable or its access is
    not configured (AWS endpoint, credentials, Kubernetes API server, kubeconfig); None for anything else.

    The CLI's one place for these (provision/cli.py main): no command catches them itself."""
    import botocore.exceptions as aws
    import requests
    import urllib3.exceptions as http
    from kubernetes.config import ConfigException

    from .kube.kubectl import KubectlError

    for e in _chain(exc):
        if isinstance(e, KubectlError):
            return _kubectl(e.result.stderr, kubeconfig or "(KUBECONFIG)")
        if isinstance(e, requests.ConnectionError):
            url = getattr(e.request, "url", None) or "the endpoint"
            return TargetUnavailable(UNREACHABLE.format(url=url.split("?")[0]))
        if isinstance(e, (aws.EndpointConnectionError, aws.ConnectTimeoutError, aws.ConnectionClosedError)):
            return TargetUnavailable(AWS_UNREACHABLE.format(endpoint=getattr(e, "kwargs", {}).get("endpoint_url")
                                                            or "(AWS_ENDPOINT_URL)"))
        if isinstance(e, (aws.NoCredentialsError, aws.PartialCredentialsError, aws.CredentialRetrievalError)):
            return TargetUnavailable(AWS_NO_CREDENTIALS)
        if isinstance(e, (aws.TokenRetrievalError, aws.SSOError)):
            return TargetUnavailable(AWS_CREDENTIALS_REJECTED.format(code=type(e).__name__))
        if isinstance(e, aws.ClientError) and e.response.get("Error", {}).get("Code") in CREDENTIAL_CODES:
            return TargetUnavailable(AWS_CREDENTIALS_REJECTED.format(code=e.response["Error"]["Code"]))
        if isinstance(e, ConfigException) or _raised_in(e, "kubernetes/config/"):
            # the client's kubeconfig loader: a missing file, YAML that does not parse, a context that is not there
            reason = ("the file does not exist" if kubeconfig and not os.path.exists(kubeconfig)
                      else f"{type(e).__name__}: {_first_line(e)}".rstrip("."))
            return TargetUnavailable(KUBECONFIG_BROKEN.format(path=kubeconfig or "(KUBECONFIG)", reason=reason))
        if isinstance(e, (http.MaxRetryError, http.NewConnectionError)):
            pool = getattr(e, "pool", None) or getattr(e, "conn", None)
            server = f"{pool.host}:{pool.port}" if getattr(pool, "host", None) else "(KUBECONFIG's server)"
            return TargetUnavailable(KUBE_UNREACHABLE.format(server=server))
    return None


def _kubectl(stderr: str, kubeconfig: str) -> TargetUnavailable | None:
    """kubectl's own words for an API server it cannot reach or a kubeconfig it cannot load."""
    import re

    if m := re.search(r"error loading config file \"[^\"]*\": (.*)", stderr):
        return TargetUnavailable(KUBECONFIG_BROKEN.format(path=kubeconfig, reason=_first_line(m.group(1))))
    if m := re.search(r"The connection to the server (\S+) was refused|Unable to connect to the server: (.*)", stderr):
        return TargetUnavailable(KUBE_UNREACHABLE.format(server=_first_line(m.group(1) or m.group(2))))
    return None
