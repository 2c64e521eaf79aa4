"""Loki's object storage (loki_storage = "s3"): a bucket of the platform's baseline for chunks, index and rules, and a
role only Loki's service account can assume (Pod Identity), allowed exactly the object calls Loki's S3 client makes
on that bucket."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.bucket import SecureBucket
from modules.common import ClusterScope, allow, policy, pod_identity_role


@dataclass(frozen=True)
class LokiStorageConfig:
    scope: ClusterScope
    cluster_name: str  # the cluster resource's name attribute, so the association waits for the cluster
    namespace: str
    service_account: str
    force_destroy_bucket: bool


class LokiStorage(Construct):
    def __init__(self, scope: Construct, id: str, config: LokiStorageConfig) -> None:
        super().__init__(scope, id)
        c = config
        name = c.scope.cluster_name
        self.bucket = SecureBucket(self, "bucket", prefix=f"{name}-loki-", force_destroy=c.force_destroy_bucket)
        # Loki lists (index tables, compaction), reads, writes and deletes (the compactor's retention) objects.
        self.role = pod_identity_role(
            self, role_name=f"{name}-loki", cluster=c.scope, cluster_name=c.cluster_name, namespace=c.namespace,
            service_account=c.service_account, policy_document=policy(
                allow(["s3:ListBucket"], self.bucket.arn, sid="ListLokiBucket"),
                allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                      f"{self.bucket.arn}/*", sid="ReadWriteLokiObjects")))
