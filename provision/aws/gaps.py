"""The named gaps of a target's AWS endpoint, read from the target (never from the stand-ins)."""

from __future__ import annotations

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
