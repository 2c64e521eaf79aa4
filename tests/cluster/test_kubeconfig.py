"""`mlplat kubeconfig` (mlplat/cli/kubeconfig.py, mlplat/kube/kubeconfig.py): the platform's context merged into an
existing kubeconfig without disturbing it, idempotent, private, written atomically; the tunnel variant through the
cluster access node; and the EKS token its exec plugin stands for (mlplat/kube/token.py), checked as STS would check
its signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import pytest
import yaml

from mlplat.cli import kubeconfig as kubeconfig_cli
from mlplat.errors import MlplatError
from mlplat.kube.kubeconfig import default_kubeconfig_path
from mlplat.kube.token import EksCluster, EksToken, eks_token
from tests.cluster.test_status import CA_DATA, ENDPOINT, aws_outputs, cli_args, deploy_state, write_blueprint

ENDPOINT_HOST = "ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com"
EXISTING = {
    "apiVersion": "v1", "kind": "Config", "preferences": {"colors": True},
    "clusters": [{"name": "kind-dev", "cluster": {"server": "https://127.0.0.1:6443",
                                                  "certificate-authority-data": "S0lORA=="}}],
    "contexts": [{"name": "kind-dev", "context": {"cluster": "kind-dev", "user": "kind-dev", "namespace": "team-a"}}],
    "users": [{"name": "kind-dev", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}],
    "current-context": "kind-dev",
}


def demo_entries(server: str = ENDPOINT, tls_server_name: str | None = None,
                 profile: str | None = None) -> dict[str, dict[str, Any]]:
    cluster: dict[str, Any] = {"server": server, "certificate-authority-data": CA_DATA}
    if tls_server_name:
        cluster["tls-server-name"] = tls_server_name
    exec_plugin: dict[str, Any] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws",
        "args": ["eks", "get-token", "--cluster-name", "demo", "--region", "us-west-2", "--output", "json"]}
    if profile:
        exec_plugin["env"] = [{"name": "AWS_PROFILE", "value": profile}]
    return {"cluster": {"name": "demo", "cluster": cluster},
            "context": {"name": "demo", "context": {"cluster": "demo", "user": "demo"}},
            "user": {"name": "demo", "user": {"exec": exec_plugin}}}


@pytest.fixture
def deployed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployed platform `demo` with an access node; returns its blueprint."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    deploy_state(monkeypatch, tmp_path, {"demo-aws": aws_outputs(access_node_instance_id="i-0123456789abcdef0")})
    return write_blueprint(tmp_path)


def run(blueprint: Path, kubeconfig: Path, tunnel_port: int | None = None) -> dict[str, Any]:
    return kubeconfig_cli.run(cli_args(blueprint, kubeconfig=kubeconfig, tunnel_port=tunnel_port))


def test_the_context_is_merged_into_an_existing_kubeconfig_keeping_every_other_entry(deployed: Path,
                                                                                     tmp_path: Path) -> None:
    path = tmp_path / "kube" / "config"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(EXISTING))
    path.chmod(0o644)

    result = run(deployed, path)

    demo = demo_entries()
    assert yaml.safe_load(path.read_text()) == {
        **EXISTING,
        "clusters": [*EXISTING["clusters"], demo["cluster"]],
        "contexts": [*EXISTING["contexts"], demo["context"]],
        "users": [*EXISTING["users"], demo["user"]],
        "current-context": "demo",
    }
    assert result == {"kubeconfig": str(path), "context": "demo", "server": ENDPOINT, "changed": True,
                      "previous_context": "kind-dev", "tunnel_command": None}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["config"]  # no temporary file or lock left behind
    assert kubeconfig_cli.render(result) == (
        f"wrote context demo ({ENDPOINT}) in {path}\n"
        "current context was kind-dev; now demo (`kubectl config use-context kind-dev` switches back)")


def test_running_again_changes_nothing(deployed: Path, tmp_path: Path) -> None:
    path = tmp_path / "config"
    first = run(deployed, path)
    written, modified = path.read_bytes(), path.stat().st_mtime_ns
    path.chmod(0o644)
    second = run(deployed, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (first["changed"], second["changed"], second["previous_context"]) == (True, False, "demo")
    assert (path.read_bytes(), path.stat().st_mtime_ns) == (written, modified)
    assert kubeconfig_cli.render(second) == f"already up to date: context demo ({ENDPOINT}) in {path}"


def test_an_older_entry_of_the_platform_is_replaced_where_it_stands(deployed: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config"
    stale = {**EXISTING,
             "clusters": [{"name": "demo", "cluster": {"server": "https://old.example"}}, *EXISTING["clusters"]],
             "users": [{"name": "demo", "user": {"token": "stale"}}, *EXISTING["users"]],
             "contexts": [*EXISTING["contexts"], {"name": "demo", "context": {"cluster": "demo", "user": "demo"}}]}
    path.write_text(yaml.safe_dump(stale))
    monkeypatch.setenv("AWS_PROFILE", "platform-admin")
    run(deployed, path)
    demo = demo_entries(profile="platform-admin")
    config = yaml.safe_load(path.read_text())
    assert {k: config[k] for k in ("clusters", "users", "contexts")} == {
        "clusters": [demo["cluster"], *EXISTING["clusters"]], "users": [demo["user"], *EXISTING["users"]],
        "contexts": [*EXISTING["contexts"], demo["context"]]}


def test_the_tunnel_variant_talks_to_the_local_port_with_the_endpoints_name(deployed: Path, tmp_path: Path) -> None:
    path = tmp_path / "config"
    result = run(deployed, path, tunnel_port=8443)
    demo = demo_entries(server="https://127.0.0.1:8443", tls_server_name=ENDPOINT_HOST)
    config = yaml.safe_load(path.read_text())
    assert {k: config[k] for k in ("clusters", "users", "contexts", "current-context")} == {
        "clusters": [demo["cluster"]], "users": [demo["user"]], "contexts": [demo["context"]],
        "current-context": "demo"}
    assert result["tunnel_command"] == [
        "aws", "ssm", "start-session", "--region", "us-west-2", "--target", "i-0123456789abcdef0",
        "--document-name", "AWS-StartPortForwardingSessionToRemoteHost",
        "--parameters", f"host={ENDPOINT_HOST},portNumber=443,localPortNumber=8443"]
    assert kubeconfig_cli.render(result).splitlines()[-1] == (
        "  aws ssm start-session --region us-west-2 --target i-0123456789abcdef0 --document-name "
        f"AWS-StartPortForwardingSessionToRemoteHost --parameters host={ENDPOINT_HOST},portNumber=443,"
        "localPortNumber=8443")


def test_the_tunnel_needs_an_access_node_and_a_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deploy_state(monkeypatch, tmp_path, {"demo-aws": aws_outputs()})  # deployed without the access node
    blueprint = write_blueprint(tmp_path, "create_cluster_access_node = false\n")
    with pytest.raises(MlplatError) as no_node:
        run(blueprint, tmp_path / "config", tunnel_port=8443)
    with pytest.raises(MlplatError) as bad_port:
        run(blueprint, tmp_path / "config", tunnel_port=70000)
    assert [(e.value.exit_code, str(e.value)) for e in (no_node, bad_port)] == [
        (2, "--tunnel-port needs the cluster access node, and platform 'demo' has none: set "
            "create_cluster_access_node = true in the blueprint and deploy"),
        (2, "--tunnel-port: 70000 is not a TCP port (1-65535)")]
    assert not (tmp_path / "config").exists()


def test_a_symlinked_kubeconfig_keeps_its_link(deployed: Path, tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "kubeconfig"
    real.parent.mkdir()
    real.write_text(yaml.safe_dump(EXISTING))
    link = tmp_path / "config"
    link.symlink_to(real)
    run(deployed, link)
    assert (link.is_symlink(), yaml.safe_load(real.read_text())["current-context"]) == (True, "demo")


def test_a_held_lock_or_a_broken_file_is_left_alone(deployed: Path, tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(EXISTING))
    (tmp_path / "config.lock").write_text("")
    with pytest.raises(MlplatError) as locked:
        run(deployed, path)
    (tmp_path / "config.lock").unlink()
    broken = tmp_path / "broken"
    broken.write_text("clusters:\n- name: a\n  cluster: {server: [\n")
    with pytest.raises(MlplatError) as invalid:
        run(deployed, broken)
    assert [(e.value.exit_code, str(e.value)) for e in (locked, invalid)] == [
        (1, f"{path}.lock exists: another program (kubectl, aws eks update-kubeconfig) is writing the kubeconfig; "
            f"run again once it is done, or delete the lock file if none is"),
        (2, f"{broken}:4: the kubeconfig is not valid YAML; fix it, or write to another file with --kubeconfig "
            f"PATH")]
    assert yaml.safe_load(path.read_text()) == EXISTING


def test_the_default_file_is_kubectls(tmp_path: Path) -> None:
    assert default_kubeconfig_path({"KUBECONFIG": f"{tmp_path}/a{os.pathsep}{tmp_path}/b", "HOME": "/h"}) == \
        tmp_path / "a"
    assert default_kubeconfig_path({"HOME": str(tmp_path)}) == tmp_path / ".kube" / "config"


def test_an_undeployed_platform_or_local_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blueprint = write_blueprint(tmp_path)
    deploy_state(monkeypatch, tmp_path, {"demo-aws": None})
    with pytest.raises(MlplatError) as undeployed:
        run(blueprint, tmp_path / "config")
    args = cli_args(blueprint, kubeconfig=tmp_path / "config", tunnel_port=None)
    args.local = True
    with pytest.raises(MlplatError) as local:
        kubeconfig_cli.run(args)
    assert [(e.value.exit_code, str(e.value)) for e in (undeployed, local)] == [
        (1, "platform 'demo' is not deployed: the demo-aws stack has no resources; run mlplat deploy"),
        (2, "mlplat kubeconfig talks to the cluster, and with --local there is none: the embedded AWS applies only "
            "the AWS layer")]
    assert not (tmp_path / "config").exists()


# ------------------------------------------------------------------------------------------------------ the token

ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ISSUED = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def sts(region: str) -> Any:
    return boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                 aws_session_token="session-token").client("sts", region_name=region)


def presigned_url(token: EksToken) -> str:
    assert token.token.startswith("k8s-aws-v1.") and "=" not in token.token
    body = token.token.removeprefix("k8s-aws-v1.")
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def sigv4_signature(url: str, headers: dict[str, str], secret_key: str) -> str:
    """The signature STS computes for a presigned GET (AWS Signature Version 4, query string authentication), written
    from the specification rather than with botocore, so the test checks botocore's signing instead of repeating it."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "X-Amz-Signature"]
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query))
    params = dict(query)
    signed = params["X-Amz-SignedHeaders"].split(";")
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed)
    request = "\n".join(["GET", parts.path or "/", canonical_query, canonical_headers, ";".join(signed),
                         hashlib.sha256(b"").hexdigest()])
    scope = params["X-Amz-Credential"].split("/", 1)[1]
    date, region, service, _ = scope.split("/")
    to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope,
                         hashlib.sha256(request.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_the_token_is_a_presigned_get_caller_identity_bound_to_the_cluster() -> None:
    token = eks_token("demo", sts("eu-central-1"), now=ISSUED)
    url = presigned_url(token)
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    assert (parts.scheme, parts.hostname, parts.path or "/") == ("https", "sts.eu-central-1.amazonaws.com", "/")
    assert {k: params[k] for k in ("Action", "Version", "X-Amz-Expires", "X-Amz-SignedHeaders",
                                   "X-Amz-Security-Token")} == {
        "Action": "GetCallerIdentity", "Version": "2011-06-15", "X-Amz-Expires": "60",
        "X-Amz-SignedHeaders": "host;x-k8s-aws-id", "X-Amz-Security-Token": "session-token"}
    assert params["X-Amz-Credential"].startswith(f"{ACCESS_KEY}/") and \
        params["X-Amz-Credential"].endswith("/eu-central-1/sts/aws4_request")
    # The signature covers the cluster's name: a token for `demo` does not verify for another cluster.
    host = {"host": parts.netloc}
    assert sigv4_signature(url, {**host, "x-k8s-aws-id": "demo"}, SECRET_KEY) == params["X-Amz-Signature"]
    assert sigv4_signature(url, {**host, "x-k8s-aws-id": "other"}, SECRET_KEY) != params["X-Amz-Signature"]
    assert token.exec_credential() == {
        "kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {},
        "status": {"expirationTimestamp": "2026-11-30T12:14:00Z", "token": token.token}}


def test_a_token_is_only_signed_with_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                     "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(MlplatError) as unsigned:
        eks_token("demo", boto3.session.Session().client("sts", region_name="us-west-2"))
    assert str(unsigned.value) == ("no AWS credentials to sign a token for the cluster's API with; configure them "
                                   "(aws configure, AWS_PROFILE, SSO)")


def test_the_cluster_comes_from_the_aws_layers_outputs() -> None:
    assert EksCluster.from_outputs(aws_outputs(region="eu-west-1"), "us-west-2") == \
        EksCluster("demo", "eu-west-1", ENDPOINT, CA_DATA)
    with pytest.raises(MlplatError) as partial:
        EksCluster.from_outputs({"cluster_name": "demo"}, "us-west-2")
    assert str(partial.value) == ("the AWS layer's outputs lack cluster_endpoint, cluster_certificate_authority_data: "
                                  "the cluster is not (fully) deployed; run mlplat deploy")
