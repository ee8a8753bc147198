"""In-process fakes for the scope engines: a Windows host answering agent ops from plain dicts, and an
ONTAP StorageClient over dicts. Every call is recorded so tests can assert what was (not) written."""
from __future__ import annotations

import datetime
import fnmatch
import hashlib
import types

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.agent import validate_result
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.models import (
    LunRef, MirrorRelationship, SnapshotDeletion, SnapshotInfo, TransferResult, VolumeInfo)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.client import AgentReply

UTC = datetime.timezone.utc


def storage_record(serial=None, access="S:\\", netapp=True, csv=None, smb=False):
    return {"access_path": access, "volume_id": None, "disk_number": 1 if serial else None, "disk_serial": serial,
            "netapp_lun": netapp, "partition_style": "GPT", "is_csv": csv is not None, "csv_name": csv, "is_smb": smb,
            "free_bytes": 1, "size_bytes": 2}


def facts(name, cluster=None, registry=None):
    return {"computer_name": name.upper(), "domain": "lab.local", "part_of_domain": True,
            "os": {"caption": "Microsoft Windows Server 2022 Datacenter", "version": "10.0.20348", "build": 20348, "ubr": 2700},
            "powershell_version": "5.1", "cluster": cluster, "features": ["Hyper-V"], "hotfixes": [], "vss_providers": [],
            "netapp_vss_provider": False,
            "services": [{"name": "SWSvc", "installed": False, "display_name": None, "status": None, "start_type": None}],
            "firewall_rules": [{"name": "r", "display_name": "SMHV", "enabled": True, "direction": "Inbound", "action": "Allow",
                                "profile": "Any", "protocol": "TCP", "local_ports": ["808"], "matched_ports": [808]}],
            "initiator_ports": [], "registry": [{"key": k, "values": dict(v)} for k, v in (registry or {}).items()]}


class Site:
    """State shared by the fake hosts of one test: registry (per host, and a cluster hive), files, calls."""

    def __init__(self):
        self.registry = {}  # host -> key -> values
        self.cluster_registry = {}
        self.files = {}  # upper-case path -> text
        self.calls = []  # (host, op, args, check_mode)


class FakeHost:
    def __init__(self, site, name, cluster=None, paths=None, disks=(), vms=(), unreachable=False):
        self.site, self.name, self.cluster = site, name, cluster
        self.paths = dict(paths or {})  # path -> storage record
        self.disks, self.vms, self.unreachable = list(disks), list(vms), unreachable
        self.closed = False

    # registry: keys under HKLM:\Cluster are shared by the cluster's hosts
    def _store(self, key):
        return self.site.cluster_registry if key.lower().startswith("hklm:\\cluster\\") else self.site.registry.setdefault(self.name, {})

    def _registry(self):
        merged = dict(self.site.registry.get(self.name, {}))
        if self.cluster:
            merged.update(self.site.cluster_registry)
        return merged

    def close(self):
        self.closed = True

    def call(self, op, args=None, check_mode=False, timeout=None, retry_safe=None):
        args = args or {}
        self.site.calls.append((self.name, op, args, check_mode))
        if self.unreachable:
            raise SmhvError("HOST_UNREACHABLE", "Cannot reach %s." % self.name, {"host": self.name})
        result, changed = getattr(self, "op_" + op)(args, check_mode)
        assert validate_result(op, result) == [], (op, validate_result(op, result))
        return AgentReply(result=result, changed=changed)

    def op_host_facts(self, args, check_mode):
        return facts(self.name, self.cluster, self._registry()), False

    def op_path_info(self, args, check_mode):
        records = []
        for path in args["paths"]:
            storage = next((s for prefix, s in sorted(self.paths.items(), key=lambda p: -len(p[0]))
                            if path.upper().startswith(prefix.upper())), storage_record(access=None, netapp=False))
            is_dir = path.upper() in {p.upper() for p in self.paths} or any(f.startswith(path.upper().rstrip("\\") + "\\")
                                                                            for f in self.site.files)
            records.append({"path": path, "exists": is_dir, "is_directory": is_dir, "storage": storage})
        return {"paths": records}, False

    def op_disk_rescan(self, args, check_mode):
        disks = [{"number": n + 1, "serial": serial, "netapp_lun": True, "online": False, "read_only": False, "offline_reason": "Reserved",
                  "partition_style": "GPT", "size_bytes": 1, "is_clustered": True, "access_paths": []} for n, serial in enumerate(self.disks)]
        return {"disks": disks, "added": [], "removed": []}, False

    def op_vm_inventory(self, args, check_mode):
        return {"vms": self.vms, "missing": {"names": [], "ids": []}}, False

    def op_registry_write(self, args, check_mode):
        key, store = args["key"], self._store(args["key"])
        existed = key in store
        if args.get("delete_key"):
            if existed and not check_mode:
                del store[key]
            return {"key": key, "existed": existed, "exists": False, "values": {}, "set": [], "removed": []}, existed
        current = dict(store.get(key, {}))
        changed_names = [name for name, spec in args["values"].items() if current.get(name) != spec["data"]]
        after = dict(current, **{name: spec["data"] for name, spec in args["values"].items()})
        if (changed_names or not existed) and not check_mode:
            store[key] = after
        return {"key": key, "existed": existed, "exists": True, "values": after, "set": changed_names, "removed": []}, \
            bool(changed_names) or not existed

    def op_file_read(self, args, check_mode):
        files = []
        for path in args["paths"]:
            text = self.site.files.get(path.upper())
            files.append({"path": path, "exists": text is not None, "size": None if text is None else len(text),
                          "sha256": None if text is None else hashlib.sha256(text.encode()).hexdigest(), "content": text})
        return {"files": files, "encoding": "utf-8"}, False

    def op_file_write(self, args, check_mode):
        assert not check_mode, "the engines never write files in check mode"
        path, text = args["path"].upper(), args["content"]
        current = self.site.files.get(path)
        previous = None if current is None else hashlib.sha256(current.encode()).hexdigest()
        if (args.get("create_only") and current is not None) or (args.get("expected_sha256") and args["expected_sha256"] != previous):
            raise SmhvError("WRITE_CONFLICT", "conflict on %s" % path, {"actual_sha256": previous})
        self.site.files[path] = text
        sha256 = hashlib.sha256(text.encode()).hexdigest()
        return {"path": args["path"], "size": len(text), "sha256": sha256, "previous_sha256": previous}, current != text


