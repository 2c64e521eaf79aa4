"""EKS bearer tokens made in-process, as `aws eks get-token` makes them, and an API client for the platform's cluster.

The token is a presigned STS GetCallerIdentity URL: EKS's authenticator replays it to STS, reads the caller's ARN
from the answer, and checks the signed `x-k8s-aws-id` header names this cluster, so a token minted for one cluster
is refused by any other. Format, as recorded from upstream (2026-11):
- aws/aws-cli awscli/customizations/eks/get_token.py @05c1ed9f: TOKEN_PREFIX 'k8s-aws-v1.', K8S_AWS_ID_HEADER
  'x-k8s-aws-id' injected before signing, generate_presigned_url('get_caller_identity', ExpiresIn=60, GET), the URL
  base64url-encoded with the '=' padding stripped; the ExecCredential's expirationTimestamp is 14 minutes out;
- kubernetes-sigs/aws-iam-authenticator pkg/token/token.go: the same prefix and header; X-Amz-Expires=60 is a legacy
  value STS ignores: a presigned GetCallerIdentity URL is accepted for 15 minutes after its X-Amz-Date.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from mlplat.errors import MlplatError

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
PRESIGN_EXPIRES_SECONDS = 60  # the value the AWS CLI sends; STS honours the URL for 15 minutes regardless
# Clients refresh after this: a minute inside the URL's 15, as the AWS CLI's ExecCredential says.
TOKEN_LIFETIME = timedelta(minutes=14)
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"


@dataclass(frozen=True)
class EksToken:
    token: str
    expires_at: datetime  # UTC

    def exec_credential(self) -> dict[str, Any]:
        """The document `aws eks get-token --output json` prints (an exec plugin's answer to kubectl)."""
        return {"kind": "ExecCredential", "apiVersion": EXEC_API_VERSION, "spec": {},
                "status": {"expirationTimestamp": self.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "token": self.token}}


@dataclass(frozen=True)
class EksCluster:
    """What reaching the platform's cluster takes, from the AWS layer's outputs."""
    name: str
    region: str
    endpoint: str  # https://<id>.<gr>.<region>.eks.amazonaws.com
    certificate_authority_data: str  # base64 PEM bundle
    via: str | None = None  # a tunnel's local URL to the private endpoint (mlplat/tunnel.py), if one is open

    @property
    def endpoint_host(self) -> str:
        # As EKS spells it (urlsplit's hostname would lower-case it): the name in its certificate.
        return urlsplit(self.endpoint).netloc.rsplit("@", 1)[-1].split(":", 1)[0]

    @classmethod
    def from_outputs(cls, outputs: Mapping[str, Any], default_region: str) -> EksCluster:
        missing = [k for k in ("cluster_name", "cluster_endpoint", "cluster_certificate_authority_data")
                   if not outputs.get(k)]
        if missing:
            raise MlplatError(f"the AWS layer's outputs lack {', '.join(missing)}: the cluster is not (fully) "
                              f"deployed; run mlplat deploy")
        return cls(name=str(outputs["cluster_name"]), region=str(outputs.get("region") or default_region),
                   endpoint=str(outputs["cluster_endpoint"]),
                   certificate_authority_data=str(outputs["cluster_certificate_authority_data"]))


def eks_token(cluster_name: str, sts_client: Any, *, now: datetime | None = None) -> EksToken:
    """A bearer token for `cluster_name` signed with `sts_client`'s credentials (a botocore STS client of the
    cluster's region). Signing is local: no request leaves the machine."""
    from botocore.exceptions import BotoCoreError, NoCredentialsError

    issued = now or datetime.now(timezone.utc)

    # The header is not a GetCallerIdentity parameter: take it out of the parameters (botocore would refuse it),
    # keep it in the request context, and add it as a header just before signing so that the signature covers it.
    def keep_cluster_id(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if CLUSTER_ID_HEADER in params:
            context[CLUSTER_ID_HEADER] = params.pop(CLUSTER_ID_HEADER)

    def add_cluster_id_header(request: Any, **_: Any) -> None:
        if CLUSTER_ID_HEADER in request.context:
            request.headers[CLUSTER_ID_HEADER] = request.context[CLUSTER_ID_HEADER]

    events = sts_client.meta.events
    events.register("provide-client-params.sts.GetCallerIdentity", keep_cluster_id, unique_id="mlplat-k8s-aws-id")
    events.register("before-sign.sts.GetCallerIdentity", add_cluster_id_header, unique_id="mlplat-k8s-aws-id-header")
    try:
        url = sts_client.generate_presigned_url("get_caller_identity", Params={CLUSTER_ID_HEADER: cluster_name},
                                                ExpiresIn=PRESIGN_EXPIRES_SECONDS, HttpMethod="GET")
    except NoCredentialsError:
        raise MlplatError("no AWS credentials to sign a token for the cluster's API with; configure them "
                          "(aws configure, AWS_PROFILE, SSO)") from None
    except BotoCoreError as exc:
        raise MlplatError(f"could not sign a token for the cluster's API: {exc}") from None
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return EksToken(TOKEN_PREFIX + encoded, issued + TOKEN_LIFETIME)


def sts_client_for(region: str) -> Any:
    """STS of the cluster's region, with the caller's credential chain."""
    from mlplat.aws import new_session

    return new_session().client("sts", region_name=region)


ApiClientFactory = Callable[[EksCluster], Any]  # EksCluster -> kubernetes.client.ApiClient


def connect_to_eks(cluster: EksCluster) -> Any:
    """An ApiClient for the cluster's endpoint, authenticated with tokens minted here (a fresh one before the
    current one is 10 minutes old)."""
    from mlplat.kube.client import eks_api_client

    sts = sts_client_for(cluster.region)
    return eks_api_client(cluster.endpoint, cluster.certificate_authority_data, eks_token(cluster.name, sts).token,
                          refresh_token=lambda: eks_token(cluster.name, sts).token, via=cluster.via)
