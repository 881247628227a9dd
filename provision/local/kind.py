"""`--cluster kind`: a kind cluster instead of the local control plane.

For machines with a Docker engine (GitHub's hosted runners). kind itself is
built from its Go module on first use into the cache, like every other tool;
the node image is the kindest/node of the pinned Kubernetes version.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .. import config, errors

NEEDS_DOCKER = "--cluster kind needs a running Docker engine: `docker info` failed ({detail})"


def kind_binary() -> Path:
    version = config.versions()["kind"]
    out = config.CACHE_DIR / "bin" / f"kind-{version}"
    path = out / "kind"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(["go", "install", f"sigs.k8s.io/kind@v{version}"], check=True,
                       env={**os.environ, "GOBIN": str(out), "CGO_ENABLED": "0"})
    return path


def preflight() -> None:
    try:
        proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.TargetUnavailable(NEEDS_DOCKER.format(detail=type(exc).__name__)) from None
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise errors.TargetUnavailable(NEEDS_DOCKER.format(detail=detail))


def up(name: str, state_dir: Path, progress=print) -> dict:
    preflight()
    kubeconfig = Path(state_dir) / "kind.kubeconfig"
    image = f"kindest/node:v{config.versions()['kubernetes']}"
    progress(f"creating kind cluster {name} ({image})")
    subprocess.run([str(kind_binary()), "create", "cluster", "--name", name, "--image", image,
                    "--kubeconfig", str(kubeconfig), "--wait", "180s"], check=True)
    return {"kubeconfig": str(kubeconfig), "kind_cluster": name}


def down(name: str) -> None:
    subprocess.run([str(kind_binary()), "delete", "cluster", "--name", name], check=False)
