"""Alert-rule mutants for the promtool suite: each alert without its `for:` (and without its `keep_firing_for:`), and
each numeric threshold it compares against scaled by 2 and by 0.5. A mutant the unit tests do not notice (the suite
still passes) is a behaviour nobody checks; `test_rules.py` requires that none survive.

All mutants run in one promtool process: each gets a copy of the unit-test files whose `rule_files` point at a copy of
the rules with that one change.
"""

from __future__ import annotations

import copy
import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# libyaml's loader and dumper: a run parses and writes a few hundred test and rule files.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False)


@functools.lru_cache(maxsize=None)
def _parsed(path: Path) -> Any:
    return _load(path.read_text())


def _fresh(path: Path) -> Any:
    """A private copy of `path` parsed (each file is parsed once per process)."""
    return copy.deepcopy(_parsed(path))

# A number a comparison tests against, on either side of the operator (`x > 0.05`, `0.05 < x`, `x > bool 3`), or
# the first factor of a parenthesized product on its right (a burn rate's `> (14.4 * 0.01)`). Numbers inside
# selectors, durations and arithmetic (`/ 1e9`) are not thresholds.
_NUMBER = r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_COMPARISON = r"(?:[<>]=?|[!=]=)"
_AFTER = re.compile(rf"(?P<lead>{_COMPARISON}\s*(?:bool\s+)?\(?\s*)(?P<num>{_NUMBER})(?![\w.])")
_BEFORE = re.compile(rf"(?<![\w.\[])(?P<num>{_NUMBER})(?P<trail>\s*{_COMPARISON}(?!~))")


@dataclass(frozen=True)
class Mutant:
    rule_file: Path
    alert: str
    change: str  # what was changed, for the list of survivors
    text: str  # the whole mutated rule file

    @property
    def name(self) -> str:
        return f"{self.rule_file.name}: {self.alert}: {self.change}"


def thresholds(expr: str) -> list[tuple[int, int, float]]:
    """(start, end, value) of each numeric threshold in a PromQL expression."""
    found = {(m.start("num"), m.end("num")) for m in _AFTER.finditer(expr)}
    # On the left of a comparison only a number that starts an operand: `x / 1e9 > 0.05` compares x / 1e9.
    found |= {(m.start("num"), m.end("num")) for m in _BEFORE.finditer(expr)
              if re.search(r"(?:^|[(,]|\b(?:and|or|unless))\s*$", expr[:m.start("num")])}
    return sorted((start, end, float(expr[start:end])) for start, end in found)


def _number(value: float) -> str:
    return repr(int(value)) if value == int(value) else repr(value)


def mutants(rule_file: Path) -> list[Mutant]:
    """Every mutant of every alert in `rule_file`. A zero threshold has no scaled mutant (2 x 0 = 0)."""
    doc = _fresh(rule_file)
    out = []
    for g, group in enumerate(doc["groups"]):
        for r, rule in enumerate(group["rules"]):
            if "alert" not in rule:
                continue

            def mutated(change: str, **replacement: object) -> Mutant:
                mutated_doc = _fresh(rule_file)
                target = mutated_doc["groups"][g]["rules"][r]
                for key, value in replacement.items():
                    if value is None:
                        del target[key]
                    else:
                        target[key] = value
                return Mutant(rule_file, rule["alert"], change, _dump(mutated_doc))

            for hold in ("for", "keep_firing_for"):
                if hold in rule:
                    out.append(mutated(f"`{hold}: {rule[hold]}` removed", **{hold: None}))
            expr = rule["expr"]
            for number, (start, end, value) in enumerate(thresholds(expr), 1):
                if value == 0:
                    continue
                for factor in (2, 0.5):
                    new = _number(value * factor)
                    out.append(mutated(f"threshold #{number} {expr[start:end]} -> {new}",
                                       expr=expr[:start] + new + expr[end:]))
    return out


def _pruned(docs: list[dict], alert: str) -> list[dict]:
    """`docs` (rule files in load order) reduced to `alert` and the recording rules it reads, directly or through
    other recording rules: promtool then evaluates only what can change the alert (5-10x faster on the burn rates)."""
    records = {rule["record"]: rule["expr"] for doc in docs for group in doc["groups"] for rule in group["rules"]
               if "record" in rule}
    alert_expr = next(rule["expr"] for doc in docs for group in doc["groups"] for rule in group["rules"]
                      if rule.get("alert") == alert)
    needed: set[str] = set()
    pending = [alert_expr]
    while pending:
        expr = pending.pop()
        for name, body in records.items():
            if name not in needed and re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr):
                needed.add(name)
                pending.append(body)
    pruned = []
    for doc in docs:
        groups = [{**group, "rules": [rule for rule in group["rules"]
                                      if rule.get("alert") == alert or rule.get("record") in needed]}
                  for group in doc["groups"]]
        pruned.append({"groups": [group for group in groups if group["rules"]]})
    return pruned


