"""Shared by the restore e2e tests: guest data through the lab's control API, smhv_restore's engine run on hv03's
catalog (real WinRM and ONTAP REST), the VM as Hyper-V reports it, and what a restore must never leave behind."""
from __future__ import annotations

import json
from urllib.error import HTTPError
from urllib.parse import quote

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine

SNAPINFO = "S:\\SnapInfo"
MOUNT_ROOT = "C:\\SMHV\\Mounts"


def write(lab, vm, path, data, in_flight=False):
    lab.control("POST", "/guest-data", {"vm": vm, "path": path, "data": data, "in_flight": in_flight})


def read(lab, vm, path):
    """(data, complete) of a guest file as the VM's disks hold it now."""
    try:
        answer = lab.control("GET", "/guest-data?vm=%s&path=%s" % (quote(vm), quote(path)))
    except HTTPError as error:  # the lab says why (no such file in the guest, no such VM)
        raise AssertionError("reading %s in %s: %s" % (path, vm, error.read().decode())) from None
    return answer["data"], answer["complete"]


def restore(site, vm, scope="hv03", **options):
    with site.session(scope) as session:
        engine = RestoreEngine(session, site.storage(), Catalog(HostRepository(session.owner, SNAPINFO)))
        return engine.run(vm, **options)


def inventory(site, vm, scope="hv03"):
    """The VM as vm_inventory reports it (Get-VM and its disks), or None when it is not registered."""
    with site.session(scope) as session:
        found = session.owner.call("vm_inventory", {"names": [vm], "require_all": False}).result["vms"]
    return found[0] if found else None


def shape(record):
    """What a refused restore must leave as it was: registration, state, configuration, disks, checkpoint folder."""
    return {"id": record["id"], "state": record["state"], "config_path": record["config_path"],
            "snapshot_location": record["snapshot_location"], "disks": [d["path"] for d in record["hard_disks"]],
            "serials": sorted(set(f["storage"]["disk_serial"] for f in record["files"]))}


def leftovers(lab):
    """LUN clones, their maps and disks, access paths and folders under the mount root that a restore or a mount left
    behind (none, ever; the mount root itself stays)."""
    state = lab.state()
    found = [word for word in ("smhv_restore_", "smhv_mount_") if word in json.dumps(state)]
    for name, host in state["hosts"].items():
        paths = [path for disk in host["disks"] for path in disk["access_paths"]] + host["folders"]
        found += ["%s: %s" % (name, path) for path in paths if path.lower().startswith(MOUNT_ROOT.lower() + "\\")]
    return sorted(set(found))


def lab_storage(lab, vm, action, **fields):
    """An administrator's change to a VM's storage (POST /vm-storage: New-VHD + Add-VMHardDiskDrive, Move-VMStorage, ...)."""
    return lab.control("POST", "/vm-storage", dict(fields, vm=vm, action=action))
