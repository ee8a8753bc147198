"""The published collection tarball holds the collection and nothing of the development tooling."""
from __future__ import annotations

import fnmatch
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a user of the collection gets; each must be in the tarball whenever the checkout has it.
SHIPPED = ("plugins", "roles", "playbooks", "docs", "meta", "changelogs",
           "README.md", "LICENSE", "requirements.txt", "execution-environment.yml", "bindep.txt",
           "agent")  # agent/*.ps1: the source of plugins/module_utils/agent/script.py (docs/agent.md)
# Development-only content (galaxy.yml build_ignore); none of it may be shipped.
NOT_SHIPPED = ("lab", "tests", "benchmarks", "scripts", ".ci", ".cache", ".venv", "Makefile",
               "requirements-dev.txt", "pytest.ini", ".gitignore", "molecule", ".ruff_cache", ".pytest_cache",
               ".ansible-lint", ".ansible")
# Written by ansible-galaxy itself.
GENERATED = ("MANIFEST.json", "FILES.json")


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("dist")
    galaxy = Path(sys.executable).parent / "ansible-galaxy"
    run = subprocess.run([str(galaxy), "collection", "build", "--output-path", str(out), str(REPO_ROOT)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    tarballs = list(out.glob("netapp_hyperv-smhv-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    with tarfile.open(tarballs[0]) as tar:
        return {m.name.rstrip("/") for m in tar.getmembers()}


def _has_files(path: Path) -> bool:
    return path.is_file() or (path.is_dir() and any(p.is_file() for p in path.rglob("*")))


def test_manifest_and_runtime_metadata(members):
    assert {"MANIFEST.json", "FILES.json", "meta/runtime.yml", "requirements.txt",
            "execution-environment.yml"} <= members


def test_modules_are_shipped(members):
    modules = sorted(p.name for p in (REPO_ROOT / "plugins" / "modules").glob("*.py") if p.name != "__init__.py")
    if not modules:
        pytest.skip("no module in plugins/modules yet")
    assert "plugins/modules" in members
    assert {f"plugins/modules/{m}" for m in modules} <= members


def test_every_plugin_file_is_shipped(members):
    plugins = REPO_ROOT / "plugins"
    files = {p.relative_to(REPO_ROOT).as_posix() for p in plugins.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    assert files <= members, sorted(files - members)


@pytest.mark.parametrize("name", SHIPPED)
def test_collection_content_is_shipped(members, name):
    if not _has_files(REPO_ROOT / name):
        pytest.skip(f"{name} does not exist in this checkout yet")
    assert name in members


@pytest.mark.parametrize("name", NOT_SHIPPED)
def test_development_content_is_not_shipped(members, name):
    leaked = sorted(m for m in members if m == name or m.startswith(name + "/"))
    assert not leaked, f"{name} must be in galaxy.yml build_ignore; tarball has {leaked[:5]}"


def test_nothing_else_is_shipped(members):
    """Every top-level entry of the tarball is collection content: a new tool's cache or config left in the checkout
    (.ruff_cache was one) fails here until galaxy.yml's build_ignore or SHIPPED says where it belongs."""
    top = sorted({member.split("/")[0] for member in members} - set(SHIPPED) - set(GENERATED))
    assert not top, f"not collection content, add to galaxy.yml build_ignore: {top}"


def test_agent_sources_ship(members):
    sources = sorted(p.name for p in (REPO_ROOT / "agent").glob("*.ps1"))
    assert sources and {f"agent/{name}" for name in sources} <= members


def test_execution_environment_builds_from_this_checkouts_tarball(members):
    """execution-environment.yml installs the tarball `make build` writes (the collection is not on Galaxy), on the
    published community EE, with the Python and system requirements the tarball ships (docs/development.md)."""
    ee = yaml.safe_load((REPO_ROOT / "execution-environment.yml").read_text())
    version = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"]
    assert ee["version"] == 3 and ee["images"]["base_image"]["name"].startswith("ghcr.io/ansible-community/community-ee-")
    assert "galaxy" not in ee["dependencies"]
    assert [entry["src"] for entry in ee["additional_build_files"]
            if fnmatch.fnmatch(f".cache/dist/netapp_hyperv-smhv-{version}.tar.gz", entry["src"])]
    assert "--output-path .cache/dist" in (REPO_ROOT / "Makefile").read_text()
    assert ee["dependencies"]["python"] == "requirements.txt" and ee["dependencies"]["system"] == "bindep.txt"
    assert {"requirements.txt", "bindep.txt"} <= members
    steps = " ".join(ee["additional_build_steps"]["append_final"])
    assert "ansible-galaxy collection install --offline" in steps and "pyspnego[kerberos]" in steps
