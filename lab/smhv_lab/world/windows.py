"""The Windows side of the world: Hyper-V hosts, failover clusters, disks, volumes and VMs.

A host sees an ONTAP LUN as a disk once the LUN is mapped to an igroup holding the host's iSCSI IQN
and the host has rescanned. A disk never copies the LUN's bytes: it names the LUN by serial and
reads `lun.content` through the world each time, so a SnapRestore on the ONTAP side is what the host
sees next. VM definitions live in files on those LUNs (the .vmcx is JSON here, a VHDX is JSON holding
the guest's files), so restoring a LUN restores the VM too; the host keeps only registrations and
runtime state.
"""
from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from .files import FileTree, normalize

VHDX_FORMAT = "smhv-lab-vhdx/1"
VMCX_FORMAT = "smhv-lab-vmcx/1"
VM_STATES = ("Running", "Off", "Saved", "Paused")


def split_drive(path: str) -> tuple[str, str]:
    """'C:\\ClusterStorage\\Volume1\\vm\\a.vhdx' -> ('c:', 'ClusterStorage\\Volume1\\vm\\a.vhdx')."""
    path = path.replace("/", "\\")
    if len(path) >= 2 and path[1] == ":":
        return path[:2].lower(), normalize(path[2:])
    raise ValueError(f"not an absolute Windows path: {path!r}")


def access_key(path: str) -> str:
    drive, rest = split_drive(path)
    return (drive + "\\" + rest).lower().rstrip("\\")


@dataclass
class Disk:
    """An ONTAP LUN as one host sees it (Get-Disk), found by the LUN's serial."""

    number: int
    serial: str
    cluster: str  # ONTAP cluster name
    lun_path: str
    online: bool = True
    read_only: bool = False
    access_paths: list[str] = field(default_factory=list)  # 'J:\\', 'C:\\mnt\\x\\', 'C:\\ClusterStorage\\Volume1\\'
    is_csv: bool = False
    offline_reason: str = ""  # e.g. 'Signature collision' as Windows reports it


@dataclass
class Checkpoint:
    id: str
    name: str
    type: str  # Production | ProductionOnly | Standard
    created: str
    differencing_disks: dict[str, str] = field(default_factory=dict)  # parent vhdx path -> avhdx path


@dataclass
class VirtualMachine:
    """A VM registration on a host plus its runtime state; its definition is the .vmcx file."""

    id: str  # GUID, lower case as Hyper-V shows it
    name: str
    config_path: str  # ...\\Virtual Machines\\<GUID>.vmcx
    state: str = "Running"
    vhd_paths: list[str] = field(default_factory=list)
    snapshot_location: str = ""
    generation: int = 2
    memory_mb: int = 2048
    processor_count: int = 2
    passthrough_disks: list[int] = field(default_factory=list)
    # virtual Fibre Channel adapters: {san_name, wwnn_set_a, wwpn_set_a, wwnn_set_b, wwpn_set_b}; their LUNs are the guest's
    fibre_channel_hbas: list[dict[str, str]] = field(default_factory=list)
    iscsi_direct_disks: list[str] = field(default_factory=list)  # serials of LUNs the guest mounts itself
    # The guest's addresses on its network adapters (runtime: the guest's, not in the .vmcx; reported while it runs).
    ip_addresses: list[str] = field(default_factory=list)
    integration_services: dict[str, bool] = field(default_factory=lambda: {
        "Backup (volume shadow copy)": True, "Heartbeat": True, "Time Synchronization": True})
    migration: str = ""  # '' | 'live' | 'storage' (a VM being migrated cannot be backed up)
    checkpoint_type: str = "Production"  # Set-VM -CheckpointType: Production | ProductionOnly | Standard | Disabled
    checkpoints: list[Checkpoint] = field(default_factory=list)
    # Guest writes the guest OS has accepted but not yet flushed to its virtual disk: a crash
    # snapshot catches them half-written, a production checkpoint (in-guest VSS) flushes them.
    pending_writes: list[dict[str, str]] = field(default_factory=list)

    def config_document(self) -> dict[str, Any]:
        return {"format": VMCX_FORMAT, "id": self.id, "name": self.name, "generation": self.generation,
                "memory_mb": self.memory_mb, "processor_count": self.processor_count,
                "vhd_paths": list(self.vhd_paths), "snapshot_location": self.snapshot_location,
                "passthrough_disks": list(self.passthrough_disks),
                "fibre_channel_hbas": [dict(hba) for hba in self.fibre_channel_hbas],
                "iscsi_direct_disks": list(self.iscsi_direct_disks), "checkpoint_type": self.checkpoint_type,
                "checkpoints": [vars(c) for c in self.checkpoints]}

    @classmethod
    def from_config(cls, config_path: str, document: dict[str, Any], state: str = "Off") -> "VirtualMachine":
        if document.get("format") != VMCX_FORMAT:
            raise ValueError(f"{config_path} is not a virtual machine configuration file")
        return cls(id=document["id"], name=document["name"], config_path=config_path, state=state,
                   vhd_paths=list(document.get("vhd_paths", [])),
                   snapshot_location=document.get("snapshot_location", ""),
                   generation=document.get("generation", 2), memory_mb=document.get("memory_mb", 2048),
                   processor_count=document.get("processor_count", 2),
                   passthrough_disks=list(document.get("passthrough_disks", [])),
                   fibre_channel_hbas=[dict(hba) for hba in document.get("fibre_channel_hbas", [])],
                   iscsi_direct_disks=list(document.get("iscsi_direct_disks", [])),
                   checkpoint_type=document.get("checkpoint_type", "Production"),
                   checkpoints=[Checkpoint(**c) for c in document.get("checkpoints", [])])


