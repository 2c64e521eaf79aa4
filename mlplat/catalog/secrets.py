"""Generated credentials and where they land in the cluster.

The AWS layer generates one Secrets Manager secret (JSON `{"username", "password"}`) per entry below; the External
Secrets Operator (Pod Identity, read-only on exactly these secrets) copies it into a Kubernetes Secret in the
consumer's namespace, shaped by `template` when the consumer wants other keys or a hash. No password is ever written
into a synthesized file, a values file or terraform state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from mlplat import versions
from mlplat.addons import NO_PODS, SYSTEM, AddOn, AddonContext
from mlplat.catalog.alerting import ALERTMANAGER_NAMESPACE, RECEIVER_SECRET
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.catalog.notebooks import ADMIN_SECRET, OAUTH_SECRET, OAUTH_SECRET_KEY, USERS_SECRET
from mlplat.slurm_config import SLURM_NAMESPACE
from mlplat.airflow_config import AIRFLOW_NAMESPACE
from mlplat.workloads_config import JUPYTERHUB_NAMESPACE

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

STORE_NAME = "aws-secrets-manager"
# OpenSearch's three users, each with the least it needs: the admin (the security index's only static user; the
# setup Jobs use it), Fluent Bit (writes log indices) and Grafana (reads them). catalog/opensearch_users.py makes the
# last two through the security REST API.
OPENSEARCH_ADMIN_SECRET = "opensearch-admin"
OPENSEARCH_WRITER_SECRET = "opensearch-logs-writer"
OPENSEARCH_READER_SECRET = "opensearch-grafana"
OPENSEARCH_WRITER_USER = "fluent-bit"
OPENSEARCH_READER_USER = "grafana"
# OpenSearch Dashboards' own server account (mapped to the security plugin's built-in kibana_server role) and the
# settings file that carries what its image reads from no environment variable (the security cookie's key, TLS).
OPENSEARCH_DASHBOARDS_SECRET = "opensearch-dashboards"
OPENSEARCH_DASHBOARDS_USER = "dashboards"
OPENSEARCH_DASHBOARDS_CA_DIR = "/usr/share/opensearch-dashboards/config/certs"
ESO_NAMESPACE = "external-secrets"
ESO_SERVICE_ACCOUNT = "external-secrets"


@dataclass(frozen=True)
class SecretUse:
    purpose: str  # Secrets Manager name is "<platform name>/<purpose>"
    namespace: str  # where the consumer runs
    secret_name: str  # the Kubernetes Secret the consumer reads
    username: str = "admin"
    # Kubernetes Secret key -> ESO template over the JSON fields (.username, .password); empty copies both fields.
    template: Mapping[str, str] = field(default_factory=dict)
    # "Owner": External Secrets creates and owns the Secret. "Merge": the consumer owns it and ESO only adds its keys.
    creation_policy: str = "Owner"


def dashboards_secret_template() -> dict[str, str]:
    """OpenSearch Dashboards' account (username, password) and the settings file mounted over the image's. The
    security plugin's session cookies are keyed by a SHA-256 of the account's generated password: as secret as the
    password, which sits in the same Secret."""
    cookie = '{{ printf "cookie:%s" .password | sha256sum }}'
    settings = (
        "server.name: opensearch-dashboards\n"
        'server.host: "0.0.0.0"\n'
        # The image maps OPENSEARCH_HOSTS/USERNAME/PASSWORD to opensearch.* (the chart sets them); TLS and the cookie
        # key have no variable, so they are here.
        "opensearch.ssl.verificationMode: full\n"
        f"opensearch.ssl.certificateAuthorities: [{OPENSEARCH_DASHBOARDS_CA_DIR}/ca.crt]\n"
        'opensearch.requestHeadersAllowlist: ["securitytenant", "Authorization"]\n'
        f'opensearch_security.cookie.password: "{cookie}"\n'
        "opensearch_security.cookie.secure: false\n"  # served over the port-forward's plain HTTP
    )
    return {"username": "{{ .username }}", "password": "{{ .password }}", "opensearch_dashboards.yml": settings}


def secret_uses(bp: "Blueprint") -> list[SecretUse]:
    uses: list[SecretUse] = []
    if bp.enable_ai_ml_observability_stack:
        uses.append(SecretUse("grafana-admin", "monitoring", "grafana-admin",
                              template={"admin-user": "{{ .username }}", "admin-password": "{{ .password }}"}))
        if bp.needs_opensearch:
            # OpenSearch creates its security index from internal_users.yml on first start: only this generated
            # admin (bcrypt hash), none of the image's demo users.
            uses.append(SecretUse("opensearch-admin", "logging", OPENSEARCH_ADMIN_SECRET, template={
                "username": "{{ .username }}", "password": "{{ .password }}",
                "internal_users.yml": "_meta: {type: internalusers, config_version: 2}\n"
                                      "\"{{ .username }}\":\n"
                                      "  hash: \"{{ .password | bcrypt }}\"\n"
                                      "  reserved: true\n"
                                      "  backend_roles: [admin]\n"}))
            uses.append(SecretUse("opensearch-logs-writer", "logging", OPENSEARCH_WRITER_SECRET,
                                  username=OPENSEARCH_WRITER_USER))
            uses.append(SecretUse("opensearch-logs-reader", "monitoring", OPENSEARCH_READER_SECRET,
                                  username=OPENSEARCH_READER_USER))
            uses.append(SecretUse("opensearch-dashboards", "logging", OPENSEARCH_DASHBOARDS_SECRET,
                                  username=OPENSEARCH_DASHBOARDS_USER, template=dashboards_secret_template()))
    if bp.enable_argocd:
        # Argo CD reads a bcrypt hash from argocd-secret; the plain password stays in Secrets Manager. The chart
        # creates argocd-secret and argocd-server writes its own keys into it (server.secretkey signs sessions, TLS):
        # ESO merges the admin keys in, and leaves those alone (with "Owner" it would revert them on every change).
        uses.append(SecretUse("argocd-admin", "argocd", "argocd-secret",
                              template={"admin.password": "{{ .password | bcrypt }}",
                                        "admin.passwordMtime": "2026-01-01T00:00:00Z"},
                              creation_policy="Merge"))
    if bp.enable_mlflow:
        uses.append(SecretUse("mlflow-admin", "mlflow", "mlflow-admin"))
        # The Aurora master credentials: the AWS layer reads this secret ephemerally into the cluster's write-only
        # password (modules/mlflow_aws.py), MLflow reads it here; no punctuation, so it is safe in a SQLAlchemy URI.
        uses.append(SecretUse("mlflow-db", "mlflow", "mlflow-db", username="mlflow"))
        # Flask's session/CSRF key, one value for every replica and every render (the chart would make one per render).
        uses.append(SecretUse("mlflow-flask", "mlflow", "mlflow-flask-secret-key",
                              template={"MLFLOW_FLASK_SERVER_SECRET_KEY": "{{ .password }}"}))
    if bp.enable_airflow:
        # Airflow's metadata database (modules/airflow_aws.py): the AWS layer sets it as the Aurora master password;
        # catalog/airflow.py builds the connection URI from it (alphanumeric: safe in a URI).
        uses.append(SecretUse("airflow-db", AIRFLOW_NAMESPACE, "airflow-db", username="airflow"))
        # The admin user the platform's create-user job makes (catalog/airflow.py), mounted as files.
        uses.append(SecretUse("airflow-admin", AIRFLOW_NAMESPACE, "airflow-admin"))
    if bp.enable_slurm:
        # Slurm's accounting database (modules/slurm_aws.py): the AWS layer sets it as the Aurora MySQL master
        # password, slurmdbd reads the `password` key (the chart's accounting.storageConfig.passwordKeyRef).
        uses.append(SecretUse("slurm-db", SLURM_NAMESPACE, "slurm-db", username="slurm"))
    if bp.enable_jupyterhub and bp.jupyterhub_oauth is None:
        # JupyterHub's SharedPasswordAuthenticator: one generated password for the admins (it wants 32 characters
        # or more, as generated), one for the listed users.
        if bp.jupyterhub_admin_users:
            uses.append(SecretUse("jupyterhub-admin", JUPYTERHUB_NAMESPACE, ADMIN_SECRET))
        if bp.jupyterhub_users:
            uses.append(SecretUse("jupyterhub-users", JUPYTERHUB_NAMESPACE, USERS_SECRET, username="users"))
    return uses


def secret_name_prefix(bp: "Blueprint", use: SecretUse) -> str:
    """Secrets Manager names are `<platform>/<purpose>-<suffix>`; the suffix is fixed at creation (modules/secrets.py)."""
    return f"{bp.name}/{use.purpose}-"


def secret_output(use: SecretUse) -> str:
    """The AWS layer output holding the secret's full name (what External Secrets looks up)."""
    return f"secret_name_{use.purpose.replace('-', '_')}"


