"""Airflow DAG: run an mlplat pipeline (examples/pipelines/*) on the platform, one step after the other.

Trigger it with the pipeline as rendered for this platform, for example:

    mlplat pipeline render examples/pipelines/llm-sft-gpu/pipeline.yaml --json > run.json
    airflow dags trigger mlplat_pipeline --conf "$(cat run.json)"     # or the UI's "Trigger DAG w/ config"

The task runs in a KubernetesExecutor pod as the `airflow-worker` service account, which the platform lets create,
watch and delete Jobs, TrainJobs and RayJobs in the workload namespaces (catalog/airflow.py). Kueue admits each
step as `mlplat pipeline run` would; the task's log shows every step's outcome, and the task fails with the first
failed step.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task


@dag(dag_id="mlplat_pipeline", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     tags=["mlplat"], doc_md=__doc__)
def mlplat_pipeline() -> None:
    @task(retries=0)
    def run_steps() -> list[dict]:
        from kubernetes import client, config

        from mlplat_steps import run_pipeline

        config.load_incluster_config()
        rendered = get_current_context()["dag_run"].conf or {}
        with client.ApiClient() as api_client:
            return run_pipeline(api_client, rendered)

    run_steps()


mlplat_pipeline()
