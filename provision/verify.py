"""`provision verify --env E`: the final verification (seed task 20), every probe a graded Finding.

The same probes the live scenarios use, called here rather than copied:
- every workload rolled out, its pods Running and Ready, every Service with ready endpoints
  (provision/probes/health.py; features/deploy.feature "The live deployment is healthy");
- DNS of every domain to the load balancer, no record leading to Azure, TLS validity with the smoke request
  (the health path) on every domain, Cloudflare's SSL mode and Always Use HTTPS (provision/dns/probes.py;
  features/dns_tls.feature);
- the end-to-end request path: a web page, an API route, a read that reaches the database (probes/requests.py);
- inside the pods, with testinfra's kubectl backend, only with `--in-pods` (exec is the deploy identity's
  right; probes/pods.py);
- the local control plane's process flags, with testinfra's local backend (probes/controlplane.py).

What a target cannot show is unverifiable, with the reason. Exit 0 when every Finding passed or is
unverifiable with a reason and at least one passed; 1 when one failed (docs/verify.md).
"""
from __future__ import annotations

import json

from . import config, errors
from .config import Target
from .findings import Finding, unverifiable

VERIFY_FAILED = "verify: {bad} of {total} checks failed"
NOTHING_PASSED = "no check passed: nothing was verified on this target"


def dns_tls(target: Target) -> list[Finding]:
    from .dns import probes
    return probes.run_all(target)


def _refused(subject: str, fn) -> Finding:
    """A probe whose read the identity may not make is unverifiable, naming the refusal."""
    from .kube import client

    try:
        return fn()
    except client.ApiError as exc:
        if exc.status in (401, 403):
            return unverifiable(subject, "a read the identity may make", "refused", (f"refused: {exc}",))
        raise


def run(target: Target, env_name: str | None = None, in_pods: bool = False, namespace: str | None = None
        ) -> list[Finding]:
    from .probes import controlplane, health, pods, requests

    ns = namespace or target.namespace or config.settings()["kubernetes"]["namespace"]
    why = target.not_held(env_name) if env_name else None
    if why:
        return [unverifiable(f"the final verification of {env_name}", "a run holding its roles", "not held", (why,))]
    return [
        _refused(f"app in {ns} as the API reports it", lambda: health.health(target, ns)),
        *dns_tls(target),
        requests.check_request_path(target),
        _refused("inside the pods", lambda: pods.in_pods(target, ns, in_pods)),
        controlplane.check_apiserver(target),
    ]


def exit_code(findings: list[Finding]) -> int:
    """1 on a failed Finding, an unverifiable one without a reason, or when none passed; else 0."""
    silent = [f for f in findings if f.unverifiable and not (f.evidence or f.gaps)]
    if any(f.status == "failed" for f in findings) or silent or not any(f.ok for f in findings):
        return errors.EXIT_FAILED
    return errors.EXIT_OK


def lines(findings: list[Finding]) -> list[str]:
    out = []
    for f in findings:
        out.append(f.line() + (f" [{f.grade}]" if f.grade else ""))
        out.extend(f"  {e}" for e in f.evidence)
        out.extend(f"  gap: {g}" for g in f.gaps)
    return out


def summary(findings: list[Finding]) -> str:
    n = {s: sum(f.status == s for f in findings) for s in ("passed", "failed", "unverifiable")}
    return (f"{n['passed']} of {len(findings)} checks pass, {n['failed']} fail, "
            f"{n['unverifiable']} not verifiable on this target")


def as_json(findings: list[Finding], env_name: str | None, target: Target) -> str:
    return json.dumps({"env": env_name, "target": target.name, "exit": exit_code(findings),
                       "summary": summary(findings), "findings": [f.as_dict() for f in findings]}, indent=2)


def demo_step(target: Target, progress) -> list[str]:
    """The DNS/TLS probes as Finding lines; raise (one line) when any is red."""
    findings = dns_tls(target)
    out = lines(findings)
    bad = [f for f in findings if not f.ok]
    if bad:
        for line in out:
            progress(line)
        raise errors.ProvisionError(VERIFY_FAILED.format(bad=len(bad), total=len(findings)),
                                    evidence=tuple(f.line() for f in bad))
    return out


# ---------------------------------------------------------------- the command

def register(sub, target_args) -> None:
    v = sub.add_parser("verify", help="the final verification: workloads, endpoints, smoke requests, DNS, TLS, the "
                                      "request path, in-pod and control-plane checks; exit 1 if any is red")
    v.add_argument("--env", default=None, help="environment of settings.yaml (an unknown one: exit 2)")
    v.add_argument("--json", action="store_true", help="print the Findings as JSON")
    v.add_argument("--in-pods", action="store_true",
                   help="also check inside the pods with testinfra (kubectl exec: the deploy identity's right)")
    target_args(v)
    v.set_defaults(func=command)


def command(args) -> int:
    from .targets import for_cli

    if args.env:
        config.environment(args.env)  # unknown environment: one line, exit 2, before touching anything
    target = for_cli(args.target, state_dir=args.dir, need_kube=True, need="edge")
    findings = run(target, args.env, in_pods=args.in_pods)
    if args.json:
        print(as_json(findings, args.env, target))
    else:
        for line in lines(findings):
            print(line)
        print(summary(findings))
        if not any(f.ok for f in findings):
            print(NOTHING_PASSED)
    return exit_code(findings)
