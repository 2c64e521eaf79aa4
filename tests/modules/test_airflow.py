"""Airflow (enable_airflow): off creates nothing; on adds exactly its releases and AWS resources; every value key the
platform sets is one recorded from the chart (tests/upstream/airflow-chart.json); no password in any value; the
metadata connection is built in the cluster from the generated secret and requires TLS; the log role is bound to
exactly the chart's service accounts; the example DAG runs a rendered pipeline against the fake Kubernetes API."""

from __future__ import annotations

import ast
import re
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from mlplat.airflow_config import AIRFLOW_NAMESPACE
from mlplat.catalog.airflow import (ADMIN_MOUNT, ADMIN_SECRET, DAGS_CONFIGMAP, EXAMPLE_DAGS, METADATA_SECRET,
                                    SERVICE_ACCOUNTS, WORKER_SERVICE_ACCOUNT)
from mlplat.catalog.secrets import secret_uses
from mlplat.kube import fake_api as F
from mlplat.kube.client import loopback_api_client
from tests.modules.blueprints import added_types, addresses
from tests.modules.test_slurm import deps, lines_of
from tests.support.chart_values import unknown_keys
from tests.support.paths import ROOT
from tests.support.synth import synth

RECORD = json.loads((ROOT / "tests" / "upstream" / "airflow-chart.json").read_text())
RELEASES = ("airflow-objects", "airflow-pipeline-access", "airflow", "airflow-monitoring")
REPO = {"enable_airflow": True, "airflow_dags_git_repo": "https://github.com/acme/ml-dags.git",
        "airflow_dags_git_ref": "v1.4.0", "airflow_dags_git_subpath": "dags"}


@pytest.fixture(scope="module")
def on():
    return synth({"enable_airflow": True, "enable_ai_ml_observability_stack": True})


@pytest.fixture(scope="module")
def from_git():
    return synth(REPO)


# --- toggles, pins, order ------------------------------------------------------------------------------------------

def test_off_by_default_creates_nothing_of_airflow():
    s = synth()
    assert not set(RELEASES) & set(s.releases())
    assert not [k for rtype in s.aws["resource"] for k in s.aws["resource"][rtype] if "airflow" in k.lower()]
    assert not {u.purpose for u in secret_uses(s.blueprint)} & {"airflow-db", "airflow-admin"}


def test_the_toggle_adds_exactly_its_resources_to_both_stacks():
    off, on = synth(), synth({"enable_airflow": True})
    assert set(on.releases()) - set(off.releases()) == {"airflow-objects", "airflow-pipeline-access", "airflow",
                                                        "external-secrets", "platform-secrets"}
    assert added_types(addresses(on.aws), addresses(off.aws)) == Counter({
        # two generated passwords (database, admin) and External Secrets' role that may read them
        "resource.aws_secretsmanager_secret": 2, "resource.aws_secretsmanager_secret_version": 2,
        "ephemeral.aws_secretsmanager_random_password": 2, "output.secret_arn_airflow_db": 1,
        "output.secret_name_airflow_db": 1, "output.secret_arn_airflow_admin": 1,
        "output.secret_name_airflow_admin": 1,
        # External Secrets' role and association, and the log role with one association per component
        "resource.aws_iam_role": 2, "resource.aws_iam_role_policy": 2, "resource.aws_eks_pod_identity_association": 6,
        # the log bucket (the platform's secure bucket baseline)
        **{k: v for k, v in added_types(addresses(on.aws), addresses(off.aws)).items() if k.startswith(
            "resource.aws_s3_bucket")},
        # the metadata database and its network
        "resource.aws_security_group": 1, "resource.aws_vpc_security_group_ingress_rule": 1,
        "resource.aws_db_subnet_group": 1, "resource.aws_rds_cluster_parameter_group": 1,
        "resource.aws_rds_cluster": 1, "resource.aws_rds_cluster_instance": 1,
        "ephemeral.aws_secretsmanager_secret_version": 1, "output.airflow_db_endpoint": 1,
        "output.airflow_log_bucket": 1, "output.airflow_role_arn": 1})
    assert any(k.startswith("resource.aws_s3_bucket") for k in added_types(addresses(on.aws), addresses(off.aws)))


