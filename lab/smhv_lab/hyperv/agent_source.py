"""The collection's agent.py, loaded by file path from the checkout the lab runs beside.

By path, not by import: the lab does not depend on an installed collection, and a changed agent is
what a restarted lab recognises (SMHV_AGENT_PATH points elsewhere, e.g. at an installed copy).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import smhv_lab

DEFAULT_AGENT_PATH = Path(smhv_lab.__file__).resolve().parents[2] / "plugins" / "module_utils" / "agent" / "__init__.py"


def agent_path() -> Path:
    return Path(os.environ.get("SMHV_AGENT_PATH") or DEFAULT_AGENT_PATH)


def load_agent(path: Path | None = None) -> ModuleType:
    path = Path(path or agent_path())
    if not path.is_file():
        raise FileNotFoundError(f"the collection's agent is not at {path} (set SMHV_AGENT_PATH)")
    spec = importlib.util.spec_from_file_location("smhv_lab_collection_agent", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
