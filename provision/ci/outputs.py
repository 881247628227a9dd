"""The settings a workflow step needs, as `key=value` lines for $GITHUB_OUTPUT.

Workflows never restate settings.yaml (region, cluster, image names): a step
runs `python -m provision.ci.outputs --env <env> >> "$GITHUB_OUTPUT"` and later
steps read `steps.<id>.outputs.<key>`. The workflow checks resolve those
references through the same function.
"""
from __future__ import annotations

import argparse
import sys

from .. import config, errors


def values(env: str) -> dict[str, str]:
    """Settings of one environment that the workflows use (nothing secret)."""
    s = config.settings()
    e = config.environment(env)
    return {
        "environment": e["name"],
        "region": s["aws"]["region"],
        "cluster": e["cluster_name"],
        "web_image": s["images"]["web"],
        "api_image": s["images"]["api"],
        "session_seconds": str(s["github"]["session_seconds"]),
        # What the repository variables AWS_DEPLOY_ROLE_ARN(_PROD) and
        # AWS_VERIFY_ROLE_ARN hold: the roles of provision/cloudformation/iam.yaml.
        "deploy_role_arn": role_arn(env, "deploy"),
        "verify_role_arn": role_arn(env, "verify"),
    }


def role_arn(env: str, kind: str) -> str:
    """ARN of the GitHub OIDC role `kind` (deploy|verify) named as iam.yaml names it."""
    s = config.settings()
    name = config.environment(env)["name"]
    return f"arn:aws:iam::{s['aws']['account_id']}:role/{s['project']}-{name}-github-{kind}"


def lines(env: str) -> list[str]:
    return [f"{k}={v}" for k, v in values(env).items()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m provision.ci.outputs",
                                description="Print settings of one environment as key=value lines for $GITHUB_OUTPUT.")
    p.add_argument("--env", required=True, help="environment of settings.yaml (e.g. dev)")
    args = p.parse_args(argv)
    try:
        out = lines(args.env)
    except errors.ProvisionError as exc:
        print(f"provision.ci.outputs: {exc}", file=sys.stderr)
        return exc.exit_code
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
