"""Blueprint keys of Apache Airflow (the official chart): the toggle, where the DAGs come from, and the metadata
database (Aurora PostgreSQL, as MLflow's)."""

from __future__ import annotations

from dataclasses import dataclass

from mlplat.schema import acu_range_problems, field

AIRFLOW_NAMESPACE = "airflow"
# Days of automated backups of the metadata database (point-in-time restore), MLflow's default: DAG run history is
# worth a restore, not a key of its own.
AIRFLOW_DB_BACKUP_RETENTION_DAYS = 7
_DEPENDENT_KEYS = ("airflow_dags_git_repo", "airflow_dags_git_ref", "airflow_dags_git_subpath",
                   "airflow_db_min_acu", "airflow_db_max_acu", "airflow_db_deletion_protection")
_GIT_KEYS = ("airflow_dags_git_ref", "airflow_dags_git_subpath")


@dataclass(frozen=True)
class AirflowKeys:
    enable_airflow: bool = field(
        False, "Install Apache Airflow 3 (the official chart) on the platform's nodes with the KubernetesExecutor: "
        "each task is a pod, so nothing idles between runs and there is no Celery broker to run and secure. The "
        "metadata database is an encrypted Aurora PostgreSQL Serverless v2 cluster reachable from the nodes only "
        "(TLS required, password generated into Secrets Manager), task logs go to an S3 bucket through Pod Identity, "
        "the admin password is generated (`mlplat open airflow --show-password`), and the API server is ClusterIP "
        "only. Task pods may submit pipeline steps (Jobs, TrainJobs, RayJobs) in the workload namespaces.",
    )
    airflow_dags_git_repo: str = field(
        "", "HTTPS URL of the git repository git-sync pulls the DAGs from (public, or reachable without "
        "credentials from the nodes); empty: the platform's example DAG (examples/airflow/dags) is mounted instead.",
        pattern=r"(https://[A-Za-z0-9.-]+(:\d+)?/[^\s@]+)?",
        pattern_doc="an https:// git URL without credentials, such as 'https://github.com/acme/dags.git'",
    )
    airflow_dags_git_ref: str = field(
        "main", "Branch, tag or commit git-sync checks out of airflow_dags_git_repo.",
        pattern=r"[A-Za-z0-9._/-]+", pattern_doc="a git branch, tag or commit such as 'main' or 'v1.2.0'",
    )
    airflow_dags_git_subpath: str = field(
        "", "Directory of the repository that holds the DAGs; empty: the repository's root.",
        pattern=r"([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?", pattern_doc="a relative path such as 'dags' or 'ml/dags'",
    )
    airflow_db_min_acu: float = field(
        0.5, "Aurora Serverless v2 minimum capacity (ACUs) of Airflow's metadata database.", minimum=0.5, maximum=256,
    )
    airflow_db_max_acu: float = field(
        4.0, "Aurora Serverless v2 maximum capacity (ACUs) of Airflow's metadata database (the scheduler queries it "
        "continuously).", minimum=1, maximum=256,
    )
    airflow_db_deletion_protection: bool = field(
        True, "Refuse to delete Airflow's metadata database; set false before destroying the platform.",
    )

    def _rules_airflow(self) -> list[tuple[tuple[str, ...], str]]:
        explicit = self._explicit  # type: ignore[attr-defined]
        if not self.enable_airflow:
            return [((k,), "has no effect without enable_airflow = true; set it or remove this key")
                    for k in _DEPENDENT_KEYS if k in explicit]
        out: list[tuple[tuple[str, ...], str]] = []
        if not self.airflow_dags_git_repo:
            out += [((k,), "has no effect without airflow_dags_git_repo; set the repository or remove this key")
                    for k in _GIT_KEYS if k in explicit]
        out += acu_range_problems(self, "airflow_db")
        namespaces = self.workload_namespaces  # type: ignore[attr-defined]
        if AIRFLOW_NAMESPACE in namespaces:
            out.append((("workload_namespaces", f"[{namespaces.index(AIRFLOW_NAMESPACE)}]"),
                        f"{AIRFLOW_NAMESPACE!r} is Airflow's namespace (enable_airflow); use another name"))
        return out
