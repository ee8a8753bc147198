"""The collection's agent package (plugins/module_utils/agent), loaded by file path from the checkout the lab runs beside.

By path, not by import: the lab does not depend on an installed collection, and a changed agent is
what a restarted lab recognises (SMHV_AGENT_PATH points elsewhere, e.g. at an installed copy's agent
directory). Two files: script.py, generated from agent/*.ps1, holds the PowerShell, and __init__.py the
contract, which imports the script by its collection name.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import smhv_lab

DEFAULT_AGENT_PATH = Path(smhv_lab.__file__).resolve().parents[2] / "plugins" / "module_utils" / "agent"
# How the contract imports the generated script (the collection's import rule: absolute names only).
SCRIPT_IMPORT_NAME = "ansible_collections.netapp_hyperv.smhv.plugins.module_utils.agent.script"


def agent_path() -> Path:
    return Path(os.environ.get("SMHV_AGENT_PATH") or DEFAULT_AGENT_PATH)


def _load_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_agent(path: Path | None = None) -> ModuleType:
    """The contract module, with the generated script's names in it; `path` is the package's directory (or its __init__.py)."""
    path = Path(path or agent_path())
    directory = path.parent if path.name == "__init__.py" else path
    contract, script_file = directory / "__init__.py", directory / "script.py"
    for required in (contract, script_file):
        if not required.is_file():
            raise FileNotFoundError(f"the collection's agent is not at {directory}: no {required.name} (set SMHV_AGENT_PATH)")
    script = _load_file("smhv_lab_collection_agent_script", script_file)
    # The contract's import of the script finds this module, and only while the contract loads: the lab
    # never imports the collection, and leaves no stand-in for it behind (tests import both in one process).
    previous = sys.modules.get(SCRIPT_IMPORT_NAME)
    sys.modules[SCRIPT_IMPORT_NAME] = script
    try:
        return _load_file("smhv_lab_collection_agent", contract)
    finally:
        if previous is None:
            del sys.modules[SCRIPT_IMPORT_NAME]
        else:
            sys.modules[SCRIPT_IMPORT_NAME] = previous


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
