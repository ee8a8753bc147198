"""RestoreEngine with verify_snapshot=false (SMHV's -DisableVerifySnapshot) against hand-made hosts and storage (no network):
after a SnapMirror failover the VM's files are on the destination volume's LUN connected to the DR host, and the backup
record still names the primary's cluster, volume and LUN serial. The plan takes each file's LUN from its path (after the
path map) on the target host, and the backup's snapshot from that LUN's volume; the recorded LUNs are never looked up."""
from __future__ import annotations

import datetime
import types

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupFile, BackupRecord, BackupVm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import IgroupRef, LunRef, SnapshotInfo, VolumeInfo
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply
from unit.restore.fakes import DurableCatalog

VM_ID = "6f1c5e7a-2b1d-4c3e-9f7a-0d1e2f3a4b5c"
OLDER = "files_03-13-2026_09.00.00"
BACKUP = "files_03-14-2026_09.00.00"
PRIMARY_SERIAL, DR_SERIAL = "wCk3F+Yq9xAb", "dRk3F+Yq9xZZ"
CONFIG = "J:\\vm1\\Virtual Machines\\%s.vmcx" % VM_ID.upper()
VHD = "J:\\vm1\\Virtual Hard Disks\\vm1.vhdx"
PRIMARY = LunRef("cluster-a", "svm_hv", "vol_hv03", "vol-a", "lun-a", "/vol/vol_hv03/lun_j", PRIMARY_SERIAL, 1, "hyper_v")
MIRROR = LunRef("cluster-b", "svm_dr", "vol_hv03_dr", "vol-b", "lun-b", "/vol/vol_hv03_dr/lun_j", DR_SERIAL, 1, "hyper_v")


def record(name=BACKUP):
    files = tuple(BackupFile(path, kind, PRIMARY_SERIAL, "cluster-a", "svm_hv", "vol_hv03", (name,))
                  for path, kind in ((CONFIG, "config"), (VHD, "vhd")))
    vm = BackupVm(VM_ID, "vm1", "hv03", "online", files=files, snapshot_location="J:\\vm1")
    return BackupRecord(name, "files", None, "manual", "application", "crash",
                        datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.timezone.utc), "hv03", "ok", vms=(vm,))


def on_disk(serial, root):
    return {"access_path": root, "volume_id": None, "disk_number": 2, "disk_serial": serial, "netapp_lun": bool(serial),
            "partition_style": "GPT", "is_csv": False, "csv_name": None, "is_smb": False, "free_bytes": 1, "size_bytes": 2}


class DrHost:
    """hvdr01: the mirror of the primary's J: LUN is connected at `root`; the VM is not registered here."""

    def __init__(self, root="K:\\", neighbour=True):
        self.name, self.root, self.calls = "hvdr01", root, []
        self.listing = [CONFIG.replace("J:\\", root), VHD.replace("J:\\", root)]
        if neighbour:  # another VM's disk on the same LUN, as vm-file02 beside vm-file01
            self.listing.append(root + "vm1\\Virtual Hard Disks\\vm2.vhdx")

    def call(self, op, args=None):
        self.calls.append((op, args))
        if op == "vm_inventory":
            return AgentReply({"vms": [], "missing": {"names": [], "ids": []}})
        if op == "path_info":
            return AgentReply({"paths": [{"path": p, "exists": True, "is_directory": False,
                                          "storage": on_disk(DR_SERIAL, self.root) if p.startswith(self.root) else on_disk(None, None)}
                                         for p in args["paths"]]})
        if op == "file_list":
            if args["path"] == self.root:
                entries = [{"path": self.root + "vm1", "name": "vm1", "is_directory": True, "size": None}]
            else:
                entries = [{"path": p, "name": p.rsplit("\\", 1)[1], "is_directory": False, "size": 1} for p in self.listing]
            return AgentReply({"path": args["path"], "exists": True, "format": "entries", "names": None, "entries": entries})
        if op == "file_copy":
            return AgentReply({"copied": [{"source": s, "destination": d, "size": 1} for s, d in zip(args["sources"], args["destinations"])]})
        if op == "vm_import":
            return AgentReply({"vm_id": VM_ID, "name": "vm1", "state": "Off", "checkpoint_discarded": False})
        if op == "vm_start":
            return AgentReply({"vms": [{"vm_id": VM_ID, "name": "vm1", "state": "Running"}], "missing": []})
        return AgentReply({}, changed=True)  # disk_connect, disk_disconnect, file_delete, disk_rescan


