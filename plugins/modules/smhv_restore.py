#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_restore
short_description: Restore one Hyper-V VM from a backup in its SnapInfo catalog
version_added: 0.1.0
description:
  - Restores one VM from a backup made by M(netapp_hyperv.smhv.smhv_backup), as SnapManager for Hyper-V did, in place on
    a standalone host or a failover cluster, or to an alternate host (O(target_host)) and paths (O(path_map)). Without O(backup), the newest
    good backup holding the VM is used.
  - A LUN that holds only this VM's files is restored as a whole from the backup's snapshot (single-file SnapRestore
    of the LUN, the disk taken offline and brought back at its access path). A LUN that holds other files too is
    cloned from the snapshot, the clone is connected to the host (with a new disk id), the VM's files are copied back,
    and the clone is disconnected and deleted, also when a step fails.
  - The VM is stopped, its registration removed (its virtual disks stay), its files restored, and it is registered
    again with the same id (Import-VM -Register). The checkpoint a checkpoint-method backup left in its snapshot is
    applied and removed. The VM is then started unless O(start=false).
  - A deleted VM is restored and registered again.
  - SMHV's restore warnings stop the restore unless O(force=true) - the VM is not running, it has more or fewer virtual
    disks than at backup, or its checkpoint (snapshot) file location, configuration location, disk names or paths, or
    the LUNs holding its files changed. Files now on another LUN are copied back from a clone of the backed-up LUN; a
    disk attached since the backup is not attached to the restored VM, and its file stays.
  - To an alternate host or paths, every file is copied from a LUN clone connected to the target host, to its path
    after O(path_map); the VM is registered there with the same id, its virtual disks and checkpoint folder set to the
    mapped paths (Compare-VM, then Import-VM of the fixed report). The VM must not be registered on the target host.
    SMHV's restore warnings do not apply.
  - On a cluster, the VM is restored on the node it is registered on, its cluster role removed first and added again
    after (Add-ClusterVirtualMachineRole); a CSV LUN is never restored as a whole, its files are copied. A VM restored
    to another cluster (O(target_host)) is registered on its core group owner and made highly available.
  - After a SnapMirror failover, O(verify_snapshot=false) (SMHV's C(-DisableVerifySnapshot)) restores from the
    SnapMirror destination - the backup's snapshot is taken from the volume of the LUN that holds each file's path
    (after O(path_map)) on the target host now, not from the LUNs the backup recorded.
  - Durable (docs/durability.md) - the restore holds the VM's lease (C(vm~<id>) in the scope's catalog), so two restores
    or mounts of one VM never interleave (C(SCOPE_BUSY) names the holder), and journals every change before making it.
    A restore that fails puts the VM back as it was (registered, its disks online, in its cluster role, running if it
    was), or, once the backup's data is back, finishes it; the error says which (C(error_details.undo)). A restore
    whose process was killed is settled by the next restore or mount of that VM, or by
    M(netapp_hyperv.smhv.smhv_cleanup). File-copy clones are named C(smhv_restore_<operation>_<lun>).
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The scope the VM belongs to (a standalone host, or a cluster or any of its nodes); its catalog holds the backup.
    required: true
  vm:
    description:
      - The VM, by name or id (GUID). A deleted VM is found by name in the catalog's backups.
      - Matching is exact - a GUID matches a VM's id, and a name a VM's name (case aside; never a prefix or a wildcard).
        A value that is one VM's id and another VM's name, or a name several VMs share, fails with C(VM_AMBIGUOUS);
        a value with leading or trailing spaces fails with C(INVALID_ARGUMENT).
    type: str
    required: true
  backup:
    description:
      - The backup to restore from, C(<dataset>_<MM-DD-YYYY_HH.MM.SS>). Default the newest good backup holding the VM.
    type: str
  force:
    description:
      - Restore even when SMHV's restore warnings apply (see RV(restore_warnings)).
    type: bool
    default: false
  start:
    description:
      - Start the VM after the restore.
    type: bool
    default: true
  post_script:
    description:
      - A script to run on the host the VM was restored to, after the start, as SMHV's restore post-script.
        C($VMSnapshot) (the backup's name), C($SnapInfoName) and C($SnapInfoSnapshot) in its arguments are replaced,
        and are also its environment variables. A non-zero exit code fails the task with C(SCRIPT_FAILED); the VM is
        restored by then.
    type: dict
    suboptions:
      path:
        description: The script on the host (C(.ps1) runs in PowerShell, anything else directly).
        type: str
        required: true
      arguments:
        description: Its arguments, one list entry each.
        type: list
        elements: str
        default: []
      timeout:
        description: Seconds before it is stopped.
        type: int
        default: 3600
  target_host:
    description:
      - Restore to this host instead (a standalone host, or a cluster, whose core group owner gets the VM). It needs no
        registration; the catalog read is O(hyperv_host)'s.
    type: str
  path_map:
    description:
      - Where the VM's files go, a dict of old path prefix to new prefix, for example from drive J to drive K (see the
        examples). The longest matching prefix wins; files under no prefix keep their path. Implies a restore to new
        paths, also on O(hyperv_host) itself.
      - With O(verify_snapshot=false), map each old access path to the access path of the LUN that replaced it (the
        SnapMirror destination LUN), so that a file is at the same place inside the LUN as at backup.
    type: dict
  verify_snapshot:
    description:
      - Whether the backup's snapshot is taken from the LUNs the backup recorded (found by serial number on
        O(storage_systems)), as SMHV verified it.
      - V(false) is SMHV's C(-DisableVerifySnapshot), for a restore after a SnapMirror failover, when the VM's files are
        on the destination volumes' LUNs and the recorded clusters, volumes and LUN serials no longer apply. Each
        backed-up file's path (after O(path_map)) is looked up on the target host, the LUN behind it found by its disk
        serial, and the snapshot of the backup's name on that LUN's volume used (SnapMirror carries the snapshots), by
        file copy from a LUN clone of it, or LUN-level when the LUN holds only this VM's files (also to an alternate host
        or paths, as that LUN is the target host's). A volume without that snapshot fails with C(SNAPSHOT_NOT_FOUND), naming the volume and the backups
        whose snapshots it has. RV(luns) says which volume and snapshot served each file.
      - With V(true) and the recorded LUNs gone (or their cluster not answering), the error says whether the target
        host's LUN has the snapshot, so that V(false) would work.
    type: bool
    default: true
