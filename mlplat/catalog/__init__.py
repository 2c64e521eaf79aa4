"""The add-on registry: every add-on the platform can install, gathered from each feature area."""

from __future__ import annotations

from mlplat.addons import AddOn
from mlplat.catalog import accelerators, core, modules, notebooks, observability, sagemaker, secrets, serving, workloads
from mlplat.catalog import airflow, slurm

REGISTRY: list[AddOn] = [*core.ADDONS, *secrets.ADDONS, *accelerators.ADDONS, *observability.ADDONS, *modules.ADDONS,
                          *workloads.ADDONS, *notebooks.ADDONS,
                          *serving.ADDONS, *sagemaker.ADDONS, *slurm.ADDONS, *airflow.ADDONS]


def by_name() -> dict[str, AddOn]:
    names = [a.name for a in REGISTRY]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"add-on names registered twice: {', '.join(duplicates)}")
    return {a.name: a for a in REGISTRY}
