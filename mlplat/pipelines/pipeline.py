"""Pipeline files: named steps run in order, each a template and a recipe, rendered for one blueprint and checked
against it before anything reaches a cluster.

    name: qwen3-sft              # the pipeline's name: upstream's Helm release name, shared by every step
    namespace: ml-workloads      # default: the blueprint's first workload namespace
    steps:
      - name: snapshot
        template: hf-snapshot
        recipe: hf-snapshot.yaml # a path relative to this file, or the recipe inline
        pending_timeout: 30m     # admitted and scheduled within this, or the step fails (default 30m)
        timeout: 7d              # finished within this (default 7d)

The defaults are upstream's: its Kubeflow Pipelines component fails a step whose pods stay Pending for 1800 s
(pod_error_timeout) and bounds a running one by 7 days (pod_complete_timeout).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlplat.errors import BlueprintError
from mlplat.pipelines import recipe as recipes
from mlplat.pipelines.source import LocatedDict, Problems, line_of, read_yaml, unknown_keys
from mlplat.pipelines.steps import TEMPLATE_ALIASES, TEMPLATES, Context, Rendered, StepError

if TYPE_CHECKING:
    from mlplat.blueprint import Blueprint

DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# A TrainJob's node pods are named <trainjob>-node-<job index>-<pod index>-<suffix> and must stay a 63-character DNS
# label; 40 characters for <pipeline>-<step> leaves room for that.
MAX_STEP_OBJECT_NAME = 40
DEFAULT_PENDING_TIMEOUT = 1800.0
DEFAULT_TIMEOUT = 7 * 24 * 3600.0
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class StepSpec:
    name: str
    template: str
    recipe: recipes.Recipe
    pending_timeout: float
    timeout: float
    line: int


@dataclass(frozen=True)
class Step:
    spec: StepSpec
    rendered: Rendered


@dataclass(frozen=True)
class Pipeline:
    path: Path
    name: str
    namespace: str
    steps: tuple[Step, ...]

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [obj for step in self.steps for obj in step.rendered.objects]

    @property
    def warnings(self) -> list[str]:
        return [f"step {s.spec.name}: {w}" for s in self.steps for w in s.rendered.warnings]


def duration(value: Any) -> float | None:
    """Seconds from 90, "90s", "30m", "2h" or "7d"; None when it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", str(value).strip())
    return float(match.group(1)) * _UNITS[match.group(2)] if match else None


def load(path: Path, bp: "Blueprint") -> Pipeline:
    """Read, type and render a pipeline for `bp`; every problem in the file and its recipes is raised at once."""
    data = read_yaml(path)
    problems = Problems()
    if not isinstance(data, LocatedDict):
        raise BlueprintError([f"{path}:1: a pipeline file is a mapping with name, namespace and steps"])
    unknown_keys(problems, path, data, ("name", "namespace", "steps"), "")
    name = data.get("name")
    if not isinstance(name, str) or not DNS_LABEL.fullmatch(name):
        problems.add(path, line_of(data, "name"), "name", f"expected a lowercase DNS label such as 'qwen3-sft' "
                                                          f"(the steps' object names start with it), got {name!r}")
        name = "invalid"
    namespace = data.get("namespace", bp.workload_namespaces[0] if bp.workload_namespaces else "default")
    if namespace not in bp.workload_namespaces:
        problems.add(path, line_of(data, "namespace"), "namespace",
                     f"expected one of the blueprint's workload_namespaces ({', '.join(bp.workload_namespaces)}): "
                     f"the shared claims and Kueue's LocalQueues are there; got {namespace!r}")
    specs = _steps(problems, path, data, name)
    if problems:
        raise BlueprintError(problems.items)
    steps = []
    for spec in specs:
        ctx = Context(bp, name, namespace, spec.name)
        try:
            steps.append(Step(spec, TEMPLATES[spec.template].render(ctx, spec.recipe)))
        except StepError as exc:
            recipe = "" if spec.recipe.path == path else f", recipe {spec.recipe.path}"
            problems.add(path, spec.line, "", f"step {spec.name} ({spec.template}{recipe}): {exc}")
    if problems:
        raise BlueprintError(problems.items)
    return Pipeline(path, name, namespace, tuple(steps))