def new_vhdx(virtual_size: int, guest_files: dict[str, str] | None = None, parent: str = "") -> bytes:
    """A virtual disk; with `parent`, a differencing disk (.avhdx) holding only what changed since."""
    files = {path: {"data": data, "complete": True} for path, data in (guest_files or {}).items()}
    document = {"format": VHDX_FORMAT, "virtual_size": virtual_size, "guest_files": files}
    if parent:
        document["parent"] = parent
    return json.dumps(document, sort_keys=True).encode()


def read_vhdx(data: bytes) -> dict[str, Any]:
    document = json.loads(data)
    if document.get("format") != VHDX_FORMAT:
        raise ValueError("not a virtual hard disk")
    return document


@dataclass
class WindowsHost:
    name: str
    site: str = "a"
    domain: str = "lab.local"
    os_name: str = "Microsoft Windows Server 2022 Datacenter"
    os_version: str = "10.0.20348"
    ubr: int = 2700  # update build revision: what cumulative updates raise
    username: str = "LAB\\smhv-admin"
    password: str = ""
    iscsi_iqn: str = ""
    cluster: str = ""  # failover cluster name, '' for a standalone host
    features: set[str] = field(default_factory=lambda: {
        "Hyper-V", "Hyper-V-PowerShell", "Multipath-IO", "Failover-Clustering", "RSAT-Clustering-PowerShell"})
    hotfixes: set[str] = field(default_factory=set)  # 'KB5031364'
    services: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> status, start_type, display_name
    firewall_rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # display name -> port, protocol, ...
    registry: dict[str, dict[str, Any]] = field(default_factory=dict)  # key path -> value name -> value
    vss_providers: list[dict[str, str]] = field(default_factory=list)  # name, id, type, version
    installed_software: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> version, ...
    disks: dict[str, Disk] = field(default_factory=dict)  # serial -> disk
    vms: dict[str, VirtualMachine] = field(default_factory=dict)  # id -> VM registered on this host
    system_drive: FileTree = field(default_factory=FileTree)  # C:\ outside any LUN
    # Empty folders on C:\ that disk_connect created as mount points (the file tree has no empty folders); they
    # stay after Remove-PartitionAccessPath until deleted. Original case, no trailing separator.
    folders: set[str] = field(default_factory=set)
    reachable: bool = True
    uptime_boots: int = 0
    # Fleet (hyperv/fleet_ops.py): a scheduled reboot's down window (epoch seconds), the last boot, a
    # restart Windows waits for, and the MSDSM claims (New-MSDSMSupportedHW) as [vendor, product].
    rebooting_from: float = 0.0
    rebooting_until: float = 0.0
    last_boot_time: float = 0.0
    reboot_pending: bool = False
    pending_ubr: int = 0  # a cumulative update's build revision, in effect after the restart
    mpio_hardware: list[list[str]] = field(default_factory=list)
    # How long its checkpoints take and how many it runs at once (hyperv/timing.py; None: the profile's).
    timing_profile: str = "instant"
    timing_durations: dict[str, float] = field(default_factory=dict)
    checkpoint_concurrency: int | None = None
    # SMB 3 shares the host keeps VMs on (\\fs01\vms, lower case, -> its files). The lab does not serve them from
    # ONTAP: what a UNC path changes here is that no disk is behind it (the dataset rules' SMB case).
    smb_shares: dict[str, FileTree] = field(default_factory=dict)

    @property
    def build(self) -> int:
        return int(self.os_version.split(".")[2])

    def next_disk_number(self) -> int:
        used = {d.number for d in self.disks.values()}
        return next(n for n in range(1, 10_000) if n not in used)

    def online_disk_for(self, path: str) -> Disk | None:
        """The online disk whose access path is the longest prefix of `path`."""
        key = access_key(path)
        best, best_len = None, -1
        for disk in self.disks.values():
            if not disk.online:
                continue
            for access in disk.access_paths:
                prefix = access_key(access)
                if (key == prefix or key.startswith(prefix + "\\")) and len(prefix) > best_len:
                    best, best_len = disk, len(prefix)
        return best

    def resolve(self, world, path: str) -> tuple[FileTree, str, Disk | None]:
        """The file tree holding `path` and the path inside it: an SMB share, a LUN's volume, or the system drive."""
        if path.startswith(("\\\\", "//")):
            return self._smb_location(path)
        disk = self.online_disk_for(path)
        if disk is None:
            drive, rest = split_drive(path)
            if drive != "c:":
                raise FileNotFoundError(f"Cannot find drive. A drive with the name '{drive[0].upper()}' does not exist.")
            return self.system_drive, rest, None
        _, lun = world.find_lun_by_serial(disk.serial)
        if lun is None:
            raise FileNotFoundError(f"The device for disk {disk.number} is not ready.")
        best = max((a for a in disk.access_paths if access_key(path).startswith(access_key(a))), key=len)
        _, rest = split_drive(path)
        _, prefix = split_drive(best)
        inner = rest[len(prefix):]  # same length as the lower-cased key, original case kept
        return lun.content.files, normalize(inner), disk

    def _smb_location(self, path: str) -> tuple[FileTree, str, None]:
        unc = "\\\\" + normalize(path)
        for share, tree in self.smb_shares.items():
            if unc.lower() == share or unc.lower().startswith(share + "\\"):
                return tree, normalize(unc[len(share):]), None
        raise FileNotFoundError(f"The network path was not found: '{path}'.")

    def read_file(self, world, path: str) -> bytes:
        tree, inner, _ = self.resolve(world, path)
        try:
            return tree.read(inner)
        except KeyError:
            raise FileNotFoundError(f"Could not find file '{path}'.") from None

    def write_file(self, world, path: str, data: bytes) -> None:
        tree, inner, disk = self.resolve(world, path)
        if disk is not None and disk.read_only:
            raise PermissionError(f"The media is write protected: '{path}'.")
        tree.write(inner, data)

    def file_exists(self, world, path: str) -> bool:
        try:
            tree, inner, _ = self.resolve(world, path)
        except FileNotFoundError:
            return False
        return tree.exists(inner)


