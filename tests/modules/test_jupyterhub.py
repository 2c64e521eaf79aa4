"""JupyterHub: the chart pinned at the recorded release, every value key one the chart has and the whole values valid
against the chart's own JSON schema; sign-in never the chart's dummy authenticator (generated passwords through
External Secrets, or the user's OAuth provider with its client secret read by name); the hub only inside the cluster;
homes on EFS; each profile's server landing on exactly its pool and, with Kueue, admitted by a queue covering it."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from mlplat import versions
from mlplat.addons import deep_merge
from mlplat.catalog.accelerators import EFS_CLASS
from mlplat.placement import fits
from mlplat.workload_check import Workload, problems
from modules.secrets import PASSWORD_LENGTH
from tests.modules.test_workload_operators import recorded_release
from tests.modules.test_workload_secrets import ARN, reader_policy
from tests.support import k8s
from tests.support.chart_values import SAFE_LOADER, chart_defaults, unknown_keys
from tests.support.paths import ROOT, reference
from tests.support.synth import synth

HUB = {"enable_jupyterhub": True, "enable_kueue": True, "enable_ai_ml_observability_stack": True,
       "jupyterhub_users": ["alice", "bob"], "nodepools": {"cpu": {"enabled": True}}}
OAUTH = {"enable_jupyterhub": True, "jupyterhub_admin_users": ["lead@example.com"], "jupyterhub_oauth": {
    "client_id": "7example", "client_secret": "corp/jupyterhub-client",
    "authorize_url": "https://auth.example.com/oauth2/authorize", "token_url": "https://auth.example.com/oauth2/token",
    "userdata_url": "https://auth.example.com/oauth2/userInfo",
    "callback_url": "https://notebooks.example.com/hub/oauth_callback"}}
# JupyterHub 5.5.0 jupyterhub/authenticators/shared.py: SharedPasswordAuthenticator refuses an admin_password shorter
# than this (_ADMIN_PASSWORD_MIN_LENGTH) and a user_password shorter than 8.
ADMIN_PASSWORD_MIN_LENGTH = 32
# zero-to-jupyterhub-k8s 4.4.0 jupyterhub/templates/hub/service.yaml and _helpers.tpl (jupyterhub.labels): the hub
# Service carries the modern labels of its component, serves /hub/metrics on the port named hub.
HUB_SERVICE_LABELS = {"app.kubernetes.io/name": "jupyterhub", "app.kubernetes.io/component": "hub"}
HUB_SERVICE_PORT = "hub"


@pytest.fixture(scope="module")
def hub():
    return synth(HUB)


@pytest.fixture(scope="module")
def oauth():
    return synth(OAUTH)


def schema():
    return yaml.load(reference("chart-values", "jupyterhub", "values.schema.yaml").read_text(), Loader=SAFE_LOADER)


def test_release_is_pinned_to_the_recorded_chart(hub):
    release = hub.releases()["jupyterhub"]
    pin = versions.CHARTS["jupyterhub"]
    assert (release["chart"], release["repository"], release["version"], release["namespace"]) == (
        "jupyterhub", "https://hub.jupyter.org/helm-chart/", "4.4.0", "jupyterhub")
    assert pin.version == recorded_release("jupyterhub")


@pytest.mark.parametrize("variant", ["hub", "oauth"])
def test_values_are_the_charts_keys_and_valid_against_its_schema(variant, request):
    values = request.getfixturevalue(variant).values("jupyterhub")
    # hub.config is traitlets configuration by class name (the chart passes it to JupyterHub as it is): the classes
    # must be JupyterHub's and its bundled authenticators' (jupyterhub 5.5.0, oauthenticator in the k8s-hub image).
    assert set(values["hub"]["config"]) <= {"JupyterHub", "SharedPasswordAuthenticator", "GenericOAuthenticator"}
    others = {**values, "hub": {k: v for k, v in values["hub"].items() if k != "config"}}
    assert list(unknown_keys(others, chart_defaults("jupyterhub"))) == []
    # The chart's schema applies to the values Helm renders with: its defaults with ours merged over them.
    jsonschema.validate(deep_merge(chart_defaults("jupyterhub"), values), schema())


def test_the_schema_check_is_not_blind(hub):
    values = copy.deepcopy(hub.values("jupyterhub"))
    values["singleuser"]["storage"]["dynamic"]["storageAccessModes"] = "ReadWriteMany"  # a string, not a list
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(deep_merge(chart_defaults("jupyterhub"), values), schema())


def test_the_hub_is_reachable_only_inside_the_cluster_and_runs_on_the_platform_pool(hub):
    values = hub.values("jupyterhub")
    assert chart_defaults("jupyterhub")["proxy"]["service"]["type"] == "LoadBalancer"  # what the platform overrides
    assert values["proxy"]["service"] == {"type": "ClusterIP"}
    assert values["hub"]["nodeSelector"] == values["proxy"]["chp"]["nodeSelector"] == {"mlplat.io/pool": "general"}
    assert "ingress" not in values and "httpRoute" not in values


def test_passwords_are_generated_and_reach_the_hub_only_through_secrets(hub):
    values = hub.values("jupyterhub")["hub"]
    assert values["config"] == {
        "JupyterHub": {"authenticator_class": "shared-password", "admin_access": False},
        "SharedPasswordAuthenticator": {"admin_users": ["admin"], "allowed_users": ["alice", "bob"],
                                        "allow_all": False}}
    # Each password comes from a Secret External Secrets writes from a generated Secrets Manager secret ...
    secrets = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in hub.objects("platform-secrets")
               if o["kind"] == "ExternalSecret"}
    env = {name: e["valueFrom"]["secretKeyRef"] for name, e in values["extraEnv"].items()}
    assert {(r["name"], r["key"]) for r in env.values()} == {("jupyterhub-admin", "password"),
                                                             ("jupyterhub-users", "password")}
    for ref in env.values():
        external = secrets[("jupyterhub", ref["name"])]
        k8s.validate(external)
        assert "template" not in external["spec"]["target"]  # the JSON's fields as keys: username, password
        assert external["spec"]["dataFrom"][0]["extract"]["key"].startswith("${")  # the AWS layer's output
    generated = {name.split("_")[0] for name in hub.resources("aws", "aws_secretsmanager_secret")}
    assert {"secret-jupyterhub-admin", "secret-jupyterhub-users"} <= generated
    # ... and a line of hub config sets each on the authenticator from the variable that carries it.
    code = values["extraConfig"]["mlplat-credentials"]
    assigned = dict(re.findall(r'c\.SharedPasswordAuthenticator\.(\w+) = os\.environ\["(\w+)"\]', code))
    assert {attr: env[var]["name"] for attr, var in assigned.items()} == {
        "admin_password": "jupyterhub-admin", "user_password": "jupyterhub-users"}
    assert PASSWORD_LENGTH >= ADMIN_PASSWORD_MIN_LENGTH


def test_with_oauth_the_client_secret_is_read_by_name_and_nothing_is_generated(oauth):
    values = oauth.values("jupyterhub")["hub"]
    generic = values["config"]["GenericOAuthenticator"]
    assert values["config"]["JupyterHub"]["authenticator_class"] == "generic-oauth"
    assert {k: generic[k] for k in ("client_id", "authorize_url", "token_url", "userdata_url", "oauth_callback_url",
                                    "username_claim", "scope", "admin_users", "allow_all")} == {
        "client_id": "7example", "authorize_url": "https://auth.example.com/oauth2/authorize",
        "token_url": "https://auth.example.com/oauth2/token", "userdata_url": "https://auth.example.com/oauth2/userInfo",
        "oauth_callback_url": "https://notebooks.example.com/hub/oauth_callback", "username_claim": "email",
        "scope": ["openid", "email"], "admin_users": ["lead@example.com"], "allow_all": True}
    [copy_] = [o for o in oauth.objects("platform-secrets") if o["kind"] == "ExternalSecret"]
    k8s.validate(copy_)
    assert (copy_["metadata"]["namespace"], copy_["spec"]["data"]) == (
        "jupyterhub", [{"secretKey": "client-secret", "remoteRef": {"key": "corp/jupyterhub-client"}}])
    ref = values["extraEnv"]["MLPLAT_JUPYTERHUB_OAUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": copy_["spec"]["target"]["name"], "key": "client-secret"}
    assert 'c.GenericOAuthenticator.client_secret = os.environ["MLPLAT_JUPYTERHUB_OAUTH_CLIENT_SECRET"]' in \
        values["extraConfig"]["mlplat-credentials"]
    # External Secrets may read that secret, and no generated one exists for the hub.
    assert reader_policy(oauth)["Statement"][-1]["Resource"] == [f"{ARN}corp/jupyterhub-client-??????"]
    assert not any("jupyterhub" in n for n in oauth.resources("aws", "aws_secretsmanager_secret"))
    assert "corp/jupyterhub-client" not in json.dumps(oauth.values("jupyterhub"))  # only the Secret's name


def test_homes_are_claims_on_the_efs_class(hub):
    storage = hub.values("jupyterhub")["singleuser"]["storage"]
    assert storage == {"type": "dynamic", "dynamic": {"storageClass": EFS_CLASS,
                                                      "storageAccessModes": ["ReadWriteMany"]}}
    classes = {o["metadata"]["name"]: o for o in hub.objects("storage-classes")}
    assert classes[EFS_CLASS]["provisioner"] == "efs.csi.aws.com"


def profile_pod(profile: dict) -> dict:
    """The notebook server pod KubeSpawner creates for a profile: its overrides as pod fields."""
    o = profile["kubespawner_override"]
    requests = {"cpu": str(o["cpu_guarantee"]), "memory": o["mem_guarantee"], **o.get("extra_resource_guarantees", {})}
    limits = {"cpu": str(o["cpu_limit"]), "memory": o["mem_limit"], **o.get("extra_resource_limits", {})}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"jupyter-alice-{profile['slug']}", "namespace": "jupyterhub",
                         "labels": o["extra_labels"]},
            "spec": {"nodeSelector": o["node_selector"], "tolerations": o["tolerations"],
                     "containers": [{"name": "notebook", "image": o["image"],
                                     "resources": {"requests": requests, "limits": limits}}]}}


def test_each_profile_lands_on_exactly_its_pool_and_is_admitted_by_its_queue(hub):
    bp = hub.blueprint
    profiles = {p["slug"]: p for p in hub.values("jupyterhub")["singleuser"]["profileList"]}
    assert set(profiles) == {"cpu", "gpu"}
    for slug, pool in (("cpu", "cpu"), ("gpu", "gpu")):
        pod = profile_pod(profiles[slug])
        k8s.validate(pod)
        assert [p.name for p in bp.enabled_pools if fits(pod["spec"], p)] == [pool]
        assert pod["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == pool
        assert problems(bp, [Workload(Path("profile"), 1, pod)]) == []
    # The GPU notebook's queue covers the GPU it asks for; a profile queued on the wrong pool would be refused.
    wrong = profile_pod(profiles["gpu"])
    wrong["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] = "cpu"
    assert problems(bp, [Workload(Path("profile"), 1, wrong)]) != []


def test_every_profile_keeps_the_label_that_lets_servers_reach_the_hub(hub):
    """A profile's extra_labels replace singleuser.extraLabels, whose default label the chart's NetworkPolicies
    require of servers that talk to the hub."""
    required = chart_defaults("jupyterhub")["singleuser"]["extraLabels"]
    for profile in hub.values("jupyterhub")["singleuser"]["profileList"]:
        assert required.items() <= profile["kubespawner_override"]["extra_labels"].items()


def test_notebook_namespace_has_the_queues_and_kueue_manages_it(hub):
    queues = [o for o in hub.objects("jupyterhub-queues")]
    assert {(o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in queues} == {
        ("LocalQueue", "jupyterhub", q.name) for q in hub.blueprint.kueue_queue_specs}
    for cq in (o for o in hub.objects("kueue-queues") if o["kind"] == "ClusterQueue"):
        assert cq["spec"]["namespaceSelector"]["matchExpressions"][0]["values"] == ["ml-workloads", "jupyterhub"]
    config = yaml.safe_load(hub.values("kueue")["managerConfig"]["controllerManagerConfigYaml"])
    assert config["managedJobsNamespaceSelector"]["matchExpressions"][0]["values"] == ["ml-workloads", "jupyterhub"]


def test_without_kueue_profiles_carry_no_queue_label(oauth):
    assert "jupyterhub-queues" not in oauth.releases()
    for profile in oauth.values("jupyterhub")["singleuser"]["profileList"]:
        assert "kueue.x-k8s.io/queue-name" not in profile["kubespawner_override"]["extra_labels"]


def test_install_order_credentials_and_storage_first(hub):
    deps = {name: sorted(d.split(".")[1].rsplit("_", 2)[0] for d in r.get("depends_on", []))
            for name, r in hub.releases().items() if name.startswith("jupyterhub")}
    assert {"platform-secrets", "storage-classes"} <= set(deps["jupyterhub"])
    assert {"kueue-queues", "platform-secrets"} <= set(deps["jupyterhub-queues"])
    assert {"jupyterhub", "kube-prometheus-stack"} <= set(deps["jupyterhub-monitoring"])


def test_the_hub_is_scraped_on_its_service(hub):
    [monitor] = hub.objects("jupyterhub-monitoring")
    k8s.validate(monitor)
    assert monitor["spec"]["selector"] == {"matchLabels": HUB_SERVICE_LABELS}
    assert monitor["spec"]["endpoints"][0]["port"] == HUB_SERVICE_PORT
    assert monitor["spec"]["endpoints"][0]["path"] == "/hub/metrics"
    assert hub.values("jupyterhub")["hub"]["authenticatePrometheus"] is False


def test_off_by_default_and_in_the_everything_on_blueprint():
    assert not any(n.startswith("jupyterhub") for n in synth().releases())
    every = synth(text=(ROOT / "blueprints" / "everything-on.tfvars").read_text())
    assert {"jupyterhub", "jupyterhub-queues", "jupyterhub-monitoring"} <= set(every.releases())
