"""Blueprint keys of what users' workloads get from the platform: the operators that run Ray, training jobs and
multi-node serving on the pools, notebooks, and the secrets they may read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from mlplat.schema import field

# Secrets Manager secret names (letters, digits and /_+=.@-).
SECRET_NAME = r"[A-Za-z0-9/_+=.@-]{1,512}"
_K8S_NAME = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"


@dataclass(frozen=True)
class WorkloadSecret:
    """A Secrets Manager secret the user owns, copied into workload namespaces as a Kubernetes Secret."""

    secret: str = field("", "Name of the Secrets Manager secret (you create and rotate it; its value never enters "
                            "the blueprint, synth output or terraform state).",
                        pattern=SECRET_NAME, pattern_doc="a Secrets Manager secret name")
    key: str = field("value", "Key of the Kubernetes Secret that holds the secret's whole value.",
                     pattern=r"[-._a-zA-Z0-9]+", pattern_doc="a Secret key (letters, digits, '-', '_' or '.')")
    namespaces: tuple[str, ...] = field((), "Workload namespaces to copy it into; empty: every one of "
                                            "workload_namespaces.", unique=True)
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


# S3 bucket names, and s3://bucket/prefix/ locations (a prefix ends with '/', so team-a/ never covers team-ab/).
BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
S3_PREFIX = rf"s3://{BUCKET}/([^\s*?]+/)?"
# The Kubernetes service account, in each namespace of workload_s3_access, that carries the namespace's S3 role.
WORKLOAD_SERVICE_ACCOUNT = "ml-workload"
# Where JupyterHub and the users' notebook servers run; with Kueue it has LocalQueues like a workload namespace.
JUPYTERHUB_NAMESPACE = "jupyterhub"
IAM_ROLE_NAME_MAX = 64


@dataclass(frozen=True)
class WorkloadS3Access:
    """What the pods of one workload namespace running as its `ml-workload` service account may do in S3."""

    read_buckets: tuple[str, ...] = field((), "Buckets they may list and read.", unique=True, pattern=BUCKET,
                                          pattern_doc="an S3 bucket name")
    write_prefixes: tuple[str, ...] = field(
        (), "Locations they may list, read, write and delete under, as s3://bucket/prefix/ (or s3://bucket/ for "
            "the whole bucket).", unique=True, pattern=S3_PREFIX,
        pattern_doc="an S3 location such as 's3://ml-artifacts/team-a/' (ending with '/')")
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


_HTTPS_URL = r"https://[^\s]+"
# JupyterHub usernames as authenticators hand them over: local names, or the e-mail addresses an OAuth IdP returns.
_HUB_USER = r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}"


@dataclass(frozen=True)
class JupyterHubOAuth:
    """Sign-in to JupyterHub through an OAuth 2 / OpenID Connect provider (Cognito, Okta, Entra ID, Keycloak ...)
    with OAuthenticator's GenericOAuthenticator."""

    client_id: str = field("", "The app client's ID at the provider.", pattern=r"[^\s]{1,256}",
                           pattern_doc="a client ID")
    client_secret: str = field(
        "", "Name of the Secrets Manager secret (you create it) holding the client secret as its whole value; "
            "External Secrets hands it to the hub, it never enters the blueprint, synth output or state.",
        pattern=SECRET_NAME, pattern_doc="a Secrets Manager secret name")
    authorize_url: str = field("", "The provider's authorization endpoint.", pattern=_HTTPS_URL,
                               pattern_doc="an https:// URL")
    token_url: str = field("", "The provider's token endpoint.", pattern=_HTTPS_URL, pattern_doc="an https:// URL")
    userdata_url: str = field("", "The provider's userinfo endpoint.", pattern=_HTTPS_URL,
                              pattern_doc="an https:// URL")
    callback_url: str = field(
        "", "The hub's callback as registered at the provider: https://<your hub host>/hub/oauth_callback.",
        pattern=r"https://[^\s]+/hub/oauth_callback", pattern_doc="https://<host>/hub/oauth_callback")
    username_claim: str = field("email", "The userinfo claim that becomes the JupyterHub username.",
                                pattern=r"[A-Za-z0-9_:.-]+", pattern_doc="a claim name")
    scope: tuple[str, ...] = field(("openid", "email"), "OAuth scopes to request.", unique=True)
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


