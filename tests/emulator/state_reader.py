"""Run in a fresh interpreter by test_persistence: start a LocalAws on a saved state, read back what the test
created (ids as JSON in argv), add one queue, and print what it saw as JSON.

    python -m tests.emulator.state_reader STATE_DIR IDS_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlplat.emulator import LocalAws

from .support import REGION, client_factory


def read_back(state_dir: Path, ids: dict[str, str]) -> dict[str, Any]:
    with LocalAws(state_dir, region=REGION) as aws:
        client = client_factory(aws)
        eks, fsx = client("eks"), client("fsx")
        cluster = ids["eks_cluster"]
        seen = {
            "endpoint": aws.endpoint,
            "inventory": aws.inventory(),
            "vpc": client("ec2").describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]["VpcId"],
            "role": client("iam").get_role(RoleName=ids["role"])["Role"]["RoleName"],
            "kms_alias": client("kms").describe_key(KeyId=ids["kms_alias"])["KeyMetadata"]["KeyId"],
            "s3_object": client("s3")
            .get_object(Bucket=ids["s3_bucket"], Key="data/readme.txt")["Body"]
            .read()
            .decode(),
            "secret": client("secretsmanager").get_secret_value(SecretId=ids["secret"])["SecretString"],
            "ssm_parameter_tags": client("ssm").list_tags_for_resource(
                ResourceType="Parameter", ResourceId=ids["ssm_parameter"]
            )["TagList"],
            "addon": eks.describe_addon(clusterName=cluster, addonName="coredns")["addon"]["status"],
            "access_entry": eks.describe_access_entry(clusterName=cluster, principalArn=ids["eks_access_entry"])[
                "accessEntry"
            ]["type"],
            "pod_identity": eks.describe_pod_identity_association(
                clusterName=cluster, associationId=ids["eks_pod_identity_association"]
            )["association"]["serviceAccount"],
            "fsx_file_system": fsx.describe_file_systems(FileSystemIds=[ids["fsx_file_system"]])["FileSystems"][0][
                "Lifecycle"
            ],
            "fsx_association": fsx.describe_data_repository_associations(AssociationIds=[ids["fsx_association"]])[
                "Associations"
            ][0]["Lifecycle"],
        }
        client("sqs").create_queue(QueueName="made-by-the-child")
    return seen


if __name__ == "__main__":
    print(json.dumps(read_back(Path(sys.argv[1]), json.loads(sys.argv[2]))))
