"""LocalAws: serving on loopback only, one per process and per state directory, and what it tells terraform."""

from __future__ import annotations

import fcntl
import threading
import socket
from pathlib import Path

import pytest

from mlplat.emulator import PROVIDER_ENDPOINT_SERVICES, LocalAws, provider_settings
from mlplat.emulator.server import LOCK_FILE_NAME
from mlplat.errors import MlplatError


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from the kernel's socket tables."""
    addresses = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address_hex, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address_hex)
                # The kernel prints each 32-bit word in host (little-endian) order.
                ordered = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                addresses.add(socket.inet_ntop(family, ordered))
    return addresses


def test_serves_on_loopback_only(aws: LocalAws) -> None:
    assert aws.endpoint.startswith("http://127.0.0.1:")
    port = int(aws.endpoint.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}


def test_start_returns_the_endpoint_and_stop_is_idempotent(tmp_path: Path) -> None:
    local_aws = LocalAws(tmp_path)
    endpoint = local_aws.start()
    assert endpoint == local_aws.endpoint
    local_aws.stop()
    local_aws.stop()
    with pytest.raises(MlplatError, match="not running"):
        _ = local_aws.endpoint


def test_a_second_emulator_in_one_process_is_refused(aws: LocalAws, tmp_path: Path) -> None:
    with pytest.raises(MlplatError, match="already running in this process"):
        LocalAws(tmp_path / "other").start()
    assert aws.inventory()["ec2_vpcs"] == 0  # the running one is unharmed


def test_a_state_directory_in_use_elsewhere_is_refused(tmp_path: Path) -> None:
    with (tmp_path / LOCK_FILE_NAME).open("w") as held_by_another_process:
        fcntl.flock(held_by_another_process, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(MlplatError, match="another process is serving"):
            LocalAws(tmp_path).start()
    with LocalAws(tmp_path) as local_aws:  # the failed start left nothing behind
        assert local_aws.inventory()["ec2_vpcs"] == 0


def test_inventory_needs_a_running_emulator(tmp_path: Path) -> None:
    with pytest.raises(MlplatError, match="call LocalAws.start"):
        LocalAws(tmp_path).inventory()


def test_terraform_env_points_everything_at_the_emulator_with_dummy_credentials(aws: LocalAws) -> None:
    env = aws.terraform_env()
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert (env["AWS_REGION"], env["AWS_DEFAULT_REGION"]) == ("us-west-2", "us-west-2")
    assert env["AWS_ENDPOINT_URL"] == aws.endpoint
    assert env["AWS_SESSION_TOKEN"] == "" and env["AWS_PROFILE"] == ""
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"] == "/dev/null"
    assert env["CHECKPOINT_DISABLE"] == "1"


def test_provider_settings_point_every_endpoint_at_the_emulator() -> None:
    settings = provider_settings("http://127.0.0.1:4566")
    [endpoints] = settings.pop("endpoints")
    assert endpoints == dict.fromkeys(PROVIDER_ENDPOINT_SERVICES, "http://127.0.0.1:4566")
    assert settings == {
        "access_key": "testing",
        "secret_key": "testing",
        "s3_use_path_style": True,
        "skip_credentials_validation": True,
        "skip_metadata_api_check": "true",
        "skip_region_validation": True,
        "skip_requesting_account_id": False,
        "max_retries": 4,
    }
    required = {
        "ec2",
        "eks",
        "iam",
        "kms",
        "sts",
        "s3",
        "sqs",
        "events",
        "logs",
        "efs",
        "fsx",
        "secretsmanager",
        "rds",
        "ssm",
        "autoscaling",
    }
    assert required <= set(PROVIDER_ENDPOINT_SERVICES)


def test_a_request_that_fails_inside_the_emulator_is_counted_and_kept_off_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from moto.sqs.models import SQSBackend

    from .support import client_factory

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("an emulator bug")

    monkeypatch.setattr(SQSBackend, "list_queues", broken)
    local_aws = LocalAws(tmp_path)
    local_aws.start()
    try:
        sqs = boto3.client("sqs", endpoint_url=local_aws.endpoint, region_name=local_aws.region,
                           aws_access_key_id="testing", aws_secret_access_key="testing",
                           config=Config(retries={"total_max_attempts": 1}))
        with pytest.raises(ClientError) as failure:
            sqs.list_queues()
        assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    finally:
        local_aws.stop()
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert local_aws.request_errors == 1
    assert "RuntimeError: an emulator bug" in local_aws.errors_file.read_text()
    monkeypatch.undo()
    with LocalAws(tmp_path) as again:  # a new run starts counting afresh
        client_factory(again)("sqs").list_queues()
    assert again.request_errors == 0 and not again.errors_file.exists()


def test_requests_are_answered_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's backends are plain dicts that requests iterate (IAM's get_role walks every role): a request that creates
    a role while another walks them failed with "dictionary changed size during iteration" under terraform's
    parallelism. AWS has no such failure, so the emulator answers one request at a time."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from moto.sqs.models import SQSBackend

    from .support import client_factory

    inside, most_inside, guard = 0, 0, threading.Lock()
    list_queues = SQSBackend.list_queues

    def slow_list_queues(self: SQSBackend, *args: object, **kwargs: object) -> object:
        nonlocal inside, most_inside
        with guard:
            inside += 1
            most_inside = max(most_inside, inside)
        time.sleep(0.05)  # long enough for every other thread's request to arrive meanwhile
        with guard:
            inside -= 1
        return list_queues(self, *args, **kwargs)

    monkeypatch.setattr(SQSBackend, "list_queues", slow_list_queues)
    with LocalAws(tmp_path) as local_aws:
        sqs = client_factory(local_aws)("sqs")
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: sqs.list_queues(), range(16)))
    assert [a["ResponseMetadata"]["HTTPStatusCode"] for a in answers] == [200] * 16
    assert most_inside == 1


