"""Slurm (Slinky slurm-operator 1.2.1): off installs nothing; on, the CRDs, the operator (after cert-manager) and the
cluster install in order, pinned at the reference charts, with every value key one the charts have and the custom
objects the chart renders from them valid against the CRDs; NodeSets only on the listed enabled pools, each landing
on exactly its pool with its accelerators; accounting in an encrypted, TLS-only Aurora MySQL reachable from the
nodes only, its password generated into Secrets Manager and handed over by External Secrets; /efs and /fsx on the
Slurm nodes and the login node; nothing public."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import date
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlplat import versions
from mlplat.addons import deep_merge
from mlplat.blueprint import parse_text
from mlplat.catalog.secrets import secret_uses
from mlplat.cost import estimate
from mlplat.errors import BlueprintError
from mlplat.placement import fits
from mlplat.prices import REGIONS
from tests.modules.blueprints import added_types, addresses, applications
from tests.modules.test_workload_operators import recorded_release
from tests.support import k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.paths import ROOT
from tests.support.synth import blueprint_text, synth

REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-mlplat-aws.outputs.cross-stack-output-"
# A well-formed Ed25519 public key (32 bytes 0..31), nobody's.
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f slurm-test"
POOLS = {"cpu": {"enabled": True}, "gpu-efa": {"enabled": True}, "neuron": {"enabled": True},
         "inferentia1": {"enabled": True}}
SLURM = {"enable_slurm": True, "enable_fsx": True, "enable_ai_ml_observability_stack": True, "nodepools": POOLS,
         "cuda_efa_az": "us-west-2a", "neuron_az": "us-west-2b",
         "slurm_nodesets": {"cpu": {"replicas": 3}, "gpu": {"replicas": 2, "accelerators_per_node": 4},
                            "gpu-efa": {"replicas": 2, "accelerators_per_node": 8, "efa_per_node": 4},
                            "neuron": {"efa_per_node": 0}},
         "slurm_login_ssh_public_keys": [KEY]}
# Slurm on, nothing else: no nodesets, no login node, no FSx, no observability.
BARE = {"enable_slurm": True, "enable_fsx": False}
RELEASES = ("slurm-operator-crds", "slurm-operator", "slurm-volumes", "slurm")
# The slurm chart's template names at v1.2.1 (helm/slurm/templates/*/_helpers.tpl): NodeSets `<release>-worker-<key>`,
# LoginSets `<release>-login-<key>`, the cluster `<release>`; the sssd.conf Secret `<release>-sssd-conf`.
CHART_IMAGES = {"slurmd": "ghcr.io/slinkyproject/slurmd", "login": "ghcr.io/slinkyproject/login",
                "slurmdbd": "ghcr.io/slinkyproject/slurmdbd"}


@pytest.fixture(scope="module")
def on():
    return synth(SLURM)


@pytest.fixture(scope="module")
def bare():
    return synth(BARE)


def deps(s, name):
    return sorted(d.split(".")[1].rsplit("_", 2)[0] for d in s.releases()[name].get("depends_on", []))


def lines_of(text: str | dict) -> list[str]:
    """Every `key: message` of the problems of the canonical blueprint plus `text` (or with the keys of a delta)."""
    with pytest.raises(BlueprintError) as exc:
        parse_text(blueprint_text(text) if isinstance(text, dict) else blueprint_text() + text, "bp.tfvars")
    return [line.split(":", 2)[2].strip() for line in str(exc.value).removeprefix("error: ").splitlines()
            if line.startswith("bp.tfvars:")]


# --- toggles, pins, order ------------------------------------------------------------------------------------------

def test_off_by_default_installs_nothing_of_slurm():
    s = synth()
    assert not set(RELEASES) & set(s.releases())
    assert not [k for rtype in s.aws["resource"] for k in s.aws["resource"][rtype] if "slurm" in k.lower()]
    assert "slurm-db" not in {u.purpose for u in secret_uses(s.blueprint)}
    assert not {k for k in s.aws.get("output", {}) if "slurm" in k}


def test_on_installs_the_operator_the_cluster_and_cert_manager(bare):
    assert set(RELEASES) | {"cert-manager"} <= set(bare.releases())
    assert bare.releases()["slurm"]["namespace"] == "slurm"
    assert bare.releases()["slurm-operator"]["namespace"] == "slinky"


def test_the_toggle_adds_exactly_its_resources_to_both_stacks():
    off, on = synth(), synth({"enable_slurm": True})
    # cert-manager (the webhook's certificate), and External Secrets for the generated database password.
    assert set(on.releases()) - set(off.releases()) == {*RELEASES, "cert-manager", "external-secrets",
                                                        "platform-secrets"}
    assert added_types(addresses(on.kubernetes), addresses(off.kubernetes)) == Counter({"resource.helm_release": 7})
    assert added_types(addresses(on.aws), addresses(off.aws)) == Counter({
        # the generated password, and External Secrets' Pod Identity role that may read it
        "resource.aws_secretsmanager_secret": 1, "resource.aws_secretsmanager_secret_version": 1,
        "ephemeral.aws_secretsmanager_random_password": 1, "output.secret_arn_slurm_db": 1,
        "output.secret_name_slurm_db": 1, "resource.aws_iam_role": 1, "resource.aws_iam_role_policy": 1,
        "resource.aws_eks_pod_identity_association": 1,
        # the accounting database and its network
        "resource.aws_security_group": 1, "resource.aws_vpc_security_group_ingress_rule": 1,
        "resource.aws_db_subnet_group": 1, "resource.aws_rds_cluster_parameter_group": 1,
        "resource.aws_rds_cluster": 1, "resource.aws_rds_cluster_instance": 1,
        "ephemeral.aws_secretsmanager_secret_version": 1, "output.slurm_db_endpoint": 1, "output.slurm_db_port": 1})
    assert addresses(off.aws) <= addresses(on.aws)
    for name in set(off.releases()):  # what was there before is untouched
        assert on.values(name) == off.values(name), name


@pytest.mark.parametrize("chart", ["slurm-operator-crds", "slurm-operator", "slurm"])
def test_releases_are_pinned_to_the_reference_charts(bare, chart):
    release = bare.releases()[chart]
    assert (release["chart"], release["repository"], release["version"]) == (
        chart, "oci://ghcr.io/slinkyproject/charts", "1.2.1")
    assert versions.CHARTS[chart].version == chart_version(chart) == recorded_release(chart)


def test_install_order_crds_operator_secret_volumes_cluster(on):
    assert deps(on, "slurm-operator") == ["cert-manager", "slurm-operator-crds"]
    assert deps(on, "slurm-volumes") == ["platform-secrets"]
    # The node pools too: its pods run on Karpenter capacity (the general pool, the NodeSets' pools).
    assert deps(on, "slurm") == ["karpenter-nodepools", "platform-secrets", "slurm-operator", "slurm-volumes",
                                 "storage-classes"]
    # The operator's CRD subchart is off: the CRDs are the slurm-operator-crds release, which Helm upgrades.
    assert on.values("slurm-operator")["crds"] == {"enabled": False}
    assert on.releases()["slurm-operator"]["skip_crds"] is True


# --- values ----------------------------------------------------------------------------------------------------------

def _without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


@pytest.mark.parametrize("variant", ["on", "bare"])
def test_every_value_key_exists_in_the_chart_defaults(variant, request):
    s = request.getfixturevalue(variant)
    assert list(unknown_keys(s.values("slurm-operator"), chart_defaults("slurm-operator"))) == []
    values, defaults = s.values("slurm"), chart_defaults("slurm")
    # nodesets and loginsets are maps of the user's names, each entry merged over nodesetDefaults/loginsetDefaults.
    checked = copy.deepcopy(_without(values, "nodesets", "loginsets"))
    # accounting.slurmdbd reaches the Accounting CR as a corev1.Container (helm/slurm/templates/_helpers.tpl
    # slurm.format-container at v1.2.1, and the CRD's slurmdbd "See corev1.Container spec"): volumeMounts is one of its
    # fields, though the chart's defaults do not list it.
    # Likewise accounting.podSpec, a corev1.PodSpec ("Extend the pod template"), and its volumes.
    acct, acct_defaults = checked["accounting"], defaults["accounting"]
    assert set(acct["slurmdbd"]) - set(acct_defaults["slurmdbd"]) == {"volumeMounts"}
    assert set(acct["podSpec"]) - set(acct_defaults["podSpec"]) == {"volumes"}
    del acct["slurmdbd"]["volumeMounts"], acct["podSpec"]["volumes"]
    assert list(unknown_keys(checked, defaults)) == []
    for name, nodeset in values.get("nodesets", {}).items():
        assert list(unknown_keys(_without(nodeset, "podSpec"), defaults["nodesetDefaults"], name)) == []
    for name, loginset in values.get("loginsets", {}).items():
        assert list(unknown_keys(_without(loginset, "podSpec"), defaults["loginsetDefaults"], name)) == []


def test_the_key_check_is_not_blind(on):
    values = copy.deepcopy(on.values("slurm"))
    values["nodesets"]["gpu"]["slurmd"]["volumeMount"] = []  # a typo of volumeMounts
    defaults = chart_defaults("slurm")["nodesetDefaults"]
    assert list(unknown_keys(values["nodesets"]["gpu"], defaults)) == ["slurmd.volumeMount"]


def _container(spec: dict, image: str) -> dict:
    """A container as helm/slurm's `slurm.format-container` renders it: the image object as one string."""
    out = {k: v for k, v in spec.items() if k != "image"}
    out["image"] = f"{spec['image']['repository']}:{spec['image']['tag']}" if isinstance(spec.get("image"), dict) \
        else image
    return out


