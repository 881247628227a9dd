"""CLI: `provision app deploy|rollback|status|diff`, `provision cluster bootstrap|identity` (placed by cli.py)."""
from __future__ import annotations

import sys

from .. import config


def _target():
    # The CLI talks to whatever KUBECONFIG names (the workflow's EKS context,
    # or the offline stack after `provision local up`).
    from ..targets import from_environment

    return from_environment(need_kube=True)


def _progress(m: str) -> None:
    print(f"==> {m}", file=sys.stderr, flush=True)


def _env_arg(p) -> None:
    p.add_argument("--env", required=True, help=f"environment of settings.yaml ({', '.join(config.environments())})")
    p.add_argument("--namespace", default=None,
                   help="deploy into this namespace instead of settings.yaml's (tests, benchmarks)")


def register(sub) -> None:
    p = sub.add_parser("deploy", help="server-side apply the environment's overlay at an image SHA, "
                                      "health-gated, with rollback")
    _env_arg(p)
    p.add_argument("--image-tag", required=True, help="full 40-character commit SHA of the web and API images")
    p.add_argument("--no-wait", action="store_true",
                   help="fail fast (exit 3) naming the holder when the deploy lock is held")
    p.add_argument("--no-rollback", action="store_true", help="leave a failed rollout in place (debugging only)")
    p.add_argument("--lock-timeout", type=float, default=1800,
                   help="seconds to wait for the deploy lock (default 1800)")
    p.add_argument("--prune-data", action="store_true",
                   help="also prune data-bearing objects (PersistentVolumeClaims) the repository no longer has")
    p.set_defaults(func=_deploy)

    p = sub.add_parser("rollback", help="deploy the previous good SHA (or --to SHA), health-gated")
    _env_arg(p)
    p.add_argument("--to", default=None,
                   help="SHA to roll back to (default: the successful deploy before the current one)")
    p.set_defaults(func=_rollback)

    p = sub.add_parser("status", help="cluster identity, deploy lock, running images and deploy history")
    _env_arg(p)
    p.set_defaults(func=_status)

    p = sub.add_parser("app-diff", help="drift: the cluster against the render of the deployed commit "
                                    "(read-only; exit 1 on drift)")
    _env_arg(p)
    p.set_defaults(func=_diff)

    p = sub.add_parser("cluster-identity",
                       help="label the cluster KUBECONFIG points at as the environment's (once, after creating it)")
    p.add_argument("--env", required=True)
    p.set_defaults(func=_identity)

    p = sub.add_parser("cluster-bootstrap",
                       help="the operator's once-per-cluster steps before the first deploy: identity, the app's "
                            "Namespace, the cluster overlay (offline: a generated secret source, pre-bound volumes)")
    p.add_argument("--env", required=True, help=f"environment of settings.yaml ({', '.join(config.environments())})")
    p.add_argument("--target", choices=("env", "offline", "live"), default="env",
                   help="env (default): the cluster KUBECONFIG names and the AWS endpoint of the environment; "
                        "offline: the running `provision local up` stack; live: every live setting")
    p.add_argument("--dir", default=None,
                   help="offline stack state directory (default: $CTL_STACK_DIR or the cache dir)")
    p.set_defaults(func=_bootstrap)


def _deploy(args) -> int:
    from . import deploy
    config.environment(args.env)
    config.validate_image_tag(args.image_tag)
    out = deploy.deploy(_target(), deploy.Options(env=args.env, image_tag=args.image_tag, namespace=args.namespace,
                                                  wait_for_lock=not args.no_wait, rollback=not args.no_rollback,
                                                  lock_timeout=args.lock_timeout,
                                                  prune_data=args.prune_data), _progress)
    print("\n".join(out.lines()))
    return 0


def _rollback(args) -> int:
    from . import deploy
    config.environment(args.env)
    if args.to:
        config.validate_image_tag(args.to)
    out = deploy.rollback(_target(), args.env, args.to, args.namespace, _progress)
    print("\n".join(out.lines()))
    return 0


def _status(args) -> int:
    from . import deploy
    config.environment(args.env)
    print("\n".join(deploy.status_lines(_target(), args.env, args.namespace)))
    return 0


def _diff(args) -> int:
    from . import drift
    found = drift.findings(_target(), args.env, args.namespace)
    print("\n".join(line for f in found for line in (f.line(), *(f"  {e}" for e in f.evidence))))
    return 1 if any(not f.ok and not f.unverifiable for f in found) else 0


def _identity(args) -> int:
    from . import identity
    env = config.environment(args.env)
    print(f"cluster identity: {identity.bootstrap(_target(), env['cluster_name'])}")
    return 0


def _bootstrap(args) -> int:
    from ..targets import for_cli
    from . import bootstrap

    env = config.Environment.named(args.env)
    out = bootstrap.run(for_cli(args.target, state_dir=args.dir, need_kube=True), env, _progress)
    print("\n".join(out.lines()))
    return 0
