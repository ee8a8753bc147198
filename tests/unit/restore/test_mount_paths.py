"""MountEngine against hand-made fakes (no network): where each backed-up file is in the mount, for the three kinds of
volume root a LUN can have at backup (a drive letter, a cluster shared volume, a volume mounted in a folder of another
volume), at folders and at drive letters; the fallback that finds the root in the clone when the LUN is not at its path
on the host any more; the drive_letters option; and the igroup (the host's, as a restore's)."""
from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupFile, BackupRecord, BackupVm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.plan import ancestors, mounted_path
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.run import MountEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import LunRef
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply
from unit.restore.fakes import DurableCatalog

BACKUP = "browse_03-14-2026_09.00.00"
MOUNTS = "C:\\SMHV\\Mounts\\" + BACKUP + "\\"
# serial -> (LUN name, volume root at backup, the VM files on it)
LUNS = {
    "serJ": ("lun_j", "J:\\", ["J:\\vm1\\Virtual Hard Disks\\vm1.vhdx", "J:\\vm1\\Virtual Machines\\A.vmcx"]),
    "serC": ("lun_csv", "C:\\ClusterStorage\\Volume1\\", ["C:\\ClusterStorage\\Volume1\\vm2\\vm2.vhdx"]),
    # a volume mounted in a folder of J: - J:\\'s own LUN does not hold these files
    "serM": ("lun_m", "J:\\Mounts\\data\\", ["J:\\Mounts\\data\\vm3\\Virtual Hard Disks\\vm3.vhdx"]),
}


@pytest.mark.parametrize("path, root, access, expected", [
    ("J:\\vm1\\a.vhdx", "J:\\", "E:\\", "E:\\vm1\\a.vhdx"),
    ("J:\\vm1\\a.vhdx", "j:", MOUNTS + "lun_j\\", MOUNTS + "lun_j\\vm1\\a.vhdx"),
    ("C:\\ClusterStorage\\Volume1\\vm2\\b.vhdx", "C:\\ClusterStorage\\Volume1\\", "F:\\", "F:\\vm2\\b.vhdx"),
    ("C:\\ClusterStorage\\volume1\\vm2\\b.vhdx", "C:\\ClusterStorage\\Volume1\\", MOUNTS + "lun_csv", MOUNTS + "lun_csv\\vm2\\b.vhdx"),
    ("J:\\Mounts\\data\\vm3\\c.vhdx", "J:\\Mounts\\data\\", "G:\\", "G:\\vm3\\c.vhdx"),
    ("J:\\vm1\\a.vhdx", "K:\\", "E:\\", None),
    ("J:\\vm1\\a.vhdx", None, "E:\\", None),
    ("J:\\vm1\\a.vhdx", "J:\\", None, None),
])
def test_mounted_path_keeps_the_path_below_the_volume_root(path, root, access, expected):
    assert mounted_path(path, root, access) == expected


def test_ancestors_are_shallowest_first():
    assert ancestors("C:\\ClusterStorage\\Volume1\\a.vhdx") == ["C:\\", "C:\\ClusterStorage\\", "C:\\ClusterStorage\\Volume1\\"]


def lun(path, serial):
    return LunRef("cluster-a", "svm_hv", "vol_hv", "u1", "u2", path, serial, 1, "hyper_v")


def storage_record(root, serial):
    return {"access_path": root, "volume_id": None, "disk_number": 3 if serial else None, "disk_serial": serial,
            "netapp_lun": bool(serial), "partition_style": "GPT", "is_csv": False, "csv_name": None, "is_smb": False,
            "free_bytes": None, "size_bytes": None}


