"""smhv_cleanup's orphan rules (engines/cleanup/rules.py): what is ours, what is an orphan, what an owner keeps."""
from __future__ import annotations

import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap import igroups

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap import client as ontap
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import backup
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import capture
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount import plan as mount
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore import run as restore
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Journal, JournalStep
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.cleanup import rules
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import SnapshotInfo

NOW = datetime.datetime(2026, 3, 14, 12, 0, tzinfo=datetime.timezone.utc)
OLD = NOW - datetime.timedelta(hours=5)
BACKUP = "ds1_03-14-2026_07.00.00"
COMMENT = capture.SNAPSHOT_COMMENT % (BACKUP, "ds1")


def survey(**fields):
    return rules.Survey(now=NOW, grace=datetime.timedelta(hours=1), scope="hvc1", datasets={"ds1"}, **fields)


def snap(name, comment="", created=OLD, owners=()):
    return SnapshotInfo(cluster="cl1", svm="svm1", volume_name="vol1", volume_uuid="v-1", name=name, uuid="u-" + name,
                        create_time=created, comment=comment, owners=tuple(owners))


def checkpoint(name, created="2026-03-14T07:00:01Z"):
    return {"node": "hv01", "vm_id": "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e", "vm_name": "vm01", "name": name, "created": created}


def journal_owner(key, recover=False, running=True, steps=()):
    record = Journal("backup~" + key, "backup", "hvc1", OLD, subject="ds1", lease="hvc1", lease_token="t", steps=tuple(steps))
    text = "journal %s (%s)" % (record.id, "running" if running else "abandoned")
    return rules.Owner(kind="journal", id=record.id, text=text, tokens=rules.tokens_of(record), recover=recover, operation="backup",
                       subject="ds1", lease="hvc1")


def clone(name, serial="S1", maps=(), created=OLD):
    return {"cluster": "cl1", "svm": "svm1", "path": "/vol/vol1/" + name, "name": name, "uuid": "lun-" + name, "serial": serial,
            "create_time": created, "maps": list(maps), "lun": None}


def names(plan, kind):
    return [item.get("name") or item.get("path") for item in plan.orphans[kind]]


def test_the_rules_use_the_names_the_engines_give():
    assert rules.CHECKPOINT_PREFIX == backup.CHECKPOINT_PREFIX
    assert rules.SNAPSHOT_COMMENT.match(capture.SNAPSHOT_COMMENT % (BACKUP, "ds1"))["backup"] == BACKUP
    assert rules.TEMPORARY_CG_PREFIX == ontap.TEMPORARY_CG_PREFIX
    assert rules.RESTORE_CLONE_PREFIX == restore.CLONE_PREFIX and rules.MOUNT_CLONE_PREFIX == mount.CLONE_PREFIX
    assert igroups.igroup_name("HV01").startswith(rules.IGROUP_PREFIX)
    assert mount.legacy_clone_name("/vol/v/lun1", BACKUP).lower().endswith(rules.clone_suffix(BACKUP))