def test_the_chart_is_pinned_and_installed_after_its_secrets_and_objects(on):
    release = on.releases()["airflow"]
    assert (release["chart"], release["version"], release["repository"], release["namespace"]) == (
        "airflow", RECORD["pinned"], "https://airflow.apache.org", AIRFLOW_NAMESPACE)
    assert deps(on, "airflow") == ["airflow-objects", "karpenter-nodepools", "platform-secrets"]
    assert deps(on, "airflow-objects") == ["platform-secrets"]
    assert deps(on, "airflow-pipeline-access") == ["workload-namespaces"]
    assert deps(on, "airflow-monitoring") == ["airflow", "kube-prometheus-stack"]


def test_no_workload_namespaces_means_no_pipeline_access_release():
    s = synth({"enable_airflow": True, "workload_namespaces": []})
    assert "airflow-pipeline-access" not in s.releases() and "airflow" in s.releases()


def test_every_value_key_is_recorded_from_the_chart(on, from_git):
    for s in (on, from_git):
        assert list(unknown_keys(s.values("airflow"), RECORD["keys"])) == []


# --- values --------------------------------------------------------------------------------------------------------

def test_kubernetes_executor_on_aurora_with_logs_on_s3(on):
    v = on.values("airflow")
    assert (v["executor"], v["postgresql"], v["redis"], v["data"]) == (
        "KubernetesExecutor", {"enabled": False}, {"enabled": False}, {"metadataSecretName": METADATA_SECRET})
    logging = v["config"]["logging"]
    assert logging["remote_logging"] == "True" and logging["remote_log_conn_id"] == "aws_default"
    # The AWS layer's log bucket, by cross-stack reference, and the prefix its role may write.
    assert re.fullmatch(r"s3://\$\{[^}]*airflow_logs_bucket[^}]*\}/logs", logging["remote_base_log_folder"])
    conn = json.loads(next(e["value"] for e in v["env"] if e["name"] == "AIRFLOW_CONN_AWS_DEFAULT"))
    assert conn == {"conn_type": "aws", "extra": {"region_name": on.blueprint.region}}  # no keys: Pod Identity
    assert v["nodeSelector"] == {"mlplat.io/pool": "general"}
    assert v["apiServer"]["service"]["type"] == "ClusterIP"
    assert v["statsd"] == {"enabled": True}


def test_no_password_in_any_value_and_the_admin_comes_from_the_generated_secret(on):
    text = on.releases()["airflow"]["values"][0]
    assert "password: admin" not in text and "defaultUser" not in text
    job = on.values("airflow")["createUserJob"]
    assert f'--password "$(cat {ADMIN_MOUNT}/password)"' in job["args"][0]
    assert job["extraVolumes"] == [{"name": "platform-admin", "secret": {"secretName": ADMIN_SECRET}}]
    assert (job["useHelmHooks"], on.values("airflow")["migrateDatabaseJob"]["useHelmHooks"]) == (False, False)
    assert {u.purpose: (u.namespace, u.secret_name) for u in secret_uses(on.blueprint)
            if u.purpose.startswith("airflow")} == {"airflow-db": (AIRFLOW_NAMESPACE, "airflow-db"),
                                                    "airflow-admin": (AIRFLOW_NAMESPACE, ADMIN_SECRET)}


def test_the_metadata_connection_is_templated_in_the_cluster_with_tls_required(on):
    [es] = [o for o in on.objects("airflow-objects") if o["kind"] == "ExternalSecret"]
    template = es["spec"]["target"]["template"]["data"]["connection"]
    assert re.fullmatch(r"postgresql://\{\{ \.username \}\}:\{\{ \.password \}\}@\$\{[^}]*airflow_db[^}]*endpoint\}"
                        r":5432/airflow\?sslmode=require", template), template
    assert re.fullmatch(r"\$\{[^}]*airflow-db[^}]*name\}", es["spec"]["dataFrom"][0]["extract"]["key"])
    # The server side: the parameter group refuses plain connections.
    groups = on.resources("aws", "aws_rds_cluster_parameter_group")
    [airflow] = [g for g in groups.values() if "airflow" in g["name"]]
    assert [(p["name"], p["value"]) for p in airflow["parameter"]] == [("rds.force_ssl", "1")]