def survivors(mutant_list: list[Mutant], test_files: list[Path], work: Path, promtool: str) -> list[str]:
    """Names of the mutants the promtool unit tests in `test_files` do not catch.

    The same reduction of each mutated alert's cases also runs unmutated (the baseline): it must pass, or every
    mutant would look caught by a suite that fails anyway."""
    baselines = {(m.rule_file, m.alert): Mutant(m.rule_file, m.alert, "baseline", m.rule_file.read_text())
                 for m in mutant_list}
    jobs = []
    for index, mutant in enumerate([*baselines.values(), *mutant_list]):
        directory = work / f"m{index}"
        directory.mkdir()
        for test_file in test_files:
            doc = _fresh(test_file)
            loaded = [(test_file.parent / f).resolve() for f in doc.get("rule_files", [])]
            if mutant.rule_file.resolve() not in loaded:
                continue
            # Only the cases that check this alert can tell the mutant apart (no rule reads ALERTS, which a test
            # in test_rules.py keeps true); the rest would only cost promtool time.
            doc["tests"] = [{**{k: v for k, v in case.items() if k != "promql_expr_test"},
                             "alert_rule_test": [check for check in case["alert_rule_test"]
                                                 if check["alertname"] == mutant.alert]}
                            for case in doc["tests"]
                            if any(check["alertname"] == mutant.alert for check in case.get("alert_rule_test", []))]
            if not doc["tests"]:
                continue
            rule_docs = [_load(mutant.text) if f == mutant.rule_file.resolve() else _fresh(f) for f in loaded]
            doc["rule_files"] = []
            for number, (path, rule_doc) in enumerate(zip(loaded, _pruned(rule_docs, mutant.alert))):
                pruned = directory / f"{test_file.stem}-{number}-{path.name}"
                pruned.write_text(_dump(rule_doc))
                doc["rule_files"].append(str(pruned))
            test_copy = directory / test_file.name
            test_copy.write_text(_dump(doc))
            jobs.append((mutant, test_copy))
    if not jobs:
        return sorted(mutant.name for mutant in mutant_list)
    if not any(mutant.change != "baseline" for mutant, _ in jobs):
        return sorted(mutant.name for mutant in mutant_list)
    rule_files = [f for _, path in jobs for f in _load(path.read_text())["rule_files"]]
    checked = subprocess.run([promtool, "check", "rules", *rule_files], capture_output=True, text=True, timeout=600)
    if checked.returncode != 0:  # a mutant must be a valid rule file, or "caught" would mean nothing
        raise AssertionError(f"a mutant is not a valid rule file:\n{checked.stdout}{checked.stderr}")
    proc = subprocess.run([promtool, "test", "rules", *(str(path) for _, path in jobs)], capture_output=True,
                          text=True, timeout=600)
    verdicts = _verdicts(proc.stdout + proc.stderr)
    missing = [str(path) for _, path in jobs if str(path) not in verdicts]
    if missing:
        raise AssertionError(f"promtool reported nothing for {missing[:3]}:\n{proc.stdout}{proc.stderr}")
    failing = sorted(mutant.name for mutant, path in jobs if mutant.change == "baseline" and not verdicts[str(path)])
    if failing:
        raise AssertionError(f"the unmutated unit tests of these alerts fail, so no mutant can be judged: {failing}")
    caught = {mutant.name for mutant, path in jobs if not verdicts[str(path)]}
    return sorted({mutant.name for mutant in mutant_list} - caught)


def _verdicts(output: str) -> dict[str, bool]:
    """test file -> passed, from `promtool test rules` output: "Unit Testing:  FILE", then "SUCCESS" directly under
    it for a file that passed (promtool prints the failures of all files after the last header)."""
    verdicts, current = {}, None
    for line in output.splitlines():
        if line.startswith("Unit Testing:"):
            current = line.split(":", 1)[1].strip()
            verdicts[current] = False
        elif current and line.strip() == "SUCCESS":
            verdicts[current] = True
        elif line.strip():
            current = None
    return verdicts
