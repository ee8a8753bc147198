#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_failover
short_description: Fail a scope's Hyper-V VMs over to a DR host from their SnapMirror destinations
version_added: 0.1.0
description:
  - Does what the SnapManager for Hyper-V disaster-recovery runbook does by hand (TR-4226 chapter 8), for the VMs of one source scope (a standalone
    host or failover cluster of the primary site) onto a standalone DR host or a DR failover cluster (O(hyperv_host)).
  - A planned failover (O(mode=planned)), with the primary site reachable, first backs up each dataset whose VMs fail over with SnapMirror update
    (O(final_backup)), shuts those VMs down on the source scope's hosts, and updates the mirrors of their volumes and of the SnapInfo volume once
    more; the failover then goes to that final backup, so nothing committed before it is lost. The VMs stay registered, off, at the primary site. A
    re-run that finds the SnapInfo at the DR host does none of this again.
  - Unplanned failover (O(mode=unplanned)) works with only the DR site reachable. Only the storage systems named in O(dr_storage_systems) are
    contacted, and only the DR host over WinRM; SnapMirror relationships are quiesced and broken from their destination cluster.
  - The SnapInfo LUN of the source scope is found in its SnapMirror destination volume (the volume with the scope's SnapInfo snapshots), its
    relationship broken, the LUN mapped to the DR host's igroup and connected at the drive of O(snapinfo_path), restored from the newest SnapInfo
    snapshot of the source scope there (single-LUN SnapRestore), and the DR host registered with it. A DR scope registered with a SnapInfo of its
    own (an active DR site) keeps it and its catalog; the source scope's is recorded beside it, and M(netapp_hyperv.smhv.smhv_backup_info) lists both.
  - The recovery point, per dataset, is the newest good backup holding the chosen VMs whose snapshot is on every destination volume those VMs need, or
    O(backup). Each destination volume goes back to that snapshot - a volume SnapRestore when the volume holds one LUN, else a single-LUN SnapRestore
    per LUN, as the runbook says. A LUN holding a VM the DR host already has is never restored again.
  - Each destination LUN is mapped to the DR host's igroup and connected at the access path its source LUN had, or the one O(path_map) maps it to; the
    VMs are restored on the DR host by the restore engine (M(netapp_hyperv.smhv.smhv_restore) with
    O(netapp_hyperv.smhv.smhv_restore#module:verify_snapshot=false) and the path map), with their ids, and started group by group (O(start_order)).
  - On a DR failover cluster (O(hyperv_host) names it or a node; every node must answer), each destination LUN is mapped to the igroups holding every
    node's initiators, every node rescans, and the owner node adds the disk to the cluster - a CSV at its access path when that is
    C(C:\ClusterStorage\<folder>) (the source CSV's, or where O(path_map) maps it, such as C(C:\ClusterStorage\Volume1) to
    C(C:\ClusterStorage\Volume3)), else a cluster disk at its drive letter, as the SnapInfo LUN at the drive of O(snapinfo_path). The VMs are
    registered on the owner node (their LUNs are at the recovery point already), made highly available (Add-ClusterVirtualMachineRole) and started;
    check mode's plan names the nodes and CSVs.
  - Every step after the SnapInfo is journaled in the DR scope's SnapInfo under the DR host's lease. A run that stopped (a fault, a lost connection)
    leaves the journal open; running the task again continues from where it stopped, with the same recovery point, and never restores a VM the DR host
    has already. A failover that is complete reports C(changed=false).
  - Check mode changes nothing and returns the whole plan. Before the SnapInfo is at the DR host, its catalog is read from a FlexClone of the SnapInfo
    destination volume at the snapshot the run would restore, connected to the DR host under C(C:\SMHV\Mounts) and removed before the module returns.
  - A DR drill (O(action=drill)) brings the same VMs up on the DR host without breaking anything. FlexClones of the SnapInfo destination volume (at
    its newest SnapInfo snapshot of the source scope) and of each destination volume (at the recovery point's snapshot) are made, named
    C(smhv_drill_<scope>_<volume>), their LUNs mapped to the DR host and connected under C(C:\SMHV\Drills\<scope>); each VM is registered from its
    clone as C(<name><drill_suffix>) (same id) with its network adapters disconnected (or on O(drill_switch)), started, and checked - running, the
    guest's heartbeat, no adapter connected (or only to O(drill_switch)). The SnapMirror relationships stay as they are and keep updating.
    O(action=end_drill) removes the drill's VMs, disks, folders, maps and clones, found by those names; a drill first ends an earlier or aborted one.
  - A drill on a DR failover cluster maps each clone LUN to every node and makes it a CSV at C(C:\ClusterStorage\smhv_drill_<scope>_<volume>_<lun>);
    the drill VMs are registered on the owner node and made highly available. O(action=end_drill) also removes their roles and the CSVs.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - Where the VMs go - a standalone DR host, or a DR failover cluster (its name or any node's; its owner node coordinates).
    required: true
  action:
    description:
      - V(failover) fails the VMs over; V(drill) starts a DR drill (FlexClones, nothing broken); V(end_drill) ends it.
      - V(readiness) changes nothing and reports whether the DR site is ready - the DR host answers and has a running initiator, the SnapInfo
        mirror and its snapshots are there, every relationship on the DR clusters is snapmirrored, healthy and within O(max_lag_seconds), which
        igroups hold the DR host's initiators, and whether the drive letters the failover would use are free.
    type: str
    choices: [failover, drill, end_drill, readiness]
    default: failover
  max_lag_seconds:
    description:
      - With O(action=readiness), a relationship lagging more than this many seconds fails the check. Default no limit.
    type: int
  mode:
    description:
      - V(unplanned) - the primary site may be down; nothing there is contacted.
      - V(planned) - the primary site is up; every storage system of O(storage_systems) is used, and the source scope is
        reached over WinRM for the final backup and the shutdown.
    type: str
    choices: [unplanned, planned]
    default: unplanned
  final_backup:
    description:
      - With O(mode=planned), back up each dataset with SnapMirror update before the shutdown. Without it the recovery point
        is the newest backup already at the DR site (data written since is lost).
    type: bool
    default: true
  source_scope:
    description:
      - The primary site's scope whose VMs fail over (its name as registered, such as V(hv03) or V(hvclus01)). Its SnapInfo
        snapshots name it.
    type: str
    required: true
  dr_storage_systems:
    description:
      - The entries of O(storage_systems) at the DR site, by C(hostname) or C(hostname:port). Only these are contacted.
        Required for an unplanned failover when O(storage_systems) has more than one entry.
    type: list
    elements: str
  snapinfo_path:
    description:
      - The SnapInfo path on the DR host, on the drive (or CSV) the SnapInfo LUN is connected at, such as C(S:\SnapInfo).
        Its folder inside the LUN must be the one the source scope used. On a DR scope registered with a SnapInfo of its own, not on that one's disk.
    type: str
    required: true
  snapinfo_lun:
    description:
      - The SnapInfo LUN in its destination volume, C(/vol/<volume>/<lun>), when that volume holds several LUNs none or
        several of whose names contain the source scope's name.
    type: str
  report_path:
    description:
      - The report path registered for the DR host with the SnapInfo.
    type: str
    default: C:\SMHV\Reports
  vms:
    description:
      - The VMs to fail over, by name or id, from the source scope's backups. Default every VM of O(datasets).
    type: list
    elements: str
  datasets:
    description:
      - The datasets whose VMs fail over. Default every dataset of the source scope.
    type: list
    elements: str
  backup:
    description:
      - The backup to fail over to, C(<dataset>_<MM-DD-YYYY_HH.MM.SS>), instead of the newest one whose snapshots reached the
        DR site.
    type: str
  path_map:
    description:
      - Access paths of the primary site mapped to the DR host's, as the runbook maps C(J:\) to C(K:\). Each destination LUN
        is connected at its source LUN's access path after this map, and the VMs' paths follow.
    type: dict
  luns:
    description:
      - For a destination volume holding several LUNs, which destination LUN was at which access path on the primary site.
    type: list
    elements: dict
    suboptions:
      lun:
        description: The destination LUN, C(/vol/<volume>/<lun>).
        type: str
        required: true
      access_path:
        description: Its source LUN's access path at the primary site, such as C(J:\).
        type: str
        required: true
  start:
    description:
      - Start the VMs after they are restored.
    type: bool
    default: true
  start_order:
    description:
      - Groups of VMs started in this order, with a wait after each group; the VMs not named start last, together.
    type: list
    elements: dict
    suboptions:
      vms:
        description: The VM names of the group.
        type: list
        elements: str
        required: true
      wait_seconds:
        description: Seconds to wait after starting the group.
        type: int
        default: 0
  lease_ttl:
    description:
      - Seconds the DR host's lease lasts without renewal (it is renewed in the background).
    type: int
    default: 1800
  drill_suffix:
    description:
      - Appended to each VM's name for its drill registration.
    type: str
    default: -drill
  drill_switch:
    description:
      - An isolated virtual switch of the DR host to connect the drill VMs' network adapters to, instead of disconnecting
        them; the check then passes when they are on that switch only.
    type: str
  drill_check_timeout:
    description:
      - Seconds a drill waits for every drill VM to run with the guest's heartbeat.
    type: int
    default: 300
  drill_check_script:
    description:
      - A guest check on the DR host, run once per drill VM that passed the heartbeat check as a backup's post-script runs. C($DrillVMName),
        C($VMName), C($VMId), C($VMSnapshot) (the backup), C($SnapInfoName), C($SnapInfoSnapshot) are replaced in its arguments and set in its
        environment. A non-zero exit code, a timeout or a missing script fails that VM (C(check_script) in RV(vms)); the drill goes on.
    type: dict
    suboptions:
      path:
        description: The script on the DR host.
        type: str
        required: true
      arguments:
        description: Its arguments, one list entry each.
        type: list
        elements: str
      timeout:
        description: Seconds each run may take before it is stopped and its VM fails.
        type: int
        default: 300
notes:
  - The DR host needs an iSCSI (or FC) initiator; a stopped Microsoft iSCSI Initiator service is started.
  - Destination LUNs get the DR host's igroup C(smhv_<host>) (an existing igroup holding its initiators is used); on a DR cluster each node's.
"""

EXAMPLES = r"""
- name: Fail hv03's VMs over to hvdr01, with site A down
  netapp_hyperv.smhv.smhv_failover:
    hyperv_host: hvdr01
    source_scope: hv03
    dr_storage_systems: [cluster-b.lab.local]
    snapinfo_path: S:\SnapInfo
    path_map: {"J:\\": "K:\\", "K:\\": "L:\\"}
    luns:
      - {lun: /vol/vol_hv03_dr/lun_j, access_path: "J:\\"}
      - {lun: /vol/vol_hv03_dr/lun_k, access_path: "K:\\"}
    start_order:
      - {vms: [vm-sql01], wait_seconds: 60}
  register: failover

- name: Fail hvclus01's VMs over to the DR cluster hvdrclus01 (CSVs, highly available VMs)
  netapp_hyperv.smhv.smhv_failover:
    hyperv_host: hvdrclus01
    source_scope: hvclus01
    dr_storage_systems: [cluster-b.lab.local]
    snapinfo_path: S:\SnapInfo                # a cluster disk at S: on the owner node
    path_map: {'C:\ClusterStorage\Volume1': 'C:\ClusterStorage\Volume3'}  # Volume2 stays Volume2

- name: Drill hv03's failover on hvdr01 (the mirrors keep updating)
  netapp_hyperv.smhv.smhv_failover:
    action: drill
    hyperv_host: hvdr01
    source_scope: hv03
    dr_storage_systems: [cluster-b.lab.local]
    snapinfo_path: S:\SnapInfo
    luns:
      - {lun: /vol/vol_hv03_dr/lun_j, access_path: "J:\\"}
      - {lun: /vol/vol_hv03_dr/lun_k, access_path: "K:\\"}
  register: drill

- name: End the drill
  netapp_hyperv.smhv.smhv_failover:
    action: end_drill
    hyperv_host: hvdr01
    source_scope: hv03
    dr_storage_systems: [cluster-b.lab.local]
    snapinfo_path: S:\SnapInfo

- name: Is the DR site ready for hv03's failover? (changes nothing)
  netapp_hyperv.smhv.smhv_failover:
    action: readiness
    hyperv_host: hvdr01
    source_scope: hv03
    dr_storage_systems: [cluster-b.lab.local]
    snapinfo_path: S:\SnapInfo
    max_lag_seconds: 7200
  register: readiness

- name: Show the plan only
  netapp_hyperv.smhv.smhv_failover:
    hyperv_host: hvdr01
    source_scope: hv03
    dr_storage_systems: [cluster-b.lab.local]
    snapinfo_path: S:\SnapInfo
    vms: [vm-sql01]
  check_mode: true
"""

RETURN = r"""
changed:
  description: Whether anything changed (or would, in check mode). A failover that is complete changes nothing.
  returned: always
  type: bool
mode:
  description: The failover mode.
  returned: with O(action=failover) or O(action=drill)
  type: str
  sample: unplanned
source_scope:
  description: The source scope.
  returned: always
  type: str
dr_host:
  description: The DR host's scope name.
  returned: always
  type: str
actions:
  description: What the run did (or would do), in order.
  returned: always
  type: list
  elements: str
plan:
  description: The whole plan, as computed before any change (check mode returns the same).
  returned: with O(action=failover) or O(action=drill)
  type: dict
  contains:
    snapinfo:
      description: The SnapInfo relationship, LUN, snapshot restored from, access path and path, C(action) (C(restore) or C(none)), and C(beside),
        the DR scope's own SnapInfo path when the source scope's comes in beside it (else null).
      type: dict
    cluster:
      description: On a DR failover cluster its C(name), C(owner_node), C(nodes) and the C(csvs) the LUNs become; null for a standalone DR host.
      type: dict
    recovery_points:
      description: Per dataset, the backup failed over to, its time and age, and the newer backups skipped with why.
      type: list
      elements: dict
    mirrors:
      description: The relationships of the destination volumes, their state and C(action) (C(break) or C(none)).
      type: list
      elements: dict
    volumes:
      description: Per destination volume, its source, snapshot, backup, and C(method) (C(volume) when it holds one LUN, else C(lun)).
      type: list
      elements: dict
    luns:
      description: Per destination LUN, its serial, the source LUN's serial and access path, the access path on the DR host,
        the snapshot, C(restore) (C(volume), C(lun) or C(none)), whether it is connected, C(csv) (a CSV of the DR cluster), its VMs.
      type: list
      elements: dict
    vms:
      description: Per VM, its id, name, dataset, backup, source host, configuration and disk paths on the DR host, C(action)
        (C(restore) or C(none)), start group, and on a DR cluster C(highly_available) (a cluster role already).
      type: list
      elements: dict
    start_groups:
      description: The start groups, in order, with their waits.
      type: list
      elements: dict
vms:
  description: Per VM, the plan's entry with its C(outcome) (C(restored), C(present), C(planned); for a drill C(passed) or C(failed)), C(state), the C(luns) it
    came from (C(method) C(in_place), or C(file_copy) or C(lun) when the restore engine restored it); a drill's VMs have C(drill_name), C(health) (C(state),
    C(heartbeat), C(network_connected), C(switches), C(isolated)), with O(drill_check_script) C(check_script) (C(path), C(exit_code), C(stdout), C(stderr),
    C(error) if it did not end; null if the VM failed before it).
  returned: with O(action=failover) or O(action=drill)
  type: list
  elements: dict
  sample: [{"id": "6f1c5e7a-2b1d-4c3e-9f7a-0d1e2f3a4b5c", "name": "vm-print01", "outcome": "restored", "state": "Running",
            "backup": "dr_03-14-2026_09.00.00", "config_path": "L:\\vm-print01\\Virtual Machines\\6f1c5e7a.vmcx"}]
recovery_points:
  description: Per dataset, the backup brought up, its time and age in seconds.
  returned: with O(action=failover) or O(action=drill)
  type: list
  elements: dict
rpo_seconds:
  description: The recovery point objective met - the age of the oldest data brought up, in seconds.
  returned: with O(action=failover) or O(action=drill)
  type: int
rto:
  description: Seconds in total and per phase (discover, snapinfo, plan, break, snaprestore, connect, restore, cluster_roles, start).
  returned: always
  type: dict
ready:
  description: With O(action=readiness), whether every check passed.
  returned: with O(action=readiness)
  type: bool
checks:
  description: With O(action=readiness), each check (C(dr_host), C(initiator), C(snapinfo_mirror), C(relationships), C(igroup),
    C(access_paths)) with C(ok) and C(detail).
  returned: with O(action=readiness)
  type: list
  elements: dict
relationships:
  description: With O(action=readiness), the DR site's relationships with state, health and lag in seconds.
  returned: with O(action=readiness)
  type: list
  elements: dict
free_drive_letters:
  description: With O(action=readiness), the DR host's free drive letters.
  returned: with O(action=readiness)
  type: list
  elements: str
prepared:
  description: With O(mode=planned), what was done at the primary site - C(actions), C(final_backups), the VMs C(stopped)
    and the mirror C(updates); null when nothing was (an unplanned failover, or a re-run).
  returned: with O(action=failover)
  type: dict
resumed:
  description: Whether this run continued an interrupted failover's journal.
  returned: when not check mode
  type: bool
recovered:
  description: The interrupted operations' journals this run recovered.
  returned: when not check mode
  type: list
  elements: dict
action:
  description: C(drill), C(end_drill) or C(readiness), for those actions.
  returned: with O(action=drill), O(action=end_drill) or O(action=readiness)
  type: str
passed:
  description: Whether every drill VM passed - running, guest heartbeat, no adapter connected, and the guest check script if any (RV(vms)).
  returned: with O(action=drill)
  type: bool
ended_earlier_drill:
  description: Whether the drill first ended an earlier or aborted drill of the scope.
  returned: with O(action=drill)
  type: bool
removed:
  description: What O(action=end_drill) removed (or would) - drill VMs, FlexClones, disks.
  returned: with O(action=end_drill)
  type: dict
error_code:
  description: On failure, a stable code (C(SNAPSHOT_NOT_FOUND) when no backup reached the DR site, C(CONTROLLER_VM) when the VM to shut down
    or remove runs this controller, C(INVALID_ARGUMENT), C(VM_NOT_FOUND), C(SCOPE_BUSY), ...); C(error_details.journal) names the journal a re-run continues.
  returned: failure
  type: str
error_details:
  description: On failure, what the message says as data (names, paths, numbers; C(journal) once the failover has begun); its keys
    depend on RV(error_code), empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.drill import DrillEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failover import FailoverEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.planned import PrimarySite
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.readiness import check_readiness
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.site import DrStorage, dr_systems
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession


def run(params, check_mode):
    # A planned failover backs up and updates at the primary site too: every storage system; else the DR site's only.
    planned = params["mode"] == "planned" and params["action"] == "failover"
    systems = params["storage_systems"] if planned else dr_systems(params["storage_systems"], params["dr_storage_systems"], True)
    storage = DrStorage(systems)
    options = dict(report_path=params["report_path"], lease_ttl=datetime.timedelta(seconds=params["lease_ttl"]))
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        if params["action"] == "readiness":
            engine = FailoverEngine(session, storage, params["source_scope"], params["snapinfo_path"], **options)
            return check_readiness(engine, params["max_lag_seconds"], snapinfo_lun=params["snapinfo_lun"], path_map=params["path_map"],
                                   luns=params["luns"])
        if params["action"] != "failover":
            drill = DrillEngine(session, storage, params["source_scope"], params["snapinfo_path"], suffix=params["drill_suffix"],
                                check_timeout=params["drill_check_timeout"], switch=params["drill_switch"], check_script=params["drill_check_script"],
                                **options)
            if params["action"] == "end_drill":
                return drill.end(check_mode=check_mode, snapinfo_lun=params["snapinfo_lun"])
            return drill.run(vms=params["vms"], datasets=params["datasets"], backup=params["backup"], luns=params["luns"],
                             start_order=params["start_order"], check_mode=check_mode, snapinfo_lun=params["snapinfo_lun"])
        engine = FailoverEngine(session, storage, params["source_scope"], params["snapinfo_path"], **options)
        if params["mode"] == "planned":
            with ScopeSession(params["source_scope"], params["winrm"], params["host_addresses"]) as source:
                primary = PrimarySite(source, storage, lease_ttl=options["lease_ttl"])
                return engine.run(vms=params["vms"], datasets=params["datasets"], backup=params["backup"], path_map=params["path_map"],
                                  luns=params["luns"], start=params["start"], start_order=params["start_order"], check_mode=check_mode,
                                  snapinfo_lun=params["snapinfo_lun"], primary=primary, final_backup=params["final_backup"])
        return engine.run(vms=params["vms"], datasets=params["datasets"], backup=params["backup"], path_map=params["path_map"],
                          luns=params["luns"], start=params["start"], start_order=params["start_order"], check_mode=check_mode,
                          snapinfo_lun=params["snapinfo_lun"])


def main():
    spec = smhv_argument_spec()
    spec.update(
        action=dict(type="str", choices=["failover", "drill", "end_drill", "readiness"], default="failover"),
        max_lag_seconds=dict(type="int"),
        mode=dict(type="str", choices=["unplanned", "planned"], default="unplanned"),
        final_backup=dict(type="bool", default=True),
        source_scope=dict(type="str", required=True),
        dr_storage_systems=dict(type="list", elements="str"),
        snapinfo_path=dict(type="str", required=True),
        snapinfo_lun=dict(type="str"),
        report_path=dict(type="str", default="C:\\SMHV\\Reports"),
        vms=dict(type="list", elements="str"),
        datasets=dict(type="list", elements="str"),
        backup=dict(type="str"),
        path_map=dict(type="dict"),
        luns=dict(type="list", elements="dict", options=dict(lun=dict(type="str", required=True),
                                                             access_path=dict(type="str", required=True))),
        start=dict(type="bool", default=True),
        start_order=dict(type="list", elements="dict", options=dict(vms=dict(type="list", elements="str", required=True),
                                                                    wait_seconds=dict(type="int", default=0))),
        lease_ttl=dict(type="int", default=1800),
        drill_suffix=dict(type="str", default="-drill"),
        drill_check_timeout=dict(type="int", default=300),
        drill_switch=dict(type="str"),
        drill_check_script=dict(type="dict", options=dict(path=dict(type="str", required=True), timeout=dict(type="int", default=300),
                                                          arguments=dict(type="list", elements="str"))),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
