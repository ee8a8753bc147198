"""delete_snapshots() on snapshots known by name only (a backup record keeps names, not uuids): one
DELETE by name query each, busy ones still reported, absent ones counted as deleted."""
from __future__ import annotations

import dataclasses


def test_snapshots_known_by_name_are_deleted_in_one_request_each(site):
    client = site.client("cluster-a")
    vol1 = client.get_volume("cluster-a", "svm1", "vol1")
    busy, free = client.create_snapshot(vol1, "busy"), client.create_snapshot(vol1, "free")
    client.san.clone_lun(busy, client.find_lun_by_serial(site.serial("/vol/vol1/lun1")), "lun1_mounted")
    by_name = [dataclasses.replace(snapshot, uuid=None) for snapshot in (busy, free)]
    gone = dataclasses.replace(by_name[1], name="never_there")
    before = sum(client.call_counts().values())
    report = client.delete_snapshots(by_name + [gone])
    assert [s.name for s in report.deleted] == ["free", "never_there"]
    assert [pair[0].name for pair in report.busy] == ["busy"] and pair_code(report) == "SNAPSHOT_BUSY"
    assert sum(client.call_counts().values()) - before <= 3 * 2  # a DELETE (and its job poll) per snapshot, no lookup
    assert [s.name for s in client.list_snapshots(vol1) if not s.name.startswith("snapmirror.")] == ["busy"]


def pair_code(report):
    return report.busy[0][1].code