@dataclass
class ClusterSharedVolume:
    name: str  # 'Cluster Disk 1'
    path: str  # 'C:\\ClusterStorage\\Volume1'
    serial: str  # the LUN behind it
    owner_node: str


@dataclass
class FailoverCluster:
    name: str
    nodes: list[str]
    owner_node: str  # owner of the core cluster group: the node that coordinates a backup
    site: str = "a"
    csvs: list[ClusterSharedVolume] = field(default_factory=list)
    vm_roles: dict[str, dict[str, str]] = field(default_factory=dict)  # VM id -> name, owner_node, state
    registry: dict[str, dict[str, Any]] = field(default_factory=dict)  # HKLM:\Cluster\... keys, shared by every node

    def csv_for(self, path: str) -> ClusterSharedVolume | None:
        key = access_key(path)
        for csv in self.csvs:
            prefix = access_key(csv.path)
            if key == prefix or key.startswith(prefix + "\\"):
                return csv
        return None


def new_guid() -> str:
    return str(uuid.uuid4())


# -- guest data and checkpoints ----------------------------------------------------------------
# A guest's drive letter picks the VM's virtual disk (C: the first, D: the second, ...); its files
# live in that disk's VHDX document. While checkpoints exist, each one has put a differencing disk
# (.avhdx, next to the disk it diverged from, on the same volume) on top: new writes go to the top
# layer and reads look through the layers, top first. Removing a checkpoint merges its layer down.

