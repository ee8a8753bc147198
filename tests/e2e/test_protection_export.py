"""Configuration round trip (issue 22, the seed's §6.2 import/export between consoles) and unlimited retention (§6.6),
through the lab: configure_protection.yml defines two scopes' datasets and policies (one with retention unlimited,
acknowledged), export_protection.yml writes them as the data configure_protection.yml reads, the lab is reset (no
registration, no SnapInfo catalog), and importing that file reproduces what smhv_backup_info reported before."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.modules import smhv_backup_info, smhv_policy
from e2e.backup_support import LabSite
from lab_fixture import REPO_ROOT, ansible_env

# Written as the export writes it (members sorted by name, policies by name, options at their defaults left out), so the
# exported file must equal it.
PROTECTION = {"smhv_protection": {
    "hvclus01": {"snapinfo_path": "S:\\SnapInfo", "report_path": "C:\\SMHV\\Reports", "snapinfo_snaps_count": 30, "create_snapinfo": True,
                 "datasets": [{"name": "web", "description": "web tier", "members": [{"vm": "vm-app01"}, {"vm": "vm-web01"}, {"vm": "vm-web02"}],
                               "policies": [{"name": "hourly", "schedule": {"frequency": "hourly", "minute": 15, "timezone": "UTC"},
                                             "retention": {"tag": "hourly", "count": 24}, "snapmirror_update": True, "notify": "on_error"}]}]},
    "hv03": {"snapinfo_path": "S:\\SnapInfo", "report_path": "C:\\SMHV\\Reports", "snapinfo_snaps_count": 12, "create_snapinfo": True,
             "datasets": [{"name": "files", "members": [{"vm": "vm-file01"}, {"vm": "vm-file02"}, {"vm": "vm-print01"}],
                           "policies": [
                               {"name": "archive", "retention": {"tag": "unlimited"}, "acknowledge_unlimited": True},
                               {"name": "nightly", "schedule": {"frequency": "daily", "at": "01:30", "timezone": "Europe/Berlin"},
                                "retention": {"tag": "daily", "age": "2w"}, "backup_type": "crash", "snapvault_update": True,
                                "snapvault_label": "daily"},
                               {"name": "weekly", "schedule": {"frequency": "weekly", "at": "03:00", "weekday": "sunday", "timezone": "UTC"},
                                "retention": {"tag": "weekly", "count": 8}, "allow_saved_state": True,
                                "pre_script": {"path": "C:\\Scripts\\quiesce.ps1", "arguments": ["$VMSnapshot"], "host": "hv03"}}]}]},
}}
POLICY_DEFAULTS = {"dataset": "files", "state": "present", "schedule": None, "backup_type": "application", "method": None,
                   "allow_saved_state": False, "snapmirror_update": False, "snapvault_update": False, "snapvault_label": None,
                   "pre_script": None, "post_script": None, "notify": "on_error_or_warning", "acknowledge_unlimited": False}


def playbook(lab, folder, name, *extra):
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(REPO_ROOT / "playbooks" / name),
                           *extra], env=ansible_env(folder, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"), capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, "%s failed:\n%s\n%s" % (name, done.stdout[-6000:], done.stderr[-3000:])
    return done.stdout


def configuration(site):
    """What smhv_backup_info says of each scope's datasets and policies, without the times that a new definition changes."""
    seen = {}
    for scope in ("hvclus01", "hv03"):
        info = smhv_backup_info.run(dict(site.common, hyperv_host=scope, gather=["datasets", "policies", "snapshot_budget"], dataset=None,
                                         vm=None, backup_type=None, status=None, retention_tag=None, since=None, until=None,
                                         backup_details=False, due_at=None), False)
        seen[scope] = {"datasets": [{k: v for k, v in d.items() if k not in ("created", "updated")} for d in info["datasets"]],
                       "policies": [{k: v for k, v in p.items() if k not in ("created", "next_run")} for p in info["policies"]],
                       "budget": info["snapshot_budget"], "warnings": info["warnings"], "scope": info["scope"]}
    return seen


