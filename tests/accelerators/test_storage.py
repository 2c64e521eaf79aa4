"""Storage: the encrypted gp3 default class, the EFS dynamic class, and static shared EFS and FSx for Lustre volumes
bound to the AWS layer's file systems, one claim per workload namespace."""

from __future__ import annotations

import pytest

from mlplat.addons import AddonContext
from mlplat.blueprint import parse_text
from mlplat.catalog import by_name
from mlplat.catalog.accelerators import shared_volume_objects
from tests.accelerators.support import ALL_POOLS, NO_FILESYSTEMS
from tests.support import hcl, k8s
from tests.support.synth import CANONICAL_TEXT, synth

REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-mlplat-aws.outputs.cross-stack-output-"
MANAGED = {"app.kubernetes.io/managed-by": "mlplat"}


@pytest.fixture(scope="module")
def with_namespaces():
    return synth(ALL_POOLS)


def by_kind(objects):
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in objects}


def test_gp3_is_the_encrypted_default_class_and_efs_provisions_access_points():
    objects = by_kind(synth().objects("storage-classes"))
    assert sorted(objects) == [("StorageClass", "", "efs"), ("StorageClass", "", "gp3")]
    assert objects[("StorageClass", "", "gp3")] == {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "gp3", "labels": MANAGED,
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
        "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": True, "reclaimPolicy": "Delete",
    }
    efs = objects[("StorageClass", "", "efs")]
    file_system = efs["parameters"].pop("fileSystemId")
    assert file_system.startswith(REMOTE) and "aws_efs_file_system" in file_system
    assert (efs["provisioner"], efs["parameters"]) == (
        "efs.csi.aws.com", {"provisioningMode": "efs-ap", "directoryPerms": "700", "basePath": "/dynamic"})
    for obj in objects.values():
        k8s.validate(obj)


def test_shared_volumes_bind_one_pv_per_namespace_claim(with_namespaces):
    objects = by_kind(with_namespaces.objects("shared-volumes"))
    assert sorted(objects) == [
        ("PersistentVolume", "", "efs-shared-ml-workloads"), ("PersistentVolume", "", "fsx-shared-ml-workloads"),
        ("PersistentVolumeClaim", "ml-workloads", "efs-shared"),
        ("PersistentVolumeClaim", "ml-workloads", "fsx-shared"),
    ]
    for obj in objects.values():
        k8s.validate(obj)
    fsx = objects[("PersistentVolume", "", "fsx-shared-ml-workloads")]["spec"]
    csi = fsx.pop("csi")
    assert fsx == {"capacity": {"storage": "1200Gi"}, "accessModes": ["ReadWriteMany"],
                   "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "", "mountOptions": ["flock"],
                   "claimRef": {"namespace": "ml-workloads", "name": "fsx-shared"}}
    assert csi["driver"] == "fsx.csi.aws.com"
    assert [(k, "aws_fsx_lustre_file_system" in v and v.startswith(REMOTE) and v.endswith(attr + "}"))
            for (k, v), attr in zip([("volumeHandle", csi["volumeHandle"]), *csi["volumeAttributes"].items()],
                                    ["id", "dns_name", "mount_name"])] == [
        ("volumeHandle", True), ("dnsname", True), ("mountname", True)]
    efs = objects[("PersistentVolume", "", "efs-shared-ml-workloads")]["spec"]
    assert (efs["csi"]["driver"], efs["csi"]["volumeAttributes"], efs["claimRef"]) == (
        "efs.csi.aws.com", {"encryptInTransit": "true"}, {"namespace": "ml-workloads", "name": "efs-shared"})
    claim = objects[("PersistentVolumeClaim", "ml-workloads", "fsx-shared")]["spec"]
    assert claim == {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": "fsx-shared-ml-workloads",
                     "resources": {"requests": {"storage": "1200Gi"}}}


def test_every_workload_namespace_gets_its_own_claims():
    bp = parse_text(CANONICAL_TEXT + hcl.render({"workload_namespaces": ["team-a", "team-b"]}), "bp.tfvars")
    outputs = {k: k for k in ("efs_file_system_id", "fsx_file_system_id", "fsx_dns_name", "fsx_mount_name")}
    names = sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"], o["spec"].get("volumeName"))
                   for o in shared_volume_objects(AddonContext(bp, outputs))["objects"])
    assert names == [("PersistentVolume", "", f"{fs}-shared-{ns}", None) for fs in ("efs", "fsx")
                     for ns in ("team-a", "team-b")] + [
        ("PersistentVolumeClaim", ns, f"{fs}-shared", f"{fs}-shared-{ns}") for ns in ("team-a", "team-b")
        for fs in ("efs", "fsx")]


def test_shared_volumes_follow_the_namespaces_they_live_in(with_namespaces):
    release = with_namespaces.releases()["shared-volumes"]
    assert any("workload-namespaces" in d for d in release["depends_on"])
    canonical = synth()
    namespaces_on = by_name()["workload-namespaces"].enabled(canonical.blueprint)
    assert ("shared-volumes" in canonical.releases()) == namespaces_on


def test_no_file_systems_no_shared_volumes_and_no_efs_class():
    s = synth(NO_FILESYSTEMS)
    assert "shared-volumes" not in s.releases() and "workload-namespaces" in s.releases()
    assert [o["metadata"]["name"] for o in s.objects("storage-classes")] == ["gp3"]
