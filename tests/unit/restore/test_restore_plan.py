"""RestoreEngine's plan and SMHV's restore warnings against hand-made hosts and storage (no network): which
warning each change raises, which LUNs are restored whole or by file copy, and that a refused restore sends no
op that changes the host."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupFile, BackupRecord, BackupVm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import LunRef, SnapshotInfo, VolumeInfo
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply
from unit.restore.fakes import DurableCatalog

VM_ID = "6f1c5e7a-2b1d-4c3e-9f7a-0d1e2f3a4b5c"
BACKUP = "guarded_03-14-2026_09.00.00"
SERIAL, NEW_SERIAL = "wCk3F+Yq9xAb", "wCk3F+Yq9xZZ"
CONFIG = "K:\\vm1\\Virtual Machines\\%s.vmcx" % VM_ID.upper()
VHD = "K:\\vm1\\Virtual Hard Disks\\vm1.vhdx"
READ_ONLY = {"vm_inventory", "path_info", "file_list", "host_facts", "file_read"}


def record(snapshot_location="K:\\vm1"):
    files = tuple(BackupFile(path, kind, SERIAL, "cluster-a", "svm_hv", "vol_hv03", (BACKUP,))
                  for path, kind in ((CONFIG, "config"), (VHD, "vhd")))
    vm = BackupVm(VM_ID, "vm1", "hv03", "online", files=files, snapshot_location=snapshot_location)
    return BackupRecord(BACKUP, "guarded", None, "manual", "application", "checkpoint",
                        datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.timezone.utc), "hv03", "ok", vms=(vm,))


def storage(serial=SERIAL, root="K:\\"):
    return {"access_path": root, "volume_id": None, "disk_number": 2, "disk_serial": serial, "netapp_lun": True,
            "partition_style": "GPT", "is_csv": False, "csv_name": None, "is_smb": False, "free_bytes": 1, "size_bytes": 2}


class Host:
    def __init__(self, vm, serial=SERIAL, listing=None, gone=()):
        self.name, self.vm, self.serial, self.calls = "hv03", vm, serial, []
        self.listing = listing if listing is not None else [CONFIG, VHD]
        self.gone = gone  # paths on no volume of the host now

    def call(self, op, args=None):
        self.calls.append(op)
        if op == "vm_inventory":
            return AgentReply({"vms": [self.vm] if self.vm else [], "missing": {"names": [], "ids": []}})
        if op == "path_info":
            return AgentReply({"paths": [{"path": p, "exists": p not in self.gone, "is_directory": False,
                                          "storage": dict(storage(None), access_path=None) if p in self.gone else storage(self.serial)}
                                         for p in args["paths"]]})
        if op == "file_list":  # K:\\ holds the folder vm1 and NTFS's own, which only SYSTEM may list
            if args["path"] == "K:\\" and not args.get("recurse"):
                entries = [{"path": "K:\\" + name, "name": name, "is_directory": True, "size": None}
                           for name in ("System Volume Information", "vm1")]
            elif args["path"] == "K:\\vm1" and args.get("recurse"):
                entries = [{"path": p, "name": p.rsplit("\\", 1)[1], "is_directory": False, "size": 1} for p in self.listing]
            else:
                raise SmhvError("AGENT_ERROR", "Access to the path '%s' is denied." % args["path"], {})
            return AgentReply({"path": args["path"], "exists": True, "format": "entries", "names": None, "entries": entries})
        raise AssertionError("a refused or planned restore must not call %s" % op)


class Session:
    kind, name = "standalone", "hv03"

    def __init__(self, host):
        self.owner, self.facts = host, {"initiator_ports": [{"node_address": "iqn.1991-05.com.microsoft:hv03"}]}


class Storage:
    def find_luns_by_serials(self, serials):
        return {s: LunRef("cluster-a", "svm_hv", "vol_hv03", "u1", "u2", "/vol/vol_hv03/lun_k", s, 1, "hyper_v") for s in serials}

    def get_volumes(self, cluster, uuids):
        return [VolumeInfo(cluster, "svm_hv", "vol_hv03", uuid, "rw", "online", 1, 2, 1) for uuid in uuids]

    def list_snapshots(self, volume, name_pattern=None):
        return [SnapshotInfo(volume.cluster, volume.svm, volume.name, volume.uuid, BACKUP)]


class Catalog(DurableCatalog):
    def __init__(self, backup):
        super().__init__()
        self.backup = backup

    def get_backup(self, dataset, name):
        return self.backup if name == self.backup.name else None


def current(state="Running", disks=(VHD,), config=CONFIG, snapshots="K:\\vm1", serial=SERIAL):
    files = [{"path": config, "kind": "config", "storage": storage(serial)}]
    files += [{"path": path, "kind": "vhd", "storage": storage(serial)} for path in disks]
    return {"id": VM_ID, "name": "vm1", "state": state, "config_path": config, "snapshot_location": snapshots,
            "clustered": False, "cluster_group": None, "files": files}


def plan(vm, backup=None, check_mode=True, **host_options):
    host = Host(vm, **host_options)
    engine = RestoreEngine(Session(host), Storage(), Catalog(backup or record()))
    return engine.run(VM_ID, backup=BACKUP, check_mode=check_mode)


def test_nothing_changed_no_warning_and_the_lun_goes_back_whole():
    result = plan(current())
    assert result["restore_warnings"] == [] and [p["method"] for p in result["luns"]] == ["lun"]


def test_checkpoint_file_location_changed():
    result = plan(current(snapshots="L:\\Checkpoints"))
    (warning,) = result["restore_warnings"]
    assert "checkpoint (snapshot) file location" in warning and "L:\\Checkpoints" in warning and "was K:\\vm1" in warning
    assert BACKUP in warning and "vm1" in warning


def test_a_record_from_before_the_location_was_kept_is_not_checked():
    result = plan(current(snapshots="L:\\Checkpoints"), backup=record(snapshot_location=""))
    assert result["restore_warnings"] == []


def test_a_disk_attached_since_keeps_its_file_so_the_lun_is_copied():
    extra = "K:\\vm1\\Virtual Hard Disks\\new.vhdx"
    result = plan(current(disks=(VHD, extra)), listing=[CONFIG, VHD, extra])
    (warning,) = result["restore_warnings"]
    assert "more virtual disks (2)" in warning and "(1)" in warning and "new.vhdx" in warning
    assert [p["method"] for p in result["luns"]] == ["file_copy"]


def test_fewer_disks_and_renamed_disks():
    result = plan(current(disks=()))
    assert "fewer virtual disks (0)" in result["restore_warnings"][0] and "vm1.vhdx" in result["restore_warnings"][0]
    renamed = "K:\\vm1\\Virtual Hard Disks\\renamed.vhdx"
    result = plan(current(disks=(renamed,)), listing=[CONFIG, renamed])
    assert "names or paths" in result["restore_warnings"][0] and "renamed.vhdx now" in result["restore_warnings"][0]


def test_configuration_location_changed():
    moved = "K:\\moved\\Virtual Machines\\%s.vmcx" % VM_ID.upper()
    result = plan(current(config=moved), listing=[CONFIG, VHD, moved])
    assert "configuration location" in result["restore_warnings"][0] and moved in result["restore_warnings"][0]


def test_files_on_another_lun_are_a_warning_and_copied_from_a_clone_of_the_old_one():
    result = plan(current(serial=NEW_SERIAL), serial=NEW_SERIAL)
    (warning,) = result["restore_warnings"]
    assert "another LUN" in warning and SERIAL in warning and NEW_SERIAL in warning and BACKUP in warning
    assert [(p["method"], p["now_on"]) for p in result["luns"]] == [("file_copy", [NEW_SERIAL])]
    deleted = plan(None, serial=NEW_SERIAL)  # a deleted VM too
    assert deleted["force_required"] and "another LUN" in deleted["restore_warnings"][0]


def test_a_path_no_volume_holds_is_unsupported():
    with pytest.raises(SmhvError) as error:
        plan(current(), gone=(VHD, CONFIG))
    assert error.value.code == "RESTORE_UNSUPPORTED" and "connect that LUN" in error.value.message


def test_a_refused_restore_sends_nothing_that_changes_the_host():
    with pytest.raises(SmhvError) as error:
        plan(current(state="Off"), check_mode=False)
    assert error.value.code == "RESTORE_NEEDS_FORCE"
    assert "vm1" in error.value.message and BACKUP in error.value.message and "force=true" in error.value.message


def test_to_an_alternate_host_a_moved_source_lun_needs_no_force():
    source, target = Host(current(serial=NEW_SERIAL), serial=NEW_SERIAL), Host(None)
    target.name = "hvdr01"
    engine = RestoreEngine(Session(source), Storage(), Catalog(record()), target=Session(target))
    result = engine.run(VM_ID, backup=BACKUP, check_mode=True, path_map={"K:\\": "M:\\"})
    assert result["restore_warnings"] == [] and result["alternate"] and result["target_host"] == "hvdr01"
    assert [(p["method"], p["destinations"]) for p in result["luns"]] == [("file_copy", [CONFIG.replace("K:", "M:"), VHD.replace("K:", "M:")])]


def test_a_snapshot_gone_from_the_volume_fails_before_anything_changes():
    """The snapshot is looked for while planning: found missing only at the restore step, it used to fail after the VM was
    stopped and removed (the fake host refuses any op that changes it)."""
    class Gone(Storage):
        def list_snapshots(self, volume, name_pattern=None):
            return []

    engine = RestoreEngine(Session(Host(current())), Gone(), Catalog(record()))
    with pytest.raises(SmhvError) as error:
        engine.run(VM_ID, backup=BACKUP)
    assert error.value.code == "SNAPSHOT_NOT_FOUND" and error.value.details["step"] == "plan" and "vol_hv03" in error.value.message
