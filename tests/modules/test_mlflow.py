"""MLflow: artifacts in a secure S3 bucket through a least-privilege Pod Identity role, the backend store in an
encrypted Aurora PostgreSQL Serverless v2 cluster reachable only from the nodes, credentials from Secrets Manager
through External Secrets (never in synth or state), authentication on, ClusterIP, scraped when observability is on."""

from __future__ import annotations

import json

import jsonschema
import pytest

from mlplat import versions
from mlplat.addons import deep_merge
from mlplat.catalog.secrets import secret_uses
from tests.modules.blueprints import FULL, MLFLOW, one
from tests.support import k8s
from tests.support.chart_values import chart_defaults, chart_version, unknown_keys
from tests.support.paths import reference
from tests.support.synth import synth

REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-mlplat-aws.outputs.cross-stack-output-"
DB_SECRET = {"name": "mlflow-db", "usernameKey": "username", "passwordKey": "password"}


@pytest.fixture(scope="module")
def mlflow_only():
    return synth(MLFLOW)


@pytest.fixture(scope="module")
def full():
    return synth(FULL)


def mlflow_resources(s, rtype):
    found = {k: {a: b for a, b in v.items() if a != "//"} for k, v in s.resources("aws", rtype).items()
             if k.startswith("mlflow_")}
    assert found, f"no MLflow {rtype}"
    return found


def ref(rtype, s, prefix, attr):
    [name] = [k for k in s.resources("aws", rtype) if k.startswith(prefix)]
    return f"${{{rtype}.{name}.{attr}}}"


