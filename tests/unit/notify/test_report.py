"""The report smhv_notify sends, from registered results (pure: no server; tests/e2e/test_notify.py sends it for real)."""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.notify.report import (
    APP_VERSION, build_report, clusters_of, ems_event, mail_text, wants)

NOW = datetime.datetime(2026, 12, 6, 3, 0, tzinfo=datetime.timezone.utc)
FAILED = {"failed": True, "msg": "Backup web_12-06-2026_03.00.00 of dataset web failed at step snapshot: ONTAP said no.",
          "error_code": "STORAGE_ERROR", "error_details": {"step": "snapshot", "backup": "web_12-06-2026_03.00.00", "dataset": "web",
                                                           "cluster": "cluster-a"}}
OK = {"changed": True, "backup": {"name": "web_12-06-2026_03.00.00", "dataset": "web", "policy": "hourly", "scope": "hvclus01", "warnings": []},
      "vms": [{"name": "vm-web01", "outcome": "online", "reason": "", "volumes": ["cluster-a:vol_csv1"]}],
      "snapshots": [{"cluster": "cluster-a", "volume": "vol_csv1"}], "warnings": []}


@pytest.mark.parametrize("level, sent", [("never", set()), ("on_error", {"error"}), ("on_error_or_warning", {"error", "warning"}),
                                         ("always", {"ok", "warning", "error"})])
def test_levels(level, sent):
    assert {status for status in ("ok", "warning", "error") if wants(level, status)} == sent


def test_a_failed_backup_names_its_step_code_vms_and_the_newest_good_backup():
    newest = {"name": "web_12-06-2026_01.00.00", "time": NOW - datetime.timedelta(hours=2)}
    report = build_report("backup", FAILED, scope="hvclus01", policy="hourly", newest_good=newest, now=NOW,
                          recorded_vms=[{"name": "vm-web01", "outcome": "online", "reason": ""}])
    assert report["status"] == "error" and report["failure"]["step"] == "snapshot" and report["failure"]["error_code"] == "STORAGE_ERROR"
    assert report["newest_good_backup"]["age_seconds"] == 7200
    subject, body = mail_text(report)
    assert subject == "[SMHV] ERROR: backup web_12-06-2026_03.00.00 of dataset web (policy hourly) on hvclus01 failed at step snapshot (STORAGE_ERROR)"
    for text in ("Scope:     hvclus01", "Failed at step: snapshot", "Error code:     STORAGE_ERROR", "vm-web01", "2 h 00 min old"):
        assert text in body
    event = ems_event(report, "ctl01", APP_VERSION, False)
    assert (event["severity"], event["event_id"], event["category"]) == ("error", 1003, "backup")
    assert clusters_of(FAILED) == ["cluster-a"]


def test_a_skipped_vm_or_a_warning_makes_a_warning_and_a_clean_run_is_ok():
    assert build_report("backup", OK, now=NOW)["status"] == "ok"
    skipped = dict(OK, vms=[{"name": "vm-web02", "outcome": "skipped", "reason": "Off"}])
    assert build_report("backup", skipped, now=NOW)["status"] == "warning"
    warned = dict(OK, backup=dict(OK["backup"], warnings=[{"step": "replication", "code": "STORAGE_ERROR", "message": "no"}]))
    report = build_report("backup", warned, now=NOW)
    assert report["status"] == "warning" and report["warnings"] == ["replication: no (STORAGE_ERROR)"]
    assert build_report("drill", {"passed": False, "rpo_seconds": 600, "vms": []}, now=NOW)["newest_good_backup"]["age_seconds"] == 600


def test_ems_events_carry_the_collection_version():
    galaxy = yaml.safe_load((Path(__file__).resolve().parents[3] / "galaxy.yml").read_text())
    assert APP_VERSION == galaxy["version"]