@pytest.fixture(scope="module")
def round_trip(lab, tmp_path_factory):
    started = time.monotonic()
    folder = tmp_path_factory.mktemp("protection-export")
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    source = folder / "source.json"
    source.write_text(json.dumps(PROTECTION))
    playbook(lab, folder, "configure_protection.yml", "-e", "@%s" % source)
    seen = {"before": configuration(site)}
    unlimited = {"tag": "unlimited", "count": None, "age": None}
    unacknowledged = dict(POLICY_DEFAULTS, **site.common, hyperv_host="hv03", name="forever", retention=unlimited)
    with pytest.raises(SmhvError) as refused:
        smhv_policy.run(unacknowledged, True)
    seen["refused"] = refused.value
    seen["acknowledged"] = smhv_policy.run(dict(unacknowledged, name="archive", acknowledge_unlimited=True), False)
    exported = folder / "exported.yml"
    seen["export_output"] = playbook(lab, folder, "export_protection.yml", "-e", "smhv_export_file=%s" % exported,
                                     "-e", "smhv_export_create_snapinfo=true")
    seen["exported"] = yaml.safe_load(exported.read_text())
    taken = site.backup("hv03", "files")  # on demand: retention unlimited, which the archive policy governs
    seen["snapshots_taken"] = {"%s:%s:%s" % (item["cluster"], item["svm"], item["volume"]): len(item["snapshots"]) for item in taken["snapshots"]}
    seen["backed_up"] = configuration(site)["hv03"]
    lab.reset()
    playbook(lab, folder, "configure_protection.yml", "-e", "@%s" % exported)
    seen["after"] = configuration(site)
    print("\nprotection export round trip: %.1f s" % (time.monotonic() - started))
    return seen


def test_the_export_is_the_data_configure_protection_reads(round_trip):
    assert round_trip["exported"] == PROTECTION
    assert "Exported 2 scope(s) to" in round_trip["export_output"]


def test_import_after_a_reset_reproduces_the_configuration(round_trip):
    before, after = round_trip["before"], round_trip["after"]
    assert [p["name"] for p in before["hv03"]["policies"]] == ["archive", "nightly", "weekly"]
    assert before["hv03"]["datasets"][0]["members"][0]["found"] is True
    assert after == before


def test_unlimited_retention_needs_the_acknowledgement(round_trip):
    refused = round_trip["refused"]
    assert refused.code == "INVALID_ARGUMENT" and "acknowledge_unlimited: true" in refused.message and "255" in refused.message


def test_acknowledged_unlimited_is_counted_by_what_it_holds_and_warned(round_trip):
    acknowledged = round_trip["acknowledged"]
    assert acknowledged["changed"] is False and acknowledged["policy"]["retention"]["describe"] == "unlimited"
    empty = [b for b in round_trip["before"]["hv03"]["budget"] if "files/archive" in b["unlimited"]]
    assert empty and all(b["unbounded"] == [] and b["per_policy"]["files/archive"] == 0 for b in empty)
    held = [b for b in round_trip["backed_up"]["budget"] if "files/archive" in b["unlimited"]]
    assert sorted(b["volume"] for b in held) == sorted(b["volume"] for b in empty)
    assert sorted(round_trip["snapshots_taken"]) == sorted(b["volume"] for b in held)
    for budget, was in zip(held, empty):
        made = round_trip["snapshots_taken"][budget["volume"]]
        assert made >= 1 and budget["per_policy"]["files/archive"] == made and budget["used"] == was["used"] + made
    warned = [w for w in round_trip["backed_up"]["warnings"] if "files/archive keeps every backup" in w]
    assert len(warned) == len(held)
    assert "room for %d more" % (held[0]["limit"] - held[0]["used"]) in warned[0]