class Session:
    kind = "standalone"

    def __init__(self, host):
        self.owner, self.name = host, host.name
        self.facts = {"computer_name": host.name.upper(), "initiator_ports": [{"node_address": "iqn.1991-05.com.microsoft:%s" % host.name}]}


class San:
    def __init__(self):
        self.cloned, self.deleted = [], []

    def clone_lun(self, snapshot, lun, name):
        self.cloned.append((snapshot, lun, name))
        return LunRef(lun.cluster, lun.svm, lun.volume_name, lun.volume_uuid, "clone", "/vol/%s/%s" % (lun.volume_name, name),
                      "cloneSerial1", 1, "hyper_v")

    def ensure_igroup(self, cluster, svm, name, initiators):
        return IgroupRef(cluster, svm, name, "ig", "hyper_v", tuple(initiators))

    def map_lun(self, lun, igroup):
        return None

    def unmap_lun(self, lun, igroup):
        return True

    def delete_lun(self, lun, allow_mapped=False):
        self.deleted.append(lun.path)


class Storage:
    """cluster-b only (the primary's cluster is gone, or does not answer when `down`); its volume has `snapshots`."""

    def __init__(self, snapshots=(OLDER, BACKUP), down=False):
        self.snapshots, self.down, self.asked, self.restored = list(snapshots), down, [], []
        self.san = San()

    def find_luns_by_serials(self, serials):
        self.asked.append(sorted(serials))
        found = {s: MIRROR for s in serials if s == DR_SERIAL}
        missing = [s for s in serials if s not in found]
        if missing and self.down:
            raise SmhvError("STORAGE_UNREACHABLE", "ONTAP cluster cluster-a (10.0.0.1) cannot be reached: connection refused.",
                            {"serials_not_found": missing})
        return found

    def get_volumes(self, cluster, uuids):
        assert cluster == "cluster-b" and uuids == ["vol-b"]
        return [VolumeInfo("cluster-b", "svm_dr", "vol_hv03_dr", "vol-b", "rw", "online", len(self.snapshots), 2, 1)]

    def list_snapshots(self, volume, name_pattern=None):
        return [SnapshotInfo(volume.cluster, volume.svm, volume.name, volume.uuid, name) for name in self.snapshots
                if name_pattern in (None, name)]

    def restore_file(self, snapshot, path):
        self.restored.append((snapshot.volume_name, snapshot.name, path))


class Catalog(DurableCatalog):
    def __init__(self, *backups):
        super().__init__()
        self.backups = {b.name: b for b in backups} or {BACKUP: record()}

    def get_backup(self, dataset, name):
        return self.backups.get(name)

    def list_backups(self, vm_id=None, status=None):
        return [types.SimpleNamespace(name=name) for name in sorted(self.backups)]


def restore(host=None, storage=None, catalog=None, check_mode=True, **options):
    host, storage = host or DrHost(), storage or Storage()
    engine = RestoreEngine(Session(host), storage, catalog or Catalog(), clock=lambda: datetime.datetime(2026, 3, 15))
    options.setdefault("path_map", {"J:\\": "K:\\"})
    return engine.run(VM_ID, backup=BACKUP, check_mode=check_mode, verify_snapshot=False, **options), host, storage