def test_artifact_bucket_is_encrypted_versioned_private_and_tls_only(mlflow_only):
    s = mlflow_only
    [(bucket_id, bucket)] = mlflow_resources(s, "aws_s3_bucket").items()
    assert bucket == {"bucket_prefix": "mlplat-mlflow-", "force_destroy": False}
    bucket_ref = f"${{aws_s3_bucket.{bucket_id}.id}}"
    [versioning] = mlflow_resources(s, "aws_s3_bucket_versioning").values()
    assert versioning == {"bucket": bucket_ref, "versioning_configuration": {"status": "Enabled"}}
    [block] = mlflow_resources(s, "aws_s3_bucket_public_access_block").values()
    assert block == {"bucket": bucket_ref, "block_public_acls": True, "block_public_policy": True,
                     "ignore_public_acls": True, "restrict_public_buckets": True}
    [sse] = mlflow_resources(s, "aws_s3_bucket_server_side_encryption_configuration").values()
    assert sse["rule"][0]["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    [tls] = mlflow_resources(s, "aws_s3_bucket_policy").values()
    assert json.loads(tls["policy"])["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_only_the_tracking_server_can_use_the_bucket_through_pod_identity(mlflow_only):
    s = mlflow_only
    [role] = mlflow_resources(s, "aws_iam_role").values()
    assert role["name"] == "mlplat-mlflow"
    # Only MLflow's service account, in its namespace, in this cluster (aws-layer audit item 14).
    cluster = ("arn:${data.aws_partition.partition.partition}:eks:us-west-2:${data.aws_caller_identity.account"
               ".account_id}:cluster/mlplat")
    assert json.loads(role["assume_role_policy"])["Statement"] == [
        {"Sid": "AllowEksAuthToAssumeRoleForPodIdentity", "Effect": "Allow",
         "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"],
         "Condition": {"StringEquals": {"aws:RequestTag/eks-cluster-arn": cluster,
                                        "aws:RequestTag/kubernetes-namespace": "mlflow",
                                        "aws:RequestTag/kubernetes-service-account": "mlflow"}}}]
    bucket_arn = ref("aws_s3_bucket", s, "mlflow_", "arn")
    [policy] = mlflow_resources(s, "aws_iam_role_policy").values()
    assert json.loads(policy["policy"]) == {"Version": "2012-10-17", "Statement": [
        {"Sid": "ListArtifacts", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": ["artifacts", "artifacts/*"]}}},
        {"Sid": "ReadWriteArtifacts", "Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
         "Resource": f"{bucket_arn}/artifacts/*"}]}
    [identity] = mlflow_resources(s, "aws_eks_pod_identity_association").values()
    assert (identity["namespace"], identity["service_account"]) == ("mlflow", "mlflow")
    assert identity["role_arn"] == ref("aws_iam_role", s, "mlflow_", "arn")
    values = s.values("mlflow")
    assert values["serviceAccount"] == {"create": True, "name": "mlflow"}
    # Clients go through the server's artifact proxy: they need no AWS credentials at all.
    assert values["artifactRoot"] == {"proxiedArtifactStorage": True, "s3": {
        "enabled": True, "bucket": values["artifactRoot"]["s3"]["bucket"], "path": "artifacts"}}
    assert values["artifactRoot"]["s3"]["bucket"].startswith(REMOTE + "aws_s3_bucketmlflow_artifacts")


def test_database_is_private_encrypted_tls_only_and_reachable_from_nodes_only(full):
    s = full
    [sg] = mlflow_resources(s, "aws_security_group").values()
    assert sg == {"name": "mlplat-mlflow-db", "vpc_id": ref("aws_vpc", s, "network_", "id"),
                  "description": "MLflow PostgreSQL, from EKS nodes only"}
    assert "ingress" not in sg and "egress" not in sg
    [rule] = mlflow_resources(s, "aws_vpc_security_group_ingress_rule").values()
    assert rule == {"security_group_id": ref("aws_security_group", s, "mlflow_", "id"),
                    "referenced_security_group_id": ref("aws_security_group", s, "eks_node-sg", "id"),
                    "ip_protocol": "tcp", "from_port": 5432, "to_port": 5432, "description": "PostgreSQL from nodes"}
    [subnets] = mlflow_resources(s, "aws_db_subnet_group").values()
    private = sorted(f"${{aws_subnet.{k}.id}}" for k, v in s.resources("aws", "aws_subnet").items()
                     if "private" in v["tags"]["Name"])
    assert sorted(subnets["subnet_ids"]) == private
    [params] = mlflow_resources(s, "aws_rds_cluster_parameter_group").values()
    assert (params["family"], params["parameter"]) == ("aurora-postgresql16", [{"name": "rds.force_ssl", "value": "1"}])
    cluster = one(s, "aws", "aws_rds_cluster")
    [eph_id] = s.aws["ephemeral"]["aws_secretsmanager_secret_version"]
    assert cluster == {
        "cluster_identifier": "mlplat-mlflow", "engine": "aurora-postgresql", "engine_mode": "provisioned",
        "engine_version": versions.AURORA_POSTGRESQL_VERSION, "database_name": "mlflow", "port": 5432,
        "master_username": "mlflow",
        "master_password_wo": f"${{jsondecode(ephemeral.aws_secretsmanager_secret_version.{eph_id}.secret_string)"
                              f".password}}",
        "master_password_wo_version": 1,
        "db_subnet_group_name": ref("aws_db_subnet_group", s, "mlflow_", "name"),
        "vpc_security_group_ids": [ref("aws_security_group", s, "mlflow_", "id")],
        "db_cluster_parameter_group_name": ref("aws_rds_cluster_parameter_group", s, "mlflow_", "name"),
        "storage_encrypted": True, "kms_key_id": ref("aws_kms_key", s, "kms_", "arn"),
        "serverlessv2_scaling_configuration": {"min_capacity": 1, "max_capacity": 8},
        "backup_retention_period": 7, "copy_tags_to_snapshot": True, "deletion_protection": True,
        "skip_final_snapshot": False,
        # Unique per cluster generation (aws-layer audit item 11); kept in state once created.
        "final_snapshot_identifier": 'mlplat-mlflow-final-${formatdate("YYYYMMDDhhmmss", timestamp())}',
        "enabled_cloudwatch_logs_exports": ["postgresql"],
        "lifecycle": {"ignore_changes": ["engine_version", "final_snapshot_identifier"]},
    }
    instances = mlflow_resources(s, "aws_rds_cluster_instance")
    assert sorted(i["identifier"] for i in instances.values()) == ["mlplat-mlflow-1", "mlplat-mlflow-2"]
    for instance in instances.values():
        assert (instance["instance_class"], instance["publicly_accessible"]) == ("db.serverless", False)
        assert instance["cluster_identifier"] == ref("aws_rds_cluster", s, "mlflow_", "id")
        assert instance["performance_insights_kms_key_id"] == ref("aws_kms_key", s, "kms_", "arn")


def test_the_database_password_is_in_no_synthesized_file_and_comes_from_the_generated_secret(full):
    s = full
    [eph] = s.aws["ephemeral"]["aws_secretsmanager_secret_version"].values()
    assert eph["secret_id"] == ref("aws_secretsmanager_secret", s, "secret-mlflow-db_", "arn")
    # Opened only once the generated value is written.
    [version] = [k for k in s.resources("aws", "aws_secretsmanager_secret_version") if k.startswith("secret-mlflow-db_")]
    assert eph["depends_on"] == [f"aws_secretsmanager_secret_version.{version}"]
    cluster = one(s, "aws", "aws_rds_cluster")
    assert not {"master_password", "manage_master_user_password"} & set(cluster)
    text = json.dumps(s.aws) + json.dumps(s.kubernetes)
    assert '"master_password"' not in text and '"password":' not in text
    [use] = [u for u in secret_uses(s.blueprint) if u.purpose == "mlflow-db"]
    assert (use.namespace, use.secret_name, use.username) == ("mlflow", "mlflow-db", cluster["master_username"])
    reader = json.loads(next(v for k, v in s.resources("aws", "aws_iam_role_policy").items()
                             if k.startswith("secret-reader"))["policy"])
    assert ref("aws_secretsmanager_secret", s, "secret-mlflow-db_", "arn") in reader["Statement"][0]["Resource"]


def test_credentials_reach_mlflow_through_external_secrets(mlflow_only):
    secrets = {o["metadata"]["name"]: o for o in mlflow_only.objects("platform-secrets")
               if o["kind"] == "ExternalSecret" and o["metadata"]["namespace"] == "mlflow"}
    # Looked up by the name terraform gave each secret (a prefix plus a suffix fixed at creation).
    outputs = mlflow_only.aws["output"]
    assert {n: outputs[s["spec"]["dataFrom"][0]["extract"]["key"].split(".outputs.")[1][:-1]]["value"]
            for n, s in secrets.items()} == {
        "mlflow-admin": ref("aws_secretsmanager_secret", mlflow_only, "secret-mlflow-admin_", "name"),
        "mlflow-db": ref("aws_secretsmanager_secret", mlflow_only, "secret-mlflow-db_", "name"),
        "mlflow-flask-secret-key": ref("aws_secretsmanager_secret", mlflow_only, "secret-mlflow-flask_", "name"),
    }
    assert secrets["mlflow-flask-secret-key"]["spec"]["target"]["template"]["data"] == {
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "{{ .password }}"}
    deps = mlflow_only.releases()["mlflow"]["depends_on"]
    # Its credentials, and the general pool's nodes it runs on (kubernetes-layer audit S3).
    assert [d.split(".")[1].split("_")[0] for d in deps] == ["platform-secrets", "karpenter-nodepools"]


def test_values_postgres_backend_auth_on_cluster_ip(mlflow_only):
    values = mlflow_only.values("mlflow")
    database = {"enabled": True, "host": values["backendStore"]["postgres"]["host"], "port": 5432,
                "database": "mlflow"}
    assert database["host"].startswith(REMOTE + "aws_rds_clustermlflow_db") and database["host"].endswith("endpoint}")
    assert values["backendStore"] == {"databaseMigration": True, "databaseConnectionCheck": True,
                                      "postgres": database, "existingDatabaseSecret": DB_SECRET}
    assert values["auth"] == {
        "enabled": True, "defaultPermission": "NO_PERMISSIONS",
        "existingAdminSecret": {"name": "mlflow-admin", "usernameKey": "username", "passwordKey": "password"},
        "postgres": {**database, "existingSecret": DB_SECRET},
    }
    assert values["extraEnvVars"] == {"PGSSLMODE": "require", "AWS_DEFAULT_REGION": "us-west-2"}
    assert values["extraSecretNamesForEnvFrom"] == ["mlflow-flask-secret-key"]
    assert values["service"] == {"type": "ClusterIP"} and "ingress" not in values
    assert values["nodeSelector"] == {"mlplat.io/pool": "general"}
    assert "extraArgs" not in values and "mlflow-monitoring" not in mlflow_only.releases()
    assert "adminPassword" not in values["auth"] and "password" not in values["backendStore"]["postgres"]


def test_chart_pin_and_every_value_exists_and_satisfies_the_chart_schema(mlflow_only, full):
    release = mlflow_only.releases()["mlflow"]
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        "mlflow", "https://community-charts.github.io/helm-charts", "1.11.5", "mlflow")
    assert versions.CHARTS["mlflow"].version == chart_version("mlflow")
    schema = json.loads(reference("chart-values", "mlflow", "values.schema.json").read_text())
    for s in (mlflow_only, full):
        values = s.values("mlflow")
        assert list(unknown_keys(values, chart_defaults("mlflow"))) == []
        jsonschema.validate(deep_merge(chart_defaults("mlflow"), values), schema)


def test_scraped_by_prometheus_only_with_the_observability_stack(full):
    values = full.values("mlflow")
    assert values["extraArgs"] == {"exposePrometheus": "/tmp/prometheus-metrics"}
    [monitor] = full.objects("mlflow-monitoring")
    assert monitor == {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": {"name": "mlflow", "namespace": "mlflow",
                     "labels": {"app.kubernetes.io/managed-by": "mlplat", "release": "kube-prometheus-stack"}},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": "mlflow"}},
            "namespaceSelector": {"matchNames": ["mlflow"]},
            "endpoints": [{"path": "/metrics", "interval": "30s", "port": chart_defaults("mlflow")["service"]["name"],
                           "basicAuth": {"username": {"name": "mlflow-admin", "key": "username"},
                                         "password": {"name": "mlflow-admin", "key": "password"}}}],
        },
    }
    k8s.validate(monitor)


def test_outputs_of_the_aws_layer(full):
    outputs = full.aws["output"]
    assert {k for k in outputs if k.startswith("mlflow_")} == {"mlflow_artifact_bucket", "mlflow_db_endpoint",
                                                              "mlflow_role_arn"}
    assert outputs["mlflow_db_endpoint"]["value"] == ref("aws_rds_cluster", full, "mlflow_", "endpoint")


