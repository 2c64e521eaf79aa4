"""What the emulator adds to moto, one module per service, each installed by its `install()`.

- eks: add-ons, access entries, pod identity associations, updates; clusters and node groups that read back what they
  were created with.
- fsx: Lustre file systems that become AVAILABLE with FSx's read-back fields; data repository associations.
- iam: the AWS-managed policies, which moto does not load by default.
- ec2: security group rule descriptions and launch template tags that read back as they were written.

Installing changes moto for the whole process (its URL maps and one IAM method); every install is idempotent.
"""

from __future__ import annotations

from moto.utilities.utils import get_partition

from mlplat.emulator.extensions import ec2, eks, fsx, iam


def install(region: str) -> None:
    ec2.install()
    eks.install()
    fsx.install()
    iam.install(get_partition(region))
