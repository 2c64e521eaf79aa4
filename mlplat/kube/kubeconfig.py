"""A kubeconfig entry for the platform's cluster, merged into an existing kubeconfig file without disturbing it.

The entry authenticates the way the Kubernetes layer does: kubectl runs `aws eks get-token` (client.authentication
.k8s.io/v1beta1 exec plugin) and so signs each token with whatever AWS identity is current; no credential is written.
A private endpoint is reached through the cluster access node (modules/access_node.py): an SSM port-forward from a
local port to the endpoint, with kubectl talking to https://127.0.0.1:<port> and checking the certificate against the
endpoint's own name (`tls-server-name`).

Writing follows client-go's habits (tools/clientcmd): the file is locked with `<file>.lock` while it is rewritten, and
is replaced atomically (a complete temporary file renamed over it), mode 0600; a symlinked kubeconfig keeps its link.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from mlplat.errors import EXIT_BAD_INPUT, MlplatError
from mlplat.kube.token import EXEC_API_VERSION, EksCluster
from mlplat.tunnel import start_session_command

ENTRY_LISTS = ("clusters", "contexts", "users")


@dataclass(frozen=True)
class Tunnel:
    local_port: int
    access_node_instance_id: str


@dataclass(frozen=True)
class KubeconfigEntry:
    name: str  # cluster, user and context are all named after the platform
    cluster: EksCluster
    tunnel: Tunnel | None = None
    aws_profile: str | None = None  # the profile the token is signed with, when the caller named one

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.tunnel.local_port}" if self.tunnel else self.cluster.endpoint

    def cluster_entry(self) -> dict[str, Any]:
        cluster: dict[str, Any] = {"server": self.server,
                                   "certificate-authority-data": self.cluster.certificate_authority_data}
        if self.tunnel:
            # The certificate names the endpoint, not 127.0.0.1.
            cluster["tls-server-name"] = self.cluster.endpoint_host
        return {"name": self.name, "cluster": cluster}

    def user_entry(self) -> dict[str, Any]:
        exec_plugin: dict[str, Any] = {
            "apiVersion": EXEC_API_VERSION, "command": "aws",
            "args": ["eks", "get-token", "--cluster-name", self.cluster.name, "--region", self.cluster.region,
                     "--output", "json"]}
        if self.aws_profile:
            exec_plugin["env"] = [{"name": "AWS_PROFILE", "value": self.aws_profile}]
        return {"name": self.name, "user": {"exec": exec_plugin}}

    def context_entry(self) -> dict[str, Any]:
        return {"name": self.name, "context": {"cluster": self.name, "user": self.name}}

    def tunnel_command(self) -> list[str] | None:
        """The SSM session that carries the tunnel (the one mlplat's own tunnel opens); it runs until interrupted."""
        if self.tunnel is None:
            return None
        return start_session_command(self.tunnel.access_node_instance_id, self.cluster.endpoint,
                                     self.tunnel.local_port, self.cluster.region)


@dataclass(frozen=True)
class KubeconfigWrite:
    path: Path
    context: str
    server: str
    changed: bool
    previous_context: str | None
    tunnel_command: list[str] | None

    def as_dict(self) -> dict[str, Any]:
        return {"kubeconfig": str(self.path), "context": self.context, "server": self.server,
                "changed": self.changed, "previous_context": self.previous_context,
                "tunnel_command": self.tunnel_command}


def default_kubeconfig_path(env: Mapping[str, str]) -> Path:
    """Where kubectl looks: the first file of $KUBECONFIG (kubectl, like `aws eks update-kubeconfig`, writes a new
    entry to the first one), else ~/.kube/config."""
    first = next((p for p in env.get("KUBECONFIG", "").split(os.pathsep) if p), None)
    return Path(first).expanduser() if first else Path(env.get("HOME") or Path.home()) / ".kube" / "config"


def merged(existing: Mapping[str, Any] | None, entry: KubeconfigEntry) -> dict[str, Any]:
    """`existing` with the platform's cluster, user and context added, or replaced in place where they exist, and
    the context made current; every other entry and key is kept as it was."""
    config: dict[str, Any] = dict(existing or {})
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    config.setdefault("preferences", {})
    for key, item in (("clusters", entry.cluster_entry()), ("contexts", entry.context_entry()),
                      ("users", entry.user_entry())):
        items = list(config.get(key) or [])
        index = next((i for i, other in enumerate(items) if other.get("name") == entry.name), None)
        if index is None:
            items.append(item)
        else:
            items[index] = item
        config[key] = items
    config["current-context"] = entry.name
    return config


def write_kubeconfig(path: Path, entry: KubeconfigEntry) -> KubeconfigWrite:
    target = path.resolve() if path.is_symlink() else path
    existing = _read(target)
    config = merged(existing, entry)
    changed = config != existing
    if changed:
        _write_locked(target, yaml.safe_dump(config, sort_keys=False, default_flow_style=False))
    elif (target.stat().st_mode & 0o777) != 0o600:
        target.chmod(0o600)  # it holds no secret, but kubeconfigs often do: keep it private as kubectl does
    previous = (existing or {}).get("current-context") or None
    return KubeconfigWrite(path, entry.name, entry.server, changed, previous, entry.tunnel_command())


def _read(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise MlplatError(f"cannot read the kubeconfig {path} ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise MlplatError(f"{where}: the kubeconfig is not valid YAML; fix it, or write to another file with "
                          f"--kubeconfig PATH", exit_code=EXIT_BAD_INPUT) from None
    if data is None:
        return None
    if not isinstance(data, dict):
        raise MlplatError(f"{path}: a kubeconfig is a YAML mapping (apiVersion, clusters, contexts, users), this "
                          f"file holds a {type(data).__name__}; fix it, or write to another file with --kubeconfig "
                          f"PATH", exit_code=EXIT_BAD_INPUT)
    for key in ENTRY_LISTS:
        items = data.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            raise MlplatError(f"{path}: `{key}` is not a list of named entries; fix it, or write to another file "
                              f"with --kubeconfig PATH", exit_code=EXIT_BAD_INPUT)
    return data


def _write_locked(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = path.with_name(path.name + ".lock")
    try:
        # client-go's lock: the file exists while a writer holds it.
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise MlplatError(f"{lock} exists: another program (kubectl, aws eks update-kubeconfig) is writing the "
                          f"kubeconfig; run again once it is done, or delete the lock file if none is") from None
    except OSError as exc:
        raise MlplatError(f"cannot write the kubeconfig {path} ({exc})") from None
    os.close(descriptor)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise MlplatError(f"cannot write the kubeconfig {path} ({exc})") from None
    finally:
        lock.unlink(missing_ok=True)