def _extra_conf(conf_map: dict) -> str | None:
    return " ".join(f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in conf_map.items()) or None


def rendered(s) -> list[dict]:
    """The NodeSets, LoginSets and Accounting the slurm chart (v1.2.1 templates nodeset-cr, loginset-cr,
    accounting-cr) renders from the platform's values merged over its defaults."""
    values = deep_merge(chart_defaults("slurm"), s.values("slurm"))
    meta = lambda name: {"name": name, "namespace": "slurm"}  # noqa: E731
    objects = []
    for key, entry in values["nodesets"].items():
        ns = deep_merge(values["nodesetDefaults"], entry)
        spec = {"controllerRef": {"name": "slurm"}, "scalingMode": ns["scalingMode"], "replicas": ns["replicas"],
                "slurmd": _container(ns["slurmd"], ""), "logfile": _container(ns["logfile"], ""),
                "template": {"spec": {**ns["podSpec"], "hostname": f"{key}-"}},
                "partition": {"enabled": ns["partition"]["enabled"]}, "updateStrategy": ns["updateStrategy"],
                "ordinalPadding": ns["ordinalPadding"], "pinToNode": ns["pinToNode"],
                "workloadDisruptionProtection": ns["workloadDisruptionProtection"],
                "pruneSlurmNodeRecords": ns["pruneSlurmNodeRecords"], "oversubscribeNode": ns["oversubscribeNode"]}
        if (conf := _extra_conf(ns["extraConfMap"])) is not None:
            spec["extraConf"] = conf
        objects.append({"apiVersion": "slinky.slurm.net/v1beta1", "kind": "NodeSet",
                        "metadata": meta(f"slurm-worker-{key}"), "spec": spec})
    for key, entry in values["loginsets"].items():
        ls = deep_merge(values["loginsetDefaults"], entry)
        spec = {"controllerRef": {"name": "slurm"}, "sssdConfRef": {"name": "slurm-sssd-conf", "key": "sssd.conf"},
                "rootSshAuthorizedKeys": ls["rootSshAuthorizedKeys"], "replicas": ls["replicas"],
                "login": _container(ls["login"], ""), "template": {"spec": ls["podSpec"]},
                "initconf": _container(ls["initconf"], ""), "service": ls["service"]}
        objects.append({"apiVersion": "slinky.slurm.net/v1beta1", "kind": "LoginSet",
                        "metadata": meta(f"slurm-login-{key}"), "spec": spec})
    acct = values["accounting"]
    objects.append({"apiVersion": "slinky.slurm.net/v1beta1", "kind": "Accounting", "metadata": meta("slurm"), "spec": {
        "slurmKeyRef": {"name": "slurm-auth-slurm", "key": "slurm.key"},
        "jwtKeyRef": {"name": "slurm-auth-jwt", "key": "jwt.key"},
        "slurmdbd": _container(acct["slurmdbd"], ""), "template": {"spec": acct["podSpec"]},
        "storageConfig": acct["storageConfig"]}})
    return objects


