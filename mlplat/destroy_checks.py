"""What would make `destroy` fail half-way on a real account, found before it deletes anything.

A destroy that stops in the middle is worse than one that never starts: the EKS cluster and most of the VPC are gone,
and what is left can be neither used nor destroyed until the platform is deployed again. So destroy first reads the
AWS layer's state and asks AWS what it would refuse, and refuses up front, naming each problem and its fix:

- the MLflow database has deletion protection on (RDS refuses DeleteDBCluster);
- a bucket still holds objects or versions and the blueprint did not opt in to emptying it (S3 refuses DeleteBucket);
- instances Terraform never created (Karpenter's nodes) still run in the platform's subnets: their network interfaces
  keep the subnets and the node security group from being deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from mlplat.aws import Aws, call


@dataclass(frozen=True)
class Blocker:
    resource: str  # terraform address or AWS id
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.problem}; {self.fix}"


def state_resources(state: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(address, type, attributes) of every managed resource instance in a state as `terraform state pull` prints it
    (format version 4). Read raw rather than through `terraform show -json`, which loads the providers' schemas:
    seconds of CPU for attributes the raw state already holds."""
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        base = f"{resource['module']}.{resource['type']}.{resource['name']}" if resource.get("module") else \
            f"{resource['type']}.{resource['name']}"
        for instance in resource.get("instances", []):
            key = instance.get("index_key")
            index = "" if key is None else f"[{json.dumps(key)}]"
            yield base + index, resource["type"], instance.get("attributes") or {}


def protected_databases(state: dict[str, Any]) -> list[Blocker]:
    return [Blocker(address, f"RDS cluster {values.get('cluster_identifier')} has deletion protection on",
                    "set mlflow_db_deletion_protection = false in the blueprint and run `mlplat deploy` (it changes "
                    "only that flag), then destroy")
            for address, rtype, values in state_resources(state)
            if rtype == "aws_rds_cluster" and values.get("deletion_protection")]


def buckets_with_data(state: dict[str, Any], aws: Aws) -> list[Blocker]:
    s3 = aws.client("s3")
    out = []
    for address, rtype, values in state_resources(state):
        if rtype != "aws_s3_bucket" or values.get("force_destroy"):
            continue
        name = values.get("bucket") or values.get("id")
        listed = call(f"checking whether bucket {name} is empty", s3.list_object_versions, Bucket=name, MaxKeys=1)
        if listed.get("Versions") or listed.get("DeleteMarkers"):
            out.append(Blocker(address, f"bucket {name} still holds objects (or old versions of them)",
                               "copy out what you need, then set empty_buckets_on_destroy = true and run "
                               "`mlplat deploy` before destroying (or empty the bucket yourself, every version)"))
    return out


def stray_instances(state: dict[str, Any], aws: Aws) -> list[Blocker]:
    """Running instances in the platform's subnets that are not in the state: Karpenter's nodes, or anyone's."""
    subnets = [values["id"] for _, rtype, values in state_resources(state) if rtype == "aws_subnet" and "id" in values]
    if not subnets:
        return []
    ec2 = aws.client("ec2")
    found = call("looking for instances left in the platform's subnets", ec2.describe_instances, Filters=[
        {"Name": "subnet-id", "Values": subnets},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]},
    ])
    instances = [i for r in found.get("Reservations", []) for i in r.get("Instances", [])]
    # The system node group's instances go with it (EKS deletes them), and terraform destroys its own (the cluster
    # access node); anything else would block the subnets.
    managed = {values["id"] for _, rtype, values in state_resources(state) if rtype == "aws_instance" and "id" in values}
    strays = [i for i in instances if i["InstanceId"] not in managed
              and not any(t.get("Key") == "eks:nodegroup-name" for t in i.get("Tags", []))]
    out = []
    for instance in strays:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        owner = (f"Karpenter node of pool {tags['karpenter.sh/nodepool']}" if "karpenter.sh/nodepool" in tags
                 else "an instance mlplat did not create")
        out.append(Blocker(instance["InstanceId"], f"{owner} still runs in subnet {instance.get('SubnetId')}, and its "
                                                   f"network interfaces keep the subnet and security groups from "
                                                   f"being deleted",
                           "destroy the Kubernetes layer first so Karpenter drains and terminates its nodes "
                           "(`mlplat destroy` does, with access to the cluster), or terminate it"))
    return out