def test_without_a_repository_the_example_dags_are_the_dag_folder(on):
    [cm] = [o for o in on.objects("airflow-objects") if o["kind"] == "ConfigMap"]
    assert (cm["metadata"]["name"], sorted(cm["data"])) == (DAGS_CONFIGMAP, ["mlplat_pipeline.py", "mlplat_steps.py"])
    assert cm["data"]["mlplat_steps.py"] == (EXAMPLE_DAGS / "mlplat_steps.py").read_text()
    v = on.values("airflow")
    assert v["volumeMounts"] == [{"name": "platform-dags", "mountPath": "/opt/airflow/dags", "readOnly": True}]
    assert "dags" not in v


def test_a_repository_is_synced_with_git_sync_instead(from_git):
    v = from_git.values("airflow")
    assert v["dags"] == {"gitSync": {"enabled": True, "repo": REPO["airflow_dags_git_repo"], "ref": "v1.4.0",
                                     "subPath": "dags", "depth": 1, "period": "60s"}}
    assert "volumes" not in v and not [o for o in from_git.objects("airflow-objects") if o["kind"] == "ConfigMap"]


def test_task_pods_may_run_pipeline_steps_in_each_workload_namespace_only():
    s = synth({"enable_airflow": True, "workload_namespaces": ["team-a", "team-b"]})
    objects = s.objects("airflow-pipeline-access")
    assert sorted((o["kind"], o["metadata"]["namespace"]) for o in objects) == [
        ("Role", "team-a"), ("Role", "team-b"), ("RoleBinding", "team-a"), ("RoleBinding", "team-b")]
    assert not [o for o in objects if o["kind"].startswith("Cluster")]
    binding = next(o for o in objects if o["kind"] == "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": WORKER_SERVICE_ACCOUNT,
                                    "namespace": AIRFLOW_NAMESPACE}]
    role = next(o for o in objects if o["kind"] == "Role")
    assert {r for rule in role["rules"] for r in rule["resources"]} == {
        "jobs", "trainjobs", "rayjobs", "pods", "pods/log"}
    assert not [rule for rule in role["rules"] if "*" in rule["verbs"] or "secrets" in rule["resources"]]


def test_statsd_metrics_are_scraped_from_the_charts_service(on):
    [monitor] = on.objects("airflow-monitoring")
    recorded = RECORD["statsd_service"]
    assert monitor["spec"]["selector"]["matchLabels"] == {**recorded["labels"], "release": "airflow"}
    assert monitor["spec"]["endpoints"][0]["port"] == recorded["scrape_port"]
    assert "airflow-monitoring" not in synth({"enable_airflow": True}).releases()


def test_mlplat_open_airflow_forwards_to_the_charts_api_server_service():
    from mlplat.kube.open import WEB_UIS

    ui = WEB_UIS["airflow"]
    assert (ui.addon, ui.service, ui.service_port, ui.credential) == (
        "airflow", RECORD["api_server_service"]["name"], RECORD["api_server_service"]["port"], "airflow-admin")


# --- the AWS layer -------------------------------------------------------------------------------------------------