def workload_role_name(platform: str, namespace: str) -> str:
    return f"{platform}-workload-{namespace}"


# The ACK SageMaker controller (enable_ack_sagemaker): its namespace and the service account its chart creates
# (sagemaker-chart 1.9.1 values.yaml serviceAccount.name), which its Pod Identity association names.
ACK_SAGEMAKER_NAMESPACE = "ack-system"
ACK_SAGEMAKER_SERVICE_ACCOUNT = "ack-sagemaker-controller"

# The kinds the controller reconciles (the chart's reconcile.resources) and the only ones its role may manage:
# kind -> (its SageMaker ARN resource type, the API calls its resource manager makes at v1.9.1).
RECONCILED_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "TrainingJob": ("training-job", ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob",
                                     "UpdateTrainingJob")),
    "HyperParameterTuningJob": ("hyper-parameter-tuning-job", ("CreateHyperParameterTuningJob",
                                                               "DescribeHyperParameterTuningJob",
                                                               "StopHyperParameterTuningJob")),
    "Model": ("model", ("CreateModel", "DescribeModel", "DeleteModel")),
    "EndpointConfig": ("endpoint-config", ("CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig")),
    "Endpoint": ("endpoint", ("CreateEndpoint", "DescribeEndpoint", "UpdateEndpoint", "DeleteEndpoint")),
}


def ack_sagemaker_role_names(platform: str) -> tuple[str, str]:
    """(the controller's Pod Identity role, the execution role SageMaker jobs and models run as)."""
    return f"{platform}-ack-sagemaker", f"{platform}-sagemaker-execution"


