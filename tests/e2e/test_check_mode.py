"""--check changes nothing: every playbook in playbooks/ and every role in roles/ runs with --check against one lab, one
after another, and the lab's whole world is the same after each run as before it; each run says what it would do.

The world is compared whole: the control API's POST /save pickles it, and the test turns the pickle into plain data, so
nothing is left out by a summary (ONTAP volumes, snapshots, LUNs with their files, clones, maps, igroups, consistency
groups, SnapMirror relationships; every host's disks, access paths, folders, system drive files, VMs and checkpoints,
registry, features, services, firewall rules, installed software, hotfixes, MPIO claims, pending restarts). Only ONTAP's
job history is left out: it is a log, and the DR plays' documented check mode (docs/dr.md, "Check mode") reads the
SnapInfo mirror through a FlexClone it deletes before answering, whose jobs ONTAP keeps for five minutes. No other play
sends ONTAP a single write.

Before the checks, a real run leaves what the plays need to have something to plan: hv03 registered with dataset dr, two
backups (the first replicated) and a policy that is due, hvdr01 ready for a failover (e2e.test_drill.prepare); hvclus01,
hvdr01 are not registered, hvdr01 lags a cumulative update and misses Multipath-IO, hv02's firewall rules drifted.
"""
from __future__ import annotations

import datetime
import json
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Policy
from e2e.test_drill import LUNS, SNAPINFO, prepare
from e2e.test_failover import differences
from lab_fixture import REPO_ROOT, ansible_env
from smhv_lab.demo import PROTECTION
from smhv_lab.world.world import STATE_FILE

WRITES = ("POST", "PATCH", "DELETE")
# The plays that reach a DR site's SnapInfo mirror, which check mode reads through a temporary FlexClone (docs/dr.md).
READS_A_MIRROR = ("dr_drill.yml", "dr_failover.yml", "role smhv_dr_failover")
# The installers, the service account and the updates' share come from the lab's inventory (as a user runs them).
HOTFIX_VARS = {"smhv_hotfix_install": True, "smhv_hotfix_reboot": "if_required", "smhv_hotfix_reboot_timeout": 120}
INSTALL_VARS = {"smhv_install_reboot": "if_required", "smhv_install_reboot_timeout": 120}
ROLE_PLAY = """
- name: Role {role} in check mode
  hosts: {hosts}
  gather_facts: false
  roles:
    - role: netapp_hyperv.smhv.{role}
"""


def dr_vars(lab):
    port = lab.endpoints["ontap"]["cluster-b"]["port"]
    return {"smhv_source_scope": "hv03", "smhv_dr_host": "hvdr01", "smhv_dr_storage_systems": ["127.0.0.1:%d" % port],
            "smhv_snapinfo_path": SNAPINFO, "smhv_luns": LUNS}


