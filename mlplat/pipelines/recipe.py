"""Recipes: the YAML values files of aws-samples/amazon-eks-machine-learning-with-terraform-and-kubeflow (MLOps on
EKS) read into typed data, checked field by field before anything is rendered.

The format is upstream's (charts/machine-learning/*/values.yaml and the examples' recipes): `image`, `resources`
(`requests`, `limits`, `nnodes`, `nproc_per_node`, `node_type`), `tolerations`, `ebs`, `pvc`, `git`,
`inline_script`, `pre_script`, `post_script`, `train` or `process` (`env`, `command`, `args`), `backoff_limit`, and
the hf-snapshot chart's `hf_model_id`, `hf_secret_name`, `hf_secret_key`, `snapshot`, `env`. Where it differs:

- `resources.node_type` picks the node pool whose instance families include that type; pods are placed by the pool's
  labels, never by instance type (a new `pool` key names the pool directly, and wins).
- `pvc` names upstream's `pv-efs`/`pv-fsx` claims or the platform's `efs-shared`/`fsx-shared`; both mean the
  platform's shared file systems.
- `framework` (scripts shipped inside upstream's chart) and `hyperpod` (SageMaker HyperPod nodes) are refused:
  scripts come from `git` or `inline_script`, and nodes from the platform's pools.
- `{{ .Release.Name }}` in values is the pipeline's name; no other Helm template expression is expanded.
- New: `queue` (the Kueue LocalQueue; default: the pool's own queue).
- ray-data-process's `ray` block: `version` (the image's Ray version, required), `resources` (the head's) and
  `runtime_env_yaml`; `dashboard` and `ports` are refused (the cluster is reached inside it, nothing is exposed).
- vllm-serve's `vllm` block (new; upstream serves from its generic-server chart as a Deployment, which never ends):
  `model` (a directory on a mounted claim, required), `served_model_name`, `port`, `tensor_parallel_size`, `args`,
  `env` and `image` of the vLLM server the step's command talks to.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplat.pipelines.source import LocatedDict, Problems, line_of, unknown_keys

RELEASE_NAME = re.compile(r"\{\{-?\s*\.Release\.Name\s*-?\}\}")
TEMPLATE_EXPRESSION = re.compile(r"\{\{.*?\}\}")
# Upstream's claim names (charts/machine-learning/*/values.yaml `pvc`) and the platform's own.
CLAIM_ALIASES = {"pv-efs": "efs-shared", "pv-fsx": "fsx-shared"}
QUANTITY = re.compile(r"^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i?|[mkMGTPE]|n|u)?$")
RAY_REFUSED = {
    "dashboard": "the Ray dashboard listens inside the cluster only (kubectl port-forward to the head); remove this "
                 "key",
    "ports": "the platform's Ray clusters expose no extra ports; remove this key",
}
# `vllm serve` flags the template sets from the recipe's typed fields.
VLLM_OWN_FLAGS = {"--port": "vllm.port", "--served-model-name": "vllm.served_model_name",
                  "--tensor-parallel-size": "vllm.tensor_parallel_size", "-tp": "vllm.tensor_parallel_size",
                  "--model": "vllm.model", "--host": "the template (the pod's addresses)"}
REFUSED = {
    "framework": "upstream's charts ship per-framework scripts inside the chart (scripts/<framework>); mlplat renders "
                 "steps without a chart: bring the scripts with `git` or `inline_script` and remove this key",
    "hyperpod": "SageMaker HyperPod nodes are not this platform's: steps run on its Karpenter pools; remove this key",
}


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str


@dataclass(frozen=True)
class Run:
    """`train` or `process`: the command line the step runs after the scripts (args joined as upstream joins them,
    so `2>&1 | tee $LOG` works)."""

    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()


@dataclass(frozen=True)
class Git:
    repo_url: str
    branch: str | None = None
    commit: str | None = None


@dataclass(frozen=True)
class Mount:
    claim: str
    mount_path: str


@dataclass(frozen=True)
class Ebs:
    storage: str
    mount_path: str


@dataclass(frozen=True)
class Snapshot:
    model_id: str
    directory: str
    secret_name: str | None
    secret_key: str
    owner: str  # user:group the snapshot is handed to


@dataclass(frozen=True)
class RaySettings:
    version: str
    head_requests: tuple[tuple[str, str], ...] = ()
    head_limits: tuple[tuple[str, str], ...] = ()
    runtime_env_yaml: str | None = None


@dataclass(frozen=True)
class VllmSettings:
    """vllm-serve's server: what `vllm serve` serves, under which name, on which port, over how many devices."""

    model: str
    served_model_name: str | None = None
    port: int = 8000  # vLLM's default (`vllm serve --port`)
    tensor_parallel_size: int | None = None
    args: tuple[str, ...] = ()
    env: tuple[EnvVar, ...] = ()
    image: str | None = None


