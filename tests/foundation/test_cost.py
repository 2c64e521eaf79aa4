"""`mlplat cost`: idle and at-limit figures for every shipped blueprint, pinned to the price table in mlplat/prices.py
and to what the blueprint makes the modules create; offline, through the CLI's own main()."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from datetime import date

import pytest

from mlplat import cli, prices, versions
from mlplat.blueprint import load
from mlplat.cli import cost as cost_command
from mlplat.cost import PLATFORM_KMS_KEYS, estimate
from mlplat.nodepools import FAMILIES, POOL_KINDS
from mlplat.prices import HOURS_PER_MONTH, REGIONS, US_EAST_1, US_WEST_2
from mlplat.versions import ACCESS_NODE_INSTANCE_TYPE
from tests.support.paths import ROOT

TODAY = date(2026, 11, 30)
SHIPPED = [ROOT / "blueprint.tfvars", *sorted((ROOT / "blueprints").glob("*.tfvars"))]


@pytest.fixture(autouse=True)
def cost_cli(monkeypatch):
    """The command registered in the CLI (whether or not COMMANDS lists it yet) and support dates read on TODAY."""
    if cost_command.COMMAND not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, cost_command.COMMAND])
    monkeypatch.setenv("MLPLAT_TODAY", TODAY.isoformat())


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def blueprint(tmp_path, name: str = "costs", **keys) -> str:
    values = {"name": name, "region": "us-east-1", "enable_fsx": False, **keys}
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = tmp_path / f"{name}.tfvars"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def hourly(items) -> dict[str, float | None]:
    """name -> $/h, to 9 decimals (the table's prices are exact to far fewer)."""
    return {i.name: None if i.hourly is None else round(i.hourly, 9) for i in items}


def hourly_expected(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 9) for k, v in values.items()}


def money(usd: float) -> str:
    """As the table shows an amount: in cents, rounded half up."""
    return f"{cost_command.cents(usd):,.2f}"


def per_hour(monthly_usd: float) -> float:
    return monthly_usd / HOURS_PER_MONTH


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_blueprint_prints_idle_and_at_limit_figures(path):
    code, out, err = run("cost", "--blueprint", str(path))
    assert code == 0, err
    report = estimate(load(path), TODAY)
    total = next(line for line in out.splitlines() if line.strip().startswith("idle total"))
    assert total.split()[-2:] == [money(report.idle_hourly), money(report.idle_monthly)]
    pools_section = out.split("each node pool at its limit")[1]
    for pool in report.pools:
        line = next(line for line in pools_section.splitlines() if line.strip().startswith(pool.pool + " "))
        if pool.instance_type is None:
            assert "no price for" in line and line.split()[-2:] == ["n/a", "n/a"]
        else:
            assert f"{pool.instances} x {pool.instance_type} ({pool.binding_limit} limit)" in line
            assert line.split()[-2:] == [money(pool.hourly), money(pool.monthly)]


def test_default_blueprint_idle_is_the_price_table_times_what_the_modules_create():
    bp = load(ROOT / "blueprint.tfvars")
    p = REGIONS[bp.region]
    assert (bp.region, bp.single_nat_gateway, bp.enable_efs, bp.enable_fsx) == ("us-west-2", True, True, True)
    assert hourly(estimate(bp, TODAY).items) == hourly_expected({
        "EKS control plane": p.eks_standard.usd,
        "system nodes": bp.system_node_desired_size * p.instances[bp.system_node_instance_types[0]].usd_per_hour,
        "NAT gateways": 1 * p.nat_gateway.usd,
        "public IPv4 addresses": 1 * p.public_ipv4.usd,
        "cluster access node": p.instances["t4g.nano"].usd_per_hour,
        "EFS": 0.0,
        "FSx for Lustre": None,  # no sourced us-west-2 price: shown, not counted
        "KMS customer managed keys": PLATFORM_KMS_KEYS * per_hour(p.kms_key.usd),
    })