def test_dispatch_shortcuts_answer_what_moto_computes(aws: LocalAws) -> None:
    """moto's per-request directory scan and class inspection are done once (extensions/dispatch.py): the cached
    answers must be moto's own, for the package and for every response class the extensions touch."""
    from moto import backends
    from moto.core import responses
    from moto.ec2.responses import EC2Response
    from moto.rds.responses import RDSResponse

    from mlplat.emulator.extensions import dispatch
    from mlplat.emulator.extensions.eks import ExtendedEKSResponse

    assert (backends.list_of_moto_modules, responses.method_names_from_class) == (dispatch.moto_modules,
                                                                                   dispatch.method_names)
    assert dispatch.moto_modules() == frozenset(dispatch._original_list_of_moto_modules())
    assert {"ec2", "eks", "fsx", "rds", "s3"} <= dispatch.moto_modules()
    for response in (EC2Response, ExtendedEKSResponse, RDSResponse):
        assert dispatch.method_names(response) == set(dispatch._original_method_names_from_class(response))
    # The extensions' own EKS actions (access entries) are among the methods moto will dispatch to.
    assert "create_access_entry" in dispatch.method_names(ExtendedEKSResponse)


def _sdk_call(endpoint: str, body: bytes, attempt: int, invocation: str) -> str:
    import urllib.request

    auth = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-west-2/ec2/aws4_request, SignedHeaders=host, "
            "Signature=0")
    request = urllib.request.Request(endpoint + "/", data=body, headers={
        "amz-sdk-request": f"attempt={attempt}; max=3", "amz-sdk-invocation-id": invocation,
        "Content-Type": "application/x-www-form-urlencoded", "Authorization": auth})
    with urllib.request.urlopen(request) as answer:
        return answer.read().decode()


def test_a_retry_of_a_call_carried_out_gets_its_first_answer_and_is_logged(tmp_path):
    """The SDK retries a call whose answer it did not get (amz-sdk-request attempt >= 2, same invocation id). The
    emulator had carried it out: it answers with the first answer instead of carrying it out again, and logs it. A
    new call (another invocation id) is carried out."""
    import re

    import boto3

    from mlplat.emulator import LocalAws
    from mlplat.emulator.server import RETRIES_FILE_NAME

    create = b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.77.0.0%2F16"
    with LocalAws(tmp_path, region="us-west-2") as aws:
        first = _sdk_call(aws.endpoint, create, 1, "call-1")
        retried = _sdk_call(aws.endpoint, create, 2, "call-1")
        other = _sdk_call(aws.endpoint, create, 2, "call-2")  # a retry whose first attempt never arrived
        ec2 = boto3.client("ec2", endpoint_url=aws.endpoint, region_name="us-west-2", aws_access_key_id="testing",
                           aws_secret_access_key="testing")
        cidrs = [v["CidrBlock"] for v in ec2.describe_vpcs()["Vpcs"]]
    vpc_id = re.compile(r"<vpcId>(vpc-[0-9a-f]+)</vpcId>")
    assert vpc_id.search(retried)[1] == vpc_id.search(first)[1] != vpc_id.search(other)[1]
    assert cidrs.count("10.77.0.0/16") == 2  # the first call and the new one; the retry made none
    assert (tmp_path / RETRIES_FILE_NAME).read_text() == (
        "attempt=2; max=3 POST CreateVpc invocation=call-1: 200 OK (the first attempt was carried out: its answer, "
        "again)\n"
        "attempt=2; max=3 POST CreateVpc invocation=call-2: 200 OK\n")
