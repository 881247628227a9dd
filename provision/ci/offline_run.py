"""Run the deploy job's CLI steps, exactly as the workflow writes them, against a target.

Steps that call `provision` (or `python -m provision...`) run as subprocesses
from argument lists (shlex-split, `$VAR` taken from the step's env with the
workflow expressions resolved for one push to main; `steps.<id>.outputs.<k>`
from what earlier steps wrote to $GITHUB_OUTPUT). `aws eks update-kubeconfig`
is emulated as the AWS CLI behaves: it writes the target's EKS-shaped
kubeconfig where the real command would (`--kubeconfig`, else the first path
of $KUBECONFIG, else ~/.kube/config of the job's own $HOME), and fails when
`--name`/`--region` are not the cluster's. The job's steps never inherit a
KUBECONFIG the workflow does not set: a step that finds none fails here as it
would on the runner. Steps of other tools (checkout, buildx, Docker Hub) cannot
run offline: they are named as gaps; the target's AWS_ENDPOINT_URL stands in.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..findings import Finding, failed, passed
from .workflow_model import Workflow, env_of, run_lines

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
UNRESOLVED = "step {step!r}: cannot resolve {expr!r} for an offline run"


@dataclass
class StepRun:
    name: str
    argv: list[str]
    returncode: int
    output: str


def context(sha: str, env: str = "dev", run_id: str = "1") -> dict[str, str]:
    """Values of the workflow expressions for one push to main."""
    return {"github.sha": sha, "inputs.environment || 'dev'": env, "inputs.environment": env,
            "github.run_id": run_id, "github.run_attempt": "1"}


def _resolve(value, ctx: dict, step: str) -> str:
    def one(m):
        # secrets.X / vars.X: what the target gives the job (its identity's token), else unset
        if re.fullmatch(r"(secrets|vars)\.[A-Za-z_][A-Za-z0-9_]*", m.group(1)):
            return ctx.get(m.group(1), "")
        if m.group(1) not in ctx:
            raise ValueError(UNRESOLVED.format(step=step, expr=m.group(0)))
        return ctx[m.group(1)]
    return _EXPR.sub(one, str(value))


def _expand(word: str, env: dict[str, str]) -> str:
    """`$VAR` / `${VAR}` from the step's env; unknown ones stay as written."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), word)


_CLI = re.compile(r"^(provision |python -m provision\b)")
_UPDATE_KUBECONFIG = re.compile(r"^aws eks update-kubeconfig\b")


def cli_steps(wf: Workflow, job_id: str) -> tuple[list[tuple[str, str, dict, str]], list[str]]:
    """(name, command line, env, step id) of the job's provision and update-kubeconfig steps, and the
    names of the others."""
    runs, others = [], []
    for j, i, step in wf.steps():
        if j != job_id:
            continue
        name = step.get("name") or step.get("uses") or f"step {i}"
        lines = run_lines(step)
        if len(lines) == 1 and (_CLI.match(lines[0]) or _UPDATE_KUBECONFIG.match(lines[0])):
            runs.append((name, lines[0], env_of(wf, job_id, step), str(step.get("id") or "")))
        elif not (step.get("if") and "always()" in str(step.get("if"))):
            others.append(name)
    return runs, others


def _outputs(path: Path, step_id: str) -> dict[str, str]:
    """`steps.<id>.outputs.<k>` of what a step appended to $GITHUB_OUTPUT (k=v lines)."""
    if not step_id or not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {f"steps.{step_id}.outputs.{k}": v for k, v in pairs}


def update_kubeconfig(argv: list[str], env: dict[str, str], eks_kubeconfig: str, cluster: str,
                      region: str) -> tuple[int, str]:
    """`aws eks update-kubeconfig` as the AWS CLI does it: (exit status, output)."""
    opts = dict(zip(argv[3::2], argv[4::2], strict=False))
    if opts.get("--name") != cluster:
        return 254, (f"An error occurred (ResourceNotFoundException) when calling the DescribeCluster operation: "
                     f"No cluster found for name: {opts.get('--name')}.")
    if opts.get("--region", env.get("AWS_REGION")) != region:
        return 254, f"No cluster found for name: {cluster} in region {opts.get('--region')}."
    dest = opts.get("--kubeconfig") or (env.get("KUBECONFIG") or "").split(os.pathsep)[0] \
        or str(Path(env["HOME"]) / ".kube" / "config")
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    Path(dest).write_text(Path(eks_kubeconfig).read_text())
    return 0, f"Added new context for {cluster} to {dest}"


def run_job(wf: Workflow, job_id: str, target_env: dict[str, str],
            ctx: dict[str, str], cluster: str = "") -> tuple[list[StepRun], list[str]]:
    """Run the job's steps in order until one fails. `target_env` holds the job's credentials and the
    target's endpoints; its KUBECONFIG is what `aws eks update-kubeconfig` would write, never inherited."""
    runs, others = cli_steps(wf, job_id)
    done = []
    ctx = dict(ctx)
    eks_kubeconfig = target_env.get("KUBECONFIG", "")
    inherited = {k: v for k, v in {**os.environ, **target_env}.items() if k != "KUBECONFIG"}
    with tempfile.TemporaryDirectory() as tmp:
        github_output = Path(tmp) / "github_output"
        home = Path(tmp) / "home"  # the runner's HOME: ~/.kube/config lands here
        home.mkdir()
        for name, line, env, step_id in runs:
            step_env = {k: _resolve(v, ctx, name) for k, v in env.items()}
            step_env["GITHUB_OUTPUT"] = str(github_output)
            full_env = {**inherited, "HOME": str(home), **step_env}
            words = shlex.split(line)
            redirect = None
            if len(words) >= 2 and words[-2] == ">>":
                redirect, words = words[-1], words[:-2]
            argv = [_expand(w, step_env) for w in words]
            if argv[:3] == ["aws", "eks", "update-kubeconfig"]:
                code, out = update_kubeconfig(argv, full_env, eks_kubeconfig, cluster,
                                              full_env.get("AWS_REGION", ""))
                done.append(StepRun(name, argv, code, out))
                if code != 0:
                    break
                continue
            if argv[0] == "provision":
                argv[0] = str(Path(sys.executable).with_name("provision"))
            elif argv[0] == "python":
                argv[0] = sys.executable
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=full_env)
            if redirect:
                out = Path(_expand(redirect, step_env))
                with out.open("a") as f:
                    f.write(proc.stdout)
            ctx.update(_outputs(github_output, step_id))
            done.append(StepRun(name, argv, proc.returncode, (proc.stdout + proc.stderr)[-2000:]))
            if proc.returncode != 0:
                break
    return done, others


def judge(runs: list[StepRun], others: list[str]) -> Finding:
    subject = "the deploy job's CLI steps, run as written against the target"
    evidence = [f"{r.name}: exit {r.returncode}: {' '.join([Path(r.argv[0]).name, *r.argv[1:]])}" for r in runs]
    gaps = tuple(f"not run offline: workflow step {n!r} (GitHub-hosted tool or service); "
                 "the target's AWS_ENDPOINT_URL stands in" for n in others)
    bad = [r for r in runs if r.returncode != 0]
    if not runs:
        return failed(subject, "at least one provision step", "none", gaps=gaps)
    if bad:
        return failed(subject, "every step exits 0", f"{bad[0].name} exited {bad[0].returncode}",
                      evidence + bad[0].output.splitlines()[-8:], gaps)
    return passed(subject, "every step exits 0", f"{len(runs)} steps exit 0", evidence, gaps)
