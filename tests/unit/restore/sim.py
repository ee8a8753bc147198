"""A small stateful Hyper-V host and ONTAP for the restore and mount undo tests (no network): VMs that can be stopped,
removed (their configuration deleted) and imported, files, disks that go offline and online, LUN clones and maps, and
faults: an SmhvError at the Nth call of an op, or a Killed (the process dies there)."""
from __future__ import annotations

import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupFile, BackupRecord, BackupVm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import IgroupRef, LunMapping, LunRef, SnapshotInfo, VolumeInfo
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply
from unit.restore.fakes import DurableCatalog

VM_ID = "6f1c5e7a-2b1d-4c3e-9f7a-0d1e2f3a4b5c"
OTHER_ID = "11111111-2222-4333-8444-555566667777"
BACKUP = "guarded_03-14-2026_09.00.00"
SERIAL = "wCk3F+Yq9xAb"


class Killed(BaseException):
    """The module process dies here (SIGKILL): nothing after it runs, no except SmhvError catches it."""


def paths(root):
    return {"config": root + "vm1\\Virtual Machines\\%s.vmcx" % VM_ID.upper(), "vhd": root + "vm1\\Virtual Hard Disks\\vm1.vhdx"}


def record(root="K:\\"):
    files = tuple(BackupFile(path, kind, SERIAL, "cluster-a", "svm_hv", "vol_hv03", (BACKUP,)) for kind, path in paths(root).items())
    vm = BackupVm(VM_ID, "vm1", "hv03", "online", files=files, snapshot_location=root + "vm1")
    return BackupRecord(BACKUP, "guarded", None, "manual", "application", "crash",
                        datetime.datetime(2026, 3, 14, 9, tzinfo=datetime.timezone.utc), "hv03", "ok", vms=(vm,))


class Faults:
    def __init__(self):
        self.rules = {}  # op -> [nth, error or Killed]
        self.seen = {}

    def fail(self, op, nth=1, kill=False):
        self.rules[op] = [nth, kill]

    def check(self, op):
        self.seen[op] = self.seen.get(op, 0) + 1
        rule = self.rules.get(op)
        if rule and self.seen[op] == rule[0]:
            del self.rules[op]
            if rule[1]:
                raise Killed(op)
            raise SmhvError("AGENT_ERROR", "Injected failure of %s." % op, {"op": op})


class Host:
    """hv03 with vm1 on the LUN at `root` (alone on it, or beside vm2's disk when `neighbour`)."""

    def __init__(self, faults, root="K:\\", neighbour=False, state="Running"):
        self.name, self.faults, self.root, self.calls = "hv03", faults, root, []
        self.files = {p: "then" for p in paths(root).values()}
        if neighbour:
            self.files[root + "vm2\\vm2.vhdx"] = "other"
        self.vms = {VM_ID: {"name": "vm1", "state": state, "config": paths(root)["config"]}}
        self.disks = {SERIAL: {"online": True, "access_path": root}}

    def _vm(self, vm_id):
        vm = self.vms[vm_id]
        config = vm["config"]
        files = [{"path": config, "kind": "config", "storage": self._storage(config)},
                 {"path": paths(self.root)["vhd"], "kind": "vhd", "storage": self._storage(paths(self.root)["vhd"])}]
        return {"id": vm_id, "name": vm["name"], "state": vm["state"], "config_path": config, "snapshot_location": self.root + "vm1",
                "clustered": False, "cluster_group": None, "files": files}

    def _storage(self, path):
        serial = next((s for s, d in self.disks.items() if d["online"] and d["access_path"] and path.startswith(d["access_path"])), None)
        return {"access_path": self.disks[serial]["access_path"] if serial else None, "disk_serial": serial, "netapp_lun": bool(serial),
                "is_csv": False, "volume_id": None, "disk_number": 2, "partition_style": "GPT", "csv_name": None, "is_smb": False,
                "free_bytes": 1, "size_bytes": 2}

    def call(self, op, args=None):
        self.calls.append(op)
        self.faults.check(op)
        return getattr(self, "op_" + op)(args or {})

    def op_vm_inventory(self, args):
        ids = [i.lower() for i in args.get("ids", [])]
        names = [n.lower() for n in args.get("names", [])]
        found = [self._vm(i) for i, vm in sorted(self.vms.items()) if i in ids or vm["name"].lower() in names]
        return AgentReply({"vms": found, "missing": {"names": [], "ids": []}})

    def op_path_info(self, args):
        return AgentReply({"paths": [{"path": p, "exists": p in self.files, "is_directory": False, "storage": self._storage(p)}
                                     for p in args["paths"]]})

    def op_file_list(self, args):
        root = args["path"].rstrip("\\") + "\\"
        below = sorted(p for p in self.files if p.lower().startswith(root.lower()))
        if not args.get("recurse"):
            names = sorted(set(p[len(root):].split("\\")[0] for p in below))
            entries = [{"path": root + n, "name": n, "is_directory": root + n not in self.files, "size": 1} for n in names]
        else:
            entries = [{"path": p, "name": p.rsplit("\\", 1)[1], "is_directory": False, "size": 1} for p in below]
        return AgentReply({"path": args["path"], "exists": True, "format": "entries", "names": None, "entries": entries})

    def op_vm_stop(self, args):
        for vm_id in args["ids"]:
            self.vms[vm_id]["state"] = "Off"
        return AgentReply({"vms": [], "missing": []})

    def op_vm_start(self, args):
        for vm_id in args["ids"]:
            self.vms[vm_id]["state"] = "Running"
        return AgentReply({"vms": [{"vm_id": i, "name": self.vms[i]["name"], "state": "Running"} for i in args["ids"]], "missing": []})

    def op_vm_remove(self, args):
        for vm_id in args["ids"]:
            assert self.vms[vm_id]["state"] == "Off"
            self.files.pop(self.vms.pop(vm_id)["config"], None)
        return AgentReply({"removed": args["ids"], "missing": []})

    def op_vm_import(self, args):
        vm_id = args["path"].rsplit("\\", 1)[1].rsplit(".", 1)[0].lower()
        if args["path"] not in self.files:
            raise SmhvError("FILE_NOT_FOUND", "File '%s' does not exist." % args["path"], {"path": args["path"]})
        assert vm_id not in self.vms
        self.vms[vm_id] = {"name": "vm1", "state": "Off", "config": args["path"], "content": self.files[args["path"]]}
        return AgentReply({"vm_id": vm_id, "name": "vm1", "state": "Off", "checkpoint_discarded": False})

    def op_file_copy(self, args):
        for source, destination in zip(args["sources"], args["destinations"]):
            self.files[destination] = self.files[source]
        return AgentReply({"copied": [{"source": s, "destination": d, "size": 1} for s, d in zip(args["sources"], args["destinations"])]})

    def op_file_delete(self, args):
        for path in args["paths"]:
            self.files.pop(path, None)
        return AgentReply({"deleted": args["paths"]})

    def op_disk_disconnect(self, args):
        disk = self.disks.get(args["serial"])
        removed = [disk["access_path"]] if disk and disk["online"] and disk["access_path"] else []
        if disk:
            disk.update(online=False, access_path=None)
        return AgentReply({"serial": args["serial"], "found": bool(disk), "was_online": bool(removed), "removed_access_paths": removed},
                          changed=bool(removed))

    def op_disk_connect(self, args):
        disk = self.disks.setdefault(args["serial"], {"online": False, "access_path": None})
        disk.update(online=True, access_path=args.get("access_path") or "E:\\")
        for path, content in list(self.storage.clone_files(args["serial"]).items()):
            self.files[disk["access_path"] + path] = content
        return AgentReply({"disk": {"access_paths": [disk["access_path"]]}, "resignatured": False})

    def op_disk_rescan(self, args):
        for serial in [s for s in self.disks if s != SERIAL and s not in self.storage.san.clones_by_serial()]:
            del self.disks[serial]
        return AgentReply({})