@dataclass(frozen=True)
class Recipe:
    path: Path
    image: str | None = None
    pool: str | None = None
    node_type: str | None = None
    queue: str | None = None
    requests: tuple[tuple[str, str], ...] = ()
    limits: tuple[tuple[str, str], ...] = ()
    nnodes: int = 1
    nproc_per_node: int | None = None
    tolerations: tuple[dict[str, Any], ...] = ()
    ebs: Ebs | None = None
    mounts: tuple[Mount, ...] | None = None  # None: the platform's shared claims at /efs and /fsx
    git: Git | None = None
    inline_script: tuple[str, ...] = ()
    pre_script: tuple[str, ...] = ()
    post_script: tuple[str, ...] = ()
    run: Run | None = None
    env: tuple[EnvVar, ...] = ()  # hf-snapshot's extra environment
    snapshot: Snapshot | None = None
    backoff_limit: int = 0
    ray: RaySettings | None = None
    vllm: VllmSettings | None = None

    @property
    def accelerators(self) -> dict[str, str]:
        """Extended resources requested (or limited: Kubernetes copies limits into requests for them)."""
        out = {k: v for k, v in self.limits if "/" in k}
        out.update({k: v for k, v in self.requests if "/" in k})
        return out


def _text(problems: Problems, path: Path, mapping: LocatedDict, key: str, name: str, release: str,
          *, required: bool = False) -> str | None:
    value = mapping.get(key)
    if value is None:
        if required:
            problems.add(path, line_of(mapping), name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.add(path, line_of(mapping, key), name, f"expected a string, got {type(value).__name__}")
        return None
    return expand(problems, path, line_of(mapping, key), name, str(value), release)


def expand(problems: Problems, path: Path, line: int, name: str, value: str, release: str) -> str:
    """`{{ .Release.Name }}` becomes the pipeline's name; any other template expression is a problem."""
    value = RELEASE_NAME.sub(release, value)
    leftover = TEMPLATE_EXPRESSION.search(value)
    if leftover:
        problems.add(path, line, name, f"{leftover.group(0)} is a Helm template expression mlplat does not expand "
                                       f"(only {{{{ .Release.Name }}}}, the pipeline's name); write the value out")
    return value


def _lines(problems: Problems, path: Path, mapping: LocatedDict, key: str, name: str, release: str
           ) -> tuple[str, ...]:
    value = mapping.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                              for v in value):
        problems.add(path, line_of(mapping, key), name, "expected a list of strings (shell lines)")
        return ()
    return tuple(expand(problems, path, line_of(mapping, key), name, str(v), release) for v in value)