def test_the_custom_objects_the_chart_renders_are_valid_against_the_crds(on):
    objects = rendered(on)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in objects) == [
        ("Accounting", "slurm"), ("LoginSet", "slurm-login-slinky"), ("NodeSet", "slurm-worker-cpu"),
        ("NodeSet", "slurm-worker-gpu"), ("NodeSet", "slurm-worker-gpu-efa"), ("NodeSet", "slurm-worker-neuron")]
    for obj in objects:
        k8s.validate(obj)
        # The pod template is a core PodSpec: checked as a Pod with the chart's container.
        spec = copy.deepcopy(obj["spec"]["template"]["spec"])
        main = obj["spec"].get("slurmd") or obj["spec"].get("login") or obj["spec"]["slurmdbd"]
        spec["containers"] = [{"name": "main", **main}]
        k8s.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "slurm"}, "spec": spec})


def test_argo_cd_leaves_the_charts_generated_keys_alone():
    s = synth({"enable_slurm": True, "enable_argocd": True, "addons_delivery": "argocd",
               "argocd_manifests_repo_url": "https://github.com/example/mlplat.git",
               "argocd_manifests_repo_revision": "v0.1.0"})
    apps = applications(s)
    ignored = apps["slurm"]["spec"]["ignoreDifferences"]
    assert {"kind": "Secret", "name": "slurm-auth-slurm", "jsonPointers": ["/data"]} in ignored
    assert {"kind": "Secret", "name": "slurm-auth-jwt", "jsonPointers": ["/data"]} in ignored
    assert "RespectIgnoreDifferences=true" in apps["slurm"]["spec"]["syncPolicy"]["syncOptions"]


def test_the_crd_check_is_not_blind(on):
    [nodeset] = [o for o in rendered(on) if o["metadata"]["name"] == "slurm-worker-gpu"]
    nodeset["spec"]["replica"] = 2
    with pytest.raises(AssertionError, match="replica"):
        k8s.validate(nodeset)


# --- NodeSets --------------------------------------------------------------------------------------------------------

def test_nodesets_only_for_the_listed_pools(on, bare):
    assert sorted(on.values("slurm")["nodesets"]) == ["cpu", "gpu", "gpu-efa", "neuron"]
    assert bare.values("slurm")["nodesets"] == {}
    assert "loginsets" not in bare.values("slurm")


