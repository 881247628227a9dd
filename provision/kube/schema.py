"""Manifests against the OpenAPI schema of the pinned Kubernetes minor, offline
(kubernetes-validate's bundled strict schemas)."""
from __future__ import annotations

import re
from functools import cache

from .. import config, findings
from ..findings import Finding, failed, passed
from .objects import ref


@cache
def _validator(minor: str, api_version: str, kind: str):
    """A cached strict validator from kubernetes-validate's offline schemas (loading
    its definitions file per object would dominate the time). None: no schema."""
    import jsonschema
    from kubernetes_validate import utils as kvu
    from referencing import Registry, Resource

    schema_dir = f"v{minor}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kvu.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", minor)
    except FileNotFoundError:
        return None
    defs = kvu.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", minor)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def schema_errors(obj: dict, minor: str) -> list[str]:
    """Schema violations of one object against Kubernetes `minor` (e.g. "1.36.0")."""
    v = _validator(minor, obj.get("apiVersion", ""), obj.get("kind", ""))
    if v is None:
        return [f"{ref(obj)}: schema: no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes {minor}"]
    return [f"{ref(obj)}: schema: {e.message} at /{'/'.join(str(p) for p in e.absolute_path)}"
            for e in v.iter_errors(obj)]


@findings.graded("static")
def check_schema(objects: list[dict], version: str | None = None) -> Finding:
    """Every object against the OpenAPI schema of the pinned Kubernetes minor (offline)."""
    k8s = version or config.versions()["kubernetes"]
    minor = ".".join(k8s.split(".")[:2]) + ".0"   # schemas ship per minor
    bad = [e for o in objects for e in schema_errors(o, minor)]
    subject = f"every object validates against the Kubernetes {minor} schema"
    if bad:
        return failed(subject, "0 invalid objects", f"{len(bad)} schema errors", bad)
    return passed(subject, f"{len(objects)} valid", f"{len(objects)} valid")