class Host:
    """The owner node hv01, reached by the cluster's name. `now`: path -> (access path, disk serial) of the volume holding it now (path_info);
    `clone_files`: paths that exist on the connected clones; `letters`: what -AssignDriveLetter gives, in order."""

    name = "hvclus01"

    def __init__(self, now, clone_files=(), letters=("E:\\", "F:\\", "G:\\"), connect_error=None):
        self.now, self.clone_files, self.letters, self.connect_error = now, set(clone_files), list(letters), connect_error
        self.calls, self.connected = [], {}

    def call(self, op, args=None):
        self.calls.append((op, args))
        if op == "path_info":
            paths = []
            for path in args["paths"]:
                root, serial = self.now.get(path, (None, None))
                on_clone = next((s for s, a in self.connected.items() if path.lower().startswith(a.lower())), None)
                if on_clone:
                    root, serial = self.connected[on_clone], on_clone
                exists = path in self.clone_files if on_clone else path in self.now
                paths.append({"path": path, "exists": exists, "is_directory": False, "storage": storage_record(root, serial)})
            return AgentReply({"paths": paths})
        if op == "disk_connect":
            if self.connect_error:
                raise SmhvError(self.connect_error, "Drive letter X: belongs to another volume on host HV01", {"drive_letter": "X"})
            access = args.get("access_path") or self.connected.get(args["serial"]) or self.letters.pop(0)
            changed = self.connected.get(args["serial"]) != access
            self.connected[args["serial"]] = access
            return AgentReply({"disk": {"access_paths": [access]}, "resignatured": False}, changed=changed)
        if op == "disk_disconnect":
            access = self.connected.pop(args["serial"], None)
            return AgentReply({"serial": args["serial"], "found": True, "was_online": bool(access),
                               "removed_access_paths": [access] if access else []}, changed=bool(access))
        return AgentReply({}, changed=True)


class San:
    def __init__(self):
        self.clones, self.deleted, self.igroups, self.maps = {}, [], [], set()

    def find_lun(self, cluster, svm, path):
        return self.clones.get(path)

    def clone_lun(self, snapshot, source, name):
        clone = lun("/vol/vol_hv/" + name, "clone_" + source.serial)
        self.clones[clone.path] = clone
        return clone

    def ensure_igroup(self, cluster, svm, name, initiators):
        self.igroups.append(name)
        return name

    def map_lun(self, clone, igroup):
        created = (clone.path, igroup) not in self.maps
        self.maps.add((clone.path, igroup))
        return SimpleNamespace(created=created)

    def delete_lun(self, clone, allow_mapped=False):
        self.deleted.append(clone.path)
        self.clones.pop(clone.path, None)


class Storage:
    def __init__(self):
        self.san = San()
        self.catalog = Catalog()  # the scope's catalog, kept across runs

    def find_luns_by_serials(self, serials):
        return {s: lun("/vol/vol_hv/" + LUNS[s][0], s) for s in serials}

    def get_volume(self, cluster, svm, name):
        return SimpleNamespace(name=name)

    def list_snapshots(self, volume):
        return [SimpleNamespace(name=BACKUP)]


class Catalog(DurableCatalog):
    def get_backup(self, dataset, name):
        vms = []
        for number, (serial, (_name, _root, paths)) in enumerate(sorted(LUNS.items())):
            files = tuple(BackupFile(path, "vhd", serial, "cluster-a", "svm_hv", "vol_hv", (BACKUP,)) for path in paths)
            vms.append(BackupVm("id%d" % number, "vm%d" % number, "hv01", "online", files=files))
        return BackupRecord(BACKUP, "browse", None, "manual", "application", "checkpoint",
                            datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.timezone.utc), "hvclus01", "ok", vms=tuple(vms))


class Session:
    name = "hvclus01"  # the scope; the clones go to its owner node hv01

    def __init__(self, host):
        self.owner, self.facts = host, {"computer_name": "HV01", "initiator_ports": [{"node_address": "iqn.1991-05.com.microsoft:hv01"}]}


def where_now():
    """Every backed-up file at its path, on its own LUN, at the root it had at backup (the usual case)."""
    return {path: (root, serial) for serial, (_name, root, paths) in LUNS.items() for path in paths}