class San:
    def __init__(self, faults):
        self.faults, self.clones, self.maps = faults, {}, set()

    def clones_by_serial(self):
        return {clone.serial: clone for clone in self.clones.values()}

    def clone_lun(self, snapshot, lun, name):
        self.faults.check("clone_lun")
        clone = LunRef(lun.cluster, lun.svm, lun.volume_name, lun.volume_uuid, "uuid-" + name, "/vol/%s/%s" % (lun.volume_name, name),
                       "clone-" + name, 1, "hyper_v")
        self.clones[clone.path] = clone
        return clone

    def find_lun(self, cluster, svm, path):
        return self.clones.get(path)

    def ensure_igroup(self, cluster, svm, name, initiators):
        return IgroupRef(cluster, svm, name, "ig", "hyper_v", tuple(initiators))

    def map_lun(self, lun, igroup, lun_id=None):
        self.faults.check("map_lun")
        self.maps.add(lun.path)
        return LunMapping(lun, igroup, 1)

    def delete_lun(self, lun, allow_mapped=False):
        self.faults.check("delete_lun")
        if lun.path not in self.clones:
            raise SmhvError("STORAGE_OBJECT_NOT_FOUND", "LUN %s does not exist." % lun.path, {})
        del self.clones[lun.path]
        self.maps.discard(lun.path)


class Storage:
    """cluster-a's vol_hv03 with LUN lun_k (serial SERIAL) and the backup's snapshot; the snapshot holds vm1 as 'then'."""

    def __init__(self, faults, host):
        self.faults, self.host, self.san, self.restored = faults, host, San(faults), []
        host.storage = self

    def lun(self):
        return LunRef("cluster-a", "svm_hv", "vol_hv03", "vu", "lu", "/vol/vol_hv03/lun_k", SERIAL, 1, "hyper_v")

    def find_luns_by_serials(self, serials):
        return {s: self.lun() for s in serials if s == SERIAL}

    def get_volumes(self, cluster, uuids):
        return [VolumeInfo(cluster, "svm_hv", "vol_hv03", uuid, "rw", "online", 1, 2, 1) for uuid in uuids]

    def list_snapshots(self, volume, name_pattern=None):
        return [SnapshotInfo(volume.cluster, volume.svm, volume.name, volume.uuid, BACKUP)]

    def clone_files(self, serial):
        """What a clone's disk shows once connected: the backup's files, below the volume root."""
        if serial not in self.san.clones_by_serial():
            return {}
        return {p[len(self.host.root):]: "backup" for p in paths(self.host.root).values()}

    def restore_file(self, snapshot, path):
        self.faults.check("restore_file")
        for file_path in paths(self.host.root).values():
            self.host.files[file_path] = "backup"
        self.restored.append(path)


class Catalog(DurableCatalog):
    def __init__(self, backup=None):
        super().__init__()
        self.backup = backup or record()

    def get_backup(self, dataset, name):
        return self.backup if name == self.backup.name else None

    def backed_up_vms(self, datasets):
        return {VM_ID: {"name": "vm1"}}


class Session:
    kind, name = "standalone", "hv03"

    def __init__(self, host):
        self.owner = host
        self.facts = {"computer_name": "HV03", "initiator_ports": [{"node_address": "iqn.1991-05.com.microsoft:hv03"}]}
