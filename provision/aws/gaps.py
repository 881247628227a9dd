"""The named gaps of a target's AWS endpoint, read from the target (never from the stand-ins)."""

from __future__ import annotations

from .cfn import load

# What the irsa stack adds to the EKS cluster gap.
IRSA_NOTE = (
    "; so the cluster's OIDC issuer is unknown and the irsa stack is not applied (its roles are checked statically)"
)


def named(target, *keys: str) -> tuple[str, ...]:
    """The texts of those gaps the target has (none on the live target, none without a target)."""
    if target is None:
        return ()
    return tuple(text for text in (target.gap(k) for k in keys) if text)


def irsa(target) -> tuple[str, ...]:
    """Why the irsa stack is not applied where the endpoint creates no EKS cluster."""
    return tuple(text + IRSA_NOTE for text in named(target, "AWS::EKS::Cluster"))


def ignored_types(target, template_dir=None) -> tuple[str, ...]:
    """The gaps of the resource types in the environment's templates that the endpoint ignores: what a
    COMPLETE stack or an inventory here says nothing about (none on the live target)."""
    if target is None or not target.gaps:
        return ()
    types = {
        r.get("Type", "")
        for stack in load.stacks(template_dir)
        for r in (load.load(load.path(stack, template_dir)).get("Resources") or {}).values()
    }
    return named(target, *sorted(types))


def shared_emulator(target) -> bool:
    """Whether tests share the target's AWS endpoint as a scratch emulator (each in its own copy of the
    environment, roles made on the fly). Only the offline target: the rehearsal and live run against the
    stacks the operator applied, with the rights their jobs have."""
    return target.grade("aws") == "emulated" and not target.cannot.get("seeded_faults")