def external_secret(name: str, namespace: str, target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """An ExternalSecret reading Secrets Manager through the platform's store: `source` is its data or dataFrom."""
    return {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"kind": "ClusterSecretStore", "name": STORE_NAME},
                     "target": target, **source}}


def _user_secret_copy(name: str, namespace: str, entries: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A Kubernetes Secret `name` holding, under each key, the whole value of a secret the user owns (a URL, a
    routing key, a token). Owner: deleted with the ExternalSecret; Retain: kept if External Secrets is briefly gone."""
    return external_secret(name, namespace, {"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
                            {"data": [{"secretKey": key, "remoteRef": {"key": secret}} for key, secret in entries]})


def _objects(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    objects: list[dict[str, Any]] = [{
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
        "metadata": {"name": STORE_NAME},
        # No auth block: the controller's Pod Identity role is the only credential it has.
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": bp.region}}},
    }]
    oauth_secret = bp.jupyterhub_oauth_secret
    for ns in sorted({u.namespace for u in secret_uses(bp)} | ({JUPYTERHUB_NAMESPACE} if oauth_secret else set())):
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for use in secret_uses(bp):
        target: dict[str, Any] = {"name": use.secret_name, "creationPolicy": use.creation_policy,
                                  "deletionPolicy": "Retain"}
        if use.template:
            target["template"] = {"engineVersion": "v2", "data": dict(use.template)}
        objects.append(external_secret(use.secret_name, use.namespace, target,
                                        {"dataFrom": [{"extract": {"key": ctx.outputs[secret_output(use)]}}]}))
    if bp.alert_secrets:  # the receivers' credentials, for Alertmanager
        objects.append(_user_secret_copy(RECEIVER_SECRET, ALERTMANAGER_NAMESPACE, bp.alert_secrets.items()))
    if oauth_secret:  # JupyterHub's OAuth client secret, for the hub
        objects.append(_user_secret_copy(OAUTH_SECRET, JUPYTERHUB_NAMESPACE, [(OAUTH_SECRET_KEY, oauth_secret)]))
    return {"objects": objects}


def _eso_values(ctx: AddonContext) -> dict[str, Any]:
    # On the system nodes, all three deployments: Argo CD's admin credential comes through here, and Argo CD mode
    # starts on an empty cluster where only the system nodes exist (the chart's placement defaults are empty).
    system = copy.deepcopy(SYSTEM_NODES)
    return {"installCRDs": True, "serviceAccount": {"name": ESO_SERVICE_ACCOUNT}, **system,
            "webhook": copy.deepcopy(system), "certController": copy.deepcopy(system)}


def needs_external_secrets(bp: "Blueprint") -> bool:
    return bool(secret_uses(bp)) or bool(bp.user_secret_names)


def _workload_secret_objects(ctx: AddonContext) -> dict[str, Any]:
    """One ExternalSecret per workload secret and namespace: the secret's whole value under its key."""
    bp = ctx.blueprint
    return {"objects": [_user_secret_copy(name, ns, [(ws.key, ws.secret)])
                        for name, ws in sorted(bp.workload_secrets.items()) for ns in bp.workload_secret_namespaces(name)]}


ADDONS = [
    AddOn("external-secrets", ESO_NAMESPACE, enabled=needs_external_secrets,
          chart=versions.CHARTS["external-secrets"], computed_values=_eso_values, sync_wave=-9, placement=SYSTEM),
    AddOn("platform-secrets", ESO_NAMESPACE, enabled=needs_external_secrets,
          depends_on=("external-secrets",), computed_values=_objects, sync_wave=-7, placement=NO_PODS),
    # In the workload namespaces, which exist (and outlive the release) before the secrets go in.
    AddOn("workload-secrets", ESO_NAMESPACE, enabled=lambda bp: bool(bp.workload_secrets),
          depends_on=("platform-secrets", "workload-namespaces"), computed_values=_workload_secret_objects,
          toggle="workload_secrets", sync_wave=-5, placement=NO_PODS),
]
