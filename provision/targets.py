"""The one place that builds a Target for the command line.

Three sources, chosen by `--target`:
- `env` (default for the stacks and app commands): endpoints from the
  environment, as every AWS and Kubernetes tool reads them (AWS_ENDPOINT_URL,
  KUBECONFIG): the workflow's EKS context, or a shell after `provision local env`;
- `offline`: the running `provision local up` stack, with all its details;
- `live`: the real account, EKS and Cloudflare (every live setting required).
"""
from __future__ import annotations

import os
from pathlib import Path

from . import config, errors
from .config import Target

KINDS = ("env", "offline", "live")
NO_KUBECONFIG = ("no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist: run "
                 "`aws eks update-kubeconfig` or `provision local up`")


def default_kubeconfig(environ: dict) -> str | None:
    """The kubeconfig kubectl would use: the first path of KUBECONFIG, else ~/.kube/config when it exists
    (where `aws eks update-kubeconfig` writes without --kubeconfig, as on a workflow runner)."""
    if environ.get("KUBECONFIG"):
        return environ["KUBECONFIG"].split(os.pathsep)[0]
    home = environ.get("HOME") or os.path.expanduser("~")
    path = Path(home) / ".kube" / "config"
    return str(path) if path.exists() else None
OFFLINE_NOT_RUNNING = "the offline target is not running in {dir}: start it with `provision local up`"


def from_environment(environ: dict | None = None, need_kube: bool = False) -> Target:
    environ = dict(os.environ if environ is None else environ)
    s = config.settings()
    kubeconfig = default_kubeconfig(environ)
    if need_kube and not kubeconfig:
        raise errors.TargetUnavailable(NO_KUBECONFIG)
    target = Target(name="cli", region=environ.get("AWS_REGION", s["aws"]["region"]),
                    account_id=s["aws"]["account_id"], aws_endpoint_url=environ.get("AWS_ENDPOINT_URL") or None,
                    kubeconfig=kubeconfig, namespace=s["kubernetes"]["namespace"], domains=tuple(s["domains"]["names"]))
    local = _offline_stack_behind(target, environ)
    # Endpoints of the running offline stack: the rest of its endpoints and what it declares (grades, gaps,
    # what it cannot show) come with them; what the environment names wins.
    if local:
        target = local.with_(name="cli", kubeconfig=kubeconfig or local.kubeconfig,
                             aws_endpoint_url=target.aws_endpoint_url or local.aws_endpoint_url)
    return target.with_(**_cloudflare(environ, target))


def _cloudflare(environ: dict, target: Target) -> dict:
    """The Cloudflare settings the environment names (the job's token, the zone, another API base URL)."""
    out = {}
    if environ.get("CLOUDFLARE_API_TOKEN"):
        out["cloudflare_token"] = config.Secret(environ["CLOUDFLARE_API_TOKEN"])
    if environ.get("CLOUDFLARE_ZONE_ID"):
        out["cloudflare_zone"] = environ["CLOUDFLARE_ZONE_ID"]
    if environ.get("CLOUDFLARE_API_URL"):
        out["cloudflare_api"] = environ["CLOUDFLARE_API_URL"]
    return out


def _offline_stack_behind(target: Target, environ) -> Target | None:
    from .local import stack

    if not (target.aws_endpoint_url or target.kubeconfig):
        return None
    d = Path(environ.get(stack.STACK_DIR_ENV) or stack.default_dir())
    state = stack.read_state(d)
    if not state:
        return None
    local = stack.target(state)
    same_aws = target.aws_endpoint_url and target.aws_endpoint_url == local.aws_endpoint_url
    same_kube = target.kubeconfig and target.kubeconfig == local.kubeconfig
    return local if (same_aws or same_kube) else None


def offline(state_dir: Path | str | None = None, environ: dict | None = None, need: str | None = None) -> Target:
    """The running offline stack (TargetUnavailable when it is not, or lacks the component `need`)."""
    from .local import stack  # the offline stand-ins are reached only from here

    environ = os.environ if environ is None else environ
    d = Path(state_dir or environ.get(stack.STACK_DIR_ENV) or stack.default_dir())
    state = stack.read_state(d)
    if not state or not stack.is_running(d) or (need and need not in state["components"]):
        raise errors.TargetUnavailable(OFFLINE_NOT_RUNNING.format(dir=d))
    return stack.target(state)


def for_cli(kind: str = "env", state_dir: Path | str | None = None, need_kube: bool = False,
            need: str | None = None) -> Target:
    if kind == "live":
        return config.live_target()
    if kind == "offline":
        return offline(state_dir, need=need)
    if kind == "env":
        return from_environment(need_kube=need_kube)
    raise errors.BadInput(f"unknown target {kind!r}: expected one of {', '.join(KINDS)}")
