"""destroy's up-front checks read the raw state (`terraform state pull`, format 4): every managed instance by its
terraform address, the protected database found, data sources and opted-in buckets left alone."""

from __future__ import annotations

from mlplat import destroy_checks

RAW_STATE = {
    "version": 4,
    "resources": [
        {"mode": "managed", "type": "aws_rds_cluster", "name": "mlflow_db_1A2B", "instances": [
            {"attributes": {"cluster_identifier": "mlplat-mlflow", "deletion_protection": True}}]},
        {"mode": "managed", "type": "aws_rds_cluster", "name": "other_db", "instances": [
            {"attributes": {"cluster_identifier": "other", "deletion_protection": False}}]},
        {"mode": "data", "type": "aws_rds_cluster", "name": "looked_up", "instances": [
            {"attributes": {"cluster_identifier": "foreign", "deletion_protection": True}}]},
        {"mode": "managed", "type": "aws_subnet", "name": "private", "module": "module.vpc", "instances": [
            {"index_key": 0, "attributes": {"id": "subnet-1"}},
            {"index_key": "b", "attributes": {"id": "subnet-2"}}]},
    ],
}


def test_addresses_are_terraforms_for_every_managed_instance():
    assert [(address, rtype) for address, rtype, _ in destroy_checks.state_resources(RAW_STATE)] == [
        ("aws_rds_cluster.mlflow_db_1A2B", "aws_rds_cluster"),
        ("aws_rds_cluster.other_db", "aws_rds_cluster"),
        ("module.vpc.aws_subnet.private[0]", "aws_subnet"),
        ('module.vpc.aws_subnet.private["b"]', "aws_subnet"),
    ]


def test_only_the_managed_protected_database_blocks():
    assert [(b.resource, b.problem) for b in destroy_checks.protected_databases(RAW_STATE)] == [
        ("aws_rds_cluster.mlflow_db_1A2B", "RDS cluster mlplat-mlflow has deletion protection on")]


def test_nothing_deployed_blocks_nothing():
    assert destroy_checks.protected_databases({}) == []