def test_each_nodeset_lands_on_exactly_its_pool_with_its_accelerators(on):
    pools = {p.name: p for p in on.blueprint.enabled_pools}
    assert set(pools) == {"general", "cpu", "gpu", "gpu-efa", "neuron", "inferentia1"}
    expected = {"cpu": {}, "gpu": {"nvidia.com/gpu": 4},
                "gpu-efa": {"nvidia.com/gpu": 8, "vpc.amazonaws.com/efa": 4},
                "neuron": {"aws.amazon.com/neuron": 1}}
    for name, nodeset in on.values("slurm")["nodesets"].items():
        resources = nodeset["slurmd"]["resources"]
        assert resources == ({"requests": expected[name], "limits": expected[name]} if expected[name] else {}), name
        spec = {**nodeset["podSpec"], "containers": [{"name": "slurmd", "resources": resources}]}
        assert [p for p in pools if fits(spec, pools[p])] == [name]
        # Placed by the pool's label and tolerations, never by instance type.
        assert nodeset["podSpec"]["nodeSelector"] == {"mlplat.io/pool": name}
        assert "affinity" not in nodeset["podSpec"]
        assert nodeset["partition"] == {"enabled": True}
    assert on.values("slurm")["nodesets"]["neuron"]["podSpec"]["schedulerName"] == "neuron-scheduler"
    assert {n for n, v in on.values("slurm")["nodesets"].items() if "schedulerName" in v["podSpec"]} == {"neuron"}
    assert [on.values("slurm")["nodesets"][n]["replicas"] for n in ("cpu", "gpu", "gpu-efa", "neuron")] == [3, 2, 2, 0]


def test_gpu_nodesets_declare_their_gpus_as_gres(on):
    values = on.values("slurm")
    assert values["nodesets"]["gpu"]["extraConfMap"] == {"Gres": ["gpu:4"]}
    assert values["nodesets"]["gpu-efa"]["extraConfMap"] == {"Gres": ["gpu:8"]}
    assert {n for n, v in values["nodesets"].items() if "extraConfMap" in v} == {"gpu", "gpu-efa"}
    assert values["configFiles"] == {"gres.conf": "AutoDetect=nvidia\n"}


def test_a_nodeset_defaults_to_no_pods_one_accelerator_one_efa_interface():
    s = synth({"enable_slurm": True, "nodepools": {"gpu-efa": {"enabled": True}}, "cuda_efa_az": "us-west-2a",
               "slurm_nodesets": {"gpu-efa": {}}})
    nodeset = s.values("slurm")["nodesets"]["gpu-efa"]
    assert nodeset["replicas"] == 0
    assert nodeset["slurmd"]["resources"]["limits"] == {"nvidia.com/gpu": 1, "vpc.amazonaws.com/efa": 1}


def test_shared_claims_are_made_in_the_slurm_namespace_and_mounted(on, bare):
    objects = on.objects("slurm-volumes")
    claims = {o["metadata"]["name"]: o for o in objects if o["kind"] == "PersistentVolumeClaim"}
    volumes = {o["metadata"]["name"]: o for o in objects if o["kind"] == "PersistentVolume"}
    assert sorted(claims) == ["efs-shared", "fsx-shared"]
    assert sorted(volumes) == ["efs-shared-slurm", "fsx-shared-slurm"]
    for obj in objects:
        k8s.validate(obj)
    assert {c["metadata"]["namespace"] for c in claims.values()} == {"slurm"}
    assert {v["spec"]["claimRef"]["namespace"] for v in volumes.values()} == {"slurm"}
    assert volumes["efs-shared-slurm"]["spec"]["csi"]["volumeHandle"].startswith(REMOTE + "aws_efs_file_system")
    assert volumes["fsx-shared-slurm"]["spec"]["csi"]["volumeHandle"].startswith(REMOTE + "aws_fsx_lustre")
    values = on.values("slurm")
    mounted = {"efs-shared": "/efs", "fsx-shared": "/fsx"}
    pods = [(ns["podSpec"], ns["slurmd"]) for ns in values["nodesets"].values()]
    pods.append((values["loginsets"]["slinky"]["podSpec"], values["loginsets"]["slinky"]["login"]))
    for pod, container in pods:
        claimed = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"]
                   if "persistentVolumeClaim" in v}
        assert claimed == {"efs-shared": "efs-shared", "fsx-shared": "fsx-shared"}
        assert {m["name"]: m["mountPath"] for m in container["volumeMounts"] if m["name"] in claimed} == mounted
    # Without FSx, only /efs.
    assert [o["metadata"]["name"] for o in bare.objects("slurm-volumes") if o["kind"] == "PersistentVolumeClaim"] == [
        "efs-shared"]


# --- accounting ------------------------------------------------------------------------------------------------------