def _steps(problems: Problems, path: Path, data: LocatedDict, release: str) -> list[StepSpec]:
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        problems.add(path, line_of(data, "steps"), "steps", "expected a non-empty list of steps")
        return []
    out: list[StepSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(item, LocatedDict):
            problems.add(path, line_of(data, "steps"), where, "expected a mapping with name, template and recipe")
            continue
        unknown_keys(problems, path, item, ("name", "template", "recipe", "pending_timeout", "timeout"), f"{where}.")
        name = item.get("name")
        if not isinstance(name, str) or not DNS_LABEL.fullmatch(name):
            problems.add(path, line_of(item, "name"), f"{where}.name", f"expected a lowercase DNS label, got {name!r}")
            continue
        if name in seen:
            problems.add(path, line_of(item, "name"), f"{where}.name", f"step {name!r} is named twice; names are "
                                                                       f"unique within a pipeline")
        seen.add(name)
        if len(f"{release}-{name}") > MAX_STEP_OBJECT_NAME:
            problems.add(path, line_of(item, "name"), f"{where}.name",
                         f"{release}-{name} is longer than {MAX_STEP_OBJECT_NAME} characters (the step's objects and "
                         f"their pods are named after it); shorten the pipeline's or the step's name")
        template = TEMPLATE_ALIASES.get(item.get("template"), item.get("template"))
        if template not in TEMPLATES:
            import difflib

            hint = difflib.get_close_matches(str(template), list(TEMPLATES), n=1)
            problems.add(path, line_of(item, "template"), f"{where}.template",
                         f"expected one of {', '.join(TEMPLATES)}, got {item.get('template')!r}"
                         + (f"; did you mean {hint[0]}?" if hint else ""))
            continue
        timeouts = {}
        for key, default in (("pending_timeout", DEFAULT_PENDING_TIMEOUT), ("timeout", DEFAULT_TIMEOUT)):
            seconds = duration(item[key]) if key in item else default
            if seconds is None:
                problems.add(path, line_of(item, key), f"{where}.{key}",
                             f"expected seconds or a duration such as 30m, 2h or 7d, got {item[key]!r}")
            timeouts[key] = seconds or default
        recipe_path, recipe_data = _recipe_source(problems, path, item, where)
        if recipe_data is None:
            continue
        t = TEMPLATES[template]
        parsed = recipes.parse(problems, recipe_path, recipe_data, allowed=t.keys, run_key=t.run_key,
                               release=release)
        if parsed is not None:
            out.append(StepSpec(name, template, parsed, timeouts["pending_timeout"], timeouts["timeout"],
                                line_of(item)))
    return out


def _recipe_source(problems: Problems, path: Path, item: LocatedDict, where: str) -> tuple[Path, Any]:
    value = item.get("recipe")
    if isinstance(value, LocatedDict):
        return path, value
    if isinstance(value, str):
        recipe_path = (path.parent / value) if not Path(value).is_absolute() else Path(value)
        if not recipe_path.is_file():
            problems.add(path, line_of(item, "recipe"), f"{where}.recipe",
                         f"{recipe_path} does not exist (paths are relative to the pipeline file)")
            return recipe_path, None
        try:
            return recipe_path, read_yaml(recipe_path)
        except BlueprintError as exc:
            problems.items.extend(exc.problems)
            return recipe_path, None
    problems.add(path, line_of(item, "recipe" if "recipe" in item else None), f"{where}.recipe",
                 "expected a recipe file's path or the recipe as a mapping")
    return path, None


def check(bp: "Blueprint", pipeline: Pipeline) -> list[str]:
    """What would stop the pipeline on this platform, found without a cluster: each step's workload checked as
    `mlplat validate --workload` checks a manifest (operator, queue and its coverage, pool fit), its claims
    present, and its pods on exactly the pool the step was placed on."""
    from mlplat.placement import fits, pod_specs
    from mlplat.training_runtimes import render as render_runtime, runtimes_for
    from mlplat.workload_check import Workload, problems as workload_problems

    out: list[str] = []
    platform_claims = {"efs-shared": bp.enable_efs, "fsx-shared": bp.enable_fsx}
    runtimes = {r.name: render_runtime(r, {}) for r in runtimes_for(bp)}
    for step in pipeline.steps:
        where = f"{step.spec.recipe.path}: step {step.spec.name}"
        workload = step.rendered.workload
        out += workload_problems(bp, [Workload(pipeline.path, step.spec.line, workload)])
        for spec in pod_specs(workload, runtimes).values():
            for volume in spec.get("volumes", []):
                claim = volume.get("persistentVolumeClaim", {}).get("claimName")
                if claim in platform_claims and not platform_claims[claim]:
                    key = "enable_efs" if claim == "efs-shared" else "enable_fsx"
                    out.append(f"{where}: mounts {claim}, which this blueprint does not create: set {key} = true or "
                               f"drop it from pvc")
            landing = [p.name for p in bp.enabled_pools if fits(spec, p)]
            if landing and landing != [step.rendered.pool]:
                out.append(f"{where}: its pods fit {', '.join(landing)}, not only {step.rendered.pool}")
    return out
