"""End to end on the embedded AWS, through the CLI as a pipeline would call it, with the real terraform and AWS
provider. Three round trips, which run side by side under `make test`:

- an interrupted deploy (SIGINT to mlplat alone, as `timeout -s INT` sends it) that stops terraform cleanly, then a
  reviewed plan that finishes the job applied exactly, refused once stale, a clean re-plan, outputs read without the
  emulator, a dry-run destroy, and a destroy of the second generation of the MLflow database (its final snapshot name
  is its own) whose sweep removes seeded strays of the cluster and leaves look-alikes;
- destroy refused up front while the MLflow database is protected, with nothing destroyed, then allowed once the
  flag is deployed;
- destroy -> deploy -> destroy -> deploy under one name: every generated secret's name is still in its recovery
  window when the next generation is deployed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.support.synth import blueprint_text
from tests.support.terraform import mirror_env

pytestmark = pytest.mark.e2e
ENV = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "MLPLAT_TODAY": "2026-11-30"}
# What a test is not about is left out: the slow storage, and the access node and flow logs (the first round trip
# keeps the default blueprint's, access node and flow logs included).
LEAN = {"enable_fsx": False, "enable_efs": False, "create_cluster_access_node": False,
                   "enable_vpc_flow_logs": False}


def mlplat(args: list[str], cwd: Path, blueprint: Path, *, ok: bool = True) -> tuple[int, dict, str]:
    env = {**os.environ, **mirror_env(), **ENV}
    proc = subprocess.run([sys.executable, "-m", "mlplat", *args, "--local", "--json", "--blueprint", str(blueprint)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)
    keep_log(cwd, args[0], proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "failed inside the emulator" not in proc.stderr, proc.stderr[-1000:]
    result = json.loads(proc.stdout)
    if ok:
        assert proc.returncode == 0 and result["ok"], result.get("error") or proc.stderr[-3000:]
    return proc.returncode, result, proc.stderr


def keep_log(cwd: Path, command: str, stderr: str) -> None:
    """Each command's progress, kept in the test's directory (pytest keeps the last runs'): when a round trip fails,
    what happened before the failing step is there to read."""
    number = len(list(cwd.glob("*.log"))) + 1
    (cwd / f"{number:02d}-{command}.log").write_text(stderr)


def write(tmp_path: Path, delta: dict) -> Path:
    blueprint = tmp_path / "platform.tfvars"
    blueprint.write_text(blueprint_text(delta))
    return blueprint


def in_state(tmp_path: Path, rtype: str, prefix: str) -> dict:
    """The attributes of the AWS layer's resource of `rtype` whose name starts with `prefix`, from terraform's state."""
    state = json.loads((tmp_path / ".mlplat-local" / "mlplat" / "tfstate" / "mlplat-aws.tfstate").read_text())
    [resource] = [r for r in state["resources"] if r["type"] == rtype and r["name"].startswith(prefix)]
    return resource["instances"][0]["attributes"]


def deployed_reader_policy(tmp_path: Path) -> dict:
    """External Secrets' role policy as terraform's state holds it after the apply."""
    return json.loads(in_state(tmp_path, "aws_iam_role_policy", "secret-reader")["policy"])


def processes_in(directory: Path) -> list[str]:
    """Live processes working under `directory` (terraform and its providers run in the stack directories)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(directory)) and int(pid) != os.getpid():
            found.append(f"{pid}: {cmdline.strip()}")
    return found


