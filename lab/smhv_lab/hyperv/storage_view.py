"""Which volume, disk and LUN hold a path, and disks as Get-Disk shows them (Get-SmhvPathStorage,
Get-SmhvDiskRecord in the agent).

A host's system drive C:\\ is a local disk 0, not a LUN; every other disk is an ONTAP LUN reached
through the world by its serial.
"""
from __future__ import annotations

import uuid
from typing import Any

from ..world.windows import access_key, split_drive

SYSTEM_DISK_SIZE = 256 * 1024 ** 3
_SYSTEM_NAMESPACE = uuid.UUID("0b8f3f4e-7a5d-4c61-9d0e-6c2f1b7e9a10")


def _record(**values: Any) -> dict[str, Any]:
    record = {"access_path": None, "volume_id": None, "disk_number": None, "disk_serial": None, "netapp_lun": False,
              "partition_style": None, "is_csv": False, "csv_name": None, "is_smb": False, "free_bytes": None,
              "size_bytes": None}
    record.update(values)
    return record


def _with_separator(path: str) -> str:
    return path if path.endswith("\\") else path + "\\"


def system_disk_serial(host) -> str:
    return f"{host.name.upper()}-OS"


def _system_volume(host) -> dict[str, Any]:
    volume = uuid.uuid5(_SYSTEM_NAMESPACE, host.name.lower())
    return _record(access_path="C:\\", volume_id=f"\\\\?\\Volume{{{volume}}}\\", disk_number=0,
                   disk_serial=system_disk_serial(host), partition_style="GPT",
                   free_bytes=SYSTEM_DISK_SIZE - host.system_drive.size(), size_bytes=SYSTEM_DISK_SIZE)


def path_storage(world, host, path: str) -> dict[str, Any]:
    if path.startswith("\\\\"):
        return _record(is_smb=True)
    disk = host.online_disk_for(path)
    if disk is None:
        drive, _ = split_drive(path)
        return _system_volume(host) if drive == "c:" else _record()
    access = max((a for a in disk.access_paths if (access_key(path) + "\\").startswith(access_key(a) + "\\")), key=len)
    _, lun = world.find_lun_by_serial(disk.serial)
    csv = None
    if disk.is_csv and host.cluster in world.failover_clusters:
        csv = world.failover_clusters[host.cluster].csv_for(path)
    return _record(access_path=_with_separator(access), volume_id=lun.content.volume_guid if lun else None,
                   disk_number=disk.number, disk_serial=disk.serial, netapp_lun=True,
                   partition_style=lun.content.partition_style if lun else None, is_csv=disk.is_csv,
                   csv_name=csv.name if csv else None,
                   free_bytes=max(lun.size - lun.content.files.size(), 0) if lun else None,
                   size_bytes=lun.size if lun else None)


def disk_records(world, host) -> list[dict[str, Any]]:
    """Every disk the host sees, by number: the system disk, then the LUNs."""
    records = [{"number": 0, "serial": system_disk_serial(host), "netapp_lun": False, "online": True,
                "read_only": False, "offline_reason": None, "partition_style": "GPT", "size_bytes": SYSTEM_DISK_SIZE,
                "is_clustered": False, "access_paths": ["C:\\"]}]
    for disk in sorted(host.disks.values(), key=lambda d: d.number):
        _, lun = world.find_lun_by_serial(disk.serial)
        records.append({
            "number": disk.number, "serial": disk.serial, "netapp_lun": True, "online": disk.online,
            "read_only": disk.read_only, "offline_reason": None if disk.online else (disk.offline_reason or "Policy"),
            "partition_style": lun.content.partition_style if lun else "RAW", "size_bytes": lun.size if lun else 0,
            "is_clustered": disk.is_csv,
            "access_paths": [_with_separator(a) for a in disk.access_paths] if disk.online else [],
        })
    return records
