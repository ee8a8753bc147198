"""The durability oracles (durability_support) can fail: on a clean lab after a backup they find nothing, and each kind
of damage the issue names is found once it is made (here by hand, through ONTAP REST, the agent and the control API)."""
from __future__ import annotations

from e2e import durability_support as ds
from e2e.backup_support import LabSite

SCOPE = "hv03"


def test_the_oracles_find_what_they_are_for(lab):
    lab.reset()
    site = LabSite(lab)
    site.register(SCOPE, ds.SNAPINFO)
    site.dataset(SCOPE, ds.SNAPINFO, "orc", ["vm-print01", "vm-sql01"])
    name = site.backup(SCOPE, "orc", backup_type="crash")["backup"]["name"]
    clean = ds.observe(lab, [SCOPE])
    assert (SCOPE, name) in clean.committed and len(clean.committed[(SCOPE, name)]) == 2  # vol_hv03 and vol_hv03_sql
    assert ds.records_without_snapshots(clean) == [] and ds.leftovers(clean) == [] and ds.unhealthy_vms(clean, clean) == []

    storage = site.storage()
    sql = storage.get_volume("cluster-a", "svm_hv", "vol_hv03_sql")
    stray = "orc_01-01-2026_00.00.00"
    storage.create_snapshot(sql, stray)  # a snapshot named like a backup that no record names
    [taken] = [s for s in storage.list_snapshots(sql) if s.name == name]
    storage.delete_snapshot(taken)  # a committed backup's snapshot gone
    with site.session(SCOPE) as session:
        for path in ("S:\\SnapInfo\\smhv\\v1\\journals\\backup~orc_01-01-2026_00.00.00.json", ds.MOUNT_ROOT + "\\x\\left.txt"):
            session.owner.call("file_write", {"path": path, "content": "{}", "create_dirs": True})
    lab.control("POST", "/vm", {"vm": "vm-sql01", "state": "Off"})
    lab.control("DELETE", "/vm?vm=vm-print01")

    damaged = ds.observe(lab, [SCOPE])
    assert ds.records_without_snapshots(damaged) == [
        "hv03: ok record %s, snapshot %s missing on cluster-a:vol_hv03_sql" % (name, name)]
    assert ds.lost_backups(clean, damaged) == [
        "hv03: committed backup %s lost snapshots [('cluster-a', 'vol_hv03_sql', '%s')]" % (name, name)]
    assert ds.leftovers(damaged) == [
        "hv03: file %s\\x\\left.txt" % ds.MOUNT_ROOT,
        "cluster-a:vol_hv03_sql: snapshot %s that no ok record names" % stray,
        "hv03: open journal backup~orc_01-01-2026_00.00.00.json (None)"]
    assert ds.unhealthy_vms(clean, damaged) == ["VM vm-print01 is no longer registered", "VM vm-sql01 is Off, was Running"]
    lab.reset()
