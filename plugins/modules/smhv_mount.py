#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_mount
short_description: Mount a backup's LUNs on a Hyper-V host as clones, or unmount them
version_added: 0.1.0
description:
  - Makes the LUNs of a backup in the SnapInfo catalog browsable on a Hyper-V host, for looking at a VM's files or
    copying single files back, as SnapDrive's connect-disk of a snapshot did for SMHV users.
  - With O(state=mounted), each LUN of the backup (or only those of O(vm)) is cloned from the backup's snapshot as
    C(smhv_mount_<lun>_<operation>) (clones made before this release, C(smhv_mount_<lun>_<backup>), are reused), mapped
    to the host's igroup (C(smhv_<host>), the one restores use), brought online with a new disk id (a clone carries its
    source's) and given an access path - the folder C(<mount_root>\<backup>\<lun>\) (O(access=folder)) or a drive letter
    (O(access=drive_letter)), as SnapDrive's connect disk offered. A clone already there is reused, so running it again
    changes nothing and returns the same paths.
  - RV(mounts[].files) says where each of the backed-up VM files is in the mount - its path below its volume root at
    backup (a drive letter, a cluster shared volume such as C(C:\ClusterStorage\Volume1\), or a volume mounted in a
    folder) under the clone's access path.
  - With O(state=unmounted), the clones are disconnected (every access path removed, drive letter or folder), deleted
    with their maps, the host rescans and the empty mount folders are removed. Unmount when done - a mounted backup keeps
    its snapshot busy, so retention cannot delete it.
  - The LUNs are connected to the host O(hyperv_host) names (for a cluster, its core group owner), not as cluster disks.
  - Durable (docs/durability.md) - a mount or unmount holds the lease C(mount~<backup>~<host>) and journals its changes;
    the clones of a mount are recorded in the scope's catalog (C(smhv/v1/mounts/<backup>~<host>.json)), which is how a
    second run finds them and M(netapp_hyperv.smhv.smhv_cleanup) knows they are owned. A mount that fails deletes every
    clone it made; a killed mount is undone, and a killed unmount finished, by the next run for that backup and host.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The scope whose catalog holds the backup; the clones are connected to this host (a cluster's owner node).
    required: true
  backup:
    description:
      - The backup, C(<dataset>_<MM-DD-YYYY_HH.MM.SS>).
    type: str
    required: true
  vm:
    description:
      - Only the LUNs holding this VM's files (name or id, matched exactly among the backup's VMs as
        M(netapp_hyperv.smhv.smhv_restore) matches them). Default every LUN of the backup.
    type: str
  state:
    description:
      - V(mounted) or V(unmounted).
    type: str
    choices: [mounted, unmounted]
    default: mounted
  access:
    description:
      - How each clone is made reachable with O(state=mounted).
      - V(folder) connects it at the mount folder C(<mount_root>\<backup>\<lun>\), which is created.
      - V(drive_letter) gives it a drive letter - those in O(drive_letters), else a free one that Windows picks
        (C(Add-PartitionAccessPath -AssignDriveLetter)). A clone that already has a drive letter keeps it.
      - Ignored with O(state=unmounted), which removes whatever access paths the clones have.
    type: str
    choices: [folder, drive_letter]
    default: folder
  drive_letters:
    description:
      - With O(access=drive_letter), the letters to use (V(K), V(K:) or V(K:\)), one per LUN, in the order of
        RV(mounts) (by LUN path). A letter another volume of the host uses fails with C(DRIVE_LETTER_IN_USE), as Windows
        would refuse it, and the clone made for it is deleted again.
      - Default a free letter for each LUN.
    type: list
    elements: str
  mount_root:
    description:
      - The folder under which each LUN gets its mount folder (O(access=folder)); the unmount removes the folders there.
    type: str
    default: C:\SMHV\Mounts
attributes:
  check_mode:
    description: Looks up the backup and the clones, and returns RV(actions) without changing anything.
    support: full
  diff_mode:
    description: Not supported.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
seealso:
  - module: netapp_hyperv.smhv.smhv_restore
  - module: netapp_hyperv.smhv.smhv_backup_info
"""

EXAMPLES = r"""
- name: Mount the LUNs of vm-file01 in a backup
  netapp_hyperv.smhv.smhv_mount:
    hyperv_host: hv03
    backup: files_03-14-2026_09.00.00
    vm: vm-file01
  register: mounted

- name: Say where vm-file01's virtual disks are in the mount
  ansible.builtin.debug:
    msg: "{{ mounted.mounts | map(attribute='files') | flatten | map(attribute='mounted') | select('search', '[.]vhdx$') }}"

- name: Mount a whole backup at free drive letters
  netapp_hyperv.smhv.smhv_mount:
    hyperv_host: hv03
    backup: files_03-14-2026_09.00.00
    access: drive_letter