def slurm_resources(s, rtype):
    return {k: {a: b for a, b in v.items() if a != "//"} for k, v in s.resources("aws", rtype).items()
            if k.startswith("slurm_")}


def ref(s, rtype, prefix, attr):
    [name] = [k for k in s.resources("aws", rtype) if k.startswith(prefix)]
    return f"${{{rtype}.{name}.{attr}}}"


def test_database_is_private_encrypted_tls_only_and_reachable_from_nodes_only(on):
    s = on
    [sg] = slurm_resources(s, "aws_security_group").values()
    assert sg == {"name": "mlplat-slurm-db", "vpc_id": ref(s, "aws_vpc", "network_", "id"),
                  "description": "Slurm accounting MySQL, from EKS nodes only"}
    [rule] = slurm_resources(s, "aws_vpc_security_group_ingress_rule").values()
    assert rule == {"security_group_id": ref(s, "aws_security_group", "slurm_", "id"),
                    "referenced_security_group_id": ref(s, "aws_security_group", "eks_node-sg", "id"),
                    "ip_protocol": "tcp", "from_port": 3306, "to_port": 3306, "description": "MySQL from nodes"}
    [subnets] = slurm_resources(s, "aws_db_subnet_group").values()
    private = sorted(f"${{aws_subnet.{k}.id}}" for k, v in s.resources("aws", "aws_subnet").items()
                     if "private" in v["tags"]["Name"])
    assert sorted(subnets["subnet_ids"]) == private
    [params] = slurm_resources(s, "aws_rds_cluster_parameter_group").values()
    assert (params["family"], params["parameter"]) == ("aurora-mysql8.0", [
        {"name": "require_secure_transport", "value": "ON"}, {"name": "server_audit_logging", "value": "1"},
        {"name": "server_audit_events", "value": "CONNECT"}])
    [cluster] = slurm_resources(s, "aws_rds_cluster").values()
    [eph_id] = [k for k in s.aws["ephemeral"]["aws_secretsmanager_secret_version"] if k.startswith("slurm_")]
    assert cluster == {
        "cluster_identifier": "mlplat-slurm", "engine": "aurora-mysql", "engine_mode": "provisioned",
        "engine_version": "8.0.mysql_aurora.3.10.5", "port": 3306, "master_username": "slurm",
        "master_password_wo": f"${{jsondecode(ephemeral.aws_secretsmanager_secret_version.{eph_id}.secret_string)"
                              f".password}}",
        "master_password_wo_version": 1,
        "db_subnet_group_name": ref(s, "aws_db_subnet_group", "slurm_", "name"),
        "vpc_security_group_ids": [ref(s, "aws_security_group", "slurm_", "id")],
        "db_cluster_parameter_group_name": ref(s, "aws_rds_cluster_parameter_group", "slurm_", "name"),
        "storage_encrypted": True, "kms_key_id": ref(s, "aws_kms_key", "kms_", "arn"),
        "serverlessv2_scaling_configuration": {"min_capacity": 0.5, "max_capacity": 2},
        "backup_retention_period": 7, "copy_tags_to_snapshot": True, "deletion_protection": True,
        "skip_final_snapshot": False,
        "final_snapshot_identifier": 'mlplat-slurm-final-${formatdate("YYYYMMDDhhmmss", timestamp())}',
        "enabled_cloudwatch_logs_exports": ["audit", "error"],
        "lifecycle": {"ignore_changes": ["engine_version", "final_snapshot_identifier"]},
    }
    [instance] = slurm_resources(s, "aws_rds_cluster_instance").values()
    assert (instance["identifier"], instance["instance_class"], instance["publicly_accessible"]) == (
        "mlplat-slurm-1", "db.serverless", False)
    assert instance["cluster_identifier"] == ref(s, "aws_rds_cluster", "slurm_", "id")
    assert instance["performance_insights_kms_key_id"] == ref(s, "aws_kms_key", "kms_", "arn")


def test_database_keys_size_and_protect_it():
    s = synth({"enable_slurm": True, "slurm_db_min_acu": 1.0, "slurm_db_max_acu": 4.5,
               "slurm_db_deletion_protection": False})
    [cluster] = slurm_resources(s, "aws_rds_cluster").values()
    assert cluster["serverlessv2_scaling_configuration"] == {"min_capacity": 1, "max_capacity": 4.5}
    assert cluster["deletion_protection"] is False