@dataclass(frozen=True)
class WorkloadKeys:
    enable_kuberay_operator: bool = field(
        False, "Install the KubeRay operator (RayCluster, RayJob, RayService) on the system nodes; with Kueue, Ray "
        "clusters, jobs and services queue through the LocalQueues.",
    )
    enable_kubeflow_trainer: bool = field(
        False, "Install Kubeflow Trainer v2 (TrainJob) with JobSet on the system nodes, and a PyTorch "
        "ClusterTrainingRuntime per enabled accelerator pool (torch-gpu, torch-gpu-efa, torch-neuron) placed on it with "
        "the shared volumes mounted, plus an MPI runtime for DeepSpeed and mpirun programs on the gpu pool "
        "(deepspeed-gpu); with Kueue, TrainJobs queue through the LocalQueues.",
    )
    enable_leader_worker_set: bool = field(
        False, "Install LeaderWorkerSet (a leader pod and its workers deployed, scaled and restarted as one unit, for "
        "multi-node inference); with Kueue, each group is admitted as one workload.",
    )
    enable_kserve: bool = field(
        False, "Install KServe (InferenceService) in RawDeployment mode on the system nodes, with cert-manager for "
        "its webhooks: each InferenceService becomes a Deployment behind a ClusterIP Service, with no Knative, Istio "
        "or Ingress (reach it with `kubectl port-forward`). Adds a vLLM ClusterServingRuntime per enabled pool "
        "(vllm-gpu on the gpu pool, vllm-neuron on the neuron pool); with Kueue, an InferenceService labelled with a "
        "queue has each of its pods admitted through that LocalQueue.",
    )
    enable_jupyterhub: bool = field(
        False, "Install JupyterHub: notebooks on the cpu (or general) and gpu pools through profiles, each user's "
        "home on EFS, the hub reachable only inside the cluster (ClusterIP; `kubectl port-forward`). Sign-in with "
        "passwords generated into Secrets Manager (jupyterhub_admin_users, jupyterhub_users) or through your "
        "identity provider (jupyterhub_oauth); with Kueue, GPU notebooks are admitted through the gpu pool's queue.",
    )
    jupyterhub_admin_users: tuple[str, ...] = field(
        ("admin",), "JupyterHub administrators. With passwords they sign in with the generated admin password "
        "(Secrets Manager `<name>/jupyterhub-admin-*`); with jupyterhub_oauth, list them as the provider names them.",
        unique=True, pattern=_HUB_USER, pattern_doc="a username or e-mail address",
    )
    jupyterhub_users: tuple[str, ...] = field(
        (), "Users allowed to sign in (besides the admins). With passwords they share one generated password "
        "(Secrets Manager `<name>/jupyterhub-users-*`); with jupyterhub_oauth, empty means everyone the provider "
        "authenticates.", unique=True, pattern=_HUB_USER, pattern_doc="a username or e-mail address",
    )
    jupyterhub_oauth: JupyterHubOAuth | None = field(
        None, "Sign in through an OAuth 2 / OpenID Connect provider (Cognito, Okta, Entra ID ...) instead of "
        "generated passwords.",
    )
    enable_ack_sagemaker: bool = field(
        False, "Install the ACK SageMaker controller (sagemaker.services.k8s.aws: TrainingJob, "
        "HyperParameterTuningJob, Model, EndpointConfig, Endpoint) on the system nodes: SageMaker runs the jobs and "
        "endpoints on its own capacity, billed by SageMaker. Its Pod Identity role may manage only those kinds and "
        "pass only the platform's SageMaker execution role (output `ack_sagemaker_execution_role_arn`), which may use "
        "exactly ack_sagemaker_s3_access in S3.",
    )
    ack_sagemaker_s3_access: WorkloadS3Access | None = field(
        None, "What SageMaker jobs and models (the execution role) may do in S3: read_buckets to list and read "
        "(training data, model artifacts), write_prefixes to read, write and delete under (job output, checkpoints). "
        "Required with enable_ack_sagemaker.",
    )
    workload_s3_access: Mapping[str, WorkloadS3Access] = field(
        MappingProxyType({}), "S3 access of the workloads of a namespace, by workload namespace: pods running as the "
        f"service account {WORKLOAD_SERVICE_ACCOUNT!r} there (the platform creates it) get an IAM role through Pod "
        "Identity that may read the listed buckets and write under the listed prefixes, and nothing else.",
        key_pattern=_K8S_NAME, key_pattern_doc="a workload namespace",
    )
    workload_secrets: Mapping[str, WorkloadSecret] = field(
        MappingProxyType({}), "Your Secrets Manager secrets (a Hugging Face token, an API key) that External Secrets "
        "copies into workload namespaces, each as a Kubernetes Secret named by its key here; the platform's External "
        "Secrets role may read exactly these secrets (a secret under your own KMS key also needs that key's policy to "
        "let the role decrypt).", key_pattern=_K8S_NAME, key_pattern_doc="a Kubernetes Secret name such as 'hf-token'",
    )

    def _rules_workloads(self) -> list[tuple[tuple[str, ...], str]]:
        out: list[tuple[tuple[str, ...], str]] = []
        namespaces = self.workload_namespaces  # type: ignore[attr-defined]
        for ns, access in self.workload_s3_access.items():
            if ns not in namespaces:
                out.append((("workload_s3_access", ns), f"expected one of workload_namespaces "
                                                        f"({', '.join(namespaces) or 'none'}), got {ns!r}; add it there"))
            if not access.read_buckets and not access.write_prefixes:
                out.append((("workload_s3_access", ns), "grants nothing: list read_buckets or write_prefixes"))
            role = workload_role_name(self.name, ns)  # type: ignore[attr-defined]
            if len(role) > IAM_ROLE_NAME_MAX:
                out.append((("workload_s3_access", ns), f"its IAM role name {role!r} is {len(role)} characters, over "
                                                        f"IAM's {IAM_ROLE_NAME_MAX}: use a shorter namespace"))
        for name, ws in self.workload_secrets.items():
            if not ws.secret:
                out.append((("workload_secrets", name, "secret"),
                            "required key is missing: the name of the Secrets Manager secret to copy"))
            for i, ns in enumerate(ws.namespaces):
                if ns not in namespaces:
                    out.append((("workload_secrets", name, "namespaces", f"[{i}]"),
                                f"expected one of workload_namespaces ({', '.join(namespaces) or 'none'}), got {ns!r}; "
                                f"add it to workload_namespaces or remove it here"))
            if not ws.namespaces and not namespaces:
                out.append((("workload_secrets", name), "no namespace to copy it into: workload_namespaces is empty"))
        return out

    def _rules_ack_sagemaker(self) -> list[tuple[tuple[str, ...], str]]:
        access = self.ack_sagemaker_s3_access
        if not self.enable_ack_sagemaker:
            return ([(("ack_sagemaker_s3_access",), "has no effect without enable_ack_sagemaker = true; set it or "
                                                    "remove this key")]
                    if "ack_sagemaker_s3_access" in self._explicit else [])  # type: ignore[attr-defined]
        out: list[tuple[tuple[str, ...], str]] = []
        if access is None:
            out.append((("enable_ack_sagemaker",), "SageMaker jobs read their data from and write their output to "
                                                   "S3: set ack_sagemaker_s3_access (read_buckets, write_prefixes)"))
        elif not access.read_buckets and not access.write_prefixes:
            out.append((("ack_sagemaker_s3_access",), "grants nothing: list read_buckets or write_prefixes"))
        for role in ack_sagemaker_role_names(self.name):  # type: ignore[attr-defined]
            if len(role) > IAM_ROLE_NAME_MAX:
                out.append((("enable_ack_sagemaker",), f"its IAM role name {role!r} is {len(role)} characters, over "
                                                       f"IAM's {IAM_ROLE_NAME_MAX}: use a shorter name"))
        return out

    def _rules_jupyterhub(self) -> list[tuple[tuple[str, ...], str]]:
        keys = ("jupyterhub_admin_users", "jupyterhub_users", "jupyterhub_oauth")
        if not self.enable_jupyterhub:
            return [((k,), "has no effect without enable_jupyterhub = true; set it or remove this key")
                    for k in keys if k in self._explicit]  # type: ignore[attr-defined]
        out: list[tuple[tuple[str, ...], str]] = []
        if not self.enable_efs:  # type: ignore[attr-defined]
            out.append((("enable_jupyterhub",), "users' home directories live on EFS: set enable_efs = true"))
        oauth = self.jupyterhub_oauth
        if oauth is not None:
            for f in dataclasses.fields(JupyterHubOAuth):
                if f.name != "_explicit" and f.default == "" and not getattr(oauth, f.name):
                    out.append((("jupyterhub_oauth", f.name), f"required key is missing: {f.metadata['doc']}"))
        elif not self.jupyterhub_admin_users and not self.jupyterhub_users:
            out.append((("jupyterhub_admin_users",), "nobody could sign in: list admins here or users in "
                                                     "jupyterhub_users, or set jupyterhub_oauth"))
        both = sorted(set(self.jupyterhub_admin_users) & set(self.jupyterhub_users))
        if both and oauth is None:
            out.append((("jupyterhub_users",), f"{', '.join(both)} also in jupyterhub_admin_users: an admin signs in "
                                               f"with the admin password only; list each name once"))
        return out

    @property
    def queued_namespaces(self) -> tuple[str, ...]:
        """Namespaces whose pods Kueue admits: the workload namespaces, and JupyterHub's for its notebooks."""
        extra = (JUPYTERHUB_NAMESPACE,) if self.enable_jupyterhub else ()
        return (*self.workload_namespaces, *extra)  # type: ignore[attr-defined]

    @property
    def user_secret_names(self) -> tuple[str, ...]:
        """Secrets Manager secrets the user owns that External Secrets copies into the cluster: alert receivers'
        credentials, workload secrets, JupyterHub's OAuth client secret."""
        oauth = (self.jupyterhub_oauth_secret,) if self.jupyterhub_oauth_secret else ()
        return tuple(sorted({*self.alert_secrets.values(),  # type: ignore[attr-defined]
                             *(w.secret for w in self.workload_secrets.values()), *oauth}))

    @property
    def jupyterhub_oauth_secret(self) -> str | None:
        """The user's Secrets Manager secret holding the OAuth client secret, when JupyterHub signs in through it."""
        oauth = self.jupyterhub_oauth
        return oauth.client_secret if self.enable_jupyterhub and oauth is not None else None

    def workload_secret_namespaces(self, name: str) -> tuple[str, ...]:
        ws = self.workload_secrets[name]
        return ws.namespaces or tuple(self.workload_namespaces)  # type: ignore[attr-defined]
