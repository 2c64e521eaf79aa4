"""JupyterHub (Zero to JupyterHub): notebook servers on the platform's pools through profiles, homes on EFS, sign-in
that is never the chart's dummy authenticator, and the hub reachable only inside the cluster.

Profiles are typed data (`NotebookProfile`) rendered by one function (`profile_list`) into KubeSpawner overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlplat import versions
from mlplat.addons import NO_PODS, POOLS, AddOn, AddonContext
from mlplat.catalog.accelerators import EFS_CLASS
from mlplat.catalog.modules import local_queues, monitor, on_platform_pool
from mlplat.modules_config import PLATFORM_POOL
from mlplat.nodepools import POOL_LABEL, NodePoolSpec, toleration_for
from mlplat.workload_check import QUEUE_LABEL
from mlplat.workloads_config import JUPYTERHUB_NAMESPACE

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

# The chart's default singleuser.extraLabels: its NetworkPolicies let only pods with this label reach the hub. A
# profile's extra_labels replace the default ones, so every profile carries it again.
HUB_ACCESS_LABEL = ("hub.jupyter.org/network-access-hub", "true")
# Environment variables the hub reads its credentials from (Secrets copied by External Secrets, never in values).
ADMIN_PASSWORD_ENV = "MLPLAT_JUPYTERHUB_ADMIN_PASSWORD"
USER_PASSWORD_ENV = "MLPLAT_JUPYTERHUB_USER_PASSWORD"
CLIENT_SECRET_ENV = "MLPLAT_JUPYTERHUB_OAUTH_CLIENT_SECRET"
# The Kubernetes Secrets (External Secrets copies) the hub reads its passwords from.
ADMIN_SECRET = "jupyterhub-admin"
USERS_SECRET = "jupyterhub-users"
OAUTH_SECRET = "jupyterhub-oauth"  # the Kubernetes Secret holding the user's OAuth client secret
OAUTH_SECRET_KEY = "client-secret"


@dataclass(frozen=True)
class NotebookProfile:
    slug: str
    display_name: str
    description: str
    pool: NodePoolSpec
    image: str
    cpu_guarantee: float
    cpu_limit: float
    memory_guarantee_gib: int
    memory_limit_gib: int
    gpus: int = 0
    queue: str | None = None  # the LocalQueue that admits it (Kueue on and a queue on its pool)
    default: bool = False


def _queue_for(bp: "Blueprint", pool: NodePoolSpec) -> str | None:
    if not bp.enable_kueue:
        return None
    return next((q.name for q in bp.kueue_queue_specs if any(quota.pool.name == pool.name for quota in q.quotas)),
                None)


def notebook_profiles(bp: "Blueprint") -> list[NotebookProfile]:
    """A CPU notebook on the cpu pool (the general pool when cpu is off), and a one-GPU notebook on the gpu pool."""
    pools = {p.name: p for p in bp.enabled_pools}
    profiles = []
    cpu_pool = pools.get("cpu") or pools.get(PLATFORM_POOL)
    if cpu_pool is not None:
        profiles.append(NotebookProfile(
            "cpu", "CPU notebook", f"2-4 vCPUs, 8-16 GiB memory, on the {cpu_pool.name} pool",
            cpu_pool, versions.NOTEBOOK_CPU_IMAGE, 2, 4, 8, 16, queue=_queue_for(bp, cpu_pool), default=True))
    if "gpu" in pools:
        gpu = pools["gpu"]
        profiles.append(NotebookProfile(
            "gpu", "GPU notebook", "1 NVIDIA GPU, 2-4 vCPUs, 12-16 GiB memory, PyTorch with CUDA 12, on the gpu pool",
            gpu, versions.NOTEBOOK_GPU_IMAGE, 2, 4, 12, 16, gpus=1, queue=_queue_for(bp, gpu),
            default=cpu_pool is None))
    return profiles


def profile_list(profiles: list[NotebookProfile]) -> list[dict[str, Any]]:
    """KubeSpawner profiles: placement on the profile's pool (its taints tolerated), requests and limits, and the
    queue label that makes Kueue admit the server against the pool's quota."""
    out = []
    for p in profiles:
        labels = dict([HUB_ACCESS_LABEL])
        if p.queue:
            labels[QUEUE_LABEL] = p.queue
        override: dict[str, Any] = {
            "image": p.image,
            "node_selector": {POOL_LABEL: p.pool.name},
            "tolerations": toleration_for(p.pool),
            "cpu_guarantee": p.cpu_guarantee, "cpu_limit": p.cpu_limit,
            "mem_guarantee": f"{p.memory_guarantee_gib}G", "mem_limit": f"{p.memory_limit_gib}G",
            "extra_labels": labels,
        }
        if p.gpus:
            override["extra_resource_guarantees"] = {"nvidia.com/gpu": str(p.gpus)}
            override["extra_resource_limits"] = {"nvidia.com/gpu": str(p.gpus)}
        out.append({"display_name": p.display_name, "slug": p.slug, "description": p.description,
                    "default": p.default, "kubespawner_override": override})
    return out


