"""Blueprint keys of Slurm on Kubernetes (SchedMD's Slinky slurm-operator): the toggle, the NodeSets on the
accelerator pools, the login nodes' SSH keys and the accounting database (Aurora MySQL)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import struct
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from mlplat.schema import acu_range_problems, field

# Where the Slurm cluster (controller, accounting, NodeSets, login) runs, and the operator.
SLURM_NAMESPACE = "slurm"
SLURM_OPERATOR_NAMESPACE = "slinky"
# Pools a NodeSet may sit on: the accelerator pools and the CPU batch pool. Not general (the platform's own services)
# and not inferentia1 (serving only: inf1 has no collective-communication support for batch jobs).
SLURM_POOLS = ("cpu", "gpu", "gpu-efa", "neuron")
# OpenSSH public key types sshd accepts by default (OpenSSH 9.x: ssh-rsa keys with SHA-2 signatures, ECDSA, Ed25519
# and their FIDO variants); ssh-dss is off by default since 7.0 and removed in 9.8.
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                 "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com")
_SSH_KEY = re.compile(r"(?P<type>\S+) (?P<blob>[A-Za-z0-9+/]+={0,2})( \S.*)?")
# Days of automated backups of the accounting database (point-in-time restore), MLflow's default: job history is
# an audit record, but not worth a key of its own.
SLURM_DB_BACKUP_RETENTION_DAYS = 7
_SLURM_DB_KEYS = ("slurm_db_min_acu", "slurm_db_max_acu", "slurm_db_deletion_protection")


@dataclass(frozen=True)
class SlurmNodeSet:
    """One Slurm NodeSet (and partition of the same name): Slurm nodes as pods on one node pool."""

    replicas: int = field(
        0, "Slurm nodes (pods) to run. Each holds its accelerators for as long as it runs, outside Kueue's quotas: "
        "0 creates the NodeSet and its partition with no pods.",
        minimum=0, maximum=512,
    )
    accelerators_per_node: int = field(
        1, "GPUs (nvidia.com/gpu) or Neuron devices (aws.amazon.com/neuron) each Slurm node requests; ignored on the "
        "cpu pool. Set it to the instance's count (8 on p4d/p5.48xlarge, 16 on trn1.32xlarge) for whole-node jobs.",
        minimum=1, maximum=16,
    )
    efa_per_node: int = field(
        1, "EFA interfaces (vpc.amazonaws.com/efa) each Slurm node requests on the gpu-efa and neuron pools; NCCL "
        "and the Neuron collectives use only the interfaces the pod holds (p5.48xlarge has 32, p4d.24xlarge 4, "
        "trn1.32xlarge 8); 0 requests none, so the nodes may also be instances without EFA (inf2, trn1.2xlarge).",
        minimum=0, maximum=32,
    )
    _explicit: frozenset[str] = dataclasses.field(default=frozenset(), repr=False, compare=False)


def ssh_key_problem(key: str) -> str | None:
    """Why `key` is not one OpenSSH public key line (`type base64 [comment]`), or None."""
    m = _SSH_KEY.fullmatch(key.strip())
    if m is None or key != key.strip() or "\n" in key:
        return "expected one OpenSSH public key line such as 'ssh-ed25519 AAAAC3Nza... user@host'"
    if m["type"] not in SSH_KEY_TYPES:
        return f"{m['type']!r} is not a key type sshd accepts; use one of {', '.join(SSH_KEY_TYPES)}"
    try:
        blob = base64.b64decode(m["blob"], validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        inner = blob[4:4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        return "the key's base64 part does not decode; paste the whole line of the .pub file"
    if inner != m["type"]:  # the blob names its own type first (RFC 4253 section 6.6)
        return f"the key's data is a {inner!r} key, but the line says {m['type']!r}; paste the .pub file unchanged"
    return None


@dataclass(frozen=True)
class SlurmKeys:
    enable_slurm: bool = field(
        False, "Install Slurm on Kubernetes with SchedMD's Slinky slurm-operator: the operator on the system nodes "
        "(cert-manager issues its webhook certificate), slurmctld and slurmdbd on the general pool, accounting in an "
        "encrypted Aurora MySQL Serverless v2 database reachable from the nodes only (TLS required, its password "
        "generated into Secrets Manager), a NodeSet and partition per slurm_nodesets entry with /efs and /fsx "
        "mounted, and login nodes when slurm_login_ssh_public_keys lists keys. Nothing is public: every Service is "
        "ClusterIP (reach the login node with `kubectl port-forward`).",
    )
    slurm_nodesets: Mapping[str, SlurmNodeSet] = field(
        MappingProxyType({}), "Slurm NodeSets by node pool (" + ", ".join(SLURM_POOLS) + "), each an enabled pool: "
        "its pods are placed by the pool's label and tolerations, request its accelerators (and EFA interfaces), "
        "Neuron ones through the Neuron scheduler. Empty: the controller with no compute nodes.",
        keys=SLURM_POOLS, key_noun="Slurm node pool",
    )
    slurm_login_ssh_public_keys: tuple[str, ...] = field(
        (), "OpenSSH public keys allowed to log in as root on the Slurm login node (one pod, ClusterIP Service on "
        "port 22); empty: no login node (submit from `kubectl exec` into the controller instead).", unique=True,
    )
    slurm_db_min_acu: float = field(
        0.5, "Aurora Serverless v2 minimum capacity (ACUs) of the Slurm accounting database.", minimum=0.5, maximum=256,
    )
    slurm_db_max_acu: float = field(
        2.0, "Aurora Serverless v2 maximum capacity (ACUs) of the Slurm accounting database.", minimum=1, maximum=256,
    )
    slurm_db_deletion_protection: bool = field(
        True, "Refuse to delete the Slurm accounting database; set false before destroying the platform.",
    )

    def _rules_slurm(self) -> list[tuple[tuple[str, ...], str]]:
        explicit = self._explicit  # type: ignore[attr-defined]
        if not self.enable_slurm:
            keys = ("slurm_nodesets", "slurm_login_ssh_public_keys", *_SLURM_DB_KEYS)
            return [((k,), "has no effect without enable_slurm = true; set it or remove this key")
                    for k in keys if k in explicit]
        out: list[tuple[tuple[str, ...], str]] = []
        enabled = {p.name: p for p in self.enabled_pools}  # type: ignore[attr-defined]
        for pool_name, nodeset in self.slurm_nodesets.items():
            path = ("slurm_nodesets", pool_name)
            pool = enabled.get(pool_name)
            if pool is None:
                out.append((path, f"the {pool_name} pool is not enabled; enable it (nodepools.{pool_name}.enabled = "
                                  f"true) or remove it from slurm_nodesets"))
                continue
            accelerator = pool.kind.accelerator
            if accelerator is None and "accelerators_per_node" in nodeset._explicit:
                out.append((path + ("accelerators_per_node",), f"the {pool_name} pool has no accelerators; remove "
                                                               f"accelerators_per_node"))
            if not pool.kind.efa and "efa_per_node" in nodeset._explicit:
                out.append((path + ("efa_per_node",), f"the {pool_name} pool has no EFA interfaces; remove "
                                                      f"efa_per_node"))
            if accelerator is not None:
                total = nodeset.replicas * nodeset.accelerators_per_node
                if total > pool.max_accelerators:
                    out.append((path + ("replicas",),
                                f"{nodeset.replicas} nodes x {nodeset.accelerators_per_node} accelerators = {total}, "
                                f"more than the {pool_name} pool's max_accelerators of {pool.max_accelerators}; "
                                f"lower replicas or raise nodepools.{pool_name}.max_accelerators"))
        for i, key in enumerate(self.slurm_login_ssh_public_keys):
            if (problem := ssh_key_problem(key)) is not None:
                out.append((("slurm_login_ssh_public_keys", f"[{i}]"), problem))
        out += acu_range_problems(self, "slurm_db")
        namespaces = self.workload_namespaces  # type: ignore[attr-defined]
        if SLURM_NAMESPACE in namespaces:
            out.append((("workload_namespaces", f"[{namespaces.index(SLURM_NAMESPACE)}]"),
                        f"{SLURM_NAMESPACE!r} is the Slurm cluster's namespace (enable_slurm); use another name"))
        if not self.enable_efs:  # type: ignore[attr-defined]
            out.append((("enable_slurm",), "Slurm nodes share /efs (job scripts, home directories): set "
                                           "enable_efs = true"))
        return out
