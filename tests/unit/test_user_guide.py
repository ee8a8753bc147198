"""docs/user-guide.md stays true to the code: every task of its YAML examples uses a module of the collection
with options (and suboptions) its documentation declares, every error code of its troubleshooting table is in
ERROR_CODES, and every playbook and doc it names exists. README.md links the guide."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

from ansible_collections.netapp_hyperv.smhv.plugins.doc_fragments import hyperv, ontap
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import ERROR_CODES

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "user-guide.md"
PREFIX = "netapp_hyperv.smhv."
FRAGMENT_OPTIONS = {**yaml.safe_load(hyperv.ModuleDocFragment.DOCUMENTATION)["options"],
                    **yaml.safe_load(ontap.ModuleDocFragment.DOCUMENTATION)["options"]}
TASK_KEYS = {"name", "delegate_to", "register", "check_mode", "when", "loop", "loop_control", "vars", "tags", "async", "poll"}


def yaml_blocks():
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), re.S)]


def tasks(node):
    """Every mapping that calls a module of the collection, anywhere in the examples."""
    if isinstance(node, list):
        for item in node:
            yield from tasks(item)
    elif isinstance(node, dict):
        modules = [key for key in node if isinstance(key, str) and key.startswith(PREFIX + "smhv_")]
        if modules:
            yield modules[0][len(PREFIX):], node[modules[0]], set(node) - {modules[0]}
        for value in node.values():
            yield from tasks(value)


def module_options(name):
    module = importlib.import_module("ansible_collections.netapp_hyperv.smhv.plugins.modules." + name)
    documented = yaml.safe_load(module.DOCUMENTATION)
    options = dict(documented.get("options") or {})
    for fragment in documented.get("extends_documentation_fragment", []):
        if fragment.endswith((".hyperv", ".ontap")):
            for key, value in FRAGMENT_OPTIONS.items():
                options[key] = {**value, **options.get(key, {})}
    return options


def unknown(options, given, where):
    problems = []
    for key, value in (given or {}).items():
        if key not in options:
            problems.append(f"{where}.{key}")
        elif isinstance(value, dict) and "suboptions" in options[key]:
            problems += unknown(options[key]["suboptions"], value, f"{where}.{key}")
        elif isinstance(value, list) and "suboptions" in options[key]:
            for item in value:
                problems += unknown(options[key]["suboptions"], item, f"{where}.{key}[]")
    return problems


def test_every_example_task_uses_real_module_options():
    found = list(tasks(yaml_blocks()))
    assert len(found) >= 12, found
    problems = []
    for module, params, keys in found:
        problems += unknown(module_options(module), params, module)
        problems += [f"{module}: task keyword {key}" for key in keys - TASK_KEYS]
    assert problems == []


def test_troubleshooting_codes_exist():
    section = GUIDE.read_text().split("## Troubleshooting", 1)[1]
    codes = set(re.findall(r"`([A-Z][A-Z_]{3,})`", section)) - {"ERROR_CODES"}
    assert len(codes) > 30
    assert sorted(codes - set(ERROR_CODES)) == []


def test_named_playbooks_and_docs_exist_and_readme_links_the_guide():
    text = GUIDE.read_text()
    playbooks = set(re.findall(r"playbooks/(\w+\.yml)", text)) | {name + ".yml" for name in re.findall(r"netapp_hyperv\.smhv\.(\w+)\b(?! *:)", text)
                                                                  if not name.startswith("smhv")}
    assert "mount_backup.yml" in playbooks
    assert sorted(p for p in playbooks if not (ROOT / "playbooks" / p).exists()) == []
    docs = set(re.findall(r"\]\((\w[\w-]*\.md)(?:#[\w-]+)?\)", text))
    assert sorted(d for d in docs if not (ROOT / "docs" / d).exists()) == []
    assert "docs/user-guide.md" in (ROOT / "README.md").read_text()