def test_the_mirror_lun_behind_the_mapped_path_serves_the_backup():
    """The seed's DR restore: hvdr01 reads the restored SnapInfo, J:\\ -> K:\\, the destination LUN at K:\\."""
    result, host, storage = restore()
    (plan,) = result["luns"]
    assert plan["method"] == "file_copy" and plan["lun"] == "cluster-b:/vol/vol_hv03_dr/lun_j" and plan["serial"] == DR_SERIAL
    assert (plan["cluster"], plan["svm"], plan["volume"], plan["snapshot"]) == ("cluster-b", "svm_dr", "vol_hv03_dr", BACKUP)
    assert plan["recorded"] == {"cluster": "cluster-a", "svm": "svm_hv", "volume": "vol_hv03", "serial": PRIMARY_SERIAL}
    assert plan["destinations"] == [CONFIG.replace("J:", "K:"), VHD.replace("J:", "K:")] and plan["access_path"] == "K:\\"
    assert storage.asked == [[DR_SERIAL]]  # the recorded serial is never looked up
    assert [args["paths"] for op, args in host.calls if op == "path_info"] == [plan["destinations"]]  # on the target, mapped
    assert result["restore_warnings"] == [] and result["verify_snapshot"] is False
    assert any("verify_snapshot=false" in note and "vol_hv03_dr" in note and "vol_hv03:" not in note for note in result["notes"])
    assert any("clone of LUN cluster-b:/vol/vol_hv03_dr/lun_j in snapshot %s" % BACKUP in action for action in result["actions"])
    assert "lun_ref" not in plan and "snapshot_ref" not in plan and "source_root" not in plan


def test_the_copy_reads_each_file_where_the_mirror_holds_it():
    result, host, storage = restore(check_mode=False)
    ((snapshot, lun, clone_name),) = storage.san.cloned
    assert (snapshot.volume_name, snapshot.name, lun.path) == ("vol_hv03_dr", BACKUP, "/vol/vol_hv03_dr/lun_j")
    (copy,) = [args for op, args in host.calls if op == "file_copy"]
    mount = "C:\\SMHV\\Mounts\\%s\\" % clone_name
    assert copy["sources"] == [mount + CONFIG[3:], mount + VHD[3:]]
    assert copy["destinations"] == [CONFIG.replace("J:", "K:"), VHD.replace("J:", "K:")]
    assert storage.san.deleted == ["/vol/vol_hv03_dr/" + clone_name]  # the clone is gone
    assert result["vm"]["state"] == "Running" and result["luns"][0]["copied"] == copy["destinations"]


@pytest.mark.parametrize("root, path_map", [("J:\\", None), ("K:\\", {"J:\\": "K:\\"})], ids=["old-access-path", "path-map"])
def test_a_mirror_lun_holding_only_the_vm_is_restored_whole(root, path_map):
    """The destination LUN holds only this VM's files: single-file SnapRestore of it from the snapshot on its own volume,
    at the old access path (in place on hvdr01) or at the one path_map gives (the LUN is hvdr01's, the files keep their
    place in it)."""
    result, host, storage = restore(host=DrHost(root=root, neighbour=False), check_mode=False, path_map=path_map)
    assert [p["method"] for p in result["luns"]] == ["lun"] and result["alternate"] is bool(path_map)
    assert storage.restored == [("vol_hv03_dr", BACKUP, "/lun_j")] and storage.san.cloned == []
    ops = [(op, (args or {}).get("serial")) for op, args in host.calls]
    assert ops.index(("disk_disconnect", DR_SERIAL)) < ops.index(("disk_connect", DR_SERIAL)) < ops.index(("vm_import", None))
    assert [args["access_path"] for op, args in host.calls if op == "disk_connect"] == [root]


def test_a_backup_the_mirror_never_got_fails_before_anything_changes():
    catalog = Catalog(record(OLDER), record(BACKUP))
    with pytest.raises(SmhvError) as error:
        restore(storage=Storage(snapshots=(OLDER,)), catalog=catalog, check_mode=False)
    message = error.value.message
    assert error.value.code == "SNAPSHOT_NOT_FOUND" and "cluster-b:svm_dr:vol_hv03_dr" in message and BACKUP in message
    assert "Update the SnapMirror relationship" in message and "older backup" in message and OLDER in message
    assert error.value.details["backups_on_volume"] == [OLDER] and error.value.details["step"] == "plan"


