"""The kwok Nodes of the offline cluster, shaped like the EKS managed node group.

One Node per desired instance of the environment's node group (t3.medium,
one subnet per availability zone), with the labels and allocatable EKS
gives them; kwok manages only the Nodes carrying KWOK_MANAGED.
"""
from __future__ import annotations

import hashlib

from .. import config
from ..config import Environment

KWOK_MANAGED = ("kwok.x-k8s.io/node", "fake")
# t3.medium: 2 vCPU, 4 GiB; allocatable as EKS's AL2023 AMI reports it.
NODE_ALLOCATABLE = {"cpu": "1930m", "memory": "3388360Ki", "pods": "17", "ephemeral-storage": "18242267924"}
NODE_CAPACITY = {"cpu": "2", "memory": "3943368Ki", "pods": "17", "ephemeral-storage": "20959212Ki"}


def node_specs(env: Environment) -> list[dict]:
    """The Nodes of the environment's managed node group, one subnet per AZ."""
    zones = config.settings()["aws"]["availability_zones"]
    out = []
    for i in range(int(env["node_desired"])):
        ip = f"10.0.{i + 1}.10"
        out.append({"name": f"ip-{ip.replace('.', '-')}.ec2.internal", "ip": ip, "zone": zones[i % len(zones)],
                    "instance_type": env["node_instance_type"], "nodegroup": env.node_group})
    return out


def node_manifest(spec: dict) -> dict:
    region = config.settings()["aws"]["region"]
    instance = hashlib.sha256(spec["name"].encode()).hexdigest()[:16]
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": spec["name"],
            "annotations": {KWOK_MANAGED[0]: KWOK_MANAGED[1], "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": spec["name"],
                "node.kubernetes.io/instance-type": spec["instance_type"],
                "topology.kubernetes.io/region": region,
                "topology.kubernetes.io/zone": spec["zone"],
                "eks.amazonaws.com/nodegroup": spec["nodegroup"],
                "eks.amazonaws.com/capacityType": "ON_DEMAND",
                "type": "kwok",
            },
        },
        "spec": {"providerID": f"aws:///{spec['zone']}/i-0{instance}"},
        "status": {
            "allocatable": dict(NODE_ALLOCATABLE), "capacity": dict(NODE_CAPACITY),
            "addresses": [{"type": "InternalIP", "address": spec["ip"]},
                          {"type": "Hostname", "address": spec["name"]},
                          {"type": "InternalDNS", "address": spec["name"]}],
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                         "osImage": "Amazon Linux 2023 (kwok)",
                         "kubeletVersion": f"v{config.versions()['kubernetes']}"},
        },
    }
