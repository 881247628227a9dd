"""`provision dns sync`, `provision dns origin-cert` (`provision verify` is registered here, lives in verify.py)."""
from __future__ import annotations

from .. import config
from ..config import Target


def register(sub) -> None:
    d = sub.add_parser("dns", help="Cloudflare DNS of the app's domains")
    dsub = d.add_subparsers(dest="dns_command", metavar="ACTION", required=True)
    s = dsub.add_parser("sync", help="point every managed domain at the cluster's load balancer (idempotent)")
    s.add_argument("--env", required=True, help="environment (settings.yaml environments)")
    s.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    _target_args(s)
    s.set_defaults(func=_sync)
    o = dsub.add_parser("origin-cert", help="the origin certificate secret Cloudflare's SSL mode strict verifies: "
                                            "a Cloudflare Origin CA certificate for every domain (idempotent; the "
                                            "operator, with an \"SSL and Certificates Edit\" token)")
    o.add_argument("--env", required=True, help="environment (settings.yaml environments)")
    _target_args(o)
    o.set_defaults(func=_origin_cert)
    from .. import verify  # `provision verify`: the final verification (its command lives there)
    verify.register(sub, _target_args)


def _target_args(p) -> None:
    p.add_argument("--target", choices=("offline", "env", "live"), default="offline",
                   help="offline: the running `provision local up` stack; env: the endpoints the environment "
                        "names (KUBECONFIG, CLOUDFLARE_API_TOKEN, CLOUDFLARE_ZONE_ID: a workflow job); live: "
                        "every live setting")
    p.add_argument("--dir", default=None,
                   help="offline stack state directory (default: $CTL_STACK_DIR or the cache dir)")


def target_of(args) -> Target:
    from ..targets import for_cli

    return for_cli(args.target, state_dir=args.dir, need="edge")


def _progress(m: str) -> None:
    from ..cli import progress
    progress(m)


def _sync(args) -> int:
    from . import sync
    config.environment(args.env)  # unknown environment: one line, exit 2, before touching anything
    for line in sync.sync(target_of(args), args.env, _progress, dry_run=args.dry_run):
        print(line)
    return 0


def _origin_cert(args) -> int:
    from . import origin_ca
    config.environment(args.env)  # unknown environment: one line, exit 2, before touching anything
    for line in origin_ca.ensure(target_of(args), args.env, _progress):
        print(line)
    return 0
