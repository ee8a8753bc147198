"""Scheduled protection through the lab (ansible-playbook, real WinRM and ONTAP REST), and backups by policy.

After an outage: hv03's dataset dr has an hourly policy created five hours ago and a nightly one created three days ago
(the controller that should have run them was down: five and three slots missed), one scheduled for later today and one
on demand. One run of playbooks/protect.yml takes each due policy once, with that policy's options, and a second run
right after takes nothing (docs/scheduling.md: "Missed runs catch up once").

A backup by policy (smhv_backup policy=...): the policy's retention, backup type, SnapMirror update and SnapVault label
are applied, with nothing given on demand.
"""
from __future__ import annotations

import datetime
import re
import time

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Policy
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from e2e.backup_support import LabSite
from e2e.test_fleet_playbooks import playbook
from e2e.test_snapvault import SOURCE, VAULT, ontap, vault_snapshots

SNAPINFO = "S:\\SnapInfo"
VMS = ["vm-file01", "vm-file02", "vm-print01"]
MIRROR = "vol_hv03_dr"  # cluster-b's SnapMirror destination of vol_hv03, which holds the VMs of dr


def policies(now):
    """Every slot is half a day or half an hour away from now, so no slot falls while the test runs."""
    half_hour_on = (now.minute + 30) % 60
    half_day_on = (now + datetime.timedelta(hours=12)).strftime("%H:%M")
    return [
        Policy("dr", "hourly", "hourly", retention_count=1, schedule={"frequency": "hourly", "minute": half_hour_on}, snapmirror_update=True,
               created=now - datetime.timedelta(hours=5)),
        Policy("dr", "nightly", "daily", retention_count=7, schedule={"frequency": "daily", "at": half_day_on}, backup_type="crash",
               method="crash", created=now - datetime.timedelta(days=3)),
        # its last slot was 12 hours ago, before it was created
        Policy("dr", "evening", "weekly", retention_count=4, schedule={"frequency": "daily", "at": half_day_on}, created=now),
        Policy("dr", "manual", "monthly", retention_count=2, created=now - datetime.timedelta(days=30)),
    ]


def dr_backups(site):
    with site.session("hv03") as session:
        catalog = site.catalog(session, SNAPINFO)
        return sorted(catalog.get_backups(catalog.list_backups(dataset="dr")), key=lambda record: record.time)


def mirror_snapshots(lab):
    volume = ontap(lab, "cluster-b", "GET", "/storage/volumes?name=%s" % MIRROR)["records"][0]
    return [record["name"] for record in ontap(lab, "cluster-b", "GET", "/storage/volumes/%s/snapshots" % volume["uuid"])["records"]]


def said(output):
    """protect.yml's summary line for hv03: (count, policy names)."""
    found = re.search(r"hv03: (\d+) due \(([^)]*)\)", output)
    assert found, output[-4000:]
    return int(found[1]), found[2]


@pytest.fixture(scope="module")
def after_outage(lab, tmp_path_factory):
    lab.control("DELETE", "/faults")
    lab.reset()
    site = LabSite(lab)
    site.register("hv03", SNAPINFO)
    site.dataset("hv03", SNAPINFO, "dr", VMS)
    now = datetime.datetime.now(datetime.timezone.utc)
    with site.session("hv03") as session:
        catalog = site.catalog(session, SNAPINFO)
        for policy in policies(now):
            catalog.put_policy(policy)
    tmp_path = tmp_path_factory.mktemp("protect")
    site.first_output = playbook(lab, tmp_path, "protect.yml", {"smhv_scopes": "hv03"})
    site.after_first = dr_backups(site)
    site.second_output = playbook(lab, tmp_path, "protect.yml", {"smhv_scopes": "hv03"})
    site.after_second = dr_backups(site)
    yield site
    lab.reset()


def test_one_run_after_an_outage_takes_each_due_policy_once(after_outage, lab):
    assert said(after_outage.first_output) == (2, "hourly, nightly")
    taken = {record.policy: record for record in after_outage.after_first}
    assert len(after_outage.after_first) == 2 and sorted(taken) == ["hourly", "nightly"]  # not once per missed slot
    hourly, nightly = taken["hourly"], taken["nightly"]
    assert (hourly.status, hourly.retention_tag, hourly.backup_type, hourly.method) == ("ok", "hourly", "application", "checkpoint")
    assert (nightly.status, nightly.retention_tag, nightly.backup_type, nightly.method) == ("ok", "daily", "crash", "crash")
    assert sorted(vm.name for vm in hourly.vms) == sorted(vm.name for vm in nightly.vms) == VMS
    mirrored = mirror_snapshots(lab)  # the hourly policy updates the mirror, the nightly one does not
    assert hourly.name in mirrored and nightly.name not in mirrored


def test_a_second_run_right_after_takes_nothing(after_outage):
    assert said(after_outage.second_output) == (0, "none")
    assert [record.name for record in after_outage.after_second] == [record.name for record in after_outage.after_first]


def test_a_backup_by_policy_applies_its_retention_label_and_updates(lab):
    """smhv_backup policy=daily of dataset sql: the policy keeps 1 daily backup and updates the SnapVault relationship
    of vol_hv03_sql with the label daily; an option given beside the policy is refused."""
    lab.control("DELETE", "/faults")
    lab.reset()
    try:
        site = LabSite(lab)
        site.register("hv03", SNAPINFO)
        site.dataset("hv03", SNAPINFO, "sql", ["vm-sql01"])
        with site.session("hv03") as session:
            site.catalog(session, SNAPINFO).put_policy(Policy(
                "sql", "daily", "daily", retention_count=1, snapvault_update=True, snapvault_label="daily",
                created=datetime.datetime.now(datetime.timezone.utc)))
        first = site.backup("hv03", "sql", policy="daily")["backup"]["name"]  # the vault's baseline
        body = {"source": {"path": SOURCE, "cluster": {"name": "cluster-a"}}, "destination": {"path": VAULT},
                "policy": {"name": "XDPDefault"}, "create_destination": {"enabled": True}, "state": "snapmirrored"}
        ontap(lab, "cluster-b", "POST", "/snapmirror/relationships?return_timeout=60", json=body)
        time.sleep(1.1)  # backup names are unique to the second

        result = site.backup("hv03", "sql", policy="daily")
        name = result["backup"]["name"]
        assert (result["backup"]["policy"], result["backup"]["retention_tag"], result["backup"]["type"]) == ("daily", "daily", "application")
        assert [(r["kind"], r["source"], r["destination"], r["state"]) for r in result["replication"]] == [
            ("snapvault", SOURCE, VAULT, "success")]
        assert result["retention"]["deleted"] == [first]  # the policy keeps one daily backup
        assert site.backups("hv03", SNAPINFO, "sql") == [(name, "ok")]
        assert vault_snapshots(lab) == {first: "daily", name: "daily"}  # both labelled by the policy; the vault keeps its own

        with pytest.raises(SmhvError) as refused:
            site.backup("hv03", "sql", policy="daily", update_snapmirror=True)
        assert refused.value.code == "INVALID_ARGUMENT" and "sets the backup's options" in refused.value.message
    finally:
        lab.reset()
