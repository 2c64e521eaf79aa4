"""FSx for Lustre beyond moto 5.2: file systems that become AVAILABLE and describe themselves the way FSx does, plus
data repository associations (S3 import/export links) and UpdateFileSystem.

One deliberate difference from FSx: the AWS provider sleeps a fixed 10 minutes (file systems) or 30 seconds
(associations) after a successful delete before it looks, and skips that sleep when the delete answers "not found".
Deletes here take effect at once, so for the provider's requests (recognized by its User-Agent) the emulator deletes
and then answers FileSystemNotFound / DataRepositoryAssociationNotFound. Other clients get FSx's normal answer.

Installed by routing FSx's one URL to `ExtendedFSxResponse`, a subclass of moto's handler; moto calls the method named
after the X-Amz-Target operation. What moto does not keep is stored next to its state: per file system on moto's
`FileSystem` (attribute `mlplat_extension`), associations on the FSx backend (same attribute name).
"""

from __future__ import annotations

import json
import math
import string
import time
from dataclasses import dataclass, field
from typing import Any

import moto.fsx.urls as fsx_urls
from moto.core.exceptions import JsonRESTError
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import ec2_backends
from moto.fsx.models import FileSystem, FSxBackend
from moto.fsx.responses import FSxResponse
from moto.kms.models import kms_backends
from moto.moto_api._internal import mock_random as random

from mlplat.emulator.extensions.clients import from_terraform_provider
from mlplat.emulator.extensions.kms import aws_managed_key_id

DEPLOYMENT_TYPES = ("SCRATCH_1", "SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2")
PER_UNIT_STORAGE_THROUGHPUT = {
    ("PERSISTENT_1", "SSD"): (50, 100, 200),
    ("PERSISTENT_1", "HDD"): (12, 40),
    ("PERSISTENT_2", "SSD"): (125, 250, 500, 1000),
}
DATA_COMPRESSION_TYPES = ("NONE", "LZ4")
S3_EVENT_TYPES = ("NEW", "CHANGED", "DELETED")
MAX_ASSOCIATIONS_PER_FILE_SYSTEM = 8
# Lustre versions FSx offers; a deployment type's default is the first it supports.
DEFAULT_LUSTRE_VERSION = {"PERSISTENT_2": "2.15"}
LEGACY_LUSTRE_VERSION = "2.10"
AWS_MANAGED_KEY_ALIAS = "alias/aws/fsx"


def _bad_request(message: str) -> JsonRESTError:
    return JsonRESTError("BadRequest", message)


def _random_name(length: int) -> str:
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(length))


@dataclass
class FileSystemDetails:
    """What FSx reports about a file system that moto does not."""

    creation_time: float
    vpc_id: str
    network_interface_ids: list[str]
    file_system_type_version: str | None
    kms_key_id: str | None
    lustre_configuration: dict[str, Any] | None


@dataclass
class DataRepositoryAssociation:
    association_id: str
    resource_arn: str
    file_system_id: str
    file_system_path: str
    data_repository_path: str
    batch_import_meta_data_on_create: bool
    imported_file_chunk_size: int
    s3: dict[str, Any]
    creation_time: float

    def describe(self, tags: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "AssociationId": self.association_id,
            "ResourceARN": self.resource_arn,
            "FileSystemId": self.file_system_id,
            "Lifecycle": "AVAILABLE",
            "FileSystemPath": self.file_system_path,
            "DataRepositoryPath": self.data_repository_path,
            "BatchImportMetaDataOnCreate": self.batch_import_meta_data_on_create,
            "ImportedFileChunkSize": self.imported_file_chunk_size,
            "S3": self.s3,
            "Tags": tags,
            "CreationTime": self.creation_time,
        }


@dataclass
class FSxExtension:
    associations: dict[str, DataRepositoryAssociation] = field(default_factory=dict)


def backend_state(backend: FSxBackend) -> FSxExtension:
    """The extension's state of an FSx backend (one account and region), created on first use."""
    state = getattr(backend, "mlplat_extension", None)
    if state is None:
        state = FSxExtension()
        backend.mlplat_extension = state  # type: ignore[attr-defined]
    return state