# Each playbook with the variables that make it do the most: (playbook, extra vars from the lab and a folder, what its output
# must say). Without smhv_scopes, protect.yml and configure_protection.yml take every scope, registered or not.
PLAYBOOK_RUNS = [
    ("check_connectivity.yml", lambda lab, folder: {}, "ONTAP cluster-a, cluster-b answered"),
    ("configure_protection.yml", lambda lab, folder: PROTECTION, "Check mode: hvclus01 would change:"),
    ("export_protection.yml", lambda lab, folder: {"smhv_export_file": str(folder / "protection.yml")},
     "Check mode: would export 1 scope(s) to"),
    ("backup_now.yml", lambda lab, folder: {"smhv_scope": "hv03", "smhv_dataset": "dr"}, "would be taken:"),
    ("protect.yml", lambda lab, folder: {}, ("of dr/hourly would be taken:", "WARNING hvdr01 is not registered")),
    ("restore_vm.yml", lambda lab, folder: {"smhv_scope": "hv03", "smhv_vm": "vm-file01"}, "Check mode: vm-file01 would be restored"),
    ("mount_backup.yml", lambda lab, folder: {"smhv_scope": "hv03", "smhv_vm": "vm-file01"}, "its files would be at:"),
    ("dr_drill.yml", lambda lab, folder: dr_vars(lab), "Check mode: the drill of vm-file01-drill"),
    ("dr_failover.yml", lambda lab, folder: dict(dr_vars(lab), smhv_confirm=True), "Check mode: the failover of vm-file01"),
    # Nothing is failed over here: the failback finds hv03 running its VMs, mirrored to site B (tests/e2e/test_dr_round_trip.py
    # runs it in check mode after a failover).
    ("dr_failback.yml", lambda lab, folder: {"smhv_primary_host": "hv03", "smhv_dr_host": "hvdr01", "smhv_snapinfo_path": SNAPINFO,
                                             "smhv_dr_storage_systems": dr_vars(lab)["smhv_dr_storage_systems"], "smhv_confirm": True},
     "Check mode: the failback of hv03 from hvdr01 would do nothing"),
    ("fleet_install.yml", lambda lab, folder: dict(INSTALL_VARS, **HOTFIX_VARS), "Check mode: hvdr01 would run"),
    ("hotfix_compliance.yml", lambda lab, folder: dict(HOTFIX_VARS, hotfix_compliance_dir=str(folder / "report")),
     "check mode, the report would be written to"),
]
# Roles that no playbook runs: (role, play hosts, its variables from the lab, what its output must say).
ROLE_RUNS = [
    ("smhv_dr_failover", "localhost", lambda lab: {
        "smhv_dr_failover_source_scope": "hv03", "smhv_dr_failover_dr_host": "hvdr01", "smhv_dr_failover_snapinfo_path": SNAPINFO,
        "smhv_dr_failover_dr_storage_systems": dr_vars(lab)["smhv_dr_storage_systems"], "smhv_dr_failover_luns": LUNS},
     "Check mode: the failover of hv03 to hvdr01 would:"),
]
RUN_NAMES = [run[0] for run in PLAYBOOK_RUNS] + ["role " + run[0] for run in ROLE_RUNS]


def roles_in_playbooks():
    """Roles the playbooks run, under `roles:` or with import_role/include_role (dr_failback.yml, to report it in `always:`)."""
    text = "".join(p.read_text() for p in (REPO_ROOT / "playbooks").glob("*.yml"))
    return set(re.findall(r"(?:role|name): netapp_hyperv\.smhv\.(\w+)", text))


def world(lab):
    """The lab's whole world as plain data, from the pickle POST /save writes: each ONTAP cluster, host and failover cluster
    with all its fields, every object in it turned into its fields, sets sorted; an object met again is named by where it
    was first met (a SnapMirror relationship names its source cluster as world.clusters/cluster-a)."""
    lab.control("POST", "/save")
    loaded = pickle.loads((lab.state_dir / STATE_FILE).read_bytes())
    parts = dict(loaded.__getstate__().items())
    seen = {id(item): "world.%s/%s" % (name, key) for name, value in parts.items() if isinstance(value, dict)
            for key, item in value.items() if hasattr(item, "__dict__")}
    found = {name: {key: fields(item, seen[id(item)], seen) if id(item) in seen else plain(item, name, seen)
                    for key, item in value.items()} if isinstance(value, dict) else plain(value, name, seen)
             for name, value in parts.items()}
    for cluster in found["clusters"].values():
        del cluster["jobs"]
    return found


def fields(value, where, seen):
    state = value.__getstate__() if hasattr(value, "__getstate__") else vars(value)
    return dict({key: plain(item, "%s.%s" % (where, key), seen) for key, item in (state or {}).items()},
                __class__=type(value).__name__)


def plain(value, where, seen):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {str(key): plain(item, "%s/%s" % (where, key), seen) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item, "%s[%d]" % (where, index), seen) for index, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item, where, seen) for item in value), key=repr)
    if not hasattr(value, "__dict__"):
        return repr(value)  # datetimes, enums
    if id(value) in seen:
        return "<the object at %s>" % seen[id(value)]
    seen[id(value)] = where
    return fields(value, where, seen)


def ontap_writes(lab):
    return {(cluster, call["method"], call["path"]): call["count"] for cluster, calls in lab.control("GET", "/ontap-requests").items()
            for call in calls if call["method"] in WRITES}