def test_the_password_is_generated_in_no_synthesized_file_and_reaches_slurmdbd_through_external_secrets(on):
    s = on
    [eph] = [v for k, v in s.aws["ephemeral"]["aws_secretsmanager_secret_version"].items() if k.startswith("slurm_")]
    assert eph["secret_id"] == ref(s, "aws_secretsmanager_secret", "secret-slurm-db_", "arn")
    [version] = [k for k in s.resources("aws", "aws_secretsmanager_secret_version") if k.startswith("secret-slurm-db_")]
    assert eph["depends_on"] == [f"aws_secretsmanager_secret_version.{version}"]
    text = json.dumps(s.aws) + json.dumps(s.kubernetes)
    assert '"master_password"' not in text and '"password":' not in text
    [use] = [u for u in secret_uses(s.blueprint) if u.purpose == "slurm-db"]
    assert (use.namespace, use.secret_name, use.username, use.template) == ("slurm", "slurm-db", "slurm", {})
    reader = json.loads(next(v for k, v in s.resources("aws", "aws_iam_role_policy").items()
                             if k.startswith("secret-reader"))["policy"])
    assert ref(s, "aws_secretsmanager_secret", "secret-slurm-db_", "arn") in reader["Statement"][0]["Resource"]
    [external] = [o for o in s.objects("platform-secrets") if o["kind"] == "ExternalSecret"
                  and o["metadata"]["namespace"] == "slurm"]
    assert external["spec"]["target"]["name"] == "slurm-db"
    key = external["spec"]["dataFrom"][0]["extract"]["key"]
    assert s.aws["output"][key.split(".outputs.")[1][:-1]]["value"] == ref(
        s, "aws_secretsmanager_secret", "secret-slurm-db_", "name")
    # The Secret holds username and password (the JSON's fields); slurmdbd reads the password key of it.
    storage = s.values("slurm")["accounting"]["storageConfig"]
    assert storage["passwordKeyRef"] == {"name": "slurm-db", "key": "password"}
    assert storage["username"] == use.username


def test_accounting_is_on_and_points_at_the_aurora_cluster(on):
    accounting = on.values("slurm")["accounting"]
    host = accounting["storageConfig"]["host"]
    assert host.startswith(REMOTE + "aws_rds_clusterslurm_db") and host.endswith("endpoint}")
    assert _without(accounting["storageConfig"], "host") == {
        "port": 3306, "database": "slurm_acct_db", "username": "slurm",
        "passwordKeyRef": {"name": "slurm-db", "key": "password"}}
    assert (accounting["enabled"], accounting.get("external", False)) == (True, False)
    outputs = on.aws["output"]
    assert outputs["slurm_db_endpoint"]["value"] == ref(on, "aws_rds_cluster", "slurm_", "endpoint")
    assert outputs["slurm_db_port"]["value"] == 3306
    assert outputs["secret_name_slurm_db"]["value"] == ref(on, "aws_secretsmanager_secret", "secret-slurm-db_", "name")


def test_slurmdbd_verifies_auroras_tls_against_the_regions_rds_authorities(on):
    accounting = on.values("slurm")["accounting"]
    assert accounting["extraConfMap"] == {"StorageParameters": "SSL_CA=/etc/slurm/rds-ca/bundle.pem"}
    assert accounting["slurmdbd"]["volumeMounts"] == [
        {"name": "rds-ca", "mountPath": "/etc/slurm/rds-ca", "readOnly": True}]
    [fetch] = accounting["podSpec"]["initContainers"]
    k8s.validate({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                  "spec": {"containers": [fetch], "volumes": accounting["podSpec"]["volumes"]}})
    assert fetch["command"][-2:] == ["https://truststore.pki.rds.amazonaws.com/us-west-2/us-west-2-bundle.pem",
                                     "/etc/slurm/rds-ca/bundle.pem"]
    assert {"name": "rds-ca", "emptyDir": {"sizeLimit": "1Mi"}} in accounting["podSpec"]["volumes"]
    # The fetch verifies the server (urllib's default context) and refuses anything but PEM certificates.
    assert "ssl._create_unverified_context" not in fetch["command"][2] and "BEGIN CERTIFICATE" in fetch["command"][2]


# --- placement of the cluster's own pods, exposure, metrics -----------------------------------------------------------

def test_controller_accounting_and_restapi_on_the_general_pool_operator_on_the_system_nodes(on):
    values = on.values("slurm")
    for part in ("controller", "accounting", "restapi"):
        assert values[part]["podSpec"]["nodeSelector"] == {"mlplat.io/pool": "general"}, part
    operator = on.values("slurm-operator")
    system = {"nodeSelector": {"mlplat.io/pool": "system"},
              "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists", "effect": "NoSchedule"}]}
    for part in ("operator", "webhook"):
        assert {k: operator[part][k] for k in system} == system
        assert operator[part]["namespaces"] == "slurm"
    assert operator["certManager"] == {"enabled": True}


def test_nothing_is_public(on):
    values = deep_merge(chart_defaults("slurm"), on.values("slurm"))
    assert chart_defaults("slurm")["loginsetDefaults"]["service"]["spec"]["type"] == "LoadBalancer"  # overridden
    assert on.values("slurm")["loginsets"]["slinky"]["service"] == {"spec": {"type": "ClusterIP"}}
    for part in ("controller", "restapi", "accounting"):
        assert values[part].get("service", {}).get("spec", {}).get("type", "ClusterIP") == "ClusterIP", part


