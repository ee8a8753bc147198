"""The changelog follows antsibull-changelog's conventions (docs/development.md, "Changelog"): a release lists its new
modules and roles from their metadata and its new playbooks from an ``add object.playbook`` fragment, so no fragment
announces a new module, role or playbook, and each of them carries a version antsibull-changelog will release."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FRAGMENTS = sorted((ROOT / "changelogs" / "fragments").glob("*.yml"))
RELEASED = set((yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text()).get("releases") or {}))
NEXT = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
MODULES = sorted((ROOT / "plugins" / "modules").glob("smhv_*.py"))
ROLES = sorted(path.parent.parent for path in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def fragment(path):
    return yaml.safe_load(path.read_text()) or {}


def version_added_of_module(path):
    return yaml.safe_load(re.search(r'DOCUMENTATION = r"""(.*?)"""', path.read_text(), re.S).group(1)).get("version_added")


@pytest.mark.parametrize("path", FRAGMENTS, ids=lambda path: path.name)
def test_no_fragment_announces_a_new_module_role_or_playbook(path):
    entries = [entry for key, value in fragment(path).items() if isinstance(value, list) and not key.startswith("add ")
               for entry in value if isinstance(entry, str)]
    announced = [entry[:80] for entry in entries if re.search(r"^[\w, ]+ - new (module|role|playbook)s?\b", entry)]
    assert not announced, f"{path.name}: the release lists these from their metadata: {announced}"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.stem)
def test_every_module_is_added_in_a_released_or_the_next_version(path):
    assert str(version_added_of_module(path)) in RELEASED | {NEXT}, (path.stem, version_added_of_module(path), NEXT)


@pytest.mark.parametrize("role", ROLES, ids=lambda role: role.name)
def test_every_role_is_added_in_a_released_or_the_next_version(role):
    main = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    assert str(main.get("version_added")) in RELEASED | {NEXT}, (role.name, main.get("version_added"), NEXT)


def test_every_playbook_is_named_for_the_changelog():
    named = {item["name"] for path in FRAGMENTS for item in fragment(path).get("add object.playbook", [])}
    released = {item["name"] for release in (yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text()).get("releases") or {}).values()
                for item in (release.get("objects") or {}).get("playbook", [])}
    playbooks = {path.stem for path in (ROOT / "playbooks").glob("*.yml")}
    assert playbooks <= named | released, sorted(playbooks - named - released)