def _env(problems: Problems, path: Path, mapping: LocatedDict, key: str, name: str, release: str
         ) -> tuple[EnvVar, ...]:
    value = mapping.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(path, line_of(mapping, key), name, "expected a list of {name, value}")
        return ()
    out = []
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(item, LocatedDict) or not isinstance(item.get("name"), str):
            problems.add(path, line_of(mapping, key), where, "expected {name: NAME, value: VALUE}")
            continue
        unknown_keys(problems, path, item, ("name", "value"), f"{where}.")
        raw = item.get("value", "")
        if isinstance(raw, (dict, list)):
            problems.add(path, line_of(item, "value"), f"{where}.value", "expected a string")
            continue
        text = "" if raw is None else ("true" if raw is True else "false" if raw is False else str(raw))
        out.append(EnvVar(item["name"], expand(problems, path, line_of(item, "value"), f"{where}.value", text,
                                               release)))
    return tuple(out)


def _quantities(problems: Problems, path: Path, mapping: LocatedDict, key: str, name: str
                ) -> tuple[tuple[str, str], ...]:
    value = mapping.get(key)
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.add(path, line_of(mapping, key), name, "expected a map of resource name to quantity")
        return ()
    out = []
    for resource, quantity in value.items():
        text = str(quantity).strip() if isinstance(quantity, (str, int, float)) and not isinstance(quantity, bool) \
            else ""
        if not QUANTITY.match(text):
            problems.add(path, line_of(value, resource), f"{name}.{resource}",
                         f"expected a Kubernetes quantity such as 8, 500m or 64Gi, got {quantity!r}")
            continue
        out.append((str(resource), text))
    return tuple(out)


def _count(problems: Problems, path: Path, mapping: LocatedDict, key: str, name: str, minimum: int) -> int | None:
    value = mapping.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.add(path, line_of(mapping, key), name, f"expected a whole number >= {minimum}, got {value!r}")
        return None
    return value


def _mapping(problems: Problems, path: Path, parent: LocatedDict, key: str, name: str) -> LocatedDict | None:
    value = parent.get(key)
    if value is None:
        return None
    if not isinstance(value, LocatedDict):
        problems.add(path, line_of(parent, key), name, "expected a mapping")
        return None
    return value


def parse(problems: Problems, path: Path, data: Any, *, allowed: tuple[str, ...], run_key: str | None,
          release: str) -> Recipe | None:
    """The recipe in `data` (a located mapping) for a template that takes the `allowed` top-level keys and runs
    its command from `run_key` (`train`, `process`, or None)."""
    if not isinstance(data, LocatedDict):
        problems.add(path, 1, "", "a recipe is a YAML mapping (a Helm values file)")
        return None
    before = len(problems.items)
    unknown_keys(problems, path, data, allowed, "", why_not=REFUSED)
    fields: dict[str, Any] = {"path": path}
    fields["image"] = _text(problems, path, data, "image", "image", release)
    fields["pool"] = _text(problems, path, data, "pool", "pool", release)
    fields["queue"] = _text(problems, path, data, "queue", "queue", release)
    resources = _mapping(problems, path, data, "resources", "resources")
    if resources is not None:
        unknown_keys(problems, path, resources, ("requests", "limits", "nnodes", "nproc_per_node", "node_type"),
                     "resources.")
        fields["requests"] = _quantities(problems, path, resources, "requests", "resources.requests")
        fields["limits"] = _quantities(problems, path, resources, "limits", "resources.limits")
        fields["nnodes"] = _count(problems, path, resources, "nnodes", "resources.nnodes", 1) or 1
        fields["nproc_per_node"] = _count(problems, path, resources, "nproc_per_node", "resources.nproc_per_node", 1)
        fields["node_type"] = _text(problems, path, resources, "node_type", "resources.node_type", release)
    tolerations = data.get("tolerations")
    if tolerations is not None:
        if not isinstance(tolerations, list) or not all(isinstance(t, dict) for t in tolerations):
            problems.add(path, line_of(data, "tolerations"), "tolerations", "expected a list of tolerations")
        else:
            fields["tolerations"] = tuple(dict(t) for t in tolerations)
    ebs = _mapping(problems, path, data, "ebs", "ebs")
    if ebs is not None:
        unknown_keys(problems, path, ebs, ("storage", "mount_path"), "ebs.")
        storage = _text(problems, path, ebs, "storage", "ebs.storage", release) or "400Gi"
        if not QUANTITY.match(storage):
            problems.add(path, line_of(ebs, "storage"), "ebs.storage", f"expected a size such as 200Gi, got "
                                                                       f"{storage!r}")
        fields["ebs"] = Ebs(storage, _text(problems, path, ebs, "mount_path", "ebs.mount_path", release) or "/tmp")
    if "pvc" in data:
        fields["mounts"] = _mounts(problems, path, data, release)
    git = _mapping(problems, path, data, "git", "git")
    if git is not None:
        unknown_keys(problems, path, git, ("repo_url", "branch", "commit"), "git.")
        url = _text(problems, path, git, "repo_url", "git.repo_url", release, required=True)
        if url:
            fields["git"] = Git(url, _text(problems, path, git, "branch", "git.branch", release),
                                _text(problems, path, git, "commit", "git.commit", release))
    for key in ("inline_script", "pre_script", "post_script"):
        fields[key] = _lines(problems, path, data, key, key, release)
    if run_key is not None:
        fields["run"] = _run(problems, path, data, run_key, release)
    fields["env"] = _env(problems, path, data, "env", "env", release)
    if "hf_model_id" in allowed:
        fields["snapshot"] = _snapshot(problems, path, data, release)
    if "ray" in allowed:
        fields["ray"] = _ray(problems, path, data, release)
    if "vllm" in allowed:
        fields["vllm"] = _vllm(problems, path, data, release)
    limit = _count(problems, path, data, "backoff_limit", "backoff_limit", 0)
    fields["backoff_limit"] = 0 if limit is None else limit
    if len(problems.items) > before:
        return None
    return Recipe(**fields)