def test_login_node_only_with_keys_and_it_trusts_exactly_them(on, bare):
    loginset = on.values("slurm")["loginsets"]["slinky"]
    assert (loginset["enabled"], loginset["replicas"], loginset["rootSshAuthorizedKeys"]) == (True, 1, KEY + "\n")
    assert loginset["podSpec"]["nodeSelector"] == {"mlplat.io/pool": "general"}
    assert "loginsets" not in bare.values("slurm")


def test_the_cluster_is_named_after_the_platform():
    assert synth({"enable_slurm": True, "name": "ml-prod"}).values("slurm")["clusterName"] == "ml_prod"


def test_metrics_are_scraped_only_with_the_observability_stack(on, bare):
    assert on.values("slurm")["controller"]["metrics"] == {
        "enabled": True, "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}}
    assert "metrics" not in bare.values("slurm")["controller"]


# --- blueprint rules -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("enable_slurm = true\nslurm_nodesets = { neuron = { replicas = 1 } }\n",
     "slurm_nodesets.neuron: the neuron pool is not enabled; enable it (nodepools.neuron.enabled = true) or remove it "
     "from slurm_nodesets"),
    ("enable_slurm = true\nslurm_nodesets = { general = {} }\n",
     "slurm_nodesets.general: unknown Slurm node pool; known: cpu, gpu, gpu-efa, neuron"),
    ("enable_slurm = true\nslurm_login_ssh_public_keys = [\"ssh-dss AAAAB3NzaC1kc3M= old\"]\n",
     "slurm_login_ssh_public_keys[0]: 'ssh-dss' is not a key type sshd accepts; use one of ssh-ed25519, ssh-rsa, "
     "ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, "
     "sk-ecdsa-sha2-nistp256@openssh.com"),
    ("enable_slurm = true\nslurm_login_ssh_public_keys = [\"ssh-ed25519\"]\n",
     "slurm_login_ssh_public_keys[0]: expected one OpenSSH public key line such as 'ssh-ed25519 AAAAC3Nza... "
     "user@host'"),
    ("enable_slurm = true\nslurm_login_ssh_public_keys = [\"ssh-rsa " + KEY.split()[1] + "\"]\n",
     "slurm_login_ssh_public_keys[0]: the key's data is a 'ssh-ed25519' key, but the line says 'ssh-rsa'; paste the "
     ".pub file unchanged"),
    ("enable_slurm = true\nslurm_login_ssh_public_keys = [\"ssh-ed25519 AAAA@@@@\"]\n",
     "slurm_login_ssh_public_keys[0]: expected one OpenSSH public key line such as 'ssh-ed25519 AAAAC3Nza... "
     "user@host'"),
    ("enable_slurm = true\nslurm_nodesets = { gpu = { replicas = 9, accelerators_per_node = 8 } }\n",
     "slurm_nodesets.gpu.replicas: 9 nodes x 8 accelerators = 72, more than the gpu pool's max_accelerators of 64; "
     "lower replicas or raise nodepools.gpu.max_accelerators"),
    ("enable_slurm = true\nslurm_nodesets = { gpu = { efa_per_node = 2 } }\n",
     "slurm_nodesets.gpu.efa_per_node: the gpu pool has no EFA interfaces; remove efa_per_node"),
    ("enable_slurm = true\nnodepools = { cpu = { enabled = true } }\n"
     "slurm_nodesets = { cpu = { accelerators_per_node = 2 } }\n",
     "slurm_nodesets.cpu.accelerators_per_node: the cpu pool has no accelerators; remove accelerators_per_node"),
    ("enable_slurm = true\nslurm_db_min_acu = 4\nslurm_db_max_acu = 2\n",
     "slurm_db_max_acu: expected at least slurm_db_min_acu (4), got 2"),
    ("enable_slurm = true\nslurm_db_max_acu = 2.2\n", "slurm_db_max_acu: expected a multiple of 0.5 ACU, got 2.2"),
    ({"enable_slurm": True, "enable_efs": False},
     "enable_slurm: Slurm nodes share /efs (job scripts, home directories): set enable_efs = true"),
    ("enable_slurm = true\nworkload_namespaces = [\"ml\", \"slurm\"]\n",
     "workload_namespaces[1]: 'slurm' is the Slurm cluster's namespace (enable_slurm); use another name"),
    ("slurm_nodesets = { gpu = {} }\n",
     "slurm_nodesets: has no effect without enable_slurm = true; set it or remove this key"),
    ("slurm_db_deletion_protection = false\n",
     "slurm_db_deletion_protection: has no effect without enable_slurm = true; set it or remove this key"),
], ids=["disabled-pool", "unknown-pool", "dss-key", "key-without-data", "key-type-mismatch", "key-not-base64",
        "over-pool-limit", "efa-on-gpu", "accelerators-on-cpu", "acu-order", "acu-step", "needs-efs",
        "namespace-taken", "nodesets-without-slurm", "db-key-without-slurm"])
def test_wrong_keys_fail_with_one_exact_message(text, expected):
    found = lines_of(text)
    assert found == [expected]