def interrupt_deploy_at(tmp_path: Path, blueprint: Path, marker: str) -> tuple[int, dict, str]:
    """Start a deploy, send mlplat (alone) SIGINT once `marker` shows up in its progress, and collect the result."""
    env = {**os.environ, **mirror_env(), **ENV}
    proc = subprocess.Popen([sys.executable, "-m", "mlplat", "deploy", "--local", "--auto-approve", "--json",
                             "--blueprint", str(blueprint)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            break
    else:
        pytest.fail(f"the apply never reached {marker!r}:\n" + "".join(seen[-30:]))
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=600)
    keep_log(tmp_path, "interrupted-deploy", "".join(seen) + rest)
    return proc.returncode, json.loads(out), "".join(seen) + rest


def test_interrupted_deploy_then_a_reviewed_plan_finishes_it_exactly(tmp_path):
    # A workload secret the user owns (External Secrets' role reads it besides the platform's) and a namespace's S3
    # role: deployed, re-planned with no changes, destroyed with the rest.
    # Loki on S3: its bucket and Loki's Pod Identity role, deployed, re-planned and destroyed with the rest.
    blueprint = write(tmp_path, {"enable_mlflow": True, "mlflow_db_deletion_protection": False,
                                 "workload_secrets": {"hf-token": {"secret": "ml/hf-token"}},
                                 "workload_s3_access": {"ml-workloads": {"write_prefixes": ["s3://ml-data/team-a/"]}},
                                 "enable_ai_ml_observability_stack": True, "observability_logs_backend": "loki",
                                 "loki_storage": "s3"})
    # At the database instance: a create that records its id before its wait (kept, tainted), started after the
    # resources that could be left behind untracked (created, but interrupted before their id was saved).
    code, interrupted, stderr = interrupt_deploy_at(tmp_path, blueprint, "create aws_rds_cluster_instance.mlflow_db-1_")
    assert code == 130 and "Traceback" not in stderr, stderr[-3000:]
    assert interrupted["interrupted"] is True and interrupted["error"].startswith(
        "interrupted: terraform apply of mlplat-aws stopped")
    db = next(a for a in interrupted["in_flight"] if a.startswith("aws_rds_cluster_instance.mlflow_db-1_"))
    assert processes_in(tmp_path) == []  # terraform and its provider stopped with mlplat

    # The plan to review: the interrupted create is replaced (terraform kept it tainted), and says why.
    plan_file = tmp_path / "review.plan"
    code, planned, _ = mlplat(["plan", "--out", str(plan_file), "--detailed-exitcode"], tmp_path, blueprint, ok=False)
    assert code == 3 and planned["saved"] == str(plan_file)
    changes = {c["address"]: c for c in planned["stacks"]["mlplat-aws"]["changes"]}
    assert (changes[db]["action"], changes[db]["reason"]) == ("replace", "tainted: an earlier apply did not finish it")
    assert planned["stacks"]["mlplat-aws"]["changes"][0]["action"] == "replace"  # most consequential first

    _, deployed, _ = mlplat(["deploy", "--plan", str(plan_file)], tmp_path, blueprint)
    assert deployed["stacks"]["mlplat-aws"] == {"applied": "saved plan"}
    outputs = deployed["outputs"]["mlplat-aws"]
    assert outputs["cluster_name"] == "mlplat" and outputs["mlflow_db_endpoint"]
    assert deployed["kubernetes"]["applied"] is False and deployed["kubernetes"]["checks"]["problems"] == []

    # The platform changed since that plan was made (it was applied): applying it again is refused, unapplied.
    code, stale, _ = mlplat(["deploy", "--plan", str(plan_file)], tmp_path, blueprint, ok=False)
    assert code == 1 and "the saved plan for mlplat-aws is stale" in stale["error"]

    code, replanned, _ = mlplat(["plan", "--detailed-exitcode"], tmp_path, blueprint)
    assert (code, replanned["changes"], replanned["stacks"]["mlplat-aws"]["changes"]) == (0, 0, [])
    assert [s["Sid"] for s in deployed_reader_policy(tmp_path)["Statement"]] == [
        "ReadPlatformSecrets", "DecryptThroughSecretsManager", "ReadNamedUserSecrets"]
    assert deployed_reader_policy(tmp_path)["Statement"][2]["Resource"][0].endswith(":secret:ml/hf-token-??????")
    association = in_state(tmp_path, "aws_eks_pod_identity_association", "workload-s3-ml-workloads")
    assert (association["namespace"], association["service_account"]) == ("ml-workloads", "ml-workload")
    assert in_state(tmp_path, "aws_iam_role", "workload-s3-ml-workloads")["name"] == "mlplat-workload-ml-workloads"
    loki = in_state(tmp_path, "aws_eks_pod_identity_association", "loki")
    assert (loki["namespace"], loki["service_account"]) == ("logging", "loki")
    assert outputs["loki_bucket_name"].startswith("mlplat-loki-")

    # Outputs come from the state file: no emulator, no synthesis, full-length values.
    _, shown, stderr = mlplat(["outputs"], tmp_path, blueprint)
    assert shown["outputs"]["mlplat-aws"] == outputs and "embedded AWS" not in stderr

    # Changed by hand, outside terraform: the VPC loses its Name tag. `status --drift` plans and names it (exit 3).
    state_dir = tmp_path / ".mlplat-local" / "mlplat" / "emulator"
    vpc_id = untag_vpc(state_dir, "Name")
    code, status, _ = mlplat(["status", "--drift"], tmp_path, blueprint, ok=False)
    assert (code, status["drift"]["checked"], status["drift"]["changes"]) == (3, True, 1), status
    [drifted] = status["drift"]["stacks"]["mlplat-aws"]["resources"]
    assert drifted.startswith("update aws_vpc.") and vpc_id

    # What the cluster's controllers would leave behind, which terraform never knew about, and look-alikes that are
    # not the platform's: the sweep (destroy's last phase) removes the first and leaves the others. A dry run shows
    # them, and the terraform phase, and changes nothing.
    strays, orphans, others = seed_strays(state_dir)
    _, dry, _ = mlplat(["destroy", "--dry-run"], tmp_path, blueprint)
    assert (dry["sweep"]["found"], dry["cluster"]) == (
        {**strays, **orphans}, {"skipped": "no Kubernetes cluster behind the embedded AWS"})
    assert dry["stacks"]["mlplat-aws"]["remove"] > 60
    _, intact, _ = mlplat(["outputs"], tmp_path, blueprint)
    assert intact["outputs"] == shown["outputs"]

    # The replaced database left a final snapshot; this second generation's destroy must not collide with it.
    _, destroyed, _ = mlplat(["destroy", "--auto-approve"], tmp_path, blueprint)
    assert destroyed["stacks"]["mlplat-aws"]["deletes"] == destroyed["stacks"]["mlplat-aws"]["remove"] > 60
    assert destroyed["orphans"] == {"removed": orphans}  # before the VPC's deletion, which it would have failed
    assert destroyed["sweep"]["removed"] == strays and destroyed["sweep"]["left"] == []
    assert destroyed["emulator_resources_left"] == {"logs_log_groups": 1}  # the other cluster's log group
    assert remaining(state_dir, others) == others
    code, gone, _ = mlplat(["outputs"], tmp_path, blueprint, ok=False)
    assert (code, gone["error"]) == (1, "platform 'mlplat' is not deployed on the embedded AWS: no stack has "
                                        "resources; run mlplat deploy --local")


def test_destroy_is_refused_up_front_while_the_database_is_protected(tmp_path):
    delta = {"enable_mlflow": True, **LEAN}
    blueprint = write(tmp_path, delta)  # deletion protection on: the default
    _, first, _ = mlplat(["deploy", "--auto-approve"], tmp_path, blueprint)
    code, refused, _ = mlplat(["destroy", "--auto-approve"], tmp_path, blueprint, ok=False)
    assert code == 1 and refused["error"].startswith(
        "destroy refused before changing anything, because it would stop half-way:\n  - aws_rds_cluster.mlflow_db_")
    assert "set mlflow_db_deletion_protection = false in the blueprint and run `mlplat deploy`" in refused["error"]
    _, intact, _ = mlplat(["outputs"], tmp_path, blueprint)
    assert intact["outputs"] == first["outputs"]  # nothing was destroyed

    blueprint = write(tmp_path, {**delta, "mlflow_db_deletion_protection": False})
    _, flag, _ = mlplat(["deploy", "--auto-approve"], tmp_path, blueprint)
    assert [(c["action"], c["path"]) for c in flag["stacks"]["mlplat-aws"]["changes"]] == [("update", "mlflow/db")]
    _, destroyed, _ = mlplat(["destroy", "--auto-approve"], tmp_path, blueprint)
    assert destroyed["emulator_resources_left"] == {}


SWEEP_REGION = "us-west-2"


def _ec2_and_logs(aws):
    import boto3

    kwargs = {"endpoint_url": aws.endpoint, "region_name": SWEEP_REGION, "aws_access_key_id": "testing",
              "aws_secret_access_key": "testing"}
    return boto3.client("ec2", **kwargs), boto3.client("logs", **kwargs)


def untag_vpc(state_dir: Path, key: str) -> str:
    """Remove tag `key` from the platform's VPC in its saved emulator state, as someone would by hand."""
    from mlplat.emulator import LocalAws

    with LocalAws(state_dir, region=SWEEP_REGION) as aws:
        ec2, _ = _ec2_and_logs(aws)
        [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:Platform", "Values": ["mlplat"]}])["Vpcs"]
        assert key in {t["Key"] for t in vpc.get("Tags", [])}
        ec2.delete_tags(Resources=[vpc["VpcId"]], Tags=[{"Key": key}])
    return vpc["VpcId"]


def seed_strays(state_dir: Path) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]]]:
    """Into the platform's saved emulator state (no mlplat process is running): a CSI volume, a Container Insights
    log group and a Karpenter-style placement group of cluster `mlplat`; an untagged volume and another cluster's
    log group; and in the platform's VPC, a route table with the platform's tags that terraform's state does not
    hold, as an interrupted create leaves it (it made a fresh-clone run hang in the VPC's deletion). Returns (what the
    sweep after terraform removes, by sweep kind; what must go before terraform; the others)."""
    from mlplat.emulator import LocalAws

    owned = [{"Key": "kubernetes.io/cluster/mlplat", "Value": "owned"}]
    with LocalAws(state_dir, region=SWEEP_REGION) as aws:
        ec2, logs = _ec2_and_logs(aws)
        platform = [{"Key": "Platform", "Value": "mlplat"}, {"Key": "ManagedBy", "Value": "mlplat"}]
        [vpc] = ec2.describe_vpcs(Filters=[{"Name": f"tag:{t['Key']}", "Values": [t["Value"]]}
                                           for t in platform])["Vpcs"]
        lost = ec2.create_route_table(VpcId=vpc["VpcId"], TagSpecifications=[
            {"ResourceType": "route-table", "Tags": [*platform, {"Key": "Name", "Value": "mlplat-public"}]}])
        volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=10, TagSpecifications=[
            {"ResourceType": "volume", "Tags": owned}])["VolumeId"]
        untagged = ec2.create_volume(AvailabilityZone="us-west-2a", Size=10)["VolumeId"]
        ec2.create_placement_group(GroupName="mlplat-efa", Strategy="cluster", TagSpecifications=[
            {"ResourceType": "placement-group", "Tags": owned}])
        logs.create_log_group(logGroupName="/aws/containerinsights/mlplat/application")
        logs.create_log_group(logGroupName="/aws/containerinsights/other/application")
    return ({"log_group": ["/aws/containerinsights/mlplat/application"], "placement_group": ["mlplat-efa"],
             "volume": [volume]},
            {"route_table": [lost["RouteTable"]["RouteTableId"]]},
            {"log_group": ["/aws/containerinsights/other/application"], "volume": [untagged]})


