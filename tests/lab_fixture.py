"""Start a real lab (`smhv-lab up`) for tests that cross a protocol boundary, and always stop it."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from smhv_lab.client import LabHandle

REPO_ROOT = Path(__file__).resolve().parents[1]


def lab_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smhv_lab.cli", *args], capture_output=True, text=True, timeout=120,
                          check=False)


@contextmanager
def running_lab(state_dir: Path, topology: Path | None = None):
    args = ["up", "--state-dir", str(state_dir)] + (["--topology", str(topology)] if topology else [])
    started = lab_command(*args)
    if started.returncode != 0:
        raise RuntimeError(f"smhv-lab up failed:\n{started.stdout}\n{started.stderr}")
    try:
        yield LabHandle(state_dir)
    finally:
        stopped = lab_command("down", "--state-dir", str(state_dir))
        if stopped.returncode != 0:
            raise RuntimeError(f"smhv-lab down failed:\n{stopped.stdout}\n{stopped.stderr}")


def collections_path(tmp_dir: Path) -> Path:
    """A collections root where netapp_hyperv.smhv is this checkout (the bundled ones stay visible)."""
    root = tmp_dir / "collections"
    link = root / "ansible_collections" / "netapp_hyperv" / "smhv"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO_ROOT)
    return root


def ansible_env(tmp_dir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path(tmp_dir)),
        "ANSIBLE_LOCAL_TEMP": str(tmp_dir / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
    })
    env.update(extra)
    return env
