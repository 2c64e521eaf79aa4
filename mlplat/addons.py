"""The add-on registry: what each add-on installs (chart, repository, pinned version, namespace), what it needs
(`depends_on`), what it cannot live with (`conflicts_with`), and how its Helm values are built.

Values are layered: `helm-values/<add-on>.yaml` is the base, the blueprint's `addon_values` file for that add-on is
merged over it, and the platform-owned computed keys are set last (they carry cluster names, roles, queues, ...).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import yaml

from mlplat import versions
from mlplat.errors import EXIT_BAD_INPUT, MlplatError

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

ROOT = Path(__file__).resolve().parent.parent
HELM_VALUES_DIR = ROOT / "helm-values"
LOCAL_CHARTS_DIR = ROOT / "charts"
# The in-repo chart that applies typed Kubernetes objects (NodePools, storage classes, monitors, queues ...); a Helm
# release needs no live cluster at plan time, unlike kubernetes_manifest.
MANIFESTS_CHART = "mlplat-manifests"


@dataclass(frozen=True)
class AddonContext:
    """What computed values may use: the blueprint plus the AWS layer's outputs (tokens at synth time)."""

    blueprint: "Blueprint"
    outputs: Mapping[str, str]


ValuesFn = Callable[[AddonContext], dict[str, Any]]
EnabledFn = Callable[["Blueprint"], bool]


# Where an add-on's pods run, which decides what must exist before it installs (and after it uninstalls):
SYSTEM = "system"  # controllers on the tainted system node group, which exists before any add-on
POOLS = "pools"  # Karpenter capacity (the general pool): installs after the node pools, uninstalls before them
NODE_AGENT = "node-agent"  # DaemonSets on whichever nodes they serve; ready with zero pods, so nothing to wait for
NO_PODS = "no-pods"  # typed objects only (CRs, Secrets, classes): wait for their CRD owners, not for nodes
PLACEMENTS = (SYSTEM, POOLS, NODE_AGENT, NO_PODS)
NODEPOOLS = "karpenter-nodepools"


@dataclass(frozen=True)
class AddOn:
    name: str
    namespace: str
    enabled: EnabledFn
    chart: versions.Chart | None = None  # None: the in-repo manifests chart with `objects`
    depends_on: tuple[str, ...] = ()
    conflicts_with: tuple[str, ...] = ()
    computed_values: ValuesFn | None = None
    toggle: str = ""  # the blueprint key that enables it, for error messages
    sync_wave: int = 0  # Argo CD ordering: CRD owners before their users
    timeout_seconds: int = 600
    placement: str = NO_PODS
    skip_crds: bool = False  # its CRDs come from a separate CRD release, which Helm also upgrades
    # Argo CD: fields the chart renders anew on every `helm template` (generated certificates), not to sync back.
    ignore_differences: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"add-on {self.name}: placement {self.placement!r} is not one of {PLACEMENTS}")

    @property
    def dependencies(self) -> tuple[str, ...]:
        """depends_on plus what the placement implies: pods on Karpenter capacity wait for the node pools (and on
        destroy, the node pools wait for them to be gone, so nodes drain empty)."""
        if self.placement == POOLS and NODEPOOLS not in self.depends_on and self.name != NODEPOOLS:
            return (*self.depends_on, NODEPOOLS)
        return self.depends_on

    @property
    def values_file(self) -> Path:
        return HELM_VALUES_DIR / f"{self.name}.yaml"

    @property
    def chart_name(self) -> str:
        return self.chart.chart if self.chart else MANIFESTS_CHART

    @property
    def chart_version(self) -> str:
        return self.chart.version if self.chart else versions.MANIFESTS_CHART_VERSION

    @property
    def repository(self) -> str | None:
        return self.chart.repository if self.chart else None


class AddonGraphError(MlplatError):
    pass


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Maps merge key by key; anything else (lists included) in `override` replaces what `base` had."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def yaml_problem(path: Path) -> str | None:
    """Why `path` is not a Helm values file (one line, with the file's own line number), or None."""
    if path.is_dir():
        return f"{path} is a directory, not a values file"
    if not path.is_file():
        return f"values file {str(path)!r} not found"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return f"{where}: not valid YAML ({problem}); fix the file"
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {path} ({exc})"
    if data is not None and not isinstance(data, dict):
        return f"{path}: expected a YAML mapping of Helm values at the top level, got a {type(data).__name__}"
    return None


def load_yaml(path: Path) -> dict[str, Any]:
    problem = yaml_problem(path)
    if problem is not None:
        raise MlplatError(problem, exit_code=EXIT_BAD_INPUT)
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def values_for(addon: AddOn, context: AddonContext) -> dict[str, Any]:
    values = load_yaml(addon.values_file) if addon.values_file.exists() else {}
    override = context.blueprint.addon_values.get(addon.name)
    if override is not None:
        values = deep_merge(values, load_yaml(context.blueprint.resolve_path(override)))
    if addon.computed_values is not None:
        values = deep_merge(values, addon.computed_values(context))
    return values


_TEMPLATE = re.compile(r"(\$\{)(?!TfToken\[)|(%\{)")


def escape_for_terraform(text: str) -> str:
    """Literal `${` and `%{` (Grafana variables, Fluent Bit env references) must not be read as terraform templates;
    cdktn's own token markers are left for cdktn to resolve."""
    return _TEMPLATE.sub(lambda m: "$${" if m.group(1) else "%%{", text)


def render_values(values: Mapping[str, Any]) -> str:
    return escape_for_terraform(yaml.safe_dump(dict(values), sort_keys=True, width=1_000_000))


def install_order(registry: list[AddOn], blueprint: "Blueprint") -> list[AddOn]:
    """Enabled add-ons in dependency order; errors name both sides of a missing, conflicting or cyclic dependency."""
    by_name = {a.name: a for a in registry}
    enabled = [a for a in registry if a.enabled(blueprint)]
    names = {a.name for a in enabled}
    for addon in enabled:
        for dep in addon.dependencies:
            if dep not in by_name:
                raise AddonGraphError(f"add-on {addon.name!r} depends on {dep!r}, which is not in the registry")
            if dep not in names:
                hint = f" (set {by_name[dep].toggle} = true)" if by_name[dep].toggle else ""
                raise AddonGraphError(f"add-on {addon.name!r} depends on {dep!r}, which is not enabled{hint}")
        for other in addon.conflicts_with:
            if other in names:
                raise AddonGraphError(f"add-on {addon.name!r} conflicts with {other!r}: enable only one of them")
    ordered: list[AddOn] = []
    state: dict[str, str] = {}

    def visit(addon: AddOn, trail: list[str]) -> None:
        if state.get(addon.name) == "done":
            return
        if state.get(addon.name) == "visiting":
            cycle = trail[trail.index(addon.name):] + [addon.name]
            raise AddonGraphError(f"add-on dependency cycle: {' -> '.join(cycle)}")
        state[addon.name] = "visiting"
        for dep in addon.dependencies:
            visit(by_name[dep], trail + [addon.name])
        state[addon.name] = "done"
        ordered.append(addon)

    for addon in enabled:  # registry order breaks ties, so the order is stable
        visit(addon, [])
    return ordered
