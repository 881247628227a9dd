"""`provision signoff build|release|verify|keygen`: a run's sign-off report, and the signed release sign-off.

    build [RUN_DIR]                    rebuild a run's report from its results.json
    release --commit SHA RUN_DIR...    the offline, rehearsal and live runs of one commit -> one signed verdict
    verify REPORT [--public-key FILE]  check a release report's signature; name what changed when it does not
    keygen --private-key-out FILE      a release key pair (private key to a new 0600 file, public key printed)
"""
from __future__ import annotations

from pathlib import Path

from .. import config, errors
from . import release, signing, signoff


def register(sub) -> None:
    p = sub.add_parser("signoff", help="rebuild the sign-off report of a run from its results.json")
    p.add_argument("run_dir", nargs="?", default=str(config.REPORTS_DIR / "latest"),
                   help="reports/<run-id> directory (default: reports/latest)")
    p.set_defaults(func=run)
    register_release(sub)


def run(args) -> int:
    d = Path(args.run_dir)
    if not (d / "results.json").exists():
        raise errors.BadInput(f"no results.json in {d}: run the suite first (make test)")
    rep = signoff.write(d)
    print(f"verdict: {rep.verdict}")
    for reason in rep.reasons:
        print(f"  {reason}")
    print(f"report: {d / signoff.MD_NAME}")
    print(f"        {d / signoff.HTML_NAME}")
    if rep.verdict != signoff.SIGNOFF:
        bad = rep.counts["total_ids"] - rep.counts.get("signed_ids", rep.counts["ids"].get("passed", 0))
        reason = f"{bad} of {rep.counts['total_ids']} IDs are not signed off on this target"
        raise errors.Refused(errors.SIGNOFF_REFUSED.format(reason=reason))
    return 0


def register_release(sub) -> None:
    p = sub.add_parser("signoff-release", help="combine the offline, rehearsal and live runs of one commit "
                                               "into one signed release verdict")
    p.add_argument("--commit", required=True, help="the full 40-hex commit SHA every run must be of")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="reports/<run-id> directories of that commit")
    p.add_argument("--out", help="report directory (default: reports/release-<sha12>)")
    p.set_defaults(func=run_release)
    p = sub.add_parser("signoff-verify", help="check a release report's signature against the release public key")
    p.add_argument("report", help="a release report directory or its release.json")
    p.add_argument("--public-key", help=f"PEM public key (default: {signing.PUBLIC_KEY_FILE.relative_to(config.ROOT)})")
    p.set_defaults(func=run_verify)
    p = sub.add_parser("signoff-keygen", help="make a release key pair: the private key to a new 0600 file, "
                                              "the public key printed")
    p.add_argument("--private-key-out", required=True, help="a new file for the private key (never overwritten)")
    p.set_defaults(func=run_keygen)


def run_release(args) -> int:
    commit = release.validate_commit(args.commit)
    key = signing.signing_key()  # before any work: a malformed key fails first
    out = Path(args.out) if args.out else release.default_dir(commit)
    report = release.write(release.build(commit, [Path(d) for d in args.run_dirs]), key, out)
    print(f"release verdict: {report['verdict']} ({commit})")
    for line in report["reasons"] + report["notes"]:
        print(f"  {line}")
    print(f"signed: {report['signing']['fingerprint']} ({report['signing']['key']})")
    if key.throwaway:
        print(f"  {signing.THROWAWAY_NOTE} (set {signing.KEY_ENV} to sign a release)")
    print(f"report: {out / release.REPORT_NAME}")
    print(f"        {out / release.MD_NAME}")
    print(f"        {out / release.SIG_NAME}")
    if report["verdict"] != release.SIGNOFF:
        reason = f"the release is {report['verdict']}: {len(report['reasons'])} reason(s) in {out / release.MD_NAME}"
        raise errors.Refused(errors.SIGNOFF_REFUSED.format(reason=reason))
    return 0


def run_verify(args) -> int:
    report, sig, path = release.load_signed(Path(args.report))
    trusted = signing.load_public(Path(args.public_key) if args.public_key else signing.PUBLIC_KEY_FILE)
    result = signing.check(report, sig, trusted)
    if not result.ok:
        raise errors.Refused(f"{path}: {result.line}")
    print(f"{path}: {result.line}; release {report.get('verdict')} of {report.get('commit')}")
    return 0


def run_keygen(args) -> int:
    key = signing.Ed25519PrivateKey.generate()
    signing.write_private(Path(args.private_key_out), key)
    print(signing.public_pem(key.public_key()), end="")
    return 0