def test_everything_on_counts_a_nat_gateway_per_zone_and_a_secret_per_credential():
    bp = load(ROOT / "blueprints/everything-on.tfvars")
    p = REGIONS[bp.region]
    report = estimate(bp, TODAY)
    assert hourly(report.items) == hourly_expected({
        "EKS control plane": p.eks_standard.usd,
        "system nodes": 2 * p.instances["m7i.xlarge"].usd_per_hour,
        "NAT gateways": 4 * p.nat_gateway.usd,  # availability_zones_count = 4, single_nat_gateway = false
        "public IPv4 addresses": 4 * p.public_ipv4.usd,
        "cluster access node": p.instances["t4g.nano"].usd_per_hour,
        "EFS": 0.0,
        "FSx for Lustre": None,
        "Aurora Serverless v2 (MLflow)": None,
        "Aurora Serverless v2 (Slurm accounting)": None,
        "Aurora Serverless v2 (Airflow metadata)": None,
        "KMS customer managed keys": per_hour(p.kms_key.usd),
        # grafana-admin, opensearch-admin, opensearch-logs-writer, opensearch-logs-reader, opensearch-dashboards,
        # argocd-admin, mlflow-admin, mlflow-db, mlflow-flask, airflow-db, airflow-admin, slurm-db,
        # jupyterhub-admin, jupyterhub-users
        "Secrets Manager secrets": 14 * per_hour(p.secret.usd),
    })
    assert report.unpriced == ("FSx for Lustre", "Aurora Serverless v2 (MLflow)",
                               "Aurora Serverless v2 (Slurm accounting)", "Aurora Serverless v2 (Airflow metadata)")
    assert round(report.idle_hourly, 9) == round(sum(v for v in hourly(report.items).values() if v), 9)


def test_us_east_1_prices_fsx_aurora_and_leaves_the_nlb_unpriced(tmp_path):
    bp = load(blueprint(tmp_path, enable_fsx=True, enable_mlflow=True, mlflow_db_min_acu=1.5, mlflow_db_instances=2,
                        enable_argocd=True, argocd_internal_load_balancer=True))
    items = hourly(estimate(bp, TODAY).items)
    assert {k: items[k] for k in ("FSx for Lustre", "Aurora Serverless v2 (MLflow)", "network load balancers",
                                  "Secrets Manager secrets")} == hourly_expected({
        "FSx for Lustre": 1200 * per_hour(US_EAST_1.fsx_lustre["PERSISTENT_2/125"].usd),
        "Aurora Serverless v2 (MLflow)": 2 * 1.5 * US_EAST_1.aurora_serverless_v2_acu.usd,
        "network load balancers": None,  # no sourced NLB price
        "Secrets Manager secrets": 4 * per_hour(US_EAST_1.secret.usd),  # argocd-admin + MLflow's three
    })


@pytest.mark.parametrize("toggle, delta", [
    ({"enable_mlflow": True},  # Aurora at its minimum capacity, and MLflow's three generated credentials
     lambda: 0.5 * US_EAST_1.aurora_serverless_v2_acu.usd + 3 * per_hour(US_EAST_1.secret.usd)),
    ({"enable_slurm": True},  # the accounting database at its minimum capacity, and its generated password
     lambda: 0.5 * US_EAST_1.aurora_serverless_v2_acu.usd + per_hour(US_EAST_1.secret.usd)),
    ({"enable_fsx": True}, lambda: 1200 * per_hour(US_EAST_1.fsx_lustre["PERSISTENT_2/125"].usd)),
    ({"enable_fsx": True, "fsx_deployment_type": "SCRATCH_2"},
     lambda: 1200 * per_hour(US_EAST_1.fsx_lustre["SCRATCH_2"].usd)),
    ({"single_nat_gateway": False, "availability_zones_count": 3},  # two more gateways, each with its address
     lambda: 2 * (US_EAST_1.nat_gateway.usd + US_EAST_1.public_ipv4.usd)),
], ids=["mlflow", "slurm", "fsx-persistent", "fsx-scratch", "nat-per-zone"])
def test_a_toggle_changes_the_idle_total_by_exactly_its_items_price(tmp_path, toggle, delta):
    base = estimate(load(blueprint(tmp_path, name="base")), TODAY)
    toggled = estimate(load(blueprint(tmp_path, name="toggled", **toggle)), TODAY)
    assert round(toggled.idle_hourly - base.idle_hourly, 9) == round(delta(), 9)
    assert round(toggled.idle_monthly - base.idle_monthly, 6) == round(delta() * HOURS_PER_MONTH, 6)


