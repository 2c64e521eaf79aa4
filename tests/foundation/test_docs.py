"""The README's blueprint reference is generated from the model; a stale one fails here."""

from mlplat.blueprint import keys_reference
from mlplat.docs import main, reference
from tests.support.paths import ROOT


def test_readme_reference_is_current():
    assert main(["--check", str(ROOT / "README.md")]) == 0, "README.md blueprint reference is stale: run `make docs`"


def test_every_key_is_documented():
    text = reference()
    for key, _, _, doc in keys_reference():
        assert f"| `{key}` |" in text and doc, key


def test_readme_quick_start_is_make_run_and_make_test():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.splitlines() if line.startswith("make ")]
    assert commands == ["make run", "make test"]
