"""Settings (the one source of truth) and the Target every function receives."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import yaml

from . import errors

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "settings.yaml"
REPORTS_DIR = ROOT / "reports"


@cache
def settings() -> dict:
    return yaml.safe_load(SETTINGS_FILE.read_text())


# Build and run caches of the harness, per user; named after the project.
CACHE_DIR = Path(os.environ.get("CTL_CACHE_DIR") or Path.home() / ".cache" / settings()["project"])


def versions() -> dict:
    return settings()["versions"]


def environments() -> list[str]:
    return list(settings()["environments"])


def environment(name: str) -> dict:
    """One environment's settings as a plain dict (prefer `Environment.named`)."""
    envs = settings()["environments"]
    if name not in envs:
        raise errors.BadInput(errors.UNKNOWN_ENV.format(env=name, known=", ".join(envs)))
    return {"name": name, **envs[name]}


@dataclass(frozen=True)
class Environment:
    """One environment (dev, prod): its settings, how its stacks and cluster are named.

    The one shape of an environment: the CLI, stacks, cost, deploy and DNS take
    it. A suffix names a separate copy (stack prefix and cluster name), so
    tests on one shared emulator do not meet each other's resources.
    `env["key"]` reads a value of its settings.
    """

    name: str
    values: dict = field(repr=False, compare=False)
    project: str = ""
    template_dir: Path | None = None

    @classmethod
    def named(cls, name: str, suffix: str | None = None, overrides: dict | None = None,
              template_dir: Path | None = None) -> Environment:
        """BadInput (nothing changed) for an unknown name."""
        values = environment(name)
        project = settings()["project"]
        if suffix:
            project = f"{project}-{suffix}"
            values["cluster_name"] = f"{values['cluster_name']}-{suffix}"
        values.update(overrides or {})
        values["project"] = project
        return cls(name, values, project, Path(template_dir) if template_dir else None)

    def __getitem__(self, key: str):
        return self.values[key]

    def get(self, key: str, default=None):
        return self.values.get(key, default)

    @property
    def settings(self) -> dict:  # the values, as the stacks code has always called them
        return self.values

    @property
    def prefix(self) -> str:
        return self.project

    @property
    def cluster_name(self) -> str:
        return self.values["cluster_name"]

    @property
    def node_group(self) -> str:
        return self.values["node_group"]

    @property
    def overlay(self) -> Path:
        return ROOT / self.values["overlay"]

    @property
    def cluster_overlay(self) -> Path:
        return ROOT / self.values["cluster_overlay"]

    def stack_name(self, stack: str) -> str:
        return f"{self.project}-{self.name}-{stack}"


# The whole tag, nothing after it: `$` with re.match would accept a trailing newline.
SHA_RE = re.compile(r"[0-9a-f]{40}")


def validate_image_tag(tag: str) -> str:
    if not isinstance(tag, str) or not SHA_RE.fullmatch(tag):
        raise errors.BadInput(errors.INVALID_IMAGE_TAG.format(tag=tag))
    return tag


