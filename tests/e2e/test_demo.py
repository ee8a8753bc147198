"""`make demo` as a newcomer runs it, and the ONTAP REST role of docs/user-guide.md against what the code calls.

The demo (lab/smhv_lab/demo.py) starts its own lab, runs the playbooks with ansible-playbook and must exit 0
with every step told. With SMHV_DEMO_REST_LOG it writes every REST method and route the ONTAP simulators
served (control API GET /ontap-requests); each must be allowed by the minimal role the user guide documents.
A second check is static: every netapp_ontap resource and private CLI command the collection's code names
must be under a path of the role, so a new call the demo does not exercise still needs the guide updated.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys

import pytest

from lab_fixture import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "user-guide.md"
ROLE_BEGIN, ROLE_END = "<!-- ontap-rest-role:begin", "<!-- ontap-rest-role:end -->"
ACCESS = ("readonly", "all")
STEPS = ("1. Check that the controller reaches both sites", "2. Register the scopes", "3. A guest is writing",
         "4. A guest's data goes wrong", "5. An administrator deletes a VM", "6. Mount vm-web01's newest backup",
         "7. Drill hv03's failover at site B")
DR_DOC = REPO_ROOT / "docs" / "dr.md"
# What docs/dr.md ("The ONTAP account at the DR site") adds to the user guide's role on the DR cluster: FlexClones of
# the mirrors for a drill (created, taken offline, deleted) and quiesce and break, which are PATCHes.
DR_ROLE = {"/api/storage/volumes": "all", "/api/snapmirror/relationships": "all"}
DR_CLUSTER = "cluster-b"


def documented_role() -> dict[str, str]:
    """{API path: access} from the table between the role markers of docs/user-guide.md."""
    text = GUIDE.read_text()
    assert ROLE_BEGIN in text and ROLE_END in text, f"{GUIDE} has no role table between {ROLE_BEGIN} and {ROLE_END}"
    role = {}
    for line in text.split(ROLE_BEGIN, 1)[1].split(ROLE_END, 1)[0].splitlines():
        row = re.match(r"\|\s*`(/api/[^`]+)`\s*\|\s*`?(\w+)`?", line)
        if row:
            assert row.group(2) in ACCESS, f"access {row.group(2)!r} of {row.group(1)} is not one of {ACCESS}"
            role[row.group(1)] = row.group(2)
    assert role, "the role table has no rows"
    return role


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def covering_entry(role: dict[str, str], path: str) -> str | None:
    """The most specific role path at or above `path` ('*' in the role and '{...}' in the path match any segment)."""
    parts = _segments(path)
    best = None
    for entry in role:
        want = _segments(entry)
        if len(want) <= len(parts) and all(w == p or w == "*" for w, p in zip(want, parts)):
            if best is None or len(want) > len(_segments(best)):
                best = entry
    return best


def uncovered(role: dict[str, str], calls: list[tuple[str, str]]) -> list[str]:
    problems = []
    for method, path in calls:
        entry = covering_entry(role, path)
        if entry is None:
            problems.append(f"{method} {path}: no role entry covers it")
        elif method != "GET" and role[entry] != "all":
            problems.append(f"{method} {path}: role entry {entry} is {role[entry]}")
    return problems


def test_the_role_check_itself():
    role = {"/api/storage/volumes": "readonly", "/api/storage/volumes/*/snapshots": "all", "/api/cluster": "readonly"}
    assert covering_entry(role, "/api/storage/volumes/{volume.uuid}/snapshots/{uuid}") == "/api/storage/volumes/*/snapshots"
    assert uncovered(role, [("GET", "/api/cluster/jobs/{uuid}"), ("POST", "/api/storage/volumes/{volume.uuid}/snapshots")]) == []
    assert uncovered(role, [("PATCH", "/api/storage/volumes")]) == ["PATCH /api/storage/volumes: role entry /api/storage/volumes is readonly"]
    assert uncovered(role, [("GET", "/api/storage/luns")]) == ["GET /api/storage/luns: no role entry covers it"]


def code_paths() -> set[str]:
    """The REST paths the collection's code names: each netapp_ontap resource class it imports (its _path),
    and each private CLI command it runs (CLI().execute("volume snapshot restore-file") is
    /api/private/cli/volume/snapshot/restore-file)."""
    resources = pytest.importorskip("netapp_ontap.resources")
    paths = set()
    for source in sorted((REPO_ROOT / "plugins").rglob("*.py")):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "netapp_ontap.resources":
                for alias in node.names:
                    path = getattr(resources, alias.name)._path
                    if alias.name != "CLI":  # the passthrough's base; its commands are below
                        paths.add(re.sub(r"\{[^}]*\}", "{id}", path))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute"
                  and isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, "id", "") == "CLI"):
                command = node.args[0].value
                paths.add("/api/private/cli/" + "/".join(command.split()))
    return paths


def test_role_covers_every_rest_resource_the_code_names():
    role = documented_role()
    paths = code_paths()
    assert "/api/storage/luns" in paths and "/api/private/cli/volume/snapshot/restore-file" in paths, paths
    assert [path for path in sorted(paths) if covering_entry(role, path) is None] == []


def test_the_dr_role_is_what_docs_dr_md_says():
    text = " ".join(DR_DOC.read_text().split())  # its lines wrap anywhere
    assert all(f"`{access}` on `{path}`" in text for path, access in DR_ROLE.items()), "docs/dr.md no longer documents the DR role"


def test_demo_tells_every_step_and_its_rest_calls_fit_the_role(tmp_path):
    log = tmp_path / "ontap-requests.json"
    env = dict(os.environ, SMHV_DEMO_REST_LOG=str(log))
    env.pop("SMHV_DEMO_KEEP", None)
    run = subprocess.run([sys.executable, "-m", "smhv_lab.demo"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=900, check=False)
    assert run.returncode == 0, f"the demo failed:\n{run.stdout[-6000:]}\n{run.stderr[-4000:]}"
    assert "Demo finished: every step succeeded." in run.stdout
    missing = [step for step in STEPS if step not in run.stdout]
    assert missing == [], f"steps not told: {missing}\n{run.stdout}"
    assert "{" not in run.stdout.split("1. Check that", 1)[1], "the demo printed raw JSON:\n" + run.stdout
    drill = run.stdout.split("7. Drill hv03's failover", 1)[1]
    assert "vm-file01-drill's C:\\data\\orders.db reads 'order 1001: paid'" in drill, drill
    assert "vm-print01-drill's C:\\data\\orders.db reads 'print queue: 3 jobs'" in drill, drill  # the recovery point's, not the later 7 jobs
    assert "relationships stay snapmirrored" in drill and "nothing of the drill is left on cluster-b or hvdr01" in drill, drill
    served = json.loads(log.read_text())
    calls = {name: sorted({(call["method"], call["path"]) for call in cluster}) for name, cluster in served.items()}
    everywhere = sorted(set(call for cluster in calls.values() for call in cluster))
    assert ("POST", "/api/storage/luns") in everywhere and ("POST", "/api/private/cli/volume/snapshot/restore-file") in everywhere, calls
    assert ("POST", "/api/storage/volumes") in calls[DR_CLUSTER], calls[DR_CLUSTER]  # the drill's FlexClones
    role = documented_role()
    assert [problem for name, cluster in calls.items() if name != DR_CLUSTER for problem in uncovered(role, cluster)] == []
    assert uncovered(dict(role, **DR_ROLE), calls[DR_CLUSTER]) == []
