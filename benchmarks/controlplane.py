"""Warm start of the local control plane and a 2-replica Deployment from apply to Ready.

    .venv/bin/python benchmarks/controlplane.py [--runs 3]

Starts its own control plane(s) in a temporary directory (binaries must be
built: `provision local build`) and stops them afterwards; prints
`name: value unit` lines for benchmarks/run.py.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import emit  # noqa: E402

from provision.findings import failed, passed, wait_until  # noqa: E402
from provision.kube import kubectl  # noqa: E402
from provision.local import controlplane, stack  # noqa: E402


def deployment(name: str) -> str:
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{
                                  "name": "app", "image": "nginx:1.27",
                                  "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}})


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    starts, rollouts = [], []
    with tempfile.TemporaryDirectory(prefix="ctl-bench-cp-") as tmp:
        for i in range(args.runs):
            d = Path(tmp) / f"run{i}"
            t0 = time.monotonic()
            with controlplane.temporary(d) as info:
                starts.append(time.monotonic() - t0)
                t = stack.target({"components": {"controlplane": info}})
                t1 = time.monotonic()
                kubectl.run(t, ["apply", "-f", "-"], input=deployment("bench"))

                def ready(t=t):
                    s = kubectl.get_json(t, ["deployment", "bench"]).get("status", {})
                    n = s.get("readyReplicas", 0)
                    return passed("ready") if n == 2 else failed("ready", "2", str(n))

                wait_until("2 ready replicas", ready, 60, 0.05)
                rollouts.append(time.monotonic() - t1)
    emit("controlplane.warm_start", statistics.median(starts), "s",
         note=f"median of {args.runs}, max {max(starts):.1f} s (etcd + apiserver + controllers + kwok, built)")
    emit("controlplane.deployment_2_replicas", statistics.median(rollouts), "s",
         note=f"apply -> 2 Ready replicas, median of {args.runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
