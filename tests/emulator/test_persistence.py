"""State saved by stop() is what a later start(), in another process, serves."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from mlplat.emulator import LocalAws
from mlplat.emulator.persistence import STATE_FILE_NAME
from mlplat.errors import MlplatError

from .support import REGION, client_factory, create_one_of_each


def test_state_round_trips_through_another_process(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with LocalAws(state_dir, region=REGION) as aws:
        ids = create_one_of_each(client_factory(aws))
        endpoint, inventory = aws.endpoint, aws.inventory()
        kms_key = ids["kms_key"]
    assert [path.name for path in state_dir.iterdir() if path.name.startswith(".emulator-state")] == []  # no temp left

    child = subprocess.run(
        [sys.executable, "-m", "tests.emulator.state_reader", str(state_dir), json.dumps(ids)],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout)
    assert seen == {
        "endpoint": endpoint,  # the saved port is reused when free, so URLs in terraform state stay valid
        "inventory": inventory,
        "vpc": ids["vpc"],
        "role": ids["role"],
        "kms_alias": kms_key,
        "s3_object": "kept across processes",
        "secret": "s3cret",
        "addon": "ACTIVE",
        "access_entry": "STANDARD",
        "pod_identity": "trainer",
        "fsx_association": "AVAILABLE",
        "fsx_file_system": "AVAILABLE",
        "ssm_parameter_tags": [{"Key": "team", "Value": "ml"}],
    }

    with LocalAws(state_dir, region=REGION) as aws:
        queues = client_factory(aws)("sqs").list_queues()["QueueUrls"]
        assert sorted(url.rsplit("/", 1)[1] for url in queues) == ["interruptions", "made-by-the-child"]


def test_an_unreadable_state_file_says_how_to_start_over(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE_NAME).write_bytes(b"not a pickle")
    with pytest.raises(MlplatError, match=f"delete {tmp_path / STATE_FILE_NAME} to start from an empty local AWS"):
        LocalAws(tmp_path).start()


def test_state_from_another_moto_version_is_refused(tmp_path: Path) -> None:
    with LocalAws(tmp_path):
        pass
    path = tmp_path / STATE_FILE_NAME
    state = pickle.loads(path.read_bytes())
    state["moto_version"] = "4.0.0"
    path.write_bytes(pickle.dumps(state))
    with pytest.raises(MlplatError, match="written by moto 4.0.0.*reinstall moto 4.0.0, or delete"):
        LocalAws(tmp_path).start()