def test_path_map_must_map_the_access_path_onto_the_mirror_luns():
    with pytest.raises(SmhvError) as error:
        restore(path_map={"J:\\": "K:\\restored\\"})
    assert error.value.code == "RESTORE_UNSUPPORTED" and "path_map must map the old access path to K:\\" in error.value.message


def test_a_path_on_no_lun_of_the_target_asks_to_connect_the_mirror():
    with pytest.raises(SmhvError) as error:
        restore(path_map={"J:\\": "M:\\"})
    assert error.value.code == "RESTORE_UNSUPPORTED" and "connect the SnapMirror destination LUN" in error.value.message


@pytest.mark.parametrize("down", [False, True], ids=["recorded-lun-gone", "primary-cluster-down"])
def test_verify_snapshot_true_suggests_false_when_the_mirror_has_the_snapshot(down):
    host, storage = DrHost(), Storage(down=down)
    engine = RestoreEngine(Session(host), storage, Catalog())
    with pytest.raises(SmhvError) as error:
        engine.run(VM_ID, backup=BACKUP, check_mode=True, path_map={"J:\\": "K:\\"})
    assert error.value.code == "LUN_NOT_FOUND" and PRIMARY_SERIAL in error.value.message
    assert "cluster-b:/vol/vol_hv03_dr/lun_j" in error.value.message and "restore with verify_snapshot=false" in error.value.message
    assert error.value.details["suggest"] == {"verify_snapshot": False, "lun": "cluster-b:/vol/vol_hv03_dr/lun_j"}
    assert ("connection refused" in error.value.message) is down


def test_verify_snapshot_true_without_the_snapshot_on_the_mirror_says_how_to_get_there():
    engine = RestoreEngine(Session(DrHost()), Storage(snapshots=()), Catalog())
    with pytest.raises(SmhvError) as error:
        engine.run(VM_ID, backup=BACKUP, check_mode=True, path_map={"J:\\": "K:\\"})
    assert error.value.code == "LUN_NOT_FOUND" and "suggest" not in error.value.details
    assert "connect the destination LUNs to host hvdr01" in error.value.message


def test_verify_snapshot_true_with_the_recorded_lun_still_there_but_not_on_the_host_suggests_false():
    """Site A's cluster still answers (a planned failover): its LUN exists, but hvdr01 has no J:\\."""
    storage = Storage()
    storage.find_luns_by_serials = lambda serials: {s: PRIMARY if s == PRIMARY_SERIAL else MIRROR for s in serials}
    engine = RestoreEngine(Session(DrHost()), storage, Catalog())
    with pytest.raises(SmhvError) as error:
        engine.run(VM_ID, backup=BACKUP, check_mode=True, path_map={"J:\\": "K:\\"})
    assert error.value.code == "RESTORE_UNSUPPORTED" and "no volume of host hvdr01 holds its path" in error.value.message
    assert error.value.details["suggest"]["verify_snapshot"] is False and "verify_snapshot=false" in error.value.message


def test_another_lun_of_the_recorded_volume_is_not_a_mirror():
    """verify_snapshot=false on the primary after a drive moved to a new LUN of the same volume: the snapshot does not
    hold that LUN, so the restore is refused before anything changes (verify_snapshot=true copies from the old LUN)."""
    storage = Storage()
    moved = LunRef("cluster-a", "svm_hv", "vol_hv03", "vol-a", "lun-new", "/vol/vol_hv03/lun_j2", DR_SERIAL, 1, "hyper_v")
    storage.find_luns_by_serials = lambda serials: {DR_SERIAL: moved}
    with pytest.raises(SmhvError) as error:
        restore(storage=storage)
    assert error.value.code == "RESTORE_UNSUPPORTED" and "another LUN of volume vol_hv03" in error.value.message
    assert "verify_snapshot=true" in error.value.message
