"""MountEngine's unmount against hand-made fakes (no network): the clones go, then one file_delete of the LUNs'
folders and the backup's folder, which stays (without an error) while another LUN of the backup is mounted in it."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupFile, BackupRecord, BackupVm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.run import MountEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import LunRef
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply
from unit.restore.fakes import DurableCatalog

BACKUP = "browse_03-14-2026_09.00.00"
BACKUP_FOLDER = "C:\\SMHV\\Mounts\\" + BACKUP
LUN_FOLDER = BACKUP_FOLDER + "\\lun_j"


def lun(path, serial):
    return LunRef("cluster-a", "svm_hv", "vol_hv03", "u1", "u2", path, serial, 1, "hyper_v")


class Host:
    name = "hv03"

    def __init__(self, delete_error=None):
        self.calls, self.delete_error = [], delete_error

    def call(self, op, args=None):
        self.calls.append((op, args))
        if op == "file_delete" and self.delete_error:
            raise SmhvError("DIRECTORY_NOT_EMPTY", "Directory '%s' is not empty" % self.delete_error, {"path": self.delete_error})
        return AgentReply({}, changed=True)


class San:
    def __init__(self):
        self.deleted = []

    def find_lun(self, cluster, svm, path):
        return lun(path, "clone1")

    def delete_lun(self, clone, allow_mapped=False):
        self.deleted.append(clone.path)


class Storage:
    def __init__(self):
        self.san = San()
        self.catalog = Catalog()  # the scope's catalog, kept across runs

    def find_luns_by_serials(self, serials):
        return {s: lun("/vol/vol_hv03/lun_j", s) for s in serials}


class Catalog(DurableCatalog):
    def get_backup(self, dataset, name):
        files = (BackupFile("J:\\vm1\\Virtual Hard Disks\\vm1.vhdx", "vhd", "src1", "cluster-a", "svm_hv", "vol_hv03", (BACKUP,)),)
        return BackupRecord(BACKUP, "browse", None, "manual", "application", "checkpoint",
                            datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.timezone.utc), "hv03", "ok",
                            vms=(BackupVm("id1", "vm1", "hv03", "online", files=files),))


class Session:
    name = "hv03"

    def __init__(self, host):
        self.owner, self.facts = host, {"computer_name": "HV03", "initiator_ports": []}


def unmount(host):
    storage = Storage()
    engine = MountEngine(Session(host), storage, storage.catalog)
    return engine.run(BACKUP, state="unmounted"), engine.storage.san.deleted


def test_unmount_deletes_the_folders_in_one_call_without_recursing():
    host = Host()
    result, deleted = unmount(host)
    assert result["changed"] and deleted == ["/vol/vol_hv03/smhv_mount_lun_j_" + BACKUP.replace("-", "_").replace(".", "_")]
    assert [call[0] for call in host.calls] == ["disk_disconnect", "disk_rescan", "file_delete"]
    assert host.calls[-1][1] == {"paths": [LUN_FOLDER, BACKUP_FOLDER]}
    assert [step["step"] for step in result["timings"]["steps"]] == ["plan", "unmount"]


def test_the_backup_folder_stays_while_another_lun_is_mounted_in_it():
    assert unmount(Host(delete_error=BACKUP_FOLDER))[0]["changed"]


def test_a_lun_folder_that_is_not_empty_is_an_error():
    with pytest.raises(SmhvError) as error:
        unmount(Host(delete_error=LUN_FOLDER))
    assert error.value.code == "DIRECTORY_NOT_EMPTY"