def test_real_openssh_keys_are_accepted(tmp_path):
    keys = []
    for kind in ("ed25519", "rsa", "ecdsa"):
        path = tmp_path / f"id_{kind}"
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "someone@example.com", "-f", str(path)],
                       check=True)
        keys.append(path.with_suffix(".pub").read_text().strip())
    bp = parse_text(blueprint_text({"enable_slurm": True, "slurm_login_ssh_public_keys": keys}), "bp.tfvars")
    assert bp.slurm_login_ssh_public_keys == tuple(keys)


# --- cost, shipped blueprint -----------------------------------------------------------------------------------------

def test_idle_cost_prices_the_accounting_database_at_its_minimum_capacity():
    bp = parse_text(blueprint_text({"enable_slurm": True, "slurm_db_min_acu": 1.5, "region": "us-east-1"}), "b.tfvars")
    items = {i.name: i for i in estimate(bp, date(2026, 11, 30)).items}
    item = items["Aurora Serverless v2 (Slurm accounting)"]
    assert (item.count, item.detail) == (1.5, "1 x 1.5 ACU (minimum capacity)")
    assert item.hourly == pytest.approx(1.5 * REGIONS["us-east-1"].aurora_serverless_v2_acu.usd)


def test_in_the_everything_on_blueprint():
    every = synth(text=(ROOT / "blueprints" / "everything-on.tfvars").read_text())
    assert set(RELEASES) <= set(every.releases())
    nodesets = every.values("slurm")["nodesets"]
    assert {n: v["replicas"] for n, v in nodesets.items()} == {"gpu-efa": 2, "neuron": 0}
    assert list(every.values("slurm")["loginsets"]) == ["slinky"]
    clusters = {v["cluster_identifier"] for v in every.resources("aws", "aws_rds_cluster").values()}
    assert clusters == {"everything-mlflow", "everything-slurm", "everything-airflow"}


# --- the AWS layer on the emulator ------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_everything_on_aws_layer_deploys_replans_clean_and_destroys_clean(tmp_path: Path) -> None:
    """The everything-on AWS layer (both databases unprotected, so destroy may delete them) applied on the emulator
    with the real terraform: a second plan has nothing to do, and destroy leaves no Slurm database behind."""
    from mlplat.emulator import LocalAws
    from tests.emulator.support import client_factory
    from tests.support.terraform import cli_config

    text = (ROOT / "blueprints" / "everything-on.tfvars").read_text()
    text += ("mlflow_db_deletion_protection = false\nslurm_db_deletion_protection = false\n"
             "airflow_db_deletion_protection = false\n")
    s = synth(text=text)
    stack = tmp_path / "stack"
    shutil.copytree(s.outdir / "stacks" / f"{s.blueprint.name}-aws", stack)
    rc = cli_config(tmp_path)
    aws = LocalAws(tmp_path / "emulator", region=s.blueprint.region)
    aws.start()
    try:
        env = {**os.environ, **aws.terraform_env(), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
               **({"TF_CLI_CONFIG_FILE": str(rc)} if rc else {})}

        def tf(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
            proc = subprocess.run(["terraform", *args, "-no-color"], cwd=stack, env=env, capture_output=True,
                                  text=True, timeout=1800)
            assert proc.returncode in ok, (proc.stdout + proc.stderr)[-6000:]
            return proc

        tf("init", "-input=false")
        tf("apply", "-input=false", "-auto-approve")
        rds = client_factory(aws)("rds")
        state = tf("state", "list").stdout.split()
        assert any(a.startswith("aws_rds_cluster.slurm_db") for a in state)
        assert any(a.startswith("aws_rds_cluster_instance.slurm_db-1") for a in state)
        # The ACK SageMaker controller's two roles (and the controller's Pod Identity association) ride along: the
        # everything-on blueprint is their round trip too.
        assert len([a for a in state if a.startswith("aws_iam_role.ack-sagemaker")]) == 2, state
        assert any(a.startswith("aws_eks_pod_identity_association.ack-sagemaker") for a in state), state
        # Airflow's metadata database, its log bucket and the log role's five associations (one per component).
        assert any(a.startswith("aws_rds_cluster.airflow_db") for a in state), state
        assert len([a for a in state if a.startswith("aws_eks_pod_identity_association.airflow")]) == 5, state
        replan = tf("plan", "-input=false", "-detailed-exitcode", ok=(0, 2))
        assert replan.returncode == 0, replan.stdout[-6000:]
        tf("destroy", "-input=false", "-auto-approve")
        assert tf("state", "list").stdout.split() == []
        assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]] == []
        # Each database leaves its final snapshot (skip_final_snapshot = false), the Slurm one included; automated
        # snapshots (`rds:` names) go with their cluster in AWS.
        snapshots = [c["DBClusterSnapshotIdentifier"] for c in rds.describe_db_cluster_snapshots(
            SnapshotType="manual")["DBClusterSnapshots"]]
        assert sorted(n.rsplit("-", 1)[0] for n in snapshots) == ["everything-airflow-final", "everything-mlflow-final",
                                                                  "everything-slurm-final"]
    finally:
        aws.stop()