def remaining(state_dir: Path, wanted: dict[str, list[str]]) -> dict[str, list[str]]:
    from mlplat.emulator import LocalAws

    with LocalAws(state_dir, region=SWEEP_REGION) as aws:
        ec2, logs = _ec2_and_logs(aws)
        volumes = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
        groups = {g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]}
    return {"log_group": [g for g in wanted["log_group"] if g in groups],
            "volume": [v for v in wanted["volume"] if v in volumes]}


def test_destroy_deploy_destroy_deploy_under_one_name(tmp_path):
    blueprint = write(tmp_path, {"enable_argocd": True, "enable_ai_ml_observability_stack": True, **LEAN})
    _, first, _ = mlplat(["deploy", "--auto-approve"], tmp_path, blueprint)
    created = first["stacks"]["mlplat-aws"]["add"]
    secrets = {k: v for k, v in first["outputs"]["mlplat-aws"].items() if k.startswith("secret_name_")}
    assert sorted(secrets) == ["secret_name_argocd_admin", "secret_name_grafana_admin",
                               "secret_name_opensearch_admin", "secret_name_opensearch_dashboards",
                               "secret_name_opensearch_logs_reader", "secret_name_opensearch_logs_writer"]
    names = set(secrets.values())
    for _ in range(2):
        _, destroyed, _ = mlplat(["destroy", "--auto-approve"], tmp_path, blueprint)
        assert destroyed["stacks"]["mlplat-aws"]["deletes"] == created
        assert destroyed["emulator_resources_left"] == {}
        # The same name again: the old secrets wait out their 7-day recovery window under their names (the
        # emulator refuses those names as Secrets Manager does), so the new generation gets its own.
        _, again, _ = mlplat(["deploy", "--auto-approve"], tmp_path, blueprint)
        assert again["stacks"]["mlplat-aws"]["add"] == created
        renamed = {k: v for k, v in again["outputs"]["mlplat-aws"].items() if k.startswith("secret_name_")}
        assert renamed.keys() == secrets.keys() and not set(renamed.values()) & names
        names |= set(renamed.values())
