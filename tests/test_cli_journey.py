"""The offline journey from the command line alone, as the README shows it, on a stack of its own:

    provision local up; eval its export lines
    provision stacks up --env dev
    provision cluster bootstrap --env dev          (again: nothing to write)
    provision app deploy --env dev --image-tag <sha>
    provision verify --env dev                     exit 0

Through the console script, as a user types it (slow: one test)."""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from provision import config
from provision.kube import bootstrap

pytestmark = [pytest.mark.offline]

PROVISION = Path(sys.executable).parent / "provision"


def test_the_offline_journey_from_the_cli_alone_ends_green(tmp_path):
    # Not under pytest's tmp dir (0700): PostgreSQL runs as its own user (as tests/test_backup_cli.py does).
    state = config.CACHE_DIR / "runs" / f"journey-{secrets.token_hex(4)}" / "stack"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBECONFIG", "CLOUDFLARE_", "CTL_"))}
    env["CTL_AUDIT_FILE"] = str(tmp_path / "audit.jsonl")  # out of the real trail

    def provision(*argv: str) -> subprocess.CompletedProcess:
        p = subprocess.run([str(PROVISION), *argv], capture_output=True, text=True, env=env, timeout=600)
        assert "Traceback" not in p.stderr, p.stderr
        return p

    try:
        up = provision("local", "up", "--dir", str(state))
        assert up.returncode == 0, up.stderr
        env.update(line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines())  # the user's eval
        stacks = provision("stacks", "up", "--env", "dev")
        assert stacks.returncode == 0, stacks.stderr
        sha = secrets.token_hex(20)
        early = provision("app", "deploy", "--env", "dev", "--image-tag", sha)  # before the operator's step
        assert early.returncode != 0 and len(early.stderr.splitlines()) == 1, early.stderr
        first = provision("cluster", "bootstrap", "--env", "dev")
        assert first.returncode == 0 and bootstrap.NOTHING_TO_DO not in first.stdout, first.stdout + first.stderr
        # the offline target declares it has no real secret source and no volume provisioner: both are made
        for step in ("cluster identity", "app namespace", "cluster overlay", "generated secret source",
                     "pre-bound volumes"):
            assert f"bootstrap: {step}" in first.stdout
        again = provision("cluster", "bootstrap", "--env", "dev")
        assert again.returncode == 0 and again.stdout.splitlines()[-1] == bootstrap.NOTHING_TO_DO, again.stdout
        deploy = provision("app", "deploy", "--env", "dev", "--image-tag", sha)
        assert deploy.returncode == 0, deploy.stderr
        verify = provision("verify", "--env", "dev")
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        provision("local", "down", "--dir", str(state))
        shutil.rmtree(state.parent, ignore_errors=True)