def test_the_log_role_trusts_exactly_the_charts_service_accounts_and_writes_only_logs(on):
    from tests.modules.blueprints import one

    role = next(r for r in on.resources("aws", "aws_iam_role").values() if r["name"].endswith("-airflow"))
    trust = json.loads(role["assume_role_policy"])["Statement"][0]["Condition"]["StringEquals"]
    assert trust["aws:RequestTag/kubernetes-service-account"] == sorted(SERVICE_ACCOUNTS.values())
    assert trust["aws:RequestTag/kubernetes-namespace"] == AIRFLOW_NAMESPACE
    associations = [a for a in on.resources("aws", "aws_eks_pod_identity_association").values()
                    if a["namespace"] == AIRFLOW_NAMESPACE]
    assert sorted(a["service_account"] for a in associations) == sorted(SERVICE_ACCOUNTS.values())
    values = on.values("airflow")
    assert {c: values[c]["serviceAccount"] for c in SERVICE_ACCOUNTS} == {
        c: {"create": True, "name": n} for c, n in SERVICE_ACCOUNTS.items()}
    policy = next(p for p in on.resources("aws", "aws_iam_role_policy").values() if "ReadWriteTaskLogs" in p["policy"])
    statements = json.loads(policy["policy"])["Statement"]
    assert sorted(a for s in statements for a in s["Action"]) == ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]
    assert next(s for s in statements if s["Sid"] == "ReadWriteTaskLogs")["Resource"].endswith("/logs/*")


def test_cost_counts_the_metadata_database(on):
    from mlplat.cost import estimate
    from mlplat.settings import today

    items = {i.name: i for i in estimate(on.blueprint, today()).items}
    assert (items["Aurora Serverless v2 (Airflow metadata)"].count, items["Aurora Serverless v2 (Airflow metadata)"].detail) == (
        0.5, "1 x 0.5 ACU (minimum capacity)")


# --- blueprint errors ----------------------------------------------------------------------------------------------

def test_keys_without_the_toggle_are_refused():
    assert lines_of({"airflow_dags_git_repo": REPO["airflow_dags_git_repo"], "airflow_db_max_acu": 8}) == [
        "airflow_dags_git_repo: has no effect without enable_airflow = true; set it or remove this key",
        "airflow_db_max_acu: has no effect without enable_airflow = true; set it or remove this key"]


def test_git_settings_need_a_repository():
    assert lines_of({"enable_airflow": True, "airflow_dags_git_ref": "dev"}) == [
        "airflow_dags_git_ref: has no effect without airflow_dags_git_repo; set the repository or remove this key"]


def test_a_repository_url_with_credentials_is_refused():
    [line] = lines_of({"enable_airflow": True, "airflow_dags_git_repo": "https://bob:hunter2@github.com/a/b.git"})
    assert line.startswith("airflow_dags_git_repo: expected an https:// git URL without credentials")


def test_database_capacity_is_checked():
    assert lines_of({"enable_airflow": True, "airflow_db_min_acu": 3, "airflow_db_max_acu": 2.5}) == [
        "airflow_db_max_acu: expected at least airflow_db_min_acu (3), got 2.5"]
    assert lines_of({"enable_airflow": True, "airflow_db_min_acu": 0.75}) == [
        "airflow_db_min_acu: expected a multiple of 0.5 ACU, got 0.75"]


def test_its_namespace_is_not_a_workload_namespace():
    assert lines_of({"enable_airflow": True, "workload_namespaces": ["ml", "airflow"]}) == [
        "workload_namespaces[1]: 'airflow' is Airflow's namespace (enable_airflow); use another name"]


# --- the example DAG -----------------------------------------------------------------------------------------------

def _steps_module() -> Any:
    spec = importlib.util.spec_from_file_location("mlplat_steps", EXAMPLE_DAGS / "mlplat_steps.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mlplat_steps"] = module
    spec.loader.exec_module(module)
    return module


def test_the_dag_file_defines_one_dag_that_calls_the_steps_module():
    tree = ast.parse((EXAMPLE_DAGS / "mlplat_pipeline.py").read_text())
    imports = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("mlplat_steps", "run_pipeline") in imports and ("airflow.sdk", "dag") in imports
    dags = [d for d in ast.walk(tree) if isinstance(d, ast.Call) and getattr(d.func, "id", "") == "dag"]
    assert [k.value.value for d in dags for k in d.keywords if k.arg == "dag_id"] == ["mlplat_pipeline"]