attributes:
  check_mode:
    description: Reads the backup and the VM, plans the restore per LUN, and returns RV(actions) and RV(restore_warnings)
      without changing anything.
    support: full
  diff_mode:
    description: Not supported; RV(actions) says what a restore does.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
seealso:
  - module: netapp_hyperv.smhv.smhv_backup
  - module: netapp_hyperv.smhv.smhv_backup_info
"""

EXAMPLES = r"""
- name: Restore vm-print01 from its newest backup
  netapp_hyperv.smhv.smhv_restore:
    hyperv_host: hv03
    vm: vm-print01

- name: Restore testVM to the DR host, from J:\ to K:\ (the SMHV best-practices example)
  netapp_hyperv.smhv.smhv_restore:
    hyperv_host: hv03
    vm: testVM
    target_host: hvdr01
    path_map:
      'J:\': 'K:\'

- name: After a failover, restore testVM on the DR host from the SnapMirror destination (the seed's DR example)
  # SnapInfo restored from its last snapshot on the DR site and hvdr01 registered with it (smhv_snapinfo, smhv_host);
  # the mirror of the LUN that was J:\ on the primary is connected to hvdr01 at K:\.
  netapp_hyperv.smhv.smhv_restore:
    hyperv_host: hvdr01
    vm: testVM
    backup: sm_san_ded1_07-10-2013_11.49.06
    path_map:
      'J:\': 'K:\'
    verify_snapshot: false

- name: Restore a VM that is off from a given backup, and leave it off
  netapp_hyperv.smhv.smhv_restore:
    hyperv_host: hv03
    vm: vm-file02
    backup: files_03-14-2026_09.00.00
    force: true
    start: false
"""

RETURN = r"""
actions:
  description: The plan, in order. Check mode returns it without doing anything.
  returned: always
  type: list
  elements: str
  sample: ["restore VM vm-print01 (6f1c...) from backup files_03-14-2026_09.00.00 (application)", "stop VM vm-print01 (now Running)",
           "remove VM vm-print01's registration (its virtual disks stay)",
           "restore LUN cluster-a:/vol/vol_hv03/lun_k from snapshot files_03-14-2026_09.00.00 (it holds only this VM's files)",
           "register VM vm-print01 from K:\\vm-print01\\Virtual Machines\\6F1C....vmcx (same id)"]
backup:
  description: The backup restored from.
  returned: always
  type: str
dataset:
  description: The backup's dataset.
  returned: always
  type: str
backup_type:
  description: C(application) or C(crash).
  returned: always
  type: str
vm:
  description: The VM's id, name and state after the restore, and its C(cluster_group) when restored to a cluster.
  returned: always
  type: dict
  sample: {"id": "6f1c5e7a-2b1d-4c3e-9f7a-0d1e2f3a4b5c", "name": "vm-print01", "state": "Running"}
luns:
  description: Per LUN, how it was (or would be) restored and which volume and snapshot served it.
  returned: always
  type: list
  elements: dict
  contains:
    method:
      description: C(lun) (the LUN restored whole from the snapshot) or C(file_copy) (from a LUN clone).
      type: str
    lun:
      description: The LUN whose snapshot served the files, C(<cluster>:<path>); with O(verify_snapshot=false) the one
        behind the files' paths on the target host now.
      type: str
    serial:
      description: That LUN's serial number.
      type: str
    cluster:
      description: Its ONTAP cluster.
      type: str
    svm:
      description: Its SVM.
      type: str
    volume:
      description: Its volume, which holds RV(luns[].snapshot).
      type: str
    snapshot:
      description: The snapshot restored from (C(<backup>_backup) for a VSS-provider backup).
      type: str
    access_path:
      description: Where the LUN is on the host (the source host's, or the target host's with O(verify_snapshot=false)).
      type: str
    files:
      description: The backed-up paths.
      type: list
      elements: str
    destinations:
      description: Where each file goes (after O(path_map)).
      type: list
      elements: str
    now_on:
      description: The disk serials holding those paths now, when they are on another LUN than at backup.
      type: list
      elements: str
      returned: when the files moved to another LUN
    restored:
      description: True once the LUN was restored whole from the snapshot (C(method=lun)); the files of a C(file_copy) are in
        RV(luns[].destinations).
      type: bool
      returned: after a LUN-level restore (not in check mode)
      sample: true
    recorded:
      description: What the backup recorded for these files (C(cluster), C(svm), C(volume), C(serial)).
      type: dict
      returned: with O(verify_snapshot=false)
    copied:
      description: The files copied from the clone.
      type: list
      elements: str
      returned: after a file copy
  sample: [{"method": "file_copy", "lun": "cluster-b:/vol/vol_hv03_dr/lun_j", "serial": "wCk3F+Yq9xZZ", "cluster": "cluster-b",
            "svm": "svm_dr", "volume": "vol_hv03_dr", "snapshot": "files_03-14-2026_09.00.00", "access_path": "K:\\",
            "files": ["J:\\vm-file01\\Virtual Hard Disks\\vm-file01.vhdx"],
            "destinations": ["K:\\vm-file01\\Virtual Hard Disks\\vm-file01.vhdx"],
            "recorded": {"cluster": "cluster-a", "svm": "svm_hv", "volume": "vol_hv03", "serial": "wCk3F+Yq9xAb"}}]
verify_snapshot:
  description: The O(verify_snapshot) the restore ran with.
  returned: always
  type: bool
restore_warnings:
  description: SMHV's restore warnings that apply; without O(force) a restore with any of them fails with
    C(RESTORE_NEEDS_FORCE).
  returned: always
  type: list
  elements: str
force_required:
  description: Whether RV(restore_warnings) is not empty.
  returned: always
  type: bool
target_host:
  description: The host the VM was (or would be) restored to.
  returned: always
  type: str
alternate:
  description: Whether the restore goes to an alternate host or paths.
  returned: always
  type: bool
notes:
  description: Facts about the restore that need nothing, such as a deleted VM being registered again.
  returned: always
  type: list
  elements: str
post_script:
  description: The post-script's run (host, path, exit code, stdout, stderr), or null.
  returned: success
  type: dict
timings:
  description: Seconds in total and per step.
  returned: always
  type: dict
operation:
  description: The restore's operation id (C(restore~<hex>)), its journal's name; its first 8 hex digits are in the names
    of the clones it made.
  returned: success
  type: str
error_code:
  description: On failure, a stable code (C(RESTORE_NEEDS_FORCE), C(BACKUP_NOT_FOUND), C(VM_NOT_FOUND), C(RESTORE_UNSUPPORTED),
    C(SNAPSHOT_NOT_FOUND), C(LUN_NOT_FOUND), C(VM_EXISTS), C(VM_AMBIGUOUS), C(SCOPE_BUSY), ...). C(error_details.suggest)
    says when O(verify_snapshot=false) would find the backup's snapshot. After a failure from the VM's stop on,
    C(error_details.vm_registered) and C(error_details.undo) (C(result) V(undone) or V(finished), C(vm_state),
    C(cluster_group); or C(error) and C(journal) when putting the VM back failed too, and the journal stays open) say
    what the VM is now.
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
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.restore.run import RestoreEngine


def run(params, check_mode):
    storage = StorageClient(params["storage_systems"])
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        path = session.require_registration()[0]
        catalog = Catalog(HostRepository(session.owner, path))
        options = dict(backup=params["backup"], force=params["force"], start=params["start"], check_mode=check_mode,
                       path_map=params["path_map"], post_script=params["post_script"],
                       verify_snapshot=params["verify_snapshot"])
        if params["target_host"]:
            with ScopeSession(params["target_host"], params["winrm"], params["host_addresses"]) as target:
                result = RestoreEngine(session, storage, catalog, target=target).run(params["vm"], **options)
        else:
            result = RestoreEngine(session, storage, catalog).run(params["vm"], **options)
        result["warnings"] = list(result["restore_warnings"])
        return result


def main():
    spec = smhv_argument_spec()
    spec.update(
        vm=dict(type="str", required=True),
        backup=dict(type="str"),
        force=dict(type="bool", default=False),
        start=dict(type="bool", default=True),
        target_host=dict(type="str"),
        path_map=dict(type="dict"),
        verify_snapshot=dict(type="bool", default=True),
        post_script=dict(type="dict", options=dict(path=dict(type="str", required=True),
                                                   arguments=dict(type="list", elements="str", default=[]),
                                                   timeout=dict(type="int", default=3600))),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
