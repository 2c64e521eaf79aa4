"""The tunnel to a private endpoint through the access node: the SSM session command, the wait for its local port,
and the session ended with the block; a session that fails to start says why, with the fix. A stand-in `aws` on PATH
plays the AWS CLI (it listens on the requested local port, as the Session Manager plugin does)."""

from __future__ import annotations

import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from mlplat.errors import MlplatError
from mlplat.tunnel import api_tunnel, start_session_command

OUTPUTS = {"access_node_instance_id": "i-0123456789abcdef0",
           "cluster_endpoint": "https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com"}

LISTENING_AWS = f"""#!{sys.executable}
import socket, sys, time
args = sys.argv[1:]
open(sys.argv[0] + ".args", "w").write(" ".join(args))
port = int(args[args.index("--parameters") + 1].split("localPortNumber=")[1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen()
print("Starting session with SessionId: test-0123", flush=True)
time.sleep(300)
"""

FAILING_AWS = f"""#!{sys.executable}
import sys
print("SessionManagerPlugin is not found. Please refer to SessionManager Documentation here: https://docs.aws.amazon.com/console/systems-manager/session-manager-plugin-not-found")
sys.exit(255)
"""


def fake_aws(tmp_path: Path, script: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(script)
    aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_session_forwards_a_local_port_to_the_endpoint_and_ends_with_the_block(tmp_path: Path) -> None:
    env = fake_aws(tmp_path, LISTENING_AWS)
    said: list[str] = []
    with api_tunnel(OUTPUTS, "us-west-2", say=said.append, env=env) as tunnel:
        assert listening(tunnel.port)
        assert (tunnel.url, tunnel.server_name) == (f"https://127.0.0.1:{tunnel.port}",
                                                    "ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com")
    assert not listening(tunnel.port)  # the session (and its listener) ended with the block
    assert (tmp_path / "bin" / "aws.args").read_text() == " ".join(start_session_command(
        OUTPUTS["access_node_instance_id"], OUTPUTS["cluster_endpoint"], tunnel.port, "us-west-2")[1:])
    assert (tmp_path / "bin" / "aws.args").read_text().endswith(
        "--document-name AWS-StartPortForwardingSessionToRemoteHost --parameters "
        f"host=ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com,portNumber=443,localPortNumber={tunnel.port}")
    assert said[-1] == "tunnel: closed"


def test_a_session_that_cannot_start_says_why_and_what_to_check(tmp_path: Path) -> None:
    env = fake_aws(tmp_path, FAILING_AWS)
    with pytest.raises(MlplatError) as failed:
        with api_tunnel(OUTPUTS, "us-west-2", say=lambda _: None, env=env):
            pytest.fail("the block ran without a tunnel")
    message = str(failed.value)
    assert message.startswith("tunnel: `aws ssm start-session --region us-west-2 --target i-0123456789abcdef0 ")
    assert "ended (exit 255) before the port opened: SessionManagerPlugin is not found." in message
    assert message.endswith("check that the Session Manager plugin is installed and that you may call "
                            "ssm:StartSession on i-0123456789abcdef0")


def test_no_access_node_is_refused_with_the_blueprint_keys_to_set() -> None:
    with pytest.raises(MlplatError) as refused:
        with api_tunnel({"cluster_endpoint": OUTPUTS["cluster_endpoint"]}, "us-west-2", say=lambda _: None):
            pytest.fail("the block ran without a tunnel")
    assert "set create_cluster_access_node = true" in str(refused.value)


def test_no_aws_cli_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(MlplatError) as refused:
        with api_tunnel(OUTPUTS, "us-west-2", say=lambda _: None, env={"PATH": str(tmp_path)}):
            pytest.fail("the block ran without a tunnel")
    assert str(refused.value).startswith("the AWS CLI (`aws`) is not on PATH")