CHECKPOINT_CONFIG_FORMAT = "smhv-lab-vmcx-checkpoint/1"
PRODUCTION_TYPES = ("Production", "ProductionOnly")


def find_vm(world, vm_id: str) -> tuple[WindowsHost, VirtualMachine]:
    for host in world.hosts.values():
        vm = host.vms.get(vm_id.lower())
        if vm is not None:
            return host, vm
    raise KeyError(f"no virtual machine with id {vm_id} is registered on any host")


def disk_chain(vm: VirtualMachine, base: str) -> list[str]:
    """A virtual disk's layers, base first: the base VHDX, then each checkpoint's .avhdx."""
    chain = [base]
    for checkpoint in vm.checkpoints:
        child = checkpoint.differencing_disks.get(chain[-1])
        if child:
            chain.append(child)
    return chain


def _guest_location(vm: VirtualMachine, guest_path: str) -> tuple[str, str]:
    """(base VHDX, path inside the guest volume) for 'D:\\data\\x.db'."""
    drive, inner = split_drive(guest_path)
    index = ord(drive[0]) - ord("c")
    if not 0 <= index < len(vm.vhd_paths) or not inner:
        raise ValueError(f"VM {vm.name} has no guest volume {drive.upper()} for {guest_path!r} "
                         f"(C: is its first virtual disk, it has {len(vm.vhd_paths)})")
    return vm.vhd_paths[index], inner


def _guest_key(files: dict[str, Any], inner: str) -> str:
    """The key a guest file has in a disk document: guest paths are case-insensitive too."""
    return next((key for key in files if normalize(key).lower() == inner.lower()), inner)


def _update_layer(host: WindowsHost, world, layer: str, inner: str, data: str, complete: bool) -> None:
    document = read_vhdx(host.read_file(world, layer))
    key = _guest_key(document["guest_files"], inner)
    document["guest_files"][key] = {"data": data, "complete": complete}
    host.write_file(world, layer, json.dumps(document, sort_keys=True).encode())


