"""No password, token or generated credential appears in any synthesized file or helm-values file; the scanner that
says so catches planted values."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.observability_stack.secret_scan import findings, looks_generated
from tests.support.paths import ROOT

PLANTED = [
    ("yaml adminPassword", "grafana:\n  adminPassword: hunter2hunter2\n"),
    ("kube-prometheus-stack default", "grafana:\n  adminUser: admin\n  extra: prom-operator\n"),
    ("yaml password key", "opencost:\n  prometheus:\n    password: s3cr3t\n"),
    ("json password", '{"auth": {"password": "letmein"}}'),
    ("numeric password", "db:\n  password: 12345678\n"),
    ("client secret", "oauth:\n  client_secret: abcdef\n"),
    ("api key", "exporter:\n  apiKey: qwerty\n"),
    ("fluent bit passwd", "[OUTPUT]\n    Name        opensearch\n    HTTP_Passwd PlainTextPass\n"),
    ("ini password", "[auth]\npassword  swordfish\n"),
    ("nested values in terraform json",
     json.dumps({"resource": {"helm_release": {"x": {"values": ["grafana:\n  admin:\n    password: oops\n"]}}}})),
    ("generated-looking value", "annotations:\n  note: Xk9mP2qR7vL4nW8zT3bY6cH1aB5dE0fG\n"),
    ("generated value under an innocent key", '{"env": [{"name": "A", "value": "q7Rw2ZkP9mLx4VbN8cTj3HsY6dGf1aEu"}]}'),
]

CLEAN = [
    ("secret reference", "grafana:\n  admin:\n    existingSecret: grafana-admin\n    passwordKey: admin-password\n"),
    ("env reference", "secureJsonData:\n  basicAuthPassword: $__env{OPENSEARCH_PASSWORD}\n"),
    ("file reference", "secureJsonData:\n  tlsCACert: $__file{/etc/ca.crt}\n"),
    ("fluent bit env", "[OUTPUT]\n    HTTP_Passwd ${OPENSEARCH_PASSWORD}\n"),
    ("eso template", "data:\n  password: '{{ .password }}'\n  admin.password: '{{ .password | bcrypt }}'\n"),
    ("secretKeyRef", "env:\n- name: P\n  valueFrom:\n    secretKeyRef: {name: s, key: password}\n"),
    ("token file", "endpoints:\n- bearerTokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n"),
    ("terraform expression", '{"secret_string_wo": "${jsonencode({password = ephemeral.x.random_password})}"}'),
    ("identifiers", "policy: AmazonEC2ContainerRegistryReadOnly\nid: secret-grafana-admin_secret_34A40564\n"),
]


@pytest.mark.parametrize(("name", "text"), PLANTED, ids=[p[0] for p in PLANTED])
def test_scanner_catches_a_planted_credential(name, text):
    assert findings(text, "planted") != []


@pytest.mark.parametrize(("name", "text"), CLEAN, ids=[c[0] for c in CLEAN])
def test_scanner_accepts_references_to_credentials(name, text):
    assert findings(text, "clean") == []


def test_generated_password_shape_is_recognised():
    assert looks_generated("Xk9mP2qR7vL4nW8zT3bY6cH1aB5dE0fG")
    assert not looks_generated("AmazonEC2ContainerRegistryReadOnly")
    assert not looks_generated("1A412F4D25FFC152F34C5A2245366466")  # a terraform asset hash


def scan_tree(root):
    return [f for path in sorted(root.rglob("*")) if path.is_file() for f in findings(path.read_text(), str(path))]


def test_no_credential_in_any_synthesized_file(off, stack_on):
    problems = []
    for s in [off, *stack_on.values()]:
        files = [p for p in s.outdir.rglob("*") if p.is_file()]
        assert len(files) >= 4, s.outdir  # both stacks, the manifests chart, the manifest
        problems.extend(scan_tree(s.outdir))
    assert problems == []


def test_no_credential_in_any_helm_values_file():
    files = sorted((ROOT / "helm-values").glob("*.yaml"))
    assert len(files) >= 6
    assert [f for path in files for f in findings(path.read_text(), path.name)] == []


def test_a_value_planted_in_a_synthesized_stack_is_found(on, tmp_path):
    copy = tmp_path / "synth"
    shutil.copytree(on.outdir, copy)
    stack = copy / "stacks" / "mlplat-kubernetes" / "cdk.tf.json"
    doc = json.loads(stack.read_text())
    release = next(r for r in doc["resource"]["helm_release"].values() if r["name"] == "kube-prometheus-stack")
    release["values"][0] += "grafana:\n  adminPassword: NotInAnyFile42\n"
    stack.write_text(json.dumps(doc, indent=2))
    found = scan_tree(copy)
    assert len(found) == 1 and found[0].startswith(f"{stack}: resource.helm_release.") and found[0].endswith(
        ".values[0]: grafana.adminPassword: literal value for a credential key"), found