def run_checked(lab, tmp_path, name, playbook_path, extra):
    """ansible-playbook --check; the output as users see it by default (results as JSON, where a newline shows as \\n)."""
    extra_file = tmp_path / ("%s.json" % re.sub(r"\W", "_", name))
    extra_file.write_text(json.dumps(extra))
    run = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "--check", "-i", str(lab.inventory),
                          str(playbook_path), "-e", "@%s" % extra_file],
                         env=ansible_env(tmp_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_CALLBACK_RESULT_FORMAT="json"),
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, "%s --check failed:\n%s\n%s" % (name, run.stdout[-8000:], run.stderr[-3000:])
    return run.stdout


@pytest.fixture(scope="module")
def checked(lab, tmp_path_factory):
    """Every playbook and role run with --check in sequence: {name: {output, says, changes (world differences), writes
    (ONTAP writes by cluster, method and route), seconds}}."""
    tmp_path = tmp_path_factory.mktemp("check-mode")
    site = prepare(lab)
    with site.session("hv03") as session:  # a policy created a day ago: due at the last full hour
        site.catalog(session, SNAPINFO).put_policy(Policy(
            "dr", "hourly", "hourly", retention_count=24, schedule={"frequency": "hourly", "minute": 0},
            created=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)))
    runs = [(name, REPO_ROOT / "playbooks" / name, extra(lab, tmp_path), says) for name, extra, says in PLAYBOOK_RUNS]
    for role, hosts, variables, says in ROLE_RUNS:
        play = tmp_path / ("%s.yml" % role)
        play.write_text(ROLE_PLAY.format(role=role, hosts=hosts))
        runs.append(("role " + role, play, variables(lab), says))
    results = {}
    started = time.monotonic()
    for name, playbook_path, extra, says in runs:
        before, writes_before, begun = world(lab), ontap_writes(lab), time.monotonic()
        output = run_checked(lab, tmp_path, name, playbook_path, extra)
        seconds = time.monotonic() - begun
        writes = {call: count - writes_before.get(call, 0) for call, count in ontap_writes(lab).items()
                  if count != writes_before.get(call, 0)}
        results[name] = {"output": output, "says": says, "changes": differences(before, world(lab)), "writes": writes,
                         "seconds": seconds}
    print("\ncheck mode: %d runs in %.0f s (%s)" % (len(results), time.monotonic() - started,
                                                    ", ".join("%s %.1f s" % (name, r["seconds"]) for name, r in results.items())))
    return results


def test_every_playbook_and_role_is_run(checked):
    playbooks = {path.name for path in (REPO_ROOT / "playbooks").glob("*.yml")}
    assert playbooks <= set(checked), "playbooks without a check-mode run here: %s" % sorted(playbooks - set(checked))
    roles = {path.name for path in (REPO_ROOT / "roles").iterdir() if (path / "tasks" / "main.yml").exists()}
    missing = roles - roles_in_playbooks() - {run[0] for run in ROLE_RUNS}
    assert not missing, "roles that neither a playbook nor ROLE_RUNS runs: %s" % sorted(missing)


def test_check_mode_changes_nothing_in_the_lab(checked):
    changed = {name: result["changes"][:20] for name, result in checked.items() if result["changes"]}
    assert changed == {}


def test_only_the_dr_plays_write_to_ontap_and_only_to_read_the_mirror(checked):
    """The DR plays' writes are the temporary clone and its map (and an igroup it made): each one made is deleted."""
    writes = {name: result["writes"] for name, result in checked.items() if result["writes"] and name not in READS_A_MIRROR}
    assert writes == {}
    for name in READS_A_MIRROR:
        made = sum(count for (cluster, method, path), count in checked[name]["writes"].items() if method == "POST")
        deleted = sum(count for (cluster, method, path), count in checked[name]["writes"].items() if method == "DELETE")
        assert made == deleted, "%s: %s" % (name, checked[name]["writes"])


@pytest.mark.parametrize("name", RUN_NAMES)
def test_each_run_says_what_it_would_do(checked, name):
    result = checked[name]
    for words in [result["says"]] if isinstance(result["says"], str) else result["says"]:
        assert words in result["output"], result["output"][-4000:]
    assert "\\n" not in result["output"], "a literal \\n in the output of %s:\n%s" % (
        name, "\n".join(line for line in result["output"].splitlines() if "\\n" in line))


def test_hotfix_compliance_writes_no_report_in_check_mode(checked, tmp_path_factory):
    assert list(tmp_path_factory.getbasetemp().glob("check-mode*/report")) == []
