"""FSx for Lustre file systems and data repository associations."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mlplat.emulator import LocalAws

from .support import ClientFactory, Network, create_network

S3_POLICIES = {
    "AutoImportPolicy": {"Events": ["NEW", "CHANGED", "DELETED"]},
    "AutoExportPolicy": {"Events": ["NEW", "CHANGED"]},
}


@pytest.fixture(scope="module")
def network(client: ClientFactory) -> Network:
    return create_network(client, 60)


def create_lustre(
    client: ClientFactory, network: Network, deployment_type: str = "PERSISTENT_2", **lustre: object
) -> dict:
    if deployment_type.startswith("PERSISTENT"):
        lustre.setdefault("PerUnitStorageThroughput", 125)
    return client("fsx").create_file_system(
        FileSystemType="LUSTRE",
        StorageCapacity=1200,
        SubnetIds=network.subnet_ids[:1],
        LustreConfiguration={"DeploymentType": deployment_type, **lustre},
        Tags=[{"Key": "Name", "Value": deployment_type}],
    )["FileSystem"]


def test_persistent_lustre_is_available_with_what_fsx_reports(client: ClientFactory, network: Network) -> None:
    created = create_lustre(client, network, DataCompressionType="LZ4")
    [described] = client("fsx").describe_file_systems(FileSystemIds=[created["FileSystemId"]])["FileSystems"]

    assert described["Lifecycle"] == "AVAILABLE"
    assert (described["VpcId"], described["OwnerId"], described["StorageType"]) == (
        network.vpc_id,
        "123456789012",
        "SSD",
    )
    assert described["FileSystemTypeVersion"] == "2.15"
    assert described["KmsKeyId"].startswith("arn:aws:kms:us-west-2:123456789012:key/")
    assert described["NetworkInterfaceIds"][0].startswith("eni-")
    lustre = described["LustreConfiguration"]
    assert (lustre["DeploymentType"], lustre["PerUnitStorageThroughput"], lustre["DataCompressionType"]) == (
        "PERSISTENT_2",
        125,
        "LZ4",
    )
    assert len(lustre["MountName"]) == 8
    assert lustre["MetadataConfiguration"] == {"Mode": "AUTOMATIC", "Iops": 1500}
    assert lustre["LogConfiguration"] == {"Level": "DISABLED"}
    assert described["Tags"] == [{"Key": "Name", "Value": "PERSISTENT_2"}]


def test_scratch_lustre_with_import_path_reports_its_data_repository(client: ClientFactory, network: Network) -> None:
    created = create_lustre(
        client, network, "SCRATCH_2", ImportPath="s3://datasets/train", AutoImportPolicy="NEW_CHANGED"
    )
    lustre = created["LustreConfiguration"]
    assert "PerUnitStorageThroughput" not in lustre and "KmsKeyId" not in created
    repository = lustre["DataRepositoryConfiguration"]
    assert (repository["Lifecycle"], repository["ImportPath"], repository["AutoImportPolicy"]) == (
        "AVAILABLE",
        "s3://datasets/train",
        "NEW_CHANGED",
    )
    assert repository["ExportPath"].startswith("s3://datasets/train/FSxLustre")


@pytest.mark.parametrize(
    "lustre",
    [
        {"DeploymentType": "PERSISTENT_2", "PerUnitStorageThroughput": 50},
        {"DeploymentType": "SCRATCH_2", "PerUnitStorageThroughput": 125},
        {"DeploymentType": "PERSISTENT_3", "PerUnitStorageThroughput": 125},
    ],
)
def test_invalid_lustre_configuration_is_a_bad_request(client: ClientFactory, network: Network, lustre: dict) -> None:
    with pytest.raises(ClientError) as error:
        client("fsx").create_file_system(
            FileSystemType="LUSTRE", StorageCapacity=1200, SubnetIds=network.subnet_ids[:1], LustreConfiguration=lustre
        )
    assert error.value.response["Error"]["Code"] == "BadRequest"


def test_update_file_system_changes_lustre_settings(client: ClientFactory, network: Network) -> None:
    created = create_lustre(client, network)
    updated = client("fsx").update_file_system(
        FileSystemId=created["FileSystemId"],
        StorageCapacity=2400,
        LustreConfiguration={"WeeklyMaintenanceStartTime": "2:03:00", "DataCompressionType": "LZ4"},
    )["FileSystem"]
    assert updated["StorageCapacity"] == 2400
    assert (
        updated["LustreConfiguration"]["WeeklyMaintenanceStartTime"],
        updated["LustreConfiguration"]["DataCompressionType"],
    ) == ("2:03:00", "LZ4")


def test_unknown_file_system_is_file_system_not_found(client: ClientFactory) -> None:
    fsx = client("fsx")
    for call in (
        lambda: fsx.describe_file_systems(FileSystemIds=["fs-00000000"]),
        lambda: fsx.delete_file_system(FileSystemId="fs-00000000"),
        lambda: fsx.update_file_system(FileSystemId="fs-00000000", StorageCapacity=2400),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == "FileSystemNotFound"


def test_data_repository_association_lifecycle(client: ClientFactory, network: Network) -> None:
    fsx = client("fsx")
    file_system_id = create_lustre(client, network)["FileSystemId"]
    association = fsx.create_data_repository_association(
        FileSystemId=file_system_id,
        FileSystemPath="/datasets",
        DataRepositoryPath="s3://training-data/datasets",
        BatchImportMetaDataOnCreate=True,
        S3=S3_POLICIES,
        Tags=[{"Key": "Name", "Value": "datasets"}],
    )["Association"]
    association_id = association["AssociationId"]
    assert association_id.startswith("dra-")
    assert (
        association["ResourceARN"]
        == f"arn:aws:fsx:us-west-2:123456789012:association/{file_system_id}/{association_id}"
    )

    [described] = fsx.describe_data_repository_associations(AssociationIds=[association_id])["Associations"]
    assert (described["Lifecycle"], described["ImportedFileChunkSize"], described["BatchImportMetaDataOnCreate"]) == (
        "AVAILABLE",
        1024,
        True,
    )
    assert described["S3"] == S3_POLICIES
    assert described["Tags"] == [{"Key": "Name", "Value": "datasets"}]
    by_file_system = fsx.describe_data_repository_associations(
        Filters=[{"Name": "file-system-id", "Values": [file_system_id]}]
    )
    assert [a["AssociationId"] for a in by_file_system["Associations"]] == [association_id]

    updated = fsx.update_data_repository_association(
        AssociationId=association_id, ImportedFileChunkSize=2048, S3={"AutoImportPolicy": {"Events": ["NEW"]}}
    )["Association"]
    assert (updated["ImportedFileChunkSize"], updated["S3"]) == (2048, {"AutoImportPolicy": {"Events": ["NEW"]}})

    deleted = fsx.delete_data_repository_association(AssociationId=association_id, DeleteDataInFileSystem=False)
    assert (deleted["Lifecycle"], deleted["DeleteDataInFileSystem"]) == ("DELETING", False)
    with pytest.raises(ClientError) as error:
        fsx.describe_data_repository_associations(AssociationIds=[association_id])
    assert error.value.response["Error"]["Code"] == "DataRepositoryAssociationNotFound"


def test_data_repository_association_errors(client: ClientFactory, network: Network) -> None:
    fsx = client("fsx")
    file_system_id = create_lustre(client, network)["FileSystemId"]
    fsx.create_data_repository_association(
        FileSystemId=file_system_id, FileSystemPath="/data", DataRepositoryPath="s3://bucket/data"
    )
    scratch_1 = create_lustre(client, network, "SCRATCH_1")["FileSystemId"]
    for request, code in (
        (
            {"FileSystemId": "fs-00000000", "FileSystemPath": "/x", "DataRepositoryPath": "s3://b/x"},
            "FileSystemNotFound",
        ),
        (
            {"FileSystemId": file_system_id, "FileSystemPath": "/data", "DataRepositoryPath": "s3://b/other"},
            "BadRequest",
        ),
        (
            {"FileSystemId": file_system_id, "FileSystemPath": "/nfs", "DataRepositoryPath": "nfs://server/export"},
            "BadRequest",
        ),
        (
            {
                "FileSystemId": file_system_id,
                "FileSystemPath": "/y",
                "DataRepositoryPath": "s3://b/y",
                "S3": {"AutoExportPolicy": {"Events": ["MOVED"]}},
            },
            "BadRequest",
        ),
        ({"FileSystemId": scratch_1, "FileSystemPath": "/z", "DataRepositoryPath": "s3://b/z"}, "UnsupportedOperation"),
    ):
        with pytest.raises(ClientError) as error:
            fsx.create_data_repository_association(**request)
        assert error.value.response["Error"]["Code"] == code
    for call in (
        lambda: fsx.update_data_repository_association(AssociationId="dra-00000000000000000", ImportedFileChunkSize=1),
        lambda: fsx.delete_data_repository_association(
            AssociationId="dra-00000000000000000", DeleteDataInFileSystem=False
        ),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == "DataRepositoryAssociationNotFound"


def test_deleting_a_file_system_deletes_its_associations(client: ClientFactory, network: Network) -> None:
    fsx = client("fsx")
    file_system_id = create_lustre(client, network)["FileSystemId"]
    fsx.create_data_repository_association(
        FileSystemId=file_system_id, FileSystemPath="/d", DataRepositoryPath="s3://b/d"
    )
    assert fsx.delete_file_system(FileSystemId=file_system_id)["Lifecycle"] == "DELETING"
    assert (
        fsx.describe_data_repository_associations(Filters=[{"Name": "file-system-id", "Values": [file_system_id]}])[
            "Associations"
        ]
        == []
    )


def test_terraform_provider_deletes_are_answered_as_already_gone(
    shared_aws: LocalAws, client: ClientFactory, network: Network
) -> None:
    """The provider skips its fixed post-delete sleep on "not found"; the resource is gone either way."""
    as_provider = boto3.client(
        "fsx",
        endpoint_url=shared_aws.endpoint,
        region_name=shared_aws.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(user_agent_extra="terraform-provider-aws/5.100.0", retries={"max_attempts": 1}),
    )
    file_system_id = create_lustre(client, network)["FileSystemId"]
    association_id = as_provider.create_data_repository_association(
        FileSystemId=file_system_id, FileSystemPath="/p", DataRepositoryPath="s3://b/p"
    )["Association"]["AssociationId"]

    with pytest.raises(ClientError) as error:
        as_provider.delete_data_repository_association(AssociationId=association_id, DeleteDataInFileSystem=False)
    assert error.value.response["Error"]["Code"] == "DataRepositoryAssociationNotFound"
    with pytest.raises(ClientError) as error:
        as_provider.delete_file_system(FileSystemId=file_system_id)
    assert error.value.response["Error"]["Code"] == "FileSystemNotFound"
    assert file_system_id not in {fs["FileSystemId"] for fs in client("fsx").describe_file_systems()["FileSystems"]}
