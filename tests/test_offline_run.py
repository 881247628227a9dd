"""The deploy job's replay (provision/ci/offline_run.py): `aws eks update-kubeconfig` is emulated as the
AWS CLI behaves, and no step inherits a KUBECONFIG the workflow does not set up. The replay is what caught
the first live deploy's "KUBECONFIG is not set": the runner has no KUBECONFIG, only ~/.kube/config."""
from pathlib import Path

import pytest

from provision import config
from provision.ci import offline_run
from provision.ci.workflow_model import Workflow

pytestmark = [pytest.mark.offline, pytest.mark.unit]

CLUSTER, REGION = "c1", "us-east-1"


def _eks(tmp_path):
    k = tmp_path / "eks-kubeconfig"
    k.write_text("apiVersion: v1\nkind: Config\nclusters: []\n")
    return str(k)


def test_update_kubeconfig_writes_where_the_aws_cli_writes(tmp_path):
    eks, home = _eks(tmp_path), tmp_path / "home"
    argv = ["aws", "eks", "update-kubeconfig", "--name", CLUSTER, "--region", REGION]
    assert offline_run.update_kubeconfig(argv, {"HOME": str(home)}, eks, CLUSTER, REGION)[0] == 0
    assert (home / ".kube" / "config").read_text() == (tmp_path / "eks-kubeconfig").read_text()
    there = tmp_path / "k"
    code, out = offline_run.update_kubeconfig([*argv, "--kubeconfig", str(there)], {"HOME": str(home)}, eks,
                                              CLUSTER, REGION)
    assert code == 0 and there.exists() and str(there) in out
    code, _ = offline_run.update_kubeconfig(argv, {"HOME": str(home), "KUBECONFIG": f"{tmp_path / 'kc'}:/x"},
                                            eks, CLUSTER, REGION)
    assert code == 0 and (tmp_path / "kc").exists()


def test_update_kubeconfig_for_another_cluster_or_region_fails_as_the_aws_cli_does(tmp_path):
    eks = _eks(tmp_path)
    code, out = offline_run.update_kubeconfig(["aws", "eks", "update-kubeconfig", "--name", "other", "--region",
                                               REGION], {"HOME": str(tmp_path)}, eks, CLUSTER, REGION)
    assert code == 254 and "ResourceNotFoundException" in out
    code, _ = offline_run.update_kubeconfig(["aws", "eks", "update-kubeconfig", "--name", CLUSTER, "--region",
                                             "eu-west-1"], {"HOME": str(tmp_path)}, eks, CLUSTER, REGION)
    assert code == 254


def _job(steps):
    doc = {"name": "w", "on": {"push": {}}, "jobs": {"deploy": {"runs-on": "x", "steps": steps}}}
    return Workflow("w", Path("w.yml"), "", doc)


def test_a_job_without_the_kubeconfig_step_gets_no_kubeconfig_from_the_harness(tmp_path, monkeypatch):
    # seeded fault: the workflow forgets `aws eks update-kubeconfig`; the target's kubeconfig must not leak in
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "from-the-test-process"))
    eks = _eks(tmp_path)
    check = {"name": "needs kube", "run": "provision app status --env dev"}
    runs, _ = offline_run.run_job(_job([check]), "deploy", {"KUBECONFIG": eks, "AWS_REGION": REGION}, {},
                                  cluster=CLUSTER)
    assert runs[0].returncode == 4 and "no kubeconfig" in runs[0].output
    f = offline_run.judge(runs, [])
    assert not f and "needs kube exited 4" in f.actual


def test_step_outputs_reach_later_steps_and_the_kubeconfig_step_resolves_them(tmp_path):
    eks = _eks(tmp_path)
    steps = [{"id": "settings", "name": "Read settings", "run": 'python -m provision.ci.outputs --env dev '
              '>> "$GITHUB_OUTPUT"'},
             {"name": "Kubeconfig", "env": {"CLUSTER": "${{ steps.settings.outputs.cluster }}",
                                            "REGION": "${{ steps.settings.outputs.region }}"},
              "run": 'aws eks update-kubeconfig --name "$CLUSTER" --region "$REGION"'}]
    env = config.Environment.named("dev")
    region = config.settings()["aws"]["region"]
    runs, _ = offline_run.run_job(_job(steps), "deploy", {"KUBECONFIG": eks, "AWS_REGION": region}, {},
                                  cluster=env.cluster_name)
    assert [r.returncode for r in runs] == [0, 0], [r.output for r in runs]
    assert runs[1].argv[4] == env.cluster_name
