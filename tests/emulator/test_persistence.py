"""State saved by stop() is what a later start(), in another process, serves."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlplat.emulator import LocalAws
from mlplat.emulator.persistence import STATE_FILE_NAME
from mlplat.errors import MlplatError

from .support import REGION, client_factory, create_one_of_each

# Runs in a fresh interpreter: checks that everything created by the test process is there, adds one queue, and
# prints what it saw as JSON.
CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from mlplat.emulator import LocalAws
    from tests.emulator.support import client_factory

    ids = json.loads(sys.argv[2])
    with LocalAws(Path(sys.argv[1]), region="us-west-2") as aws:
        client = client_factory(aws)
        eks, fsx = client("eks"), client("fsx")
        seen = {
            "endpoint": aws.endpoint,
            "inventory": aws.inventory(),
            "vpc": client("ec2").describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]["VpcId"],
            "role": client("iam").get_role(RoleName=ids["role"])["Role"]["RoleName"],
            "kms_alias": client("kms").describe_key(KeyId=ids["kms_alias"])["KeyMetadata"]["KeyId"],
            "s3_object": client("s3").get_object(Bucket=ids["s3_bucket"], Key="data/readme.txt")["Body"].read().decode(),
            "secret": client("secretsmanager").get_secret_value(SecretId=ids["secret"])["SecretString"],
            "addon": eks.describe_addon(clusterName=ids["eks_cluster"], addonName="coredns")["addon"]["status"],
            "access_entry": eks.describe_access_entry(clusterName=ids["eks_cluster"], principalArn=ids["eks_access_entry"])["accessEntry"]["type"],
            "pod_identity": eks.describe_pod_identity_association(
                clusterName=ids["eks_cluster"], associationId=ids["eks_pod_identity_association"]
            )["association"]["serviceAccount"],
            "fsx_association": fsx.describe_data_repository_associations(AssociationIds=[ids["fsx_association"]])["Associations"][0]["Lifecycle"],
            "ssm_parameter_tags": client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=ids["ssm_parameter"])["TagList"],
            "fsx_file_system": fsx.describe_file_systems(FileSystemIds=[ids["fsx_file_system"]])["FileSystems"][0]["Lifecycle"],
        }
        client("sqs").create_queue(QueueName="made-by-the-child")
    print(json.dumps(seen))
    """
)


def test_state_round_trips_through_another_process(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with LocalAws(state_dir, region=REGION) as aws:
        ids = create_one_of_each(client_factory(aws))
        endpoint, inventory = aws.endpoint, aws.inventory()
        kms_key = ids["kms_key"]
    assert [path.name for path in state_dir.iterdir() if path.name.startswith(".emulator-state")] == []  # no temp left

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(state_dir), json.dumps(ids)],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout)
    assert seen == {
        "endpoint": endpoint,  # the saved port is reused when free, so URLs in terraform state stay valid
        "inventory": inventory,
        "vpc": ids["vpc"],
        "role": ids["role"],
        "kms_alias": kms_key,
        "s3_object": "kept across processes",
        "secret": "s3cret",
        "addon": "ACTIVE",
        "access_entry": "STANDARD",
        "pod_identity": "trainer",
        "fsx_association": "AVAILABLE",
        "fsx_file_system": "AVAILABLE",
        "ssm_parameter_tags": [{"Key": "team", "Value": "ml"}],
    }

    with LocalAws(state_dir, region=REGION) as aws:
        queues = client_factory(aws)("sqs").list_queues()["QueueUrls"]
        assert sorted(url.rsplit("/", 1)[1] for url in queues) == ["interruptions", "made-by-the-child"]


def test_an_unreadable_state_file_says_how_to_start_over(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE_NAME).write_bytes(b"not a pickle")
    with pytest.raises(MlplatError, match=f"delete {tmp_path / STATE_FILE_NAME} to start from an empty local AWS"):
        LocalAws(tmp_path).start()


def test_state_from_another_moto_version_is_refused(tmp_path: Path) -> None:
    with LocalAws(tmp_path):
        pass
    path = tmp_path / STATE_FILE_NAME
    state = pickle.loads(path.read_bytes())
    state["moto_version"] = "4.0.0"
    path.write_bytes(pickle.dumps(state))
    with pytest.raises(MlplatError, match="written by moto 4.0.0.*reinstall moto 4.0.0, or delete"):
        LocalAws(tmp_path).start()