def test_our_leftovers_are_orphans_with_a_reason_and_an_action_each():
    found = rules.plan(survey(
        checkpoints=[checkpoint("smhv_" + BACKUP)],
        snapshots=[snap(BACKUP, COMMENT)],
        consistency_groups=[{"cluster": "cl1", "svm": "svm1", "name": "smhv_tmp_" + BACKUP, "uuid": "cg1", "volumes": ["vol1"]}],
        clones=[clone("smhv_restore_lun1_20260314070000", maps=[{"igroup": "smhv_hv01", "igroup_uuid": "ig1"}])],
        igroups={"ig1": {"cluster": "cl1", "svm": "svm1", "name": "smhv_hv01", "uuid": "ig1", "luns": ["lun-smhv_restore_lun1_20260314070000"]}},
        disks={"hv01": {"S1": ["C:\\SMHV\\Mounts\\smhv_restore_lun1_20260314070000\\"]}},
        folders=[{"node": "hv01", "path": "C:\\SMHV\\Mounts\\smhv_restore_lun1_20260314070000", "name": "smhv_restore_lun1_20260314070000",
                  "children": [{"path": "x", "name": "vm.vhdx", "is_directory": False}]}]))
    assert names(found, "checkpoints") == ["smhv_" + BACKUP]
    assert names(found, "snapshots") == [BACKUP] and "no backup record" in found.orphans["snapshots"][0]["why"]
    assert names(found, "consistency_groups") == ["smhv_tmp_" + BACKUP]
    assert names(found, "clones") == ["smhv_restore_lun1_20260314070000"] and found.orphans["clones"][0]["hosts"] == ["hv01"]
    assert found.orphans["lun_maps"] == [{"lun": "cl1:/vol/vol1/smhv_restore_lun1_20260314070000", "igroup": "smhv_hv01",
                                          "why": "maps orphan clone smhv_restore_lun1_20260314070000"}]
    assert names(found, "igroups") == ["smhv_hv01"]
    assert names(found, "mount_folders") == ["C:\\SMHV\\Mounts\\smhv_restore_lun1_20260314070000"]
    assert all(item["why"] for items in found.orphans.values() for item in items)
    assert found.kept == []
    # The clone's disk goes before the clone, the clone before its igroup and folder, and snapshots last.
    order = [kind for kind, _item, _text in found.steps]
    assert order.index("disconnect") < order.index("clones") < order.index("igroups") < order.index("mount_folders") < order.index("snapshots")
    assert len(found.actions) == len([text for _kind, _item, text in found.steps if text])


def test_never_touches_what_it_did_not_make():
    found = rules.plan(survey(
        checkpoints=[checkpoint("SMHV_" + BACKUP), checkpoint("my_smhv_x"), checkpoint("smhvx"), checkpoint("before patching")],
        snapshots=[snap(BACKUP, "taken by hand"), snap("hourly.2026-03-14_0705"), snap("other_03-14-2026_07.00.00"),
                   snap("smhv_snapinfo_hv03_03-14-2026_07.00.00", "SnapInfo of hv03 (netapp_hyperv.smhv)"),
                   snap("snapmirror.1234_2147484677.2026-03-14_070500")],
        consistency_groups=[{"cluster": "cl1", "svm": "svm1", "name": "app_cg", "uuid": "cg2", "volumes": ["vol1"]},
                            {"cluster": "cl1", "svm": "svm1", "name": "smhv_tmpx", "uuid": "cg3", "volumes": ["vol1"]}],
        clones=[clone("restore_lun1"), clone("SMHV_restore_x"), clone("lun1_clone")],
        folders=[{"node": "hv01", "path": "C:\\SMHV\\Mounts\\scratch", "name": "scratch", "children": []}]))
    assert all(items == [] for items in found.orphans.values()), found.orphans
    assert found.actions == [] and found.kept == []


def test_a_snapshot_named_like_a_backup_is_ours_only_for_a_dataset_of_the_scope_and_without_a_comment():
    found = rules.plan(survey(snapshots=[snap(BACKUP), snap(BACKUP + "_backup"), snap("ds2_03-14-2026_07.00.00")]))
    assert names(found, "snapshots") == [BACKUP, BACKUP + "_backup"]
    assert "named like a backup of dataset ds1" in found.orphans["snapshots"][0]["why"]


def test_a_backup_record_keeps_its_snapshots_unless_it_failed():
    kept = rules.plan(survey(snapshots=[snap(BACKUP, COMMENT)], backups={BACKUP.lower(): "ok"}))
    assert kept.actions == [] and kept.kept == []  # a backup's snapshot: not a candidate at all
    failed = rules.plan(survey(snapshots=[snap(BACKUP, COMMENT)], backups={BACKUP.lower(): "failed"}))
    assert names(failed, "snapshots") == [BACKUP] and "says the backup failed" in failed.orphans["snapshots"][0]["why"]