def _validate_s3_policies(s3: dict[str, Any]) -> None:
    for policy_name in ("AutoImportPolicy", "AutoExportPolicy"):
        events = (s3.get(policy_name) or {}).get("Events", [])
        unknown = [event for event in events if event not in S3_EVENT_TYPES]
        if unknown:
            raise _bad_request(
                f"{policy_name} events must be among {', '.join(S3_EVENT_TYPES)}; got {', '.join(unknown)}"
            )


class ExtendedFSxResponse(FSxResponse):
    """moto's FSx handler plus Lustre fidelity and data repository associations."""

    def _params(self) -> dict[str, Any]:
        return json.loads(self.body) if self.body else {}

    def _file_system(self, file_system_id: str | None) -> FileSystem:
        file_system = self.fsx_backend.file_systems.get(file_system_id or "")
        if file_system is None:
            raise JsonRESTError("FileSystemNotFound", f"File system '{file_system_id}' does not exist.")
        return file_system

    def _describe(self, file_system: FileSystem) -> dict[str, Any]:
        description = file_system.to_dict()
        details: FileSystemDetails | None = getattr(file_system, "mlplat_extension", None)
        description.update(Lifecycle="AVAILABLE", OwnerId=self.current_account)
        if details is not None:
            description.update(
                CreationTime=details.creation_time,
                VpcId=details.vpc_id,
                NetworkInterfaceIds=details.network_interface_ids,
                StorageType=file_system.storage_type,
            )
            optional = {
                "FileSystemTypeVersion": details.file_system_type_version,
                "KmsKeyId": details.kms_key_id,
                "LustreConfiguration": details.lustre_configuration,
            }
            description.update({key: value for key, value in optional.items() if value is not None})
        return description

    # --- file systems --------------------------------------------------------------------------------------------

    def create_file_system(self) -> str:
        params = self._params()
        file_system_type = params.get("FileSystemType")
        if file_system_type not in ("WINDOWS", "LUSTRE", "ONTAP", "OPENZFS"):
            raise _bad_request(f"Invalid FileSystemType: {file_system_type}")
        storage_type = params.get("StorageType") or "SSD"
        vpc_id = self._vpc_of_subnets(params.get("SubnetIds") or [], single=file_system_type == "LUSTRE")
        lustre = None
        if file_system_type == "LUSTRE":
            lustre = self._lustre_configuration(
                params.get("LustreConfiguration") or {}, params.get("StorageCapacity"), storage_type
            )
        file_system = self.fsx_backend.create_file_system(
            client_request_token=params.get("ClientRequestToken"),
            file_system_type=file_system_type,
            storage_capacity=params.get("StorageCapacity"),
            storage_type=storage_type,
            subnet_ids=params.get("SubnetIds"),
            security_group_ids=params.get("SecurityGroupIds"),
            tags=params.get("Tags"),
            kms_key_id=params.get("KmsKeyId"),
            windows_configuration=params.get("WindowsConfiguration"),
            lustre_configuration=params.get("LustreConfiguration"),
            ontap_configuration=params.get("OntapConfiguration"),
            file_system_type_version=params.get("FileSystemTypeVersion"),
            open_zfs_configuration=params.get("OpenZFSConfiguration"),
        )
        deployment_type = (lustre or {}).get("DeploymentType", "")
        file_system.mlplat_extension = FileSystemDetails(  # type: ignore[attr-defined]
            creation_time=time.time(),
            vpc_id=vpc_id,
            network_interface_ids=[f"eni-{random.get_random_hex(17)}"],
            file_system_type_version=params.get("FileSystemTypeVersion")
            or (DEFAULT_LUSTRE_VERSION.get(deployment_type, LEGACY_LUSTRE_VERSION) if lustre else None),
            # Persistent Lustre is always encrypted at rest, with the account's aws/fsx key unless told otherwise.
            kms_key_id=params.get("KmsKeyId")
            or (self._aws_managed_key_arn() if deployment_type.startswith("PERSISTENT") else None),
            lustre_configuration=lustre,
        )
        return json.dumps({"FileSystem": self._describe(file_system)})

    def _vpc_of_subnets(self, subnet_ids: list[str], single: bool) -> str:
        if not subnet_ids:
            raise _bad_request("SubnetIds is required")
        if single and len(subnet_ids) != 1:
            raise _bad_request("Lustre file systems take exactly one subnet")
        try:
            return ec2_backends[self.current_account][self.region].get_subnet(subnet_ids[0]).vpc_id
        except EC2ClientError:
            raise JsonRESTError("InvalidNetworkSettings", f"The subnet ID '{subnet_ids[0]}' does not exist") from None

    def _aws_managed_key_arn(self) -> str:
        kms = kms_backends[self.current_account][self.region]
        return kms.keys[aws_managed_key_id(kms, AWS_MANAGED_KEY_ALIAS)].arn

    @staticmethod
    def _lustre_configuration(
        requested: dict[str, Any], storage_capacity: int | None, storage_type: str
    ) -> dict[str, Any]:
        """LustreFileSystemConfiguration as FSx reports it, from the CreateFileSystemLustreConfiguration sent."""
        deployment_type = requested.get("DeploymentType", "SCRATCH_1")
        if deployment_type not in DEPLOYMENT_TYPES:
            raise _bad_request(f"Invalid DeploymentType: {deployment_type}")
        capacity_step = 3600 if deployment_type == "SCRATCH_1" else 2400
        if not storage_capacity or (storage_capacity not in (1200, 2400) and storage_capacity % capacity_step):
            raise _bad_request(
                f"StorageCapacity {storage_capacity} GiB is not valid for {deployment_type}: "
                f"use 1200, 2400 or a multiple of {capacity_step}"
            )
        allowed_throughput = PER_UNIT_STORAGE_THROUGHPUT.get((deployment_type, storage_type))
        throughput = requested.get("PerUnitStorageThroughput")
        if allowed_throughput and throughput not in allowed_throughput:
            raise _bad_request(
                f"PerUnitStorageThroughput must be one of {allowed_throughput} for {deployment_type} {storage_type}"
            )
        if not allowed_throughput and throughput is not None:
            raise _bad_request(f"PerUnitStorageThroughput is not supported for {deployment_type}")
        compression = requested.get("DataCompressionType", "NONE")
        if compression not in DATA_COMPRESSION_TYPES:
            raise _bad_request(f"Invalid DataCompressionType: {compression}")
        persistent = deployment_type.startswith("PERSISTENT")
        configuration: dict[str, Any] = {
            "WeeklyMaintenanceStartTime": requested.get("WeeklyMaintenanceStartTime")
            or f"{random.randint(1, 7)}:{random.randint(0, 23):02d}:00",
            "DeploymentType": deployment_type,
            "MountName": "fsx" if deployment_type == "SCRATCH_1" else _random_name(8),
            "CopyTagsToBackups": bool(requested.get("CopyTagsToBackups", False)),
            "DataCompressionType": compression,
            "LogConfiguration": requested.get("LogConfiguration") or {"Level": "DISABLED"},
        }
        if throughput is not None:
            configuration["PerUnitStorageThroughput"] = throughput
        if persistent:
            configuration["AutomaticBackupRetentionDays"] = requested.get("AutomaticBackupRetentionDays", 0)
            configuration["DailyAutomaticBackupStartTime"] = (
                requested.get("DailyAutomaticBackupStartTime") or f"{random.randint(0, 23):02d}:00"
            )
        if deployment_type == "PERSISTENT_2":
            metadata = requested.get("MetadataConfiguration") or {"Mode": "AUTOMATIC"}
            configuration["MetadataConfiguration"] = {
                "Mode": metadata["Mode"],
                # AUTOMATIC provisions 1500 metadata IOPS per started 12 TiB of storage.
                "Iops": metadata.get("Iops") or 1500 * math.ceil(storage_capacity / 12000),
            }
            configuration["EfaEnabled"] = bool(requested.get("EfaEnabled", False))
        for optional in (
            "RootSquashConfiguration",
            "DriveCacheType",
            "ThroughputCapacity",
            "DataReadCacheConfiguration",
        ):
            if optional in requested:
                configuration[optional] = requested[optional]
        if requested.get("ImportPath"):
            import_path = requested["ImportPath"]
            configuration["DataRepositoryConfiguration"] = {
                "Lifecycle": "AVAILABLE",
                "ImportPath": import_path,
                "ExportPath": requested.get("ExportPath")
                or f"{import_path.rstrip('/')}/FSxLustre{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}",
                "ImportedFileChunkSize": requested.get("ImportedFileChunkSize", 1024),
                "AutoImportPolicy": requested.get("AutoImportPolicy", "NONE"),
            }
        return configuration

    def describe_file_systems(self) -> str:
        params = self._params()
        requested_ids = params.get("FileSystemIds") or []
        for file_system_id in requested_ids:
            self._file_system(file_system_id)
        file_systems, next_token = self.fsx_backend.describe_file_systems(
            file_system_ids=requested_ids, max_results=params.get("MaxResults"), next_token=params.get("NextToken")
        )
        return json.dumps({"FileSystems": [self._describe(fs) for fs in file_systems], "NextToken": next_token})

    def update_file_system(self) -> str:
        params = self._params()
        file_system = self._file_system(params.get("FileSystemId"))
        details: FileSystemDetails | None = getattr(file_system, "mlplat_extension", None)
        if params.get("StorageCapacity"):
            if params["StorageCapacity"] < file_system.storage_capacity:
                raise _bad_request("Storage capacity can only be increased")
            file_system.storage_capacity = params["StorageCapacity"]
        requested = params.get("LustreConfiguration") or {}
        if requested:
            if details is None or details.lustre_configuration is None:
                raise _bad_request("LustreConfiguration applies to Lustre file systems only")
            configuration = details.lustre_configuration
            for key, value in requested.items():
                if key == "AutoImportPolicy":
                    if "DataRepositoryConfiguration" not in configuration:
                        raise _bad_request("AutoImportPolicy needs a file system created with an ImportPath")
                    configuration["DataRepositoryConfiguration"]["AutoImportPolicy"] = value
                elif key == "MetadataConfiguration":
                    configuration["MetadataConfiguration"] = {**configuration.get("MetadataConfiguration", {}), **value}
                else:
                    configuration[key] = value
        return json.dumps({"FileSystem": self._describe(file_system)})

    def delete_file_system(self) -> str:
        params = self._params()
        file_system = self._file_system(params.get("FileSystemId"))
        associations = backend_state(self.fsx_backend).associations
        for association_id in [
            a.association_id for a in associations.values() if a.file_system_id == file_system.file_system_id
        ]:
            del associations[association_id]
        self.fsx_backend.file_systems.pop(file_system.file_system_id)
        if from_terraform_provider(self.headers):
            raise JsonRESTError("FileSystemNotFound", f"File system '{file_system.file_system_id}' does not exist.")
        response: dict[str, Any] = {"FileSystemId": file_system.file_system_id, "Lifecycle": "DELETING"}
        if file_system.file_system_type == "LUSTRE":
            response["LustreResponse"] = {}
        return json.dumps(response)

    # --- data repository associations ----------------------------------------------------------------------------

    def _association(self, association_id: str | None) -> DataRepositoryAssociation:
        association = backend_state(self.fsx_backend).associations.get(association_id or "")
        if association is None:
            raise JsonRESTError(
                "DataRepositoryAssociationNotFound", f"Data repository association '{association_id}' does not exist."
            )
        return association

    def _describe_association(self, association: DataRepositoryAssociation) -> dict[str, Any]:
        return association.describe(self.fsx_backend.list_tags_for_resource(association.resource_arn))

    def create_data_repository_association(self) -> str:
        params = self._params()
        file_system = self._file_system(params.get("FileSystemId"))
        details: FileSystemDetails | None = getattr(file_system, "mlplat_extension", None)
        deployment_type = ((details and details.lustre_configuration) or {}).get("DeploymentType")
        if deployment_type not in ("SCRATCH_2", "PERSISTENT_2"):
            raise JsonRESTError(
                "UnsupportedOperation",
                "Data repository associations are supported on Lustre SCRATCH_2 and PERSISTENT_2 file systems, "
                f"not {deployment_type or file_system.file_system_type}",
            )
        data_repository_path = params.get("DataRepositoryPath", "")
        if not data_repository_path.startswith("s3://"):
            raise _bad_request(f"DataRepositoryPath must be an s3:// path, got '{data_repository_path}'")
        file_system_path = params.get("FileSystemPath", "")
        if not file_system_path.startswith("/"):
            raise _bad_request(f"FileSystemPath must start with '/', got '{file_system_path}'")
        state = backend_state(self.fsx_backend)
        siblings = [a for a in state.associations.values() if a.file_system_id == file_system.file_system_id]
        if any(a.file_system_path == file_system_path for a in siblings):
            raise _bad_request(f"File system path {file_system_path} is already associated with a data repository")
        if len(siblings) >= MAX_ASSOCIATIONS_PER_FILE_SYSTEM:
            raise JsonRESTError(
                "ServiceLimitExceeded",
                f"A file system can have at most {MAX_ASSOCIATIONS_PER_FILE_SYSTEM} data repository associations",
            )
        s3 = params.get("S3") or {}
        _validate_s3_policies(s3)
        association_id = f"dra-{random.get_random_hex(17)}"
        association = DataRepositoryAssociation(
            association_id=association_id,
            resource_arn=f"arn:{self.partition}:fsx:{self.region}:{self.current_account}:association/{file_system.file_system_id}/{association_id}",
            file_system_id=file_system.file_system_id,
            file_system_path=file_system_path,
            data_repository_path=data_repository_path,
            batch_import_meta_data_on_create=bool(params.get("BatchImportMetaDataOnCreate", False)),
            imported_file_chunk_size=params.get("ImportedFileChunkSize", 1024),
            s3=s3,
            creation_time=time.time(),
        )
        if params.get("Tags"):
            self.fsx_backend.tag_resource(association.resource_arn, params["Tags"])
        state.associations[association_id] = association
        return json.dumps({"Association": self._describe_association(association)})

    def describe_data_repository_associations(self) -> str:
        params = self._params()
        requested_ids = params.get("AssociationIds") or []
        associations = [self._association(association_id) for association_id in requested_ids] or list(
            backend_state(self.fsx_backend).associations.values()
        )
        for name, values in ((f["Name"], f.get("Values", [])) for f in params.get("Filters") or []):
            if name == "file-system-id":
                associations = [a for a in associations if a.file_system_id in values]
            elif name == "data-repository-type":
                associations = [
                    a for a in associations if ("S3" if a.data_repository_path.startswith("s3://") else "NFS") in values
                ]
            elif name in ("file-cache-id", "file-cache-type"):
                associations = []  # file caches are not emulated, so nothing belongs to one
            else:
                raise _bad_request(f"Unknown filter name: {name}")
        start = int(params.get("NextToken") or 0)
        end = start + (params.get("MaxResults") or 25)
        response: dict[str, Any] = {"Associations": [self._describe_association(a) for a in associations[start:end]]}
        if end < len(associations):
            response["NextToken"] = str(end)
        return json.dumps(response)

    def update_data_repository_association(self) -> str:
        params = self._params()
        association = self._association(params.get("AssociationId"))
        if "ImportedFileChunkSize" in params:
            association.imported_file_chunk_size = params["ImportedFileChunkSize"]
        if "S3" in params:
            _validate_s3_policies(params["S3"])
            association.s3 = params["S3"]
        return json.dumps({"Association": self._describe_association(association)})

    def delete_data_repository_association(self) -> str:
        params = self._params()
        association = self._association(params.get("AssociationId"))
        if "DeleteDataInFileSystem" not in params:
            raise JsonRESTError("MissingParameter", "DeleteDataInFileSystem is required")
        del backend_state(self.fsx_backend).associations[association.association_id]
        if from_terraform_provider(self.headers):
            raise JsonRESTError(
                "DataRepositoryAssociationNotFound",
                f"Data repository association '{association.association_id}' does not exist.",
            )
        return json.dumps(
            {
                "AssociationId": association.association_id,
                "Lifecycle": "DELETING",
                "DeleteDataInFileSystem": params["DeleteDataInFileSystem"],
            }
        )


def install() -> None:
    """Serve FSx with `ExtendedFSxResponse`."""
    for path in fsx_urls.url_paths:
        fsx_urls.url_paths[path] = ExtendedFSxResponse.dispatch
