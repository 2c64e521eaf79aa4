"""S3 access for the workloads of one namespace: an IAM role only that namespace's `ml-workload` service account of
this cluster can assume (Pod Identity), allowed to list and read named buckets and to read, write and delete under
named prefixes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from constructs import Construct

from modules.common import ClusterScope, allow, policy, pod_identity_role


@dataclass(frozen=True)
class WorkloadAccessConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so the association waits for the cluster
    role_name: str
    namespace: str
    service_account: str
    read_buckets: tuple[str, ...]
    write_prefixes: tuple[str, ...]  # s3://bucket/prefix/ (prefix may be empty: the whole bucket)

    def document(self) -> str:
        return policy(*s3_statements(self.scope.partition, self.read_buckets, self.write_prefixes))


def s3_statements(partition: str, read_buckets: Sequence[str], write_prefixes: Sequence[str]) -> list[dict[str, Any]]:
    """List and read `read_buckets`; list, read, write and delete under `write_prefixes` (s3://bucket/prefix/)."""
    p = partition
    writes = [loc.removeprefix("s3://").split("/", 1) for loc in write_prefixes]
    statements = []
    if read_buckets:
        statements += [
            allow(["s3:ListBucket", "s3:GetBucketLocation"], [f"arn:{p}:s3:::{b}" for b in read_buckets],
                  sid="ListReadBuckets"),
            allow(["s3:GetObject"], [f"arn:{p}:s3:::{b}/*" for b in read_buckets], sid="ReadObjects"),
        ]
    for i, (bucket, prefix) in enumerate(writes):
        # Listing is a bucket-level action: limited to keys under the prefix by its s3:prefix condition.
        statements.append(allow(["s3:ListBucket"], f"arn:{p}:s3:::{bucket}", sid=f"ListPrefix{i}",
                                condition={"StringLike": {"s3:prefix": [f"{prefix}*"]}}))
    if writes:
        statements.append(allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                                [f"arn:{p}:s3:::{bucket}/{prefix}*" for bucket, prefix in writes],
                                sid="ReadWriteUnderPrefixes"))
    return statements


class WorkloadAccess(Construct):
    def __init__(self, scope: Construct, id: str, config: WorkloadAccessConfig) -> None:
        super().__init__(scope, id)
        c = config
        self.role = pod_identity_role(self, role_name=c.role_name, cluster=c.scope, cluster_name=c.cluster_name,
                                      namespace=c.namespace, service_account=c.service_account,
                                      policy_document=c.document())