def _env_from_secret(secret: str, key: str) -> dict[str, Any]:
    return {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _auth(bp: "Blueprint") -> dict[str, Any]:
    """hub.config, extraEnv and extraConfig for sign-in. Secrets reach the hub as environment variables from
    Kubernetes Secrets and are set on the authenticator by a line of hub config: never in the values."""
    admins, users = list(bp.jupyterhub_admin_users), list(bp.jupyterhub_users)
    oauth = bp.jupyterhub_oauth
    if oauth is not None:
        config = {
            "JupyterHub": {"authenticator_class": "generic-oauth", "admin_access": False},
            "GenericOAuthenticator": {
                "client_id": oauth.client_id, "oauth_callback_url": oauth.callback_url,
                "authorize_url": oauth.authorize_url, "token_url": oauth.token_url,
                "userdata_url": oauth.userdata_url, "username_claim": oauth.username_claim,
                "scope": list(oauth.scope), "admin_users": admins,
                # No list of users: whoever the provider authenticates (restrict sign-in there).
                **({"allowed_users": users, "allow_all": False} if users else {"allow_all": True}),
            },
        }
        env = {CLIENT_SECRET_ENV: _env_from_secret(OAUTH_SECRET, OAUTH_SECRET_KEY)}
        code = f'c.GenericOAuthenticator.client_secret = os.environ["{CLIENT_SECRET_ENV}"]\n'
    else:
        config = {
            "JupyterHub": {"authenticator_class": "shared-password", "admin_access": False},
            # Only the listed names may sign in: the shared password never creates new users.
            "SharedPasswordAuthenticator": {"admin_users": admins, "allowed_users": users, "allow_all": False},
        }
        env, code = {}, ""
        if admins:
            env[ADMIN_PASSWORD_ENV] = _env_from_secret(ADMIN_SECRET, "password")
            code += f'c.SharedPasswordAuthenticator.admin_password = os.environ["{ADMIN_PASSWORD_ENV}"]\n'
        if users:
            env[USER_PASSWORD_ENV] = _env_from_secret(USERS_SECRET, "password")
            code += f'c.SharedPasswordAuthenticator.user_password = os.environ["{USER_PASSWORD_ENV}"]\n'
    return {"config": config, "extraEnv": env, "extraConfig": {"mlplat-credentials": "import os\n" + code}}


def jupyterhub_values(ctx: AddonContext) -> dict[str, Any]:
    bp = ctx.blueprint
    platform = on_platform_pool(bp)
    profiles = notebook_profiles(bp)
    return {
        "hub": {**_auth(bp), **platform,
                # The hub's /hub/metrics without a token: only Prometheus reaches it (the chart's NetworkPolicy).
                "authenticatePrometheus": False},
        "proxy": {"service": {"type": "ClusterIP"}, "chp": {**platform}},
        "singleuser": {
            # Each user's home is a claim of its own on EFS (an access point rooted in its own directory).
            "storage": {"type": "dynamic", "dynamic": {"storageClass": EFS_CLASS,
                                                       "storageAccessModes": ["ReadWriteMany"]}},
            "image": {"name": versions.NOTEBOOK_CPU_IMAGE.rsplit(":", 1)[0],
                      "tag": versions.NOTEBOOK_CPU_IMAGE.rsplit(":", 1)[1]},
            "profileList": profile_list(profiles),
        },
    }


def jupyterhub_monitors(ctx: AddonContext) -> dict[str, Any]:
    # The hub's Service (component hub) serves /hub/metrics on its port named hub.
    selector = {"app.kubernetes.io/name": "jupyterhub", "app.kubernetes.io/component": "hub"}
    return {"objects": [monitor("jupyterhub", JUPYTERHUB_NAMESPACE, selector, {"port": "hub", "path": "/hub/metrics"})]}


def jupyterhub_queues(ctx: AddonContext) -> dict[str, Any]:
    # Kueue admits notebook servers like workload pods: the namespace gets the same LocalQueues.
    return {"objects": local_queues(ctx.blueprint, JUPYTERHUB_NAMESPACE)}


ADDONS: list[AddOn] = [
    # Its credentials come through External Secrets; the users' claims need the EFS storage class.
    AddOn("jupyterhub", JUPYTERHUB_NAMESPACE, enabled=lambda bp: bp.enable_jupyterhub,
          chart=versions.CHARTS["jupyterhub"], depends_on=("platform-secrets", "storage-classes"),
          computed_values=jupyterhub_values, toggle="enable_jupyterhub", placement=POOLS),
    AddOn("jupyterhub-monitoring", JUPYTERHUB_NAMESPACE,
          enabled=lambda bp: bp.enable_jupyterhub and bp.enable_ai_ml_observability_stack,
          depends_on=("jupyterhub", "kube-prometheus-stack"), computed_values=jupyterhub_monitors,
          toggle="enable_jupyterhub", sync_wave=1, placement=NO_PODS),
    # In the namespace platform-secrets creates for the hub's credentials (sign-in always has one).
    AddOn("jupyterhub-queues", JUPYTERHUB_NAMESPACE, enabled=lambda bp: bp.enable_jupyterhub and bp.enable_kueue,
          depends_on=("kueue-queues", "platform-secrets"), computed_values=jupyterhub_queues,
          toggle="enable_jupyterhub", sync_wave=-4, placement=NO_PODS),
]