def test_a_version_in_extended_support_bills_the_extended_control_plane_price(tmp_path):
    assert versions.eks_support("1.33", TODAY) == "extended"  # standard support ended 2026-07-29
    extended = estimate(load(blueprint(tmp_path, name="old", eks_cluster_version="1.33")), TODAY)
    standard = estimate(load(blueprint(tmp_path, name="new", eks_cluster_version="1.36")), TODAY)
    assert (extended.eks_support, hourly(extended.items)["EKS control plane"]) == ("extended",
                                                                                  US_EAST_1.eks_extended.usd)
    assert (standard.eks_support, hourly(standard.items)["EKS control plane"]) == ("standard",
                                                                                  US_EAST_1.eks_standard.usd)
    code, out, _ = run("cost", "--blueprint", str(tmp_path / "old.tfvars"), "--json")
    assert code == 0 and json.loads(out)["idle"]["items"][0] == {
        "item": "EKS control plane", "count": 1, "detail": "Kubernetes 1.33, extended support", "hourly": 0.6,
        "monthly": 438.0}


def test_the_control_plane_prices_agree_with_what_validate_warns_about():
    for p in REGIONS.values():
        assert (p.eks_standard.usd, p.eks_extended.usd) == (versions.EKS_STANDARD_PRICE_PER_HOUR,
                                                            versions.EKS_EXTENDED_PRICE_PER_HOUR)


