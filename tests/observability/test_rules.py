"""Alert and recording rules: promtool check rules, promtool unit tests, and the bookkeeping that keeps them
honest (every alert has a firing and a silent unit test, metadata is complete)."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from tests.observability import mutation
from tests.observability import support as s

RULE_FILES = s.rule_files()
TEST_FILES = s.rule_test_files()
SEVERITIES = {"critical", "warning", "info"}

# The alerts the platform promises (brief: XID, ECC/row remap, throttling, idle GPUs, Neuron ECC and execution errors,
# vLLM saturation and latency burn rate, absent exporters). Throttling means thermal and hardware slowdowns: the
# software power cap is how a busy GPU runs (observability audit D7). Removing one must be deliberate.
PROMISED_ALERTS = {
    "GPUXidErrorFatal", "GPUXidError", "GPUUncorrectableECCError", "GPURowRemapFailure", "GPUThermalThrottling",
    "GPUHardwareSlowdown", "GPUAllocatedButIdle", "NeuronHardwareECCUncorrected", "NeuronExecutionErrors",
    "VLLMQueueSaturated", "VLLMTTFTBudgetBurnFast", "VLLMTTFTBudgetBurnSlow", "DCGMExporterAbsent",
    "NeuronMonitorAbsent", "RayGCSMetricsAbsent",
    # The observability issue: GPUs out of service or gone, queues that admit nothing, accelerator pools at the limit.
    "GPUUnhealthy", "GPUMissingFromDCGM", "KueueClusterQueueInactive", "KueueWorkloadsInadmissible",
    "KarpenterAcceleratorPoolNearLimit", "NeuronHealthDegraded", "AcceleratorPodOOMKilled",
}


def test_rule_files_and_unit_tests_exist():
    assert len(RULE_FILES) >= 4 and len(TEST_FILES) >= 4


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.name for p in RULE_FILES])
def test_promtool_check_rules(path: Path):
    promtool = s.tool("promtool")
    doc = yaml.safe_load(path.read_text())
    assert list(doc) == ["groups"], "plain Prometheus rule file: only a top-level `groups:`"
    n = sum(len(g["rules"]) for g in doc["groups"])
    r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"SUCCESS: {n} rules found" in r.stdout


@pytest.mark.parametrize("path", TEST_FILES, ids=[p.name for p in TEST_FILES])
def test_promtool_unit_tests(path: Path):
    promtool = s.tool("promtool")
    # promtool resolves rule_files relative to the test file's directory.
    r = subprocess.run([promtool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def _loaded_rule_files(test_file: Path) -> set[Path]:
    doc = yaml.safe_load(test_file.read_text())
    return {(test_file.parent / f).resolve() for f in doc.get("rule_files", [])}


def _coverage(alerts: dict, test_files: list[Path]) -> tuple[list[str], list[str]]:
    """Alerts lacking a unit test where they fire / where they stay silent. A case counts only where the alert's
    rule file is loaded (an alert that is not loaded trivially 'stays silent')."""
    firing: dict[str, set[str]] = defaultdict(set)
    silent: dict[str, set[str]] = defaultdict(set)
    for tf in test_files:
        loaded = _loaded_rule_files(tf)
        for t in yaml.safe_load(tf.read_text())["tests"]:
            for case in t.get("alert_rule_test", []):
                name = case["alertname"]
                assert name in alerts, f"{tf.name}: test for unknown alert {name}"
                if alerts[name][0].resolve() not in loaded:
                    continue
                (firing if case.get("exp_alerts") else silent)[name].add(f"{tf.name}: {t['name']}")
    return sorted(a for a in alerts if not firing[a]), sorted(a for a in alerts if not silent[a])


def test_every_alert_has_a_firing_and_a_silent_unit_test():
    alerts = s.alerts()
    assert alerts
    no_fire, no_silent = _coverage(alerts, TEST_FILES)
    assert not no_fire, f"alerts without a test where they fire: {no_fire}"
    assert not no_silent, f"alerts without a test where they stay silent: {no_silent}"


def test_the_coverage_check_reports_a_new_alert_without_tests():
    alerts = dict(s.alerts())
    alerts["GPUSomethingNew"] = (RULE_FILES[0], {"alert": "GPUSomethingNew"})
    no_fire, no_silent = _coverage(alerts, TEST_FILES)
    assert no_fire == ["GPUSomethingNew"] and no_silent == ["GPUSomethingNew"]


def test_the_coverage_check_ignores_cases_whose_rule_file_is_not_loaded(tmp_path: Path):
    """A test file that does not load gpu.yaml cannot vouch for GPU alerts, even with matching alertnames."""
    alerts = s.alerts()
    fake = tmp_path / "fake.test.yaml"
    fake.write_text(yaml.safe_dump({"rule_files": [], "tests": [{"name": "n", "alert_rule_test": [
        {"eval_time": "1m", "alertname": "GPURowRemapFailure", "exp_alerts": []},
        {"eval_time": "1m", "alertname": "GPURowRemapFailure", "exp_alerts": [{"exp_labels": {"severity": "critical"}}]},
    ]}]}))
    no_fire, no_silent = _coverage(alerts, [fake])
    assert "GPURowRemapFailure" in no_fire and "GPURowRemapFailure" in no_silent


def test_firing_cases_check_labels_and_annotations():
    """A firing case pins the alert's labels (severity included) and all of its annotations."""
    alerts = s.alerts()
    checked = 0
    for tf in TEST_FILES:
        for t in yaml.safe_load(tf.read_text())["tests"]:
            for case in t.get("alert_rule_test", []):
                rule = alerts[case["alertname"]][1]
                for exp in case.get("exp_alerts") or []:
                    checked += 1
                    assert exp.get("exp_labels", {}).get("severity") == rule["labels"]["severity"], (tf.name, t["name"])
                    assert set(exp.get("exp_annotations", {})) == set(rule["annotations"]), (tf.name, t["name"])
    assert checked >= len(alerts)


