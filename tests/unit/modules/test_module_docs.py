"""What every module's documentation promises as ansible-doc shows it (fragments merged): the failure keys every
failure carries (errors.fail_from_error), one requirement line per library, and no deprecated module in seealso."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("smhv_*.py"))
# ansible-core's deprecated and moved names that a seealso or note must not send users to.
DEPRECATED = ("community.windows.win_hotfix",)


def documentation(name):
    module = importlib.import_module("ansible_collections.netapp_hyperv.smhv.plugins.modules." + name)
    return module, yaml.safe_load(module.DOCUMENTATION), yaml.safe_load(module.RETURN) or {}


def requirements(doc):
    merged = list(doc.get("requirements") or [])
    for fragment in doc.get("extends_documentation_fragment", []):
        short = fragment.rsplit(".", 1)[-1]
        text = importlib.import_module("ansible_collections.netapp_hyperv.smhv.plugins.doc_fragments." + short).ModuleDocFragment.DOCUMENTATION
        merged += yaml.safe_load(text).get("requirements") or []
    return merged


@pytest.mark.parametrize("name", MODULES)
def test_failure_keys_are_documented(name):
    returned = documentation(name)[2]
    for key, kind in (("error_code", "str"), ("error_details", "dict")):
        assert key in returned, f"{name}: RETURN lacks {key}"
        assert returned[key]["returned"] == "failure" and returned[key]["type"] == kind, (name, key, returned[key])


@pytest.mark.parametrize("name", MODULES)
def test_each_library_is_required_once(name):
    libraries = [re.match(r"[A-Za-z0-9_.\-\[\]]+", line).group(0) for line in requirements(documentation(name)[1])]
    assert len(libraries) == len(set(libraries)), f"{name} lists a library twice: {libraries}"


@pytest.mark.parametrize("name", MODULES)
def test_no_deprecated_module_is_recommended(name):
    text = documentation(name)[0].DOCUMENTATION
    assert not [old for old in DEPRECATED if old in text], name
