"""The manifest rules: rendered kustomizations and plain manifest files, the secret scan over every file."""
from __future__ import annotations

from pathlib import Path

from .. import config, errors
from ..kube import checks, hardening, rbac, render, schema, secret_scan
from .discover import Inputs
from .issues import GENERIC, POLICY, Issue, Rule, from_finding

RULES = [
    (Rule("k8s.schema", "manifests", GENERIC, "every object validates against the Kubernetes OpenAPI schema"),
     lambda objs, s: schema.check_schema(_standard(objs), _version(s))),
    (Rule("k8s.resources", "manifests", GENERIC, "every container declares cpu/memory requests and limits"),
     lambda objs, s: checks.check_resources(objs)),
    (Rule("k8s.probes", "manifests", GENERIC, "every serving container has readiness and liveness probes"),
     lambda objs, s: checks.check_probes(objs)),
    (Rule("k8s.image-pinned", "manifests", GENERIC, "no image is untagged or :latest"),
     lambda objs, s: checks.check_images_pinned(objs)),
    (Rule("k8s.restricted", "manifests", GENERIC, "containers meet Pod Security restricted (non-root, drop ALL, "
          "seccomp)"), lambda objs, s: checks.check_restricted(objs)),
    (Rule("k8s.pdb", "manifests", GENERIC, "every multi-replica workload has a PodDisruptionBudget"),
     lambda objs, s: checks.check_pdbs(objs)),
    (Rule("k8s.read-only-root", "manifests", GENERIC, "readOnlyRootFilesystem: true on every container"),
     lambda objs, s: hardening.check_read_only_root(objs)),
    (Rule("k8s.sa-token", "manifests", GENERIC, "automountServiceAccountToken false where no binding grants the "
          "pod's ServiceAccount anything"), lambda objs, s: hardening.check_service_account_token(objs)),
    (Rule("k8s.privileged", "manifests", GENERIC, "no privileged container, allowPrivilegeEscalation: false"),
     lambda objs, s: hardening.check_privileged(objs)),
    (Rule("k8s.host-access", "manifests", GENERIC, "no hostNetwork, hostPID, hostIPC or hostPath"),
     lambda objs, s: hardening.check_host_access(objs)),
    (Rule("k8s.rbac", "manifests", GENERIC, "no Role/ClusterRole lets its holders read Secrets or escalate "
          "(*, bind, escalate, impersonate, create pods/exec)"), lambda objs, s: rbac.check_static_rbac(objs)),
    (Rule("k8s.portable", "manifests", POLICY, "no AWS-only or non-standard kind (R4.1)"),
     lambda objs, s: checks.check_portable(objs)),
]
APP_RULES = [   # this project's policy on the app overlays of its settings
    (Rule("k8s.image-sources", "manifests", POLICY, "app images only from the settings' Docker Hub repositories"),
     checks.check_image_sources),
    (Rule("k8s.secret-refs", "manifests", POLICY, "the app reads its Secret only by reference; no Secret carries "
          "values"), checks.check_secret_refs),
    (Rule("k8s.workloads-defined", "manifests", POLICY, "the settings' workloads, services, ingress, config "
          "are defined"), lambda objs, s: checks.check_workloads_defined(objs, s["kubernetes"])),
]
CLUSTER_RULES = [
    (Rule("k8s.addon-versions", "manifests", POLICY, "cluster add-on images carry the settings' versions"),
     lambda objs, s: checks.check_pinned_versions(objs, s["versions"])),
]
SECRET_RULE = Rule("secret.value", "secrets", GENERIC, "no file holds a known token format or a Secret with real "
                   "values (empty, ${VAR} and placeholders are not secrets)")
RENDER_RULE = Rule("input.render", "input", GENERIC, "every kustomization renders")
MALFORMED_RULE = Rule("input.malformed", "input", GENERIC, "every input file parses")


def _standard(objects: list[dict]) -> list[dict]:
    """Objects of Kubernetes' own API groups: a custom resource has no schema here (k8s.portable names it)."""
    return [o for o in objects if str(o.get("apiVersion", "")).rpartition("/")[0] in checks.STANDARD_GROUPS]


def _version(settings: dict | None) -> str:
    return str(((settings or {}).get("versions") or {}).get("kubernetes") or config.versions()["kubernetes"])


def _overlays(inputs: Inputs, key: str) -> set[Path]:
    if not inputs.settings or not inputs.settings_path:
        return set()
    base = inputs.settings_path.parent
    return {(base / e[key]).resolve() for e in (inputs.settings.get("environments") or {}).values() if e.get(key)}


def object_sets(inputs: Inputs) -> tuple[list[tuple[str, Path, list[dict]]], list[Issue]]:
    """(name, where, objects) per rendered root and one set of the plain files; render failures as issues."""
    sets, issues = [], []
    for k in inputs.kustomizations:
        try:
            sets.append((inputs.rel(k), k, render.render_dir(k)))
        except errors.ProvisionError as exc:
            issues.append(Issue(RENDER_RULE.id, str(exc).replace(str(k), inputs.rel(k))[:300], inputs.rel(k)))
    plain = [o for objs in inputs.manifests.values() for o in objs]
    if plain:
        sets.append(("plain manifests", inputs.root, plain))
    return sets, issues


def run(inputs: Inputs) -> list[Issue]:
    sets, issues = object_sets(inputs)
    apps, clusters = _overlays(inputs, "overlay"), _overlays(inputs, "cluster_overlay")

    def locate(where: Path):
        def at(msg: str) -> tuple[str, int]:
            hit = inputs.index.get(msg.split(":", 1)[0].split(" ", 1)[0])
            return (inputs.rel(hit[0]), hit[1]) if hit else (inputs.rel(where), 0)
        return at

    for _name, where, objs in sets:
        rules = list(RULES if inputs.settings else [r for r in RULES if r[0].scope == GENERIC])
        if inputs.settings and Path(where).resolve() in apps:
            rules += APP_RULES
        if inputs.settings and Path(where).resolve() in clusters:
            rules += CLUSTER_RULES
        for rule, fn in rules:
            issues += from_finding(rule.id, fn(objs, inputs.settings), locate(where))
    return issues


def scan_secrets(inputs: Inputs, files: list[Path]) -> list[Issue]:
    """The secret scan over `files` (this project's Secret name tagged when settings are given)."""
    name = ((inputs.settings or {}).get("kubernetes") or {}).get("secret", "")
    f = secret_scan.check_no_secrets_in_files(inputs.root, [inputs.rel(p) for p in files], name)
    return from_finding(SECRET_RULE.id, f, lambda msg: _secret_place(inputs, msg))


def _secret_place(inputs: Inputs, msg: str) -> tuple[str, int]:
    file, _, rest = msg.partition(": Secret ")
    hit = inputs.index.get(f"Secret/{rest.split(' ', 1)[0]}") if rest else None
    return (inputs.rel(hit[0]), hit[1]) if hit and inputs.rel(hit[0]) == file else (file, 0)


def malformed(inputs: Inputs, files: dict[Path, str]) -> list[Issue]:
    return [Issue(MALFORMED_RULE.id, why, inputs.rel(p)) for p, why in files.items()]
