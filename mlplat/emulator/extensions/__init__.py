"""What the emulator adds to moto, one module per service, each installed by its `install()`.

- eks: add-ons, access entries, pod identity associations, updates; clusters and node groups that read back what they
  were created with.
- fsx: Lustre file systems that become AVAILABLE with FSx's read-back fields; data repository associations.
- iam: the AWS-managed policies, which moto does not load by default.
- ec2: subnets only in the region's zones, dependency refusals on delete (subnets, security groups, VPCs), the zones'
  opt-in filter; security group rule descriptions and launch template tags that read back as they were written.
- kms: AWS-managed keys (alias/aws/...) that are AWS-managed, not customer-managed.
- sts: the dummy credentials' caller identity is an IAM user ARN, as AWS returns one.
- secretsmanager: a name in its recovery window refuses CreateSecret as AWS does.
- s3: DeleteBucket on a bucket with objects or versions fails with S3's message.
- rds: a taken final snapshot name refuses DeleteDBCluster up front; clusters report a v1-serverless scaling
  configuration only when they are v1 serverless; instances keep their Performance Insights settings; only the
  recorded engine versions are offered (DescribeDBEngineVersions) and creatable.
- placement_groups: EC2 placement groups (create, describe with tag filters, delete), which moto lacks.
- servicequotas: EC2's On-Demand and Spot vCPU quotas, at values tests can set.
- sagemaker: endpoint configurations admit SageMaker's own instance types (botocore's API model), not moto's old list.
- dispatch: moto's per-request scans of its own package and response classes done once per process.
- clients: recognizes the terraform AWS provider, for the few answers tailored to it (see eks and fsx).

Installing changes moto for the whole process (its URL maps and a few model methods); every install is idempotent.
"""

from __future__ import annotations

from moto.utilities.utils import get_partition

from mlplat.emulator.extensions import (
    dispatch, ec2, eks, fsx, iam, kms, placement_groups, rds, s3, sagemaker, secretsmanager, servicequotas, sts,
)


def install(region: str) -> None:
    dispatch.install()
    ec2.install()
    eks.install()
    fsx.install()
    iam.install(get_partition(region))
    kms.install()
    placement_groups.install()
    rds.install()
    s3.install()
    sagemaker.install()
    secretsmanager.install()
    servicequotas.install()
    sts.install()