- name: Mount vm-file01's LUN at drive letter X
  netapp_hyperv.smhv.smhv_mount:
    hyperv_host: hv03
    backup: files_03-14-2026_09.00.00
    vm: vm-file01
    access: drive_letter
    drive_letters: [X]

- name: Unmount them again
  netapp_hyperv.smhv.smhv_mount:
    hyperv_host: hv03
    backup: files_03-14-2026_09.00.00
    vm: vm-file01
    state: unmounted
"""

RETURN = r"""
backup:
  description: The backup.
  returned: always
  type: str
state:
  description: The state asked for.
  returned: always
  type: str
host:
  description: The host the clones are (or were) connected to.
  returned: always
  type: str
mounts:
  description: Per LUN of the backup (or of O(vm)), by LUN path.
  returned: always
  type: list
  elements: dict
  contains:
    lun:
      description: The backed-up LUN, C(<cluster>:<path>).
      type: str
    snapshot:
      description: The snapshot the clone is made from.
      type: str
    clone:
      description: The clone's path.
      type: str
    clone_serial:
      description: The clone's serial number; null when there is no clone (check mode before a mount, or nothing to
        unmount).
      type: str
    access_path:
      description:
        - With O(state=mounted), where the clone is connected - the mount folder or the drive letter (C(X:\)); null
          in check mode for a free drive letter not yet chosen.
        - With O(state=unmounted), the access path the clone was disconnected from (null in check mode or when it had
          none).
      type: str
    files:
      description: The VM files of the backup on this LUN.
      type: list
      elements: dict
      contains:
        backed_up:
          description: The file's path at backup time.
          type: str
        mounted:
          description: Where the file is in the mount - its path below the volume root it had at backup, under
            RV(mounts[].access_path). In check mode where it would be. Null with O(state=unmounted), and when the access
            path or the volume root is not known (a warning then names the files).
          type: str
  sample: [{"lun": "cluster-a:/vol/vol_hv03/lun_j", "snapshot": "files_03-14-2026_09.00.00",
            "clone": "/vol/vol_hv03/smhv_mount_lun_j_files_03_14_2026_09_00_00", "clone_serial": "wCk3F+Yq9xAb",
            "access_path": "C:\\SMHV\\Mounts\\files_03-14-2026_09.00.00\\lun_j\\",
            "files": [{"backed_up": "J:\\vm-file01\\Virtual Hard Disks\\vm-file01.vhdx",
                       "mounted": "C:\\SMHV\\Mounts\\files_03-14-2026_09.00.00\\lun_j\\vm-file01\\Virtual Hard Disks\\vm-file01.vhdx"}]}]
actions:
  description: What was (or in check mode would be) done.
  returned: always
  type: list
  elements: str
timings:
  description: Seconds in total and per step (C(plan) - the backup record and the clones looked up - then C(mount) or
    C(unmount)).
  returned: always
  type: dict
  sample: {"total": 0.41, "steps": [{"step": "plan", "seconds": 0.12}, {"step": "mount", "seconds": 0.29}]}
recovered:
  description: Interrupted mounts or unmounts of this backup on this host that this run settled first (C(journal),
    C(operation), C(result)).
  returned: when there were any
  type: list
  elements: dict
error_code:
  description: On failure, a stable code (C(BACKUP_NOT_FOUND), C(VM_NOT_FOUND), C(VM_AMBIGUOUS), C(SCOPE_BUSY), C(LUN_NOT_FOUND), C(SNAPSHOT_NOT_FOUND),
    C(DISK_NOT_FOUND), C(DRIVE_LETTER_IN_USE), C(INVALID_ARGUMENT), C(STORAGE_ERROR), ...).
  returned: failure
  type: str
error_details:
  description: On failure, what the message says as data (names, paths, numbers); its keys depend on RV(error_code), empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.mount.run import MountEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient


def run(params, check_mode):
    storage = StorageClient(params["storage_systems"])
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        path = session.require_registration()[0]
        engine = MountEngine(session, storage, Catalog(HostRepository(session.owner, path)), mount_root=params["mount_root"])
        return engine.run(params["backup"], vm=params["vm"], state=params["state"], check_mode=check_mode, access=params["access"],
                          drive_letters=params["drive_letters"])


def main():
    spec = smhv_argument_spec()
    spec.update(
        backup=dict(type="str", required=True),
        vm=dict(type="str"),
        state=dict(type="str", choices=["mounted", "unmounted"], default="mounted"),
        access=dict(type="str", choices=["folder", "drive_letter"], default="folder"),
        drive_letters=dict(type="list", elements="str"),
        mount_root=dict(type="str", default="C:\\SMHV\\Mounts"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
