"""Thin provisioner and read-only probes for CloudToLocalLLM on AWS EKS.

Organised by the external system each module talks to (aws, kube, dns, tls,
cost, backup) plus `local` (the embedded offline target) and `report`
(sign-off reports). Probes return `Finding`s; actions are idempotent.
"""