@pytest.fixture
def rendered(tmp_path: Path) -> dict[str, Any]:
    """What `mlplat pipeline render --json` gives for the runner tests' two-step pipeline (a Job, then a TrainJob):
    its objects, through JSON as the DAG run's configuration carries them."""
    from tests.pipelines.test_runner import pipeline

    return json.loads(json.dumps({"objects": pipeline(tmp_path).objects}))


@pytest.fixture
def fake() -> Iterator[F.FakeKubeApi]:
    with F.FakeKubeApi() as server:
        server.add(F.namespace("ml-workloads"))
        yield server


def test_the_dag_runs_the_rendered_steps_in_order_and_deletes_each(rendered, fake):
    steps = _steps_module()
    fake.script_pods("ml-workloads", "demo-prepare", F.PodScript.succeeds(log=("prepared",)))
    fake.script_pods("ml-workloads", "demo-train", F.PodScript.succeeds(running=2))
    fake.kueue_admits_after("trainjobs", "ml-workloads", "demo-train", 2)
    said: list[str] = []
    with loopback_api_client(fake.url) as api:
        done = steps.run_pipeline(api, rendered, poll_seconds=0.01, say=said.append, timeout_seconds=30)
    assert [(d["step"], d["kind"], d["status"]) for d in done] == [
        ("prepare", "Job", "Complete"), ("train", "TrainJob", "Complete")]
    assert [(r.method, r.resource) for r in fake.requests if r.method in ("POST", "DELETE")] == [
        ("POST", "jobs"), ("DELETE", "jobs"), ("POST", "trainjobs"), ("DELETE", "trainjobs")]
    assert [m for m in said if m.startswith("step train: pods") and m.count("Running") == 2], said


def test_a_failed_step_stops_the_dag_and_is_still_deleted(rendered, fake):
    steps = _steps_module()
    fake.script_pods("ml-workloads", "demo-prepare", F.PodScript.fails(exit_code=3))
    with loopback_api_client(fake.url) as api, pytest.raises(steps.StepFailed, match="step prepare: Job "
                                                             "ml-workloads/demo-prepare failed"):
        steps.run_pipeline(api, rendered, poll_seconds=0.01, say=lambda m: None, timeout_seconds=30)
    assert [(r.method, r.resource) for r in fake.requests if r.method in ("POST", "DELETE")] == [
        ("POST", "jobs"), ("DELETE", "jobs")]


def test_the_dag_refuses_what_is_not_a_rendered_pipeline():
    steps = _steps_module()
    with pytest.raises(ValueError, match="expected the JSON result of `mlplat pipeline render FILE --json`"):
        steps.steps({})
    with pytest.raises(ValueError, match="ConfigMap x: not a pipeline step"):
        steps.steps({"objects": [{"kind": "ConfigMap", "metadata": {"name": "x"}}]})


@pytest.mark.parametrize("obj", [
    {"kind": "Job", "status": {}},
    {"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}},
    {"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                               "message": "Job has reached the specified backoff limit"}]}},
    {"kind": "TrainJob", "status": {"conditions": [{"type": "Suspended", "status": "True"}]}},
    {"kind": "TrainJob", "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "JobsFailed"}]}},
    {"kind": "RayJob", "status": {"jobDeploymentStatus": "Running", "jobStatus": "RUNNING"}},
    {"kind": "RayJob", "status": {"jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}},
    {"kind": "RayJob", "status": {"jobDeploymentStatus": "Complete", "jobStatus": "STOPPED"}},
    {"kind": "RayJob", "status": {"jobDeploymentStatus": "Failed", "reason": "AppFailed", "message": "exit 1"}},
    {"kind": "RayJob", "status": {"jobDeploymentStatus": "Failed", "reason": "DeadlineExceeded"}},
], ids=lambda o: f"{o['kind']}-{json.dumps(o['status'], sort_keys=True)[:40]}")
def test_the_dags_verdicts_are_the_runners(obj):
    """The DAG folder carries its own copy of the step verdicts (the Airflow image has no mlplat): it must decide as
    `mlplat pipeline run` does (mlplat/pipelines/run.py)."""
    from mlplat.pipelines.run import _condition

    assert _steps_module().verdict(obj) == _condition(obj)
