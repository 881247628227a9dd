"""`provision dns sync` and `provision verify`: the same functions the suite uses."""
from __future__ import annotations

from .. import config, errors
from ..config import Target


def register(sub) -> None:
    d = sub.add_parser("dns", help="Cloudflare DNS of the app's domains")
    dsub = d.add_subparsers(dest="dns_command", metavar="ACTION", required=True)
    s = dsub.add_parser("sync", help="point every managed domain at the cluster's load balancer (idempotent)")
    s.add_argument("--env", required=True, help="environment (settings.yaml environments)")
    s.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    _target_args(s)
    s.set_defaults(func=_sync)
    v = sub.add_parser("verify", help="run the DNS/TLS probes; print Findings; exit 1 if any is red")
    _target_args(v)
    v.set_defaults(func=_verify)


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


def _verify(args) -> int:
    from .. import verify
    findings = verify.run(target_of(args))
    for line in verify.lines(findings):
        print(line)
    bad = sum(not f.ok for f in findings)
    print(f"{len(findings) - bad} of {len(findings)} checks pass")
    return errors.EXIT_FAILED if bad else errors.EXIT_OK