def test_promised_alerts_exist():
    assert PROMISED_ALERTS <= set(s.alerts()), sorted(PROMISED_ALERTS - set(s.alerts()))


def test_alert_metadata():
    names = []
    for f in RULE_FILES:
        for g in yaml.safe_load(f.read_text())["groups"]:
            for r in g["rules"]:
                if "alert" not in r:
                    continue
                names.append(r["alert"])
                where = f"{f.name}:{r['alert']}"
                assert r.get("labels", {}).get("severity") in SEVERITIES, where
                ann = r.get("annotations", {})
                for key in ("summary", "description"):
                    assert ann.get(key, "").strip(), f"{where}: no {key}"
                assert (ann.get("runbook_url") or ann.get("runbook") or "").strip(), f"{where}: no runbook"
    assert len(names) == len(set(names)), "duplicate alert names"


def test_recording_rules_are_tested_or_used_by_tested_alerts():
    records = s.recording_rules()
    assert records
    exprs = []
    for tf in TEST_FILES:
        for t in yaml.safe_load(tf.read_text())["tests"]:
            exprs += [c["expr"] for c in t.get("promql_expr_test", [])]
    alert_exprs = [r["expr"] for _, r in s.alerts().values()]
    untested = [name for name in records
                if not any(name in s.metric_names(e) for e in exprs + alert_exprs)]
    assert not untested, f"recording rules with no unit test: {untested}"


def test_every_rule_file_is_loaded_by_a_unit_test():
    loaded = set().union(*(_loaded_rule_files(tf) for tf in TEST_FILES))
    missing = [f.name for f in RULE_FILES if f.resolve() not in loaded]
    assert not missing, missing


def test_missing_tools_fail_with_the_install_hint():
    hint = r"install Debian's prometheus and prometheus-alertmanager packages \(make tools\)"
    with pytest.raises(pytest.fail.Exception, match=hint):
        s.tool("promtool-that-does-not-exist")


# --------------------------------------------------------------------------------------------- mutation testing

def test_no_alert_rule_mutant_survives_the_unit_tests(tmp_path):
    """Every alert without its `for:`, and with each non-zero threshold doubled and halved, must fail the promtool
    suite; the survivors are behaviours no unit test checks."""
    all_mutants = [m for path in RULE_FILES for m in mutation.mutants(path)]
    holds = sum(("for" in rule) + ("keep_firing_for" in rule) for path in RULE_FILES
                for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule)
    assert sum("removed" in m.change for m in all_mutants) == holds
    assert mutation.survivors(all_mutants, TEST_FILES, tmp_path, s.tool("promtool")) == []


def test_a_unit_test_that_misses_a_behaviour_leaves_a_survivor(tmp_path):
    """The mutation check can fail: without the pending-state check at 5m, removing `for: 10m` from
    GPUThermalThrottling goes unnoticed, and only that mutant survives."""
    gpu_tests = s.RULE_TESTS_DIR / "gpu.test.yaml"
    doc = yaml.safe_load(gpu_tests.read_text())
    doc["rule_files"] = [str((gpu_tests.parent / f).resolve()) for f in doc["rule_files"]]
    for case in doc["tests"]:
        case["alert_rule_test"] = [check for check in case["alert_rule_test"]
                                   if (check["alertname"], check["eval_time"]) != ("GPUThermalThrottling", "5m")]
    weakened = tmp_path / "weakened" / "gpu.test.yaml"
    weakened.parent.mkdir()
    weakened.write_text(yaml.safe_dump(doc, sort_keys=False))
    thermal = [m for m in mutation.mutants(s.RULES_DIR / "gpu.yaml") if m.alert == "GPUThermalThrottling"]
    assert [m.change for m in thermal] == ["`for: 10m` removed", "threshold #1 0.05 -> 0.1",
                                           "threshold #1 0.05 -> 0.025"]
    work = tmp_path / "work"
    work.mkdir()
    assert mutation.survivors(thermal, [weakened], work, s.tool("promtool")) == [
        "gpu.yaml: GPUThermalThrottling: `for: 10m` removed"]


@pytest.mark.parametrize(("expr", "found"), [
    ("max by (node) (rate(x[5m])) / 1e9 > 0.05", ["0.05"]),  # the divisor is arithmetic, not a threshold
    ("0.5 < y", ["0.5"]),
    ('sum(a{le="2.5"}) > bool 3 and 2 >= b', ["3", "2"]),  # not the bucket label's 2.5
    ("a > (14.4 * 0.01) and on (m) b > (14.4 * 0.01)", ["14.4", "14.4"]),  # each window's burn factor
    ('x{job="dcgm"} unless y == 1', ["1"]),
    ('x{xid=~"48|63"} > 0', ["0"]),
])
def test_thresholds_are_the_numbers_comparisons_test_against(expr, found):
    assert [expr[start:end] for start, end, _ in mutation.thresholds(expr)] == found


def test_no_rule_reads_the_alerts_series():
    """The mutation check runs only the cases of the mutated alert; that is sound while no rule reads ALERTS or
    ALERTS_FOR_STATE (another alert's result)."""
    readers = [rule.get("alert") or rule.get("record") for path in RULE_FILES
               for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]
               if re.search(r"\bALERTS(_FOR_STATE)?\b", rule["expr"])]
    assert readers == []