def factory(hosts):
    """A client_factory for ScopeSession over {name: FakeHost}; an unknown name is unreachable."""
    def make(name, winrm_options, host_addresses):
        if name not in hosts:
            raise SmhvError("HOST_UNREACHABLE", "Cannot resolve %s." % name, {"host": name})
        return hosts[name]
    return make


# -- storage ---------------------------------------------------------------------------------------

SNAPINFO_VOLUME = VolumeInfo("c1", "svm1", "vol_snapinfo", "uuid-snapinfo", "rw", "online", 0, 100, 50)
VM_VOLUME = VolumeInfo("c1", "svm1", "vol_vm", "uuid-vm", "rw", "online", 0, 100, 50)


def lun(serial, volume, name):
    return LunRef("c1", volume.svm, volume.name, volume.uuid, "lun-" + serial, "/vol/%s/%s" % (volume.name, name), serial, 10, "hyper_v")


class FakeMirrors:
    def __init__(self, relationships=()):
        self.relationships, self.updated = list(relationships), []

    def find(self, source_path=None, destination_path=None):
        return [r for r in self.relationships if r.source_path == source_path]

    def update(self, relationship, source_snapshot=None, wait=True):
        self.updated.append(relationship.destination_path)
        return TransferResult(relationship.uuid, "success", bytes_transferred=10)


def mirror(state="snapmirrored"):
    return MirrorRelationship("c2", "rel-1", "svm1:vol_snapinfo", "svm_dr:vol_snapinfo_dr", "c1", state, True)


class FakeStorage:
    def __init__(self, luns=(), volumes=(SNAPINFO_VOLUME, VM_VOLUME), relationships=()):
        self.luns = {lun_ref.serial: lun_ref for lun_ref in luns}
        self.volumes = {volume.uuid: volume for volume in volumes}
        self.snapshots = {volume.uuid: [] for volume in volumes}
        self.snapmirror = FakeMirrors(relationships)
        self.created, self.deleted, self.restored, self.busy = [], [], [], set()
        # every licence registration reads (ontap/licences.py), on one cluster
        self.licences = {"c1": dict.fromkeys(("snaprestore", "flexclone", "iscsi", "fcp", "snapmirror", "snapvault"), "compliant")}

    def reachable_clusters(self):
        return [types.SimpleNamespace(name=name) for name in sorted(self.licences)], []

    def licence_packages(self, cluster):
        return dict(self.licences[cluster])

    def add_snapshot(self, volume, name, when=None):
        self.snapshots[volume.uuid].append(SnapshotInfo(volume.cluster, volume.svm, volume.name, volume.uuid, name, "u-" + name, when))

    def names(self, volume):
        return [snapshot.name for snapshot in self.snapshots[volume.uuid]]

    def find_luns_by_serials(self, serials):
        return {serial: self.luns[serial] for serial in serials if serial in self.luns}

    def get_volumes(self, cluster, uuids):
        return [self.volumes[uuid] for uuid in uuids]

    def list_snapshots(self, volume, name_pattern=None):
        return [s for s in self.snapshots[volume.uuid] if name_pattern is None or fnmatch.fnmatchcase(s.name, name_pattern)]

    def create_snapshot(self, volume, name, comment="", snapmirror_label="", expiry_time=None):
        assert name not in self.names(volume)
        self.created.append(name)
        self.add_snapshot(volume, name)
        return self.snapshots[volume.uuid][-1]

    def delete_snapshots(self, snapshots):
        deleted, busy = [], []
        for snapshot in snapshots:
            if snapshot.name in self.busy:
                busy.append((snapshot, SmhvError("SNAPSHOT_BUSY", "busy")))
            else:
                self.snapshots[snapshot.volume_uuid] = [s for s in self.snapshots[snapshot.volume_uuid] if s.name != snapshot.name]
                deleted.append(snapshot)
                self.deleted.append(snapshot.name)
        return SnapshotDeletion(deleted=tuple(deleted), busy=tuple(busy))

    def restore_file(self, snapshot, path, restore_path=None):
        self.restored.append((snapshot.name, path))

    def restore_volume(self, snapshot):
        raise AssertionError("a SnapInfo restore must never be a volume SnapRestore")
