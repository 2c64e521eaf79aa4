"""Loki on S3 (loki_storage = "s3"): a bucket of the platform's baseline and a role only Loki's service account can
assume, exactly the S3 calls on exactly that bucket; Loki's values point chunks, index, rules and delete requests at
it, with the keys recorded for the pinned chart; the volume default creates neither; the key is refused where it would
do nothing."""

from __future__ import annotations

import json

import pytest
import yaml

from mlplat.blueprint import parse_text
from mlplat.errors import BlueprintError
from tests.observability_stack.blueprints import LOKI_TRACING
from tests.observability_stack.test_chart_values import leaf_keys
from tests.observability_stack.verified_keys import CHARTS, accepted
from tests.support.paths import ROOT
from tests.support.synth import Synth, blueprint_text, synth

LOKI_S3 = {**LOKI_TRACING, "loki_storage": "s3"}
REMOTE = "${data.terraform_remote_state.cross-stack-reference-input-mlplat-aws.outputs.cross-stack-output-"


@pytest.fixture(scope="module")
def s3() -> Synth:
    return synth(LOKI_S3)


def resources(s: Synth, rtype: str, prefix: str) -> dict:
    return {k: v for k, v in s.resources("aws", rtype).items() if k.startswith(prefix)}


def test_the_bucket_and_the_role_only_loki_may_assume(s3: Synth):
    [bucket] = resources(s3, "aws_s3_bucket", "loki_bucket_").values()
    assert (bucket["bucket_prefix"], bucket["force_destroy"]) == ("mlplat-loki-", False)
    [role] = resources(s3, "aws_iam_role", "loki_role").values()
    assert role["name"] == "mlplat-loki"
    trust = json.loads(role["assume_role_policy"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    [association] = resources(s3, "aws_eks_pod_identity_association", "loki_identity").values()
    assert (association["namespace"], association["service_account"]) == ("logging", "loki")
    [inline] = resources(s3, "aws_iam_role_policy", "loki_policy").values()
    arn = "${aws_s3_bucket." + next(iter(resources(s3, "aws_s3_bucket", "loki_bucket_"))) + ".arn}"
    assert json.loads(inline["policy"])["Statement"] == [
        {"Sid": "ListLokiBucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": arn},
        {"Sid": "ReadWriteLokiObjects", "Effect": "Allow",
         "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
         "Resource": f"{arn}/*"}]
    assert s3.aws["output"]["loki_bucket_name"]["value"] == arn.replace(".arn}", ".bucket}")


def test_loki_stores_chunks_index_rules_and_deletes_in_the_bucket_with_its_own_identity(s3: Synth):
    values = s3.values("loki")
    bucket = REMOTE + "aws_s3_bucketloki_bucket_"
    storage = values["loki"]["storage"]
    assert storage["type"] == "s3" and storage["s3"]["region"] == "us-west-2"
    assert {k: v.startswith(bucket) for k, v in storage["bucketNames"].items()} == {"chunks": True, "ruler": True}
    assert "accessKeyId" not in json.dumps(values) and values["serviceAccount"] == {"name": "loki"}
    base = yaml.safe_load((ROOT / "helm-values" / "loki.yaml").read_text())["loki"]["schemaConfig"]["configs"]
    assert values["loki"]["schemaConfig"]["configs"] == [{**base[0], "object_store": "s3"}]
    assert values["loki"]["compactor"] == {"retention_enabled": True, "delete_request_store": "s3"}
    # The retention still applies, and the volume keeps the write-ahead log.
    assert values["loki"]["limits_config"]["retention_period"] == f"{14 * 24}h"
    assert values["singleBinary"]["persistence"]["enabled"] is True
    unrecorded = [k for k in leaf_keys(values) if not accepted(k, CHARTS["loki"].keys)]
    assert unrecorded == []


def test_the_volume_default_creates_no_bucket_and_keeps_filesystem_storage():
    volume = synth(LOKI_TRACING)
    assert resources(volume, "aws_s3_bucket", "loki") == {} and resources(volume, "aws_iam_role", "loki") == {}
    assert volume.values("loki")["loki"]["storage"] == {"type": "filesystem"}


def test_empty_buckets_on_destroy_applies_to_lokis_bucket():
    emptied = synth({**LOKI_S3, "empty_buckets_on_destroy": True})
    [bucket] = resources(emptied, "aws_s3_bucket", "loki_bucket_").values()
    assert bucket["force_destroy"] is True


def test_loki_storage_is_refused_where_it_would_do_nothing():
    with pytest.raises(BlueprintError) as caught:
        parse_text(blueprint_text({"enable_ai_ml_observability_stack": True, "loki_storage": "s3"}), "b.tfvars")
    assert caught.value.problems[0].endswith(
        'loki_storage: has no effect unless observability_logs_backend = "loki"; set it or remove this key')
    with pytest.raises(BlueprintError) as caught:
        parse_text(blueprint_text({**LOKI_TRACING, "loki_storage": "gcs"}), "b.tfvars")
    assert caught.value.problems[0].endswith("loki_storage: expected one of 'volume', 's3', got 'gcs'")