def _mounts(problems: Problems, path: Path, data: LocatedDict, release: str) -> tuple[Mount, ...]:
    value = data["pvc"]
    if not isinstance(value, list):
        problems.add(path, line_of(data, "pvc"), "pvc", "expected a list of {name, mount_path}")
        return ()
    out = []
    for i, item in enumerate(value):
        where = f"pvc[{i}]"
        if not isinstance(item, LocatedDict):
            problems.add(path, line_of(data, "pvc"), where, "expected {name: CLAIM, mount_path: /path}")
            continue
        unknown_keys(problems, path, item, ("name", "mount_path"), f"{where}.")
        claim = _text(problems, path, item, "name", f"{where}.name", release, required=True)
        mount = _text(problems, path, item, "mount_path", f"{where}.mount_path", release, required=True)
        if claim and mount:
            if not mount.startswith("/"):
                problems.add(path, line_of(item, "mount_path"), f"{where}.mount_path",
                             f"expected an absolute path, got {mount!r}")
            out.append(Mount(CLAIM_ALIASES.get(claim, claim), mount))
    return tuple(out)


def _run(problems: Problems, path: Path, data: LocatedDict, key: str, release: str) -> Run | None:
    block = _mapping(problems, path, data, key, key)
    if block is None:
        problems.add(path, line_of(data), key, f"is required: the command the step runs ({key}.command, "
                                               f"{key}.args)")
        return None
    unknown_keys(problems, path, block, ("env", "command", "args"), f"{key}.")
    command = _lines(problems, path, block, "command", f"{key}.command", release)
    if not command:
        problems.add(path, line_of(block), f"{key}.command", "is required")
    return Run(command, _lines(problems, path, block, "args", f"{key}.args", release),
               _env(problems, path, block, "env", f"{key}.env", release))