def test_what_an_open_journal_names_is_kept_with_the_journal_as_owner():
    owner = journal_owner(BACKUP, steps=[JournalStep("snapshot", "intent", OLD, {"volumes": ["v-1"], "name": BACKUP})])
    found = rules.plan(survey(
        owners=[owner], checkpoints=[checkpoint("smhv_" + BACKUP)], snapshots=[snap(BACKUP, COMMENT)],
        consistency_groups=[{"cluster": "cl1", "svm": "svm1", "name": "smhv_tmp_" + BACKUP, "uuid": "cg1", "volumes": ["vol1"]}]))
    assert all(items == [] for items in found.orphans.values())
    assert sorted(item["kind"] for item in found.kept) == ["checkpoints", "consistency_groups", "journals", "snapshots"]
    assert all(item["owner"] == owner.text for item in found.kept)


def test_a_clone_a_journal_or_a_mount_record_names_is_kept_with_its_folder():
    restore_clone = "smhv_restore_lun1_20260314070000"
    journal = rules.Owner(kind="journal", id="restore~abc", text="journal restore~abc", operation="restore", lease="vm~x",
                          tokens=rules.tokens_of({"clone": "/vol/vol1/" + restore_clone}))
    record = rules.Owner(kind="mount", id="m1.json", text="mount record m1.json", tokens=rules.tokens_of({"backup": BACKUP, "host": "hv01"}))
    mounted = mount.legacy_clone_name("/vol/vol1/lun1", BACKUP)
    found = rules.plan(survey(
        owners=[journal, record], clones=[clone(restore_clone, "S1"), clone(mounted, "S2"), clone("smhv_mount_lun1_ds1_03_14_2026_08_00_00", "S3")],
        disks={"hv01": {"S1": ["C:\\SMHV\\Mounts\\%s\\" % restore_clone], "S2": ["C:\\SMHV\\Mounts\\%s\\lun1\\" % BACKUP]}},
        folders=[{"node": "hv01", "path": "C:\\SMHV\\Mounts\\" + restore_clone, "name": restore_clone, "children": []},
                 {"node": "hv01", "path": "C:\\SMHV\\Mounts\\" + BACKUP, "name": BACKUP,
                  "children": [{"path": "C:\\SMHV\\Mounts\\%s\\lun1" % BACKUP, "name": "lun1", "is_directory": True}]}]))
    assert names(found, "clones") == ["smhv_mount_lun1_ds1_03_14_2026_08_00_00"]
    owners = dict((item["name"], item["owner"]) for item in found.kept)
    assert owners["cl1:/vol/vol1/" + restore_clone] == "journal restore~abc"
    assert owners["cl1:/vol/vol1/" + mounted] == "mount record m1.json"
    assert owners["C:\\SMHV\\Mounts\\%s on hv01" % restore_clone] == "journal restore~abc"
    assert owners["C:\\SMHV\\Mounts\\%s on hv01" % BACKUP] == "mount record m1.json"


def test_young_objects_wait_for_the_grace_period_and_a_busy_scope_keeps_its_own():
    young = rules.plan(survey(checkpoints=[checkpoint("smhv_x", created="2026-03-14T11:50:00Z")], snapshots=[snap(BACKUP, COMMENT, NOW)]))
    assert young.actions == [] and all(item["owner"].startswith("grace period") for item in young.kept)
    busy = rules.plan(survey(scope_busy="backup on ctl2", checkpoints=[checkpoint("smhv_x")], snapshots=[snap(BACKUP, COMMENT)],
                             clones=[clone("smhv_restore_lun1_20260314070000")]))
    assert names(busy, "clones") == ["smhv_restore_lun1_20260314070000"]  # clones are not the scope lease's
    assert [item["owner"] for item in busy.kept] == ["the scope's lease, held by backup on ctl2"] * 2


