"""Slurm on Kubernetes with SchedMD's Slinky slurm-operator (v1.2.1): the CRDs, the operator and its webhook on the
system nodes (cert-manager issues the webhook's certificate), and one Slurm cluster from the `slurm` chart.

What runs where: slurmctld (with its state on a gp3 volume), slurmdbd and slurmrestd on the general pool, like
MLflow; accounting records go to the Aurora MySQL cluster of the AWS layer (modules/slurm_aws.py) with the password
External Secrets copies from Secrets Manager; one NodeSet (slurmd pods) and partition per `slurm_nodesets` entry on
that pool, holding its accelerators; a login node when SSH keys are listed. Every Service is ClusterIP.

slurmrestd stays on (one replica, ClusterIP): the operator's Slurm client talks to it to drain and check nodes
before it deletes NodeSet pods (internal/controller/slurmclient at v1.2.1).

NodeSet pods run in the `slurm` namespace, which is not a workload namespace: Kueue neither queues nor counts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlplat import versions
from mlplat.addons import NO_PODS, POOLS, SYSTEM, AddOn, AddonContext
from mlplat.catalog.accelerators import EFS_SHARED_CLAIM, FSX_SHARED_CLAIM, NVIDIA_GPU, shared_volumes
from mlplat.catalog.core import SYSTEM_NODES
from mlplat.catalog.modules import EFA, PROMETHEUS_LABELS, on_platform_pool
from mlplat.nodepools import NEURON_SCHEDULER, POOL_LABEL, NodePoolSpec, toleration_for
from mlplat.slurm_config import SLURM_NAMESPACE, SLURM_OPERATOR_NAMESPACE, SlurmNodeSet
from mlplat.training_runtimes import SHARED_CLAIMS, SHM_GIB

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

_TOGGLE = "enable_slurm"
# The Kubernetes Secret External Secrets writes (catalog/secrets.py, purpose slurm-db) and the key slurmdbd reads.
DB_SECRET = "slurm-db"
DB_SECRET_KEY = "password"
# Aurora requires TLS (require_secure_transport); slurmdbd verifies the server against the RDS certificate
# authorities of the region (StorageParameters SSL_CA, slurmdbd.conf), which no image's system store carries. An init
# container fetches AWS's published bundle over verified HTTPS (the region's bundle, docs: "Using SSL/TLS to encrypt a
# connection to a DB instance or cluster") into a volume only slurmdbd reads.
RDS_CA_DIR = "/etc/slurm/rds-ca"
RDS_CA_FILE = "bundle.pem"
RDS_CA_URL = "https://truststore.pki.rds.amazonaws.com/{region}/{region}-bundle.pem"
# The chart names the LoginSet `<release>-login-<key>` and its Service after it: slurm-login-slinky.
LOGINSET = "slinky"
# The shared-memory volume of the NodeSet pods.
DSHM = "dshm"
# The chart makes the cluster's slurm.key and JWT key once, randomly, and keeps them (a `lookup` of the existing,
# immutable Secrets: helm/slurm templates/secrets at v1.2.1). `helm template`, which Argo CD renders with, cannot look
# up, so every render shows new keys: Argo CD must leave those two Secrets' data alone.
GENERATED_KEYS = tuple({"kind": "Secret", "name": f"slurm-auth-{key}", "jsonPointers": ["/data"]}
                       for key in ("slurm", "jwt"))


def _on(bp: "Blueprint") -> bool:
    return bp.enable_slurm


def operator_values(ctx: AddonContext) -> dict[str, Any]:
    # Both watch only the Slurm namespace: the webhook's pods/binding mutation and the operator's reconcilers never
    # touch the rest of the cluster.
    scope = {"namespaces": SLURM_NAMESPACE, **SYSTEM_NODES}
    return {
        "crds": {"enabled": False},  # the CRDs are the slurm-operator-crds release
        "operator": dict(scope),
        "webhook": dict(scope),
        # The chart's default: a cert-manager Issuer and Certificate for the webhook (without it, the chart makes a new
        # CA on every render, which Argo CD would sync back forever).
        "certManager": {"enabled": True},
    }


def _claims(bp: "Blueprint") -> list[str]:
    return [claim for claim, on in ((EFS_SHARED_CLAIM, bp.enable_efs), (FSX_SHARED_CLAIM, bp.enable_fsx)) if on]


def rds_ca_fetcher(region: str) -> dict[str, Any]:
    """The init container that puts the region's RDS CA bundle where slurmdbd's SSL_CA points."""
    fetch = ("import sys, urllib.request\n"
             "data = urllib.request.urlopen(sys.argv[1], timeout=30).read()\n"  # verified against the system CAs
             "assert b'BEGIN CERTIFICATE' in data, 'not a PEM bundle'\n"
             "open(sys.argv[2], 'wb').write(data)\n")
    return {"name": "rds-ca", "image": versions.PIPELINE_PYTHON_IMAGE,
            "command": ["python3", "-c", fetch, RDS_CA_URL.format(region=region), f"{RDS_CA_DIR}/{RDS_CA_FILE}"],
            "volumeMounts": [{"name": "rds-ca", "mountPath": RDS_CA_DIR}],
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}}


def _volumes(bp: "Blueprint") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pod volumes, container mounts) of the shared claims: /efs and /fsx, as in the training runtimes."""
    claims = _claims(bp)
    return ([{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims],
            [{"name": c, "mountPath": SHARED_CLAIMS[c]} for c in claims])


def nodeset_resources(pool: NodePoolSpec, nodeset: SlurmNodeSet) -> dict[str, int]:
    """Extended resources one Slurm node (pod) holds: the pool's accelerators and, on EFA pools, its interfaces."""
    resources: dict[str, int] = {}
    if pool.kind.accelerator is not None:
        resources[pool.kind.accelerator] = nodeset.accelerators_per_node
    if pool.kind.efa and nodeset.efa_per_node:
        resources[EFA] = nodeset.efa_per_node
    return resources


def nodeset_values(bp: "Blueprint", pool: NodePoolSpec, nodeset: SlurmNodeSet) -> dict[str, Any]:
    volumes, mounts = _volumes(bp)
    # NCCL and the Neuron runtime exchange through shared memory; the container default (64 MiB) is far too small.
    volumes.append({"name": DSHM, "emptyDir": {"medium": "Memory", "sizeLimit": f"{SHM_GIB}Gi"}})
    mounts.append({"name": DSHM, "mountPath": "/dev/shm"})
    resources = nodeset_resources(pool, nodeset)
    pod: dict[str, Any] = {"nodeSelector": {POOL_LABEL: pool.name}, "tolerations": toleration_for(pool),
                           "volumes": volumes}
    if pool.kind.accelerator == "aws.amazon.com/neuron":
        pod["schedulerName"] = NEURON_SCHEDULER  # contiguous NeuronCores, as for every Neuron pod on the platform
    values: dict[str, Any] = {
        "replicas": nodeset.replicas,
        "slurmd": {"resources": {"requests": dict(resources), "limits": dict(resources)} if resources else {},
                   "volumeMounts": mounts},
        "podSpec": pod,
        # A partition named after the pool: `sbatch -p gpu-efa`.
        "partition": {"enabled": True},
    }
    if pool.kind.accelerator == NVIDIA_GPU:
        # Slurm schedules GPUs as GRES: as many as the pod holds, found by NVML (gres.conf AutoDetect).
        values["extraConfMap"] = {"Gres": [f"gpu:{nodeset.accelerators_per_node}"]}
    return values


def slurm_values(ctx: AddonContext) -> dict[str, Any]:
    from modules.slurm_aws import ACCOUNTING_DATABASE, MYSQL_PORT

    bp, out = ctx.blueprint, ctx.outputs
    platform = on_platform_pool(bp)
    pools = {p.name: p for p in bp.enabled_pools}
    nodesets = {name: nodeset_values(bp, pools[name], ns) for name, ns in sorted(bp.slurm_nodesets.items())}
    controller: dict[str, Any] = {"podSpec": dict(platform)}
    if bp.enable_ai_ml_observability_stack:
        # slurmctld's own metrics endpoints (Slurm 25.11+); the operator creates the ServiceMonitor, labelled for
        # kube-prometheus-stack's Prometheus.
        controller["metrics"] = {"enabled": True,
                                 "serviceMonitor": {"enabled": True, "labels": dict(PROMETHEUS_LABELS)}}
    values: dict[str, Any] = {
        # The platform's name in accounting records; underscores, as the operator's own default (`<ns>_<name>`) has,
        # since slurmdbd names its tables after the cluster.
        "clusterName": bp.name.replace("-", "_"),
        "controller": controller,
        "restapi": {"podSpec": dict(platform)},
        "accounting": {
            "enabled": True,
            "storageConfig": {"host": out["slurm_db_endpoint"], "port": MYSQL_PORT, "database": ACCOUNTING_DATABASE,
                              "username": "slurm", "passwordKeyRef": {"name": DB_SECRET, "key": DB_SECRET_KEY}},
            "extraConfMap": {"StorageParameters": f"SSL_CA={RDS_CA_DIR}/{RDS_CA_FILE}"},
            # The chart passes slurmdbd through as a corev1.Container (slurm.format-container).
            "slurmdbd": {"volumeMounts": [{"name": "rds-ca", "mountPath": RDS_CA_DIR, "readOnly": True}]},
            "podSpec": {**platform, "initContainers": [rds_ca_fetcher(bp.region)],
                        "volumes": [{"name": "rds-ca", "emptyDir": {"sizeLimit": "1Mi"}}]},
        },
        "nodesets": nodesets,
    }
    if any(pools[name].kind.accelerator == NVIDIA_GPU for name in nodesets):
        values["configFiles"] = {"gres.conf": "AutoDetect=nvidia\n"}
    if bp.slurm_login_ssh_public_keys:
        volumes, mounts = _volumes(bp)
        values["loginsets"] = {LOGINSET: {
            "enabled": True, "replicas": 1,
            "rootSshAuthorizedKeys": "\n".join(bp.slurm_login_ssh_public_keys) + "\n",
            "login": {"volumeMounts": mounts},
            "podSpec": {**platform, "volumes": volumes},
            # The chart's default is a LoadBalancer; the login node is reached through `kubectl port-forward`.
            "service": {"spec": {"type": "ClusterIP"}},
        }}
    return values


def slurm_volumes(ctx: AddonContext) -> dict[str, Any]:
    """The workload namespaces' shared claims (efs-shared, fsx-shared) in the Slurm namespace too, on the same file
    systems (catalog/accelerators.py makes the others; a PersistentVolume binds one claim, so these are new PVs)."""
    return {"objects": shared_volumes(ctx.blueprint, ctx.outputs, SLURM_NAMESPACE)}


ADDONS: list[AddOn] = [
    # Its own release, so `helm upgrade` reaches the CRDs (Helm never upgrades a chart's crds/).
    AddOn("slurm-operator-crds", SLURM_OPERATOR_NAMESPACE, enabled=_on, chart=versions.CHARTS["slurm-operator-crds"],
          toggle=_TOGGLE, sync_wave=-9, placement=NO_PODS),
    AddOn("slurm-operator", SLURM_OPERATOR_NAMESPACE, enabled=_on, chart=versions.CHARTS["slurm-operator"],
          depends_on=("cert-manager", "slurm-operator-crds"), computed_values=operator_values, toggle=_TOGGLE,
          sync_wave=-8, placement=SYSTEM, skip_crds=True),
    # In the namespace platform-secrets creates for the database password (enable_slurm requires EFS: never empty).
    AddOn("slurm-volumes", SLURM_NAMESPACE, enabled=_on,
          depends_on=("platform-secrets",), computed_values=slurm_volumes, toggle=_TOGGLE, sync_wave=-5,
          placement=NO_PODS),
    # After the operator (its webhook admits the custom objects), the database password, the claims, and the gp3
    # default storage class slurmctld's state volume is made from.
    AddOn("slurm", SLURM_NAMESPACE, enabled=_on, chart=versions.CHARTS["slurm"],
          depends_on=("slurm-operator", "platform-secrets", "slurm-volumes", "storage-classes"),
          computed_values=slurm_values, toggle=_TOGGLE, sync_wave=-3, placement=POOLS,
          ignore_differences=GENERATED_KEYS),
]
