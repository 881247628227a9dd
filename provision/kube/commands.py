"""CLI: `provision app deploy|rollback|status`, `provision cluster identity` (placed by provision/cli.py)."""
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
    p.set_defaults(func=_deploy)

    p = sub.add_parser("rollback", help="deploy the previous good SHA (or --to SHA), health-gated")
    _env_arg(p)
    p.add_argument("--to", default=None,
                   help="SHA to roll back to (default: the successful deploy before the current one)")
    p.set_defaults(func=_rollback)

    p = sub.add_parser("status", help="cluster identity, deploy lock, running images and deploy history")
    _env_arg(p)
    p.set_defaults(func=_status)

    p = sub.add_parser("cluster-identity",
                       help="label the cluster KUBECONFIG points at as the environment's (once, after creating it)")
    p.add_argument("--env", required=True)
    p.set_defaults(func=_identity)


def _deploy(args) -> int:
    from . import deploy
    config.environment(args.env)
    config.validate_image_tag(args.image_tag)
    out = deploy.deploy(_target(), deploy.Options(env=args.env, image_tag=args.image_tag, namespace=args.namespace,
                                                  wait_for_lock=not args.no_wait, rollback=not args.no_rollback,
                                                  lock_timeout=args.lock_timeout), _progress)
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


def _identity(args) -> int:
    from . import identity
    env = config.environment(args.env)
    print(f"cluster identity: {identity.bootstrap(_target(), env['cluster_name'])}")
    return 0