def test_a_snapshot_in_use_by_replication_or_of_unknown_age_is_kept():
    found = rules.plan(survey(snapshots=[snap(BACKUP, COMMENT, owners=["snapmirror"]), snap("ds1_03-14-2026_06.00.00", created=None)]))
    assert found.actions == [] and [item["owner"] for item in found.kept] == ["ONTAP: in use by snapmirror", "its create time is unknown"]


def test_an_abandoned_journal_is_recovered_first_and_a_running_one_is_kept():
    abandoned, running = journal_owner(BACKUP, recover=True, running=False), journal_owner("ds1_03-14-2026_08.00.00")
    found = rules.plan(survey(owners=[abandoned, running], checkpoints=[checkpoint("smhv_" + BACKUP)]))
    assert found.actions[0] == "recover journal backup~%s (backup of ds1) with the backup recovery" % BACKUP
    assert names(found, "journals") == ["backup~" + BACKUP] and found.orphans["checkpoints"] == []
    assert dict((item["name"], item["owner"]) for item in found.kept) == {
        "backup~ds1_03-14-2026_08.00.00": running.text, "smhv_%s of VM vm01" % BACKUP: abandoned.text}


def test_our_igroup_goes_only_when_it_mapped_nothing_but_orphan_clones():
    maps = [{"igroup": "smhv_hv01", "igroup_uuid": "ig1"}]
    shared = {"ig1": {"cluster": "cl1", "svm": "svm1", "name": "smhv_hv01", "uuid": "ig1", "luns": ["lun-smhv_restore_a_20260314070000", "csv-lun"]}}
    found = rules.plan(survey(clones=[clone("smhv_restore_a_20260314070000", maps=maps)], igroups=shared))
    assert names(found, "igroups") == [] and found.kept[0]["owner"] == "it also maps 1 other LUN(s)"
    users = {"ig1": {"cluster": "cl1", "svm": "svm1", "name": "hv01_iscsi", "uuid": "ig1", "luns": ["lun-smhv_restore_a_20260314070000"]}}
    found = rules.plan(survey(clones=[clone("smhv_restore_a_20260314070000", maps=[{"igroup": "hv01_iscsi", "igroup_uuid": "ig1"}])], igroups=users))
    assert names(found, "clones") == ["smhv_restore_a_20260314070000"] and names(found, "igroups") == []


def test_a_folder_with_a_foreign_disk_or_files_stays():
    found = rules.plan(survey(
        disks={"hv01": {"OTHER": ["C:\\SMHV\\Mounts\\%s\\lun1\\" % BACKUP]}},
        folders=[{"node": "hv01", "path": "C:\\SMHV\\Mounts\\" + BACKUP, "name": BACKUP,
                  "children": [{"path": "C:\\SMHV\\Mounts\\%s\\lun1" % BACKUP, "name": "lun1", "is_directory": True}]},
                 {"node": "hv01", "path": "C:\\SMHV\\Mounts\\ds1_03-14-2026_06.00.00", "name": "ds1_03-14-2026_06.00.00",
                  "children": [{"path": "x", "name": "notes.txt", "is_directory": False}]},
                 {"node": "hv01", "path": "C:\\SMHV\\Mounts\\ds1_03-14-2026_05.00.00", "name": "ds1_03-14-2026_05.00.00",
                  "children": [{"path": "C:\\SMHV\\Mounts\\ds1_03-14-2026_05.00.00\\lun1", "name": "lun1", "is_directory": True}]}]))
    assert names(found, "mount_folders") == ["C:\\SMHV\\Mounts\\ds1_03-14-2026_05.00.00"]
    assert found.steps[-1][1]["paths"] == ["C:\\SMHV\\Mounts\\ds1_03-14-2026_05.00.00\\lun1", "C:\\SMHV\\Mounts\\ds1_03-14-2026_05.00.00"]
    assert sorted(item["owner"] for item in found.kept) == ["disk OTHER is connected at C:\\SMHV\\Mounts\\%s" % BACKUP + "\\lun1", "it holds files"]