def _ray(problems: Problems, path: Path, data: LocatedDict, release: str) -> RaySettings | None:
    block = _mapping(problems, path, data, "ray", "ray")
    if block is None:
        problems.add(path, line_of(data), "ray", "is required: ray.version, the Ray version of the image")
        return None
    unknown_keys(problems, path, block, ("version", "resources", "runtime_env_yaml"), "ray.", why_not=RAY_REFUSED)
    version = _text(problems, path, block, "version", "ray.version", release, required=True)
    requests: tuple[tuple[str, str], ...] = ()
    limits: tuple[tuple[str, str], ...] = ()
    resources = _mapping(problems, path, block, "resources", "ray.resources")
    if resources is not None:
        unknown_keys(problems, path, resources, ("requests", "limits"), "ray.resources.")
        requests = _quantities(problems, path, resources, "requests", "ray.resources.requests")
        limits = _quantities(problems, path, resources, "limits", "ray.resources.limits")
    runtime_env = _text(problems, path, block, "runtime_env_yaml", "ray.runtime_env_yaml", release)
    return RaySettings(version, requests, limits, runtime_env) if version else None


def _vllm(problems: Problems, path: Path, data: LocatedDict, release: str) -> VllmSettings | None:
    block = _mapping(problems, path, data, "vllm", "vllm")
    if block is None:
        problems.add(path, line_of(data), "vllm", "is required: vllm.model, the model directory the server serves")
        return None
    unknown_keys(problems, path, block, ("model", "served_model_name", "port", "tensor_parallel_size", "args", "env",
                                         "image"), "vllm.")
    model = _text(problems, path, block, "model", "vllm.model", release, required=True)
    name = _text(problems, path, block, "served_model_name", "vllm.served_model_name", release)
    port = _count(problems, path, block, "port", "vllm.port", 1)
    if port is not None and port > 65535:
        problems.add(path, line_of(block, "port"), "vllm.port", f"expected a port number up to 65535, got {port}")
    parallel = _count(problems, path, block, "tensor_parallel_size", "vllm.tensor_parallel_size", 1)
    # The server's command line is an argv, not a shell line: each entry is split as the shell would split it, so
    # `--max-model-len 4096` and `--max-model-len=4096` both work.
    args: list[str] = []
    for arg in _lines(problems, path, block, "args", "vllm.args", release):
        try:
            args += shlex.split(arg)
        except ValueError as exc:
            problems.add(path, line_of(block, "args"), "vllm.args", f"{arg!r}: {exc}")
    for flag in sorted({a.split("=", 1)[0] for a in args} & set(VLLM_OWN_FLAGS)):
        problems.add(path, line_of(block, "args"), "vllm.args",
                     f"{flag} is set from {VLLM_OWN_FLAGS[flag]}; remove it from args")
    env = _env(problems, path, block, "env", "vllm.env", release)
    image = _text(problems, path, block, "image", "vllm.image", release)
    if not model:
        return None
    return VllmSettings(model, name, port if port is not None and port <= 65535 else 8000, parallel, tuple(args), env,
                        image)


def _snapshot(problems: Problems, path: Path, data: LocatedDict, release: str) -> Snapshot | None:
    model = _text(problems, path, data, "hf_model_id", "hf_model_id", release, required=True)
    if model and not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", model):
        problems.add(path, line_of(data, "hf_model_id"), "hf_model_id",
                     f"expected a Hugging Face repository id such as 'Qwen/Qwen3-14B', got {model!r}")
    block = _mapping(problems, path, data, "snapshot", "snapshot")
    directory, owner = "/fsx/pretrained-models", "root:root"
    if block is not None:
        unknown_keys(problems, path, block, ("dir", "user", "group"), "snapshot.")
        directory = _text(problems, path, block, "dir", "snapshot.dir", release) or directory
        owner = (f"{_text(problems, path, block, 'user', 'snapshot.user', release) or 'root'}:"
                 f"{_text(problems, path, block, 'group', 'snapshot.group', release) or 'root'}")
    secret = _text(problems, path, data, "hf_secret_name", "hf_secret_name", release)
    key = _text(problems, path, data, "hf_secret_key", "hf_secret_key", release) or "token"
    return Snapshot(model, directory, secret, key, owner) if model else None
