"""kubectl as a backend: argument lists in, a result with argv/returncode/stdout/stderr out."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from .. import errors
from ..config import Target
from ..local import build

DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __repr__(self) -> str:  # command, exit code and the stderr that explains it
        return f"Result(argv={' '.join(self.argv)!r}, returncode={self.returncode}, stderr={self.stderr[-300:]!r})"

    def json(self):
        return json.loads(self.stdout)


class KubectlError(errors.ProvisionError):
    """kubectl exited non-zero; carries the command, exit code and stderr."""

    def __init__(self, result: Result):
        first = (result.stderr.strip().splitlines() or ["(no stderr)"])[0]
        super().__init__(f"kubectl {' '.join(result.argv[1:])[:200]} exited {result.returncode}: {first}",
                         evidence=tuple(result.stderr.strip().splitlines()[:20]))
        self.result = result


def run(target: Target | None, args: list[str], input: str | None = None, check: bool = True,
        timeout: float = DEFAULT_TIMEOUT) -> Result:
    """kubectl with the target's environment; target None for what needs no cluster (kustomize)."""
    argv = [str(build.kubectl()), *args]
    env = {**os.environ, **(target.env() if target else {})}
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        res = Result(tuple(argv), -1, exc.stdout or "", f"timed out after {timeout:.0f}s")
        raise KubectlError(res) from None
    res = Result(tuple(argv), p.returncode, p.stdout, p.stderr)
    if check and p.returncode != 0:
        raise KubectlError(res)
    return res


def get_json(target: Target, args: list[str], check: bool = True):
    return run(target, ["get", *args, "-o", "json"], check=check).json()