def test_each_pool_at_its_limit_runs_on_its_cheapest_admitted_type():
    bp = load(ROOT / "blueprints/inference.tfvars")
    assert bp.region == "us-east-1"
    types = US_EAST_1.instances
    general, gpu, inf1 = POOL_KINDS["general"], bp.nodepools["gpu"], POOL_KINDS["inferentia1"]
    report = estimate(bp, TODAY)
    assert {p.pool: (p.instance_type, p.instances, p.binding_limit, round(p.hourly, 9)) for p in report.pools} == {
        # CPU pools buy vCPUs: m6i is the cheapest per vCPU of m7i, m6i, m7a; 256 vCPUs of 2-vCPU nodes.
        "general": ("m6i.large", general.max_cpu // 2, "cpu",
                    round(general.max_cpu // 2 * types["m6i.large"].usd_per_hour, 9)),
        # Accelerator pools buy accelerators: the blueprint's 32 GPUs stop the pool long before its 1536 vCPUs.
        "gpu": ("g6.xlarge", gpu.max_accelerators, "nvidia.com/gpu",
                round(gpu.max_accelerators * types["g6.xlarge"].usd_per_hour, 9)),
        "inferentia1": ("inf1.xlarge", inf1.max_accelerators, "aws.amazon.com/neuron",
                        round(inf1.max_accelerators * types["inf1.xlarge"].usd_per_hour, 9)),
    }
    for pool in report.pools:  # and no priced type of the pool's families is cheaper per unit
        spec = next(s for s in bp.enabled_pools if s.name == pool.pool)
        unit = "accelerators" if spec.kind.accelerator else "vcpus"
        chosen = types[pool.instance_type]
        assert all(t.usd_per_hour / getattr(t, unit) >= chosen.usd_per_hour / getattr(chosen, unit)
                   for t in types.values() if t.family in spec.instance_families)


def test_a_pool_never_exceeds_any_of_its_limits(tmp_path):
    # 40 vCPUs on 16-vCPU p5.4xlarge: two nodes (Karpenter launches no node that would cross a limit), not three.
    bp = load(blueprint(tmp_path, cuda_efa_az="us-east-1a", nodepools={"gpu-efa": {
        "enabled": True, "instance_families": ["p5"], "max_cpu": 40, "max_accelerators": 8}}))
    pool = next(p for p in estimate(bp, TODAY).pools if p.pool == "gpu-efa")
    assert (pool.instance_type, pool.instances, pool.binding_limit) == ("p5.4xlarge", 2, "cpu")
    assert round(pool.hourly, 9) == round(2 * US_EAST_1.instances["p5.4xlarge"].usd_per_hour, 9)


def test_a_pool_whose_families_have_no_price_in_the_region_says_so():
    path = ROOT / "blueprints/gpu-training.tfvars"
    pool = next(p for p in estimate(load(path), TODAY).pools if p.pool == "gpu-efa")
    assert (pool.instance_type, pool.hourly, pool.unpriced_families) == (
        None, None, POOL_KINDS["gpu-efa"].default_families)
    code, out, _ = run("cost", "--blueprint", str(path), "--json")
    assert code == 0 and json.loads(out)["pools"]["gpu-efa"] == {
        "instance_type": None, "instances": 0, "binding_limit": None, "hourly": None, "monthly": None,
        "unpriced_families": ["p4d", "p4de", "p5", "p5e", "p5en"]}
    assert "no price for p4d, p4de, p5, p5e, p5en in us-west-2" in run("cost", "--blueprint", str(path))[1]


def test_a_region_without_a_price_table_exits_2_naming_the_supported_regions(tmp_path):
    path = blueprint(tmp_path, region="ap-south-1")
    message = ("region 'ap-south-1' has no price table: mlplat cost has sourced prices for us-east-1, us-west-2, "
               "eu-west-1 only; set region to one of them to compare, or add ap-south-1's prices with their sources "
               "to mlplat/prices.py")
    assert run("cost", "--blueprint", path) == (2, "", f"error: {message}\n")
    code, out, _ = run("cost", "--blueprint", path, "--json")
    assert (code, json.loads(out)) == (2, {"ok": False, "command": "cost", "error": message})


def test_json_is_one_document_with_money_in_cents():
    path = ROOT / "blueprint.tfvars"
    code, out, err = run("cost", "--blueprint", str(path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    report = estimate(load(path), TODAY)
    assert {k: doc[k] for k in ("ok", "command", "region", "prices_date")} == {
        "ok": True, "command": "cost", "region": "us-west-2", "prices_date": "2026-11-30"}
    assert {k: doc["idle"][k] for k in ("hourly", "monthly", "unpriced")} == {
        "hourly": cost_command.cents(report.idle_hourly), "monthly": cost_command.cents(report.idle_monthly),
        "unpriced": ["FSx for Lustre"]}
    nat = next(i for i in doc["idle"]["items"] if i["item"] == "NAT gateways")
    assert (nat["hourly"], nat["monthly"]) == (0.05, 32.85)  # $0.045 rounds half up, as money does
    assert {name: sorted(p) for name, p in doc["pools"].items()} == {
        name: ["binding_limit", "hourly", "instance_type", "instances", "monthly", "unpriced_families"]
        for name in ("general", "gpu")}
    assert all(re.fullmatch(r"-?\d+(\.\d{1,2})?", str(v)) for p in doc["pools"].values()
               for v in (p["hourly"], p["monthly"]))


def test_every_price_is_dated_and_sourced_and_names_a_real_instance_family():
    assert prices.PRICES_DATE == TODAY
    for p in REGIONS.values():
        singles = [p.eks_standard, p.eks_extended, p.nat_gateway, p.public_ipv4, p.aurora_serverless_v2_acu,
                   p.network_load_balancer, p.kms_key, p.secret, *p.fsx_lustre.values()]
        sources = [s.source for s in singles if s is not None] + [i.source for i in p.instances.values()]
        assert all(s.url.startswith("https://") and (not s.read_at or s.read_at.startswith("https://"))
                   for s in sources), p.region
        # Node pool families, and the access node's type.
        assert all((i.family in FAMILIES or i.instance_type == ACCESS_NODE_INSTANCE_TYPE) and i.usd_per_hour > 0
                   for i in p.instances.values()), p.region
        assert "m7i.xlarge" in p.instances, f"{p.region}: the default system node type has no price"
    assert set(REGIONS) == {"us-east-1", "us-west-2", "eu-west-1"}
    assert US_WEST_2.instances["m7i.xlarge"].usd_per_hour == US_EAST_1.instances["m7i.xlarge"].usd_per_hour


def test_the_readme_quotes_the_default_blueprints_idle_cost_as_cost_computes_it():
    report = estimate(load(ROOT / "blueprint.tfvars"), TODAY)
    readme = (ROOT / "README.md").read_text()
    quoted = re.search(r"it counts \$([\d.]+) an hour, \*\*\$([\d,.]+) a month\*\*", readme)
    assert quoted is not None, "the README's Cost and time paragraph no longer quotes the idle cost"
    assert (quoted.group(1), quoted.group(2)) == (f"{report.idle_hourly:.2f}", f"{report.idle_monthly:,.2f}")