def relative(path):
    root = next(r for _n, r, paths in LUNS.values() if path in paths)
    return path[len(root):]


def mount(host, storage=None, **options):
    storage = storage or Storage()
    engine = MountEngine(Session(host), storage, storage.catalog)
    return engine.run(BACKUP, **options), engine


def mount_result(host, storage=None, **options):
    return mount(host, storage, **options)[0]


def files_of(result):
    return {f["backed_up"]: f["mounted"] for m in result["mounts"] for f in m["files"]}


def test_folders_each_file_below_its_volume_root_for_a_drive_a_csv_and_a_folder_mounted_volume():
    host = Host(where_now())
    result, engine = mount(host)
    assert [m["lun"].rsplit("/", 1)[1] for m in result["mounts"]] == ["lun_csv", "lun_j", "lun_m"]  # by LUN path
    for m in result["mounts"]:
        assert m["access_path"] == MOUNTS + m["lun"].rsplit("/", 1)[1] + "\\"
        for f in m["files"]:
            assert f["mounted"] == m["access_path"] + relative(f["backed_up"])
    assert files_of(result)["J:\\Mounts\\data\\vm3\\Virtual Hard Disks\\vm3.vhdx"] == MOUNTS + "lun_m\\vm3\\Virtual Hard Disks\\vm3.vhdx"
    assert files_of(result)["C:\\ClusterStorage\\Volume1\\vm2\\vm2.vhdx"] == MOUNTS + "lun_csv\\vm2\\vm2.vhdx"
    assert [op for op, _args in host.calls].count("path_info") == 1  # the roots came from the host, no clone search
    # the node's igroup, by its computer name: not the scope's (smhv_hvclus01), nor the name it was reached by
    assert set(engine.storage.san.igroups) == {"smhv_hv01"} and result["host"] == "hv01"


def test_check_mode_says_where_the_files_would_be_and_changes_nothing():
    host = Host(where_now())
    result, engine = mount(host, check_mode=True)
    assert result["changed"] and all(m["clone_serial"] is None for m in result["mounts"])
    assert files_of(result)["J:\\vm1\\Virtual Machines\\A.vmcx"] == MOUNTS + "lun_j\\vm1\\Virtual Machines\\A.vmcx"
    assert [op for op, _args in host.calls] == ["path_info"] and not engine.storage.san.clones


def test_free_drive_letters_and_a_second_run_returns_the_same_paths():
    host = Host(where_now())
    storage = Storage()
    first = mount_result(host, storage, access="drive_letter")
    assert [m["access_path"] for m in first["mounts"]] == ["E:\\", "F:\\", "G:\\"]
    assert all(args.get("assign_drive_letter") and "access_path" not in args for op, args in host.calls if op == "disk_connect")
    assert files_of(first)["C:\\ClusterStorage\\Volume1\\vm2\\vm2.vhdx"] == "E:\\vm2\\vm2.vhdx"
    assert files_of(first)["J:\\vm1\\Virtual Hard Disks\\vm1.vhdx"] == "F:\\vm1\\Virtual Hard Disks\\vm1.vhdx"
    assert files_of(first)["J:\\Mounts\\data\\vm3\\Virtual Hard Disks\\vm3.vhdx"] == "G:\\vm3\\Virtual Hard Disks\\vm3.vhdx"
    again = mount_result(host, storage, access="drive_letter")
    assert not again["changed"] and again["mounts"] == first["mounts"]


def test_drive_letters_asked_for_one_per_lun_in_the_order_of_the_mounts():
    host = Host(where_now())
    result = mount_result(host, access="drive_letter", drive_letters=["x", "Y:", "Z:\\"])
    assert [m["access_path"] for m in result["mounts"]] == ["X:\\", "Y:\\", "Z:\\"]
    assert [args["access_path"] for op, args in host.calls if op == "disk_connect"] == ["X:\\", "Y:\\", "Z:\\"]
    assert files_of(result)["J:\\vm1\\Virtual Hard Disks\\vm1.vhdx"] == "Y:\\vm1\\Virtual Hard Disks\\vm1.vhdx"