class Secret(str):
    """A string that never shows itself in repr, logs or reports."""

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True)
class Target:
    """Endpoints and credentials of one target; steps never ask for its name.

    `name` is recorded in reports only. AWS_ENDPOINT_URL and KUBECONFIG carry
    most of it, so subprocesses (kubectl, the CLI) see the same target.
    """

    name: str
    region: str
    account_id: str
    aws_endpoint_url: str | None = None
    kubeconfig: str | None = None
    dns_server: tuple[str, int] | None = None  # None: the system resolver
    cloudflare_api: str = "https://api.cloudflare.com/client/v4"
    cloudflare_token: Secret = field(default=Secret(""), repr=False)
    cloudflare_zone: str = ""
    domains: tuple[str, ...] = ()
    ca_bundle: str | None = None
    https_port: int = 443  # where the app's domains answer HTTPS (offline: the edge's port)
    # The load balancer the domains must lead to, when the target fixes it (offline: the
    # edge's, with the named gap "ingress-load-balancer"); None: read from the Ingress's status.
    load_balancer_hostname: str | None = None
    oidc_issuer_url: str | None = None
    postgres_dsn: Secret = field(default=Secret(""), repr=False)
    namespace: str = ""  # the app's namespace; every Target builder reads it from settings
    # The one environment whose roles a run holds (live and rehearsal: the nightly job's,
    # settings github.nightly_environment); '' when the run may act on any (offline).
    environment: str = ""
    # Capabilities the target cannot show; a check needing one reports
    # "not verifiable on this target" with this reason.
    cannot: dict = field(default_factory=dict)
    # The evidence grade of what each external system answers on this target
    # (aws, kube, pods, cloudflare, dns, tls, postgres, oidc): live is all real.
    grades: dict = field(default_factory=dict)
    # Named gaps of this target's stand-ins (key -> the text reports show);
    # real-system modules read them here, never from the stand-ins' modules.
    gaps: dict = field(default_factory=dict)
    # Offline only: each local component's own details (e.g. etcd endpoints
    # for reading raw values); empty on the live target.
    local: dict = field(default_factory=dict, repr=False)

    def with_(self, **changes) -> Target:
        return replace(self, **changes)

    def grade(self, system: str) -> str:
        """The evidence grade of what `system` answers here; real unless the target says otherwise."""
        return self.grades.get(system, "real")

    def not_held(self, env_name: str) -> str | None:
        """Why this run cannot act on environment `env_name` (None when it can): a run that holds one
        environment's roles, scoped to that environment's resources, cannot read another's."""
        if not self.environment or env_name == self.environment:
            return None
        return (f"this run holds the {self.environment} environment's roles only (github.nightly_environment); "
                f"{env_name} is verified by a run holding {env_name}'s verify role, on its own runner")

    def gap(self, key: str) -> str | None:
        """The text of a named gap of this target, or None when the target has no such gap."""
        return self.gaps.get(key)

    def env(self) -> dict[str, str]:
        """Environment variables that point a subprocess at this target."""
        out = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.aws_endpoint_url:
            out["AWS_ENDPOINT_URL"] = self.aws_endpoint_url
        if self.kubeconfig:
            out["KUBECONFIG"] = self.kubeconfig
        return out


# Live settings: environment variable -> what it is. Missing ones refuse the run.
LIVE_REQUIRED = {
    "KUBECONFIG": "kubeconfig of the EKS cluster (aws eks update-kubeconfig)",
    "CLOUDFLARE_API_TOKEN": "Cloudflare API token with DNS read on the zone",
    "CLOUDFLARE_ZONE_ID": "Cloudflare zone id of the domain",
}


def live_target(environ: dict | None = None) -> Target:
    environ = dict(os.environ if environ is None else environ)
    s = settings()
    for name, how in LIVE_REQUIRED.items():
        if not environ.get(name):
            raise errors.TargetUnavailable(errors.MISSING_SETTING.format(name=name, how=how))
    return Target(
        name="live",
        region=environ.get("AWS_REGION", s["aws"]["region"]),
        account_id=s["aws"]["account_id"],
        kubeconfig=environ["KUBECONFIG"],
        cloudflare_token=Secret(environ["CLOUDFLARE_API_TOKEN"]),
        cloudflare_zone=environ["CLOUDFLARE_ZONE_ID"],
        environment=s["github"]["nightly_environment"],
        domains=tuple(s["domains"]["names"]),
        namespace=s["kubernetes"]["namespace"],
        # Optional: the in-cluster postgres through a port-forward (docs/disaster-recovery.md);
        # without it the live DR check reports "not verifiable" with the reason.
        postgres_dsn=Secret(environ.get(s.get("backup", {}).get("live_dsn_env", "CTL_LIVE_PG_DSN"), "")),
        cannot={
            "seeded_faults": "seeded faults are injected only on the offline target; "
                             "the live target is never broken on purpose",
            "test_deploys": "test versions (random SHAs with no pushed image) are deployed only on the offline target",
            "aws_writes": "the nightly job's role is read-only: it reads the stacks the deploy side applied",
            "fidelity_faults": "the rehearsal's fidelity faults seed copies of the jobs' rights with the rehearsal's "
                               "operator; the live account is never broken on purpose",
        },
    )