def write_guest_data(world, vm_id: str, guest_path: str, data: str, in_flight: bool = False) -> None:
    """The guest writes `data` to `guest_path`.

    A write still in flight (accepted by the guest OS, not yet flushed) is on the virtual disk only
    half-written until something flushes it: a crash-consistent snapshot taken now captures it torn;
    a production checkpoint (in-guest VSS) or `flush_guest_writes` completes it.
    """
    host, vm = find_vm(world, vm_id)
    if vm.state != "Running":
        raise ValueError(f"VM {vm.name} is {vm.state}: only a running guest writes data")
    base, inner = _guest_location(vm, guest_path)
    top = disk_chain(vm, base)[-1]
    vm.pending_writes = [w for w in vm.pending_writes if w["path"].lower() != guest_path.lower()]
    if in_flight:
        vm.pending_writes.append({"path": guest_path, "data": data})
        _update_layer(host, world, top, inner, data[: len(data) // 2], complete=False)
    else:
        _update_layer(host, world, top, inner, data, complete=True)


def flush_guest_writes(world, vm_id: str) -> int:
    """The guest flushes every write in flight to its disks (what VSS asks of it); returns how many."""
    host, vm = find_vm(world, vm_id)
    pending, vm.pending_writes = vm.pending_writes, []
    for write in pending:
        base, inner = _guest_location(vm, write["path"])
        _update_layer(host, world, disk_chain(vm, base)[-1], inner, write["data"], complete=True)
    return len(pending)


def read_guest_data(world, vm_id: str, guest_path: str) -> tuple[str, bool] | None:
    """(data, complete) of a guest file as the VM's disks hold it now, or None if it is not there."""
    host, vm = find_vm(world, vm_id)
    base, inner = _guest_location(vm, guest_path)
    for layer in reversed(disk_chain(vm, base)):
        files = read_vhdx(host.read_file(world, layer))["guest_files"]
        key = _guest_key(files, inner)
        if key in files:
            return files[key]["data"], bool(files[key]["complete"])
    return None


def _save_config(host: WindowsHost, world, vm: VirtualMachine) -> None:
    host.write_file(world, vm.config_path, json.dumps(vm.config_document(), sort_keys=True).encode())


def _checkpoint_config_path(vm: VirtualMachine, checkpoint_id: str) -> str:
    return f"{vm.snapshot_location.rstrip(chr(92))}\\Snapshots\\{checkpoint_id.upper()}.vmcx"


def checkpoint_create(world, vm_id: str, name: str, checkpoint_type: str | None = None) -> Checkpoint:
    """Checkpoint-VM: an .avhdx on top of every virtual disk; production checkpoints flush the guest first.

    A production checkpoint of a running VM asks the guest (VSS) to flush, so writes in flight land
    complete in the layer the checkpoint freezes. Without the backup integration service, Production
    falls back to a standard checkpoint (no flush) and ProductionOnly fails, as on Hyper-V.
    """
    host, vm = find_vm(world, vm_id)
    kind = checkpoint_type or vm.checkpoint_type
    if kind == "Disabled":
        raise ValueError(f"checkpoints are disabled for VM {vm.name}")
    if kind in PRODUCTION_TYPES and vm.state == "Running":
        if vm.integration_services.get("Backup (volume shadow copy)", False):
            flush_guest_writes(world, vm.id)
        elif kind == "ProductionOnly":
            raise ValueError(f"cannot create a production checkpoint for {vm.name}: the guest's backup "
                             "integration service is not enabled")
    checkpoint = Checkpoint(id=new_guid(), name=name, type=kind,
                            created=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    for base in vm.vhd_paths:
        top = disk_chain(vm, base)[-1]
        folder, _, file_name = base.rpartition("\\")
        child = f"{folder}\\{file_name.rsplit('.', 1)[0]}_{checkpoint.id.upper()}.avhdx"
        size = read_vhdx(host.read_file(world, top))["virtual_size"]
        host.write_file(world, child, new_vhdx(size, parent=top))
        checkpoint.differencing_disks[top] = child
    host.write_file(world, _checkpoint_config_path(vm, checkpoint.id), json.dumps(
        {"format": CHECKPOINT_CONFIG_FORMAT, "vm_id": vm.id, "id": checkpoint.id, "name": name,
         "type": kind, "created": checkpoint.created}, sort_keys=True).encode())
    vm.checkpoints.append(checkpoint)
    _save_config(host, world, vm)
    return checkpoint


def checkpoint_remove(world, vm_id: str, checkpoint_id: str) -> None:
    """Remove-VMCheckpoint: merge the checkpoint's differencing disks into their parents and delete them."""
    host, vm = find_vm(world, vm_id)
    checkpoint = next((c for c in vm.checkpoints if c.id.lower() == checkpoint_id.lower()), None)
    if checkpoint is None:
        raise KeyError(f"VM {vm.name} has no checkpoint {checkpoint_id}")
    for parent, child in checkpoint.differencing_disks.items():
        merged = read_vhdx(host.read_file(world, parent))
        changes = read_vhdx(host.read_file(world, child))["guest_files"]
        for inner, record in changes.items():
            merged["guest_files"].pop(_guest_key(merged["guest_files"], normalize(inner)), None)
            merged["guest_files"][inner] = record
        host.write_file(world, parent, json.dumps(merged, sort_keys=True).encode())
        tree, inner, _ = host.resolve(world, child)
        tree.delete(inner)
        for later in vm.checkpoints:  # a newer layer built on the merged one now sits on its parent
            if child in later.differencing_disks:
                grandchild = later.differencing_disks.pop(child)
                later.differencing_disks[parent] = grandchild
                document = read_vhdx(host.read_file(world, grandchild))
                document["parent"] = parent
                host.write_file(world, grandchild, json.dumps(document, sort_keys=True).encode())
    tree, inner, _ = host.resolve(world, _checkpoint_config_path(vm, checkpoint.id))
    tree.delete(inner)
    vm.checkpoints.remove(checkpoint)
    _save_config(host, world, vm)