@pytest.mark.parametrize("options, words", [
    ({"access": "drive_letter", "drive_letters": ["X"]}, "1 letter(s) for the 3 LUN(s)"),
    ({"access": "drive_letter", "drive_letters": ["X", "x:", "Y"]}, "X more than once"),
    ({"access": "drive_letter", "drive_letters": ["X", "YY", "Z"]}, "'YY' is not a drive letter"),
    ({"drive_letters": ["X", "Y", "Z"]}, "needs access=drive_letter"),
    ({"access": "letter"}, "access must be"),
])
def test_wrong_drive_letter_options_fail_before_anything_is_made(options, words):
    host = Host(where_now())
    storage = Storage()
    with pytest.raises(SmhvError) as error:
        mount(host, storage, **options)
    assert error.value.code == "INVALID_ARGUMENT" and words in error.value.message
    assert not storage.san.clones and "disk_connect" not in [op for op, _args in host.calls]


def test_a_letter_in_use_deletes_the_clone_this_run_made():
    host = Host(where_now(), connect_error="DRIVE_LETTER_IN_USE")
    storage = Storage()
    with pytest.raises(SmhvError) as error:
        mount(host, storage, vm="vm1", access="drive_letter", drive_letters=["X"])
    assert error.value.code == "DRIVE_LETTER_IN_USE"
    assert not storage.san.clones and len(storage.san.deleted) == 1


def test_a_lun_not_at_its_path_any_more_is_found_in_the_clone():
    """J:'s LUN was replaced since the backup (the drive letter kept, another serial): path_info of the backed-up paths
    cannot tell the old root, so the clone is searched: the shallowest folder whose rest is on it."""
    now = where_now()
    for path in LUNS["serJ"][2]:
        now[path] = ("J:\\", "serNEW")
    clone_files = [MOUNTS + "lun_j\\" + relative(path) for path in LUNS["serJ"][2]]
    host = Host(now, clone_files=clone_files)
    result = mount_result(host, vm="vm1")
    assert [op for op, _args in host.calls].count("path_info") == 2
    assert files_of(result) == {path: MOUNTS + "lun_j\\" + relative(path) for path in LUNS["serJ"][2]}
    searched = [args["paths"] for op, args in host.calls if op == "path_info"][1]
    assert MOUNTS + "lun_j\\J:\\vm1\\Virtual Hard Disks\\vm1.vhdx" not in searched  # the drive itself is never a folder in it
    assert MOUNTS + "lun_j\\vm1\\Virtual Hard Disks\\vm1.vhdx" in searched
    assert "warnings" not in result


def test_files_the_clone_does_not_show_are_named_in_a_warning():
    now = where_now()
    for path in LUNS["serJ"][2]:
        now[path] = (None, None)
    result = mount_result(Host(now), vm="vm1")
    assert all(mounted is None for mounted in files_of(result).values())
    assert "does not show" in result["warnings"][0] and "vm1.vhdx" in result["warnings"][0]


def test_unmount_of_a_drive_letter_mount_removes_the_letter_and_no_folder_of_it():
    host = Host(where_now())
    storage = Storage()
    mount(host, storage, vm="vm1", access="drive_letter")
    result = mount_result(host, storage, vm="vm1", state="unmounted")
    assert result["changed"] and result["mounts"][0]["access_path"] == "E:\\"
    assert result["mounts"][0]["files"][0]["mounted"] is None
    assert host.calls[-1] == ("file_delete", {"paths": [MOUNTS + "lun_j", MOUNTS.rstrip("\\")]})
    assert not storage.san.clones and not host.connected
