#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_failback
short_description: Fail Hyper-V VMs back to the primary site after a failover, and protect them again from there
version_added: 0.1.0
description:
  - The second half of the SnapManager for Hyper-V disaster-recovery runbook (TR-4226 chapter 8, "Steps to Fail Back VMs
    to Primary Site" and the steps after it), after M(netapp_hyperv.smhv.smhv_failover) brought the VMs of the primary scope
    O(hyperv_host) up on the DR host O(dr_host).
  - O(action=failback) gets the data back to the primary site and the VMs with it. Each relationship the failover broke is
    resynced in the reverse direction (DR -> primary), so only what changed at the DR site travels; with O(rebuild=true)
    (the primary site rebuilt on new storage) a new relationship DR -> primary is created and initialized instead, to the
    volumes O(primary_volumes) names. The VMs are then shut down on the DR host, a backup of their datasets is taken there
    with SnapMirror update (the seed's scripted way of the one more update it asks for), and the reversed relationships are
    updated once more. At the primary site the relationships are quiesced and broken, the LUNs connected at the mount
    points they had there, the SnapInfo LUN restored from its newest SMHV snapshot (the DR scope's, holding the DR site's
    backups), the primary scope registered with it, and the VMs restored (same ids, paths through O(path_map)) and started.
    The primary site's part is the failover engine run from the DR scope to the primary host.
  - O(action=reprotect), once the VMs run at the primary site, cleans the DR site (the VMs that failed back are turned off
    and removed there, their disks disconnected, the LUNs unmapped, the DR scope's registration removed when its SnapInfo was
    on one of them), resyncs each relationship in the original direction (primary -> DR) and proves it with a backup at the
    primary site with SnapMirror update whose snapshots reach the DR volumes (O(prove)); without it the result says that
    the next scheduled backup with SnapMirror update will.
  - O(action=readiness) changes nothing and reports whether a failback can start - both sites' hosts and clusters answer,
    where each relationship of the round trip stands, which VMs run on the DR host, and whether the primary host's mount
    points are free or held by the same LUNs.
  - Each step is journaled. The DR site's steps (resync, shutdown, final backup, final update) in the DR host's SnapInfo as
    operation C(failback) under the lease C(failback~<primary scope>); the primary site's in the SnapInfo it restores, as a
    failover's are; reprotect's in the primary's SnapInfo as operation C(reprotect). A run that stopped anywhere is finished
    by running the task again; a finished failback or reprotect reports C(changed=false).
  - Check mode changes nothing and returns the whole plan (C(plan), C(actions)) the run then carries out.
  - O(hyperv_host) and O(dr_host) may be failover clusters. The VMs are found and shut down on every node of a DR cluster;
    at a primary cluster each CSV (or cluster disk) leaves the cluster before its LUN is SnapRestored and is added back at
    its path from the owner node, and the VMs are registered on the owner node and made highly available again. Reprotect
    removes the VMs and their cluster roles node by node and takes the CSVs and cluster disks out of the DR cluster.
    Tested with a cluster at both sites and with standalone hosts at both sites.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The primary scope - the standalone host or failover cluster the VMs ran on before the failover, and go back to.
    required: true
  dr_host:
    description:
      - The DR host or DR failover cluster the failover brought the VMs up on (and which is registered with the SnapInfo it
        restored).
    type: str
    required: true
  action:
    description:
      - V(failback) brings the VMs back to O(hyperv_host); V(reprotect) cleans the DR site and mirrors primary -> DR again;
        V(readiness) reports and changes nothing.
    type: str
    choices: [failback, reprotect, readiness]
    default: failback
  snapinfo_path:
    description:
      - The SnapInfo path on the primary host (on a drive letter other than C:); the SnapInfo LUN is connected at that drive.
    type: str
    required: true
  dr_storage_systems:
    description:
      - The entries of O(storage_systems) at the DR site, by hostname or hostname:port. Required when O(storage_systems) has
        more than one entry.
    type: list
    elements: str
  primary_storage_systems:
    description:
      - The entries of O(storage_systems) at the primary site. Default every entry not in O(dr_storage_systems).
    type: list
    elements: str
  vms:
    description:
      - Names or ids of the VMs to fail back. Default every VM of the DR scope's datasets the DR host runs from the
        failed-over LUNs.
    type: list
    elements: str
  datasets:
    description:
      - Only the VMs of these datasets.
    type: list
    elements: str
  path_map:
    description:
      - "Access paths at the DR site mapped to the primary's, e.g. C({'K:\\': 'J:\\'})."
      - For each LUN without an entry, the mount point
        its twin LUN (same name in the primary volume) has on the primary host now, else the same access path as at the DR site.
    type: dict
  rebuild:
    description:
      - The primary site was rebuilt on new storage - create and initialize new relationships DR -> primary instead of
        reverse-resyncing the broken ones.
    type: bool
    default: false
  primary_volumes:
    description:
      - With O(rebuild=true), the primary volume (C(svm:volume)) for each DR volume (C(svm:volume)). Default the volume
        name the broken relationship had as its source; a volume that does not exist is created by ONTAP.
    type: dict
  start:
    description:
      - Start the VMs at the primary site.
    type: bool
    default: true
  start_order:
    description:
      - Groups of VMs started in order, each followed by a wait, as with M(netapp_hyperv.smhv.smhv_failover).
    type: list
    elements: dict
    suboptions:
      vms:
        description: VM names.
        type: list
        elements: str
        required: true
      wait_seconds:
        description: Seconds to wait after the group.
        type: int
        default: 0
  prove:
    description:
      - With O(action=reprotect), take a backup at the primary site with SnapMirror update of each dataset of the VMs and
        check that its snapshots reached the DR volumes.
    type: bool
    default: true
  report_path:
    description:
      - The primary scope's report path when it is registered with the restored SnapInfo.
    type: str
    default: C:\SMHV\Reports
  lease_ttl:
    description:
      - Seconds the leases live without renewal.
    type: int
    default: 1800
"""

EXAMPLES = r"""
- name: Fail hv03's VMs back from hvdr01 (site A is back)
  netapp_hyperv.smhv.smhv_failback:
    hyperv_host: hv03
    dr_host: hvdr01
    snapinfo_path: S:\SnapInfo
    dr_storage_systems: [cluster-b.lab.local]
    path_map: {"K:\\": "J:\\", "L:\\": "K:\\"}

- name: Then mirror hv03's volumes to site B again
  netapp_hyperv.smhv.smhv_failback:
    action: reprotect
    hyperv_host: hv03
    dr_host: hvdr01
    snapinfo_path: S:\SnapInfo
    dr_storage_systems: [cluster-b.lab.local]

- name: Fail the cluster hvclus01's VMs back from the DR cluster hvdrclus01 (CSVs back at their paths, VMs highly available)
  netapp_hyperv.smhv.smhv_failback:
    hyperv_host: hvclus01
    dr_host: hvdrclus01
    snapinfo_path: S:\SnapInfo
    dr_storage_systems: [cluster-b.lab.local]
"""

RETURN = r"""
changed:
  description: Whether anything was (or, in check mode, would be) changed.
  returned: always
  type: bool
action:
  description: C(failback), C(reprotect) or C(readiness).
  returned: always
  type: str
primary:
  description: The primary scope.
  returned: always
  type: str
dr_host:
  description: The DR host.
  returned: always
  type: str
plan:
  description: What the run does, computed before it changes anything - C(mirrors) (per volume of the round trip its
    C(dr_volume), C(primary_volume), C(stage), C(state), C(action) and LUN pairs), C(vms) (with O(action=failback) - id,
    name, dataset, state at the DR site, config path there and at the primary, C(action)); with O(action=failback) also
    C(path_map), C(final_backup), C(shutdown), C(snapinfo); with O(action=reprotect) C(clean) (VMs - id, name, state,
    C(clustered), the C(node) each is registered on -, disks, maps) and C(prove).
  returned: with O(action=failback) or O(action=reprotect)
  type: dict
actions:
  description: The plan as sentences, in order.
  returned: always
  type: list
  elements: str
vms:
  description: With O(action=failback), per VM the arrival's outcome (C(restored), C(present)), state at the primary and
    C(at_dr) (its state at the DR site when the run began); with O(action=readiness) the VMs the DR host runs from the
    round trip's LUNs.
  returned: with O(action=failback) when not check mode, or O(action=readiness)
  type: list
  elements: dict
departure:
  description: What was done at the DR site - C(stopped), C(final_backups), C(updates), C(journal); null when nothing was.
  returned: with O(action=failback) when not check mode
  type: dict
arrival:
  description: The primary site's part (the failover engine's result) - C(actions), C(recovery_points), C(rpo_seconds), C(rto).
  returned: with O(action=failback) when not check mode
  type: dict
recovery_points:
  description: With O(action=failback), per dataset the backup the VMs came back from (the final backup at the DR site), its time
    and age in seconds.
  returned: with O(action=failback) when not check mode
  type: list
  elements: dict
rpo_seconds:
  description: With O(action=failback), the age of the oldest data brought back, in seconds.
  returned: with O(action=failback) when not check mode
  type: int
mirrors:
  description: With O(action=readiness), each volume of the round trip (C(dr_volume), C(primary_volume), C(stage), C(state),
    its LUN pairs).
  returned: with O(action=readiness)
  type: list
  elements: dict
proof:
  description: With O(action=reprotect), the backups taken at the primary site and per DR volume whether their snapshot
    arrived (C(backups), C(volumes)), or C(next_scheduled_backup) when O(prove=false).
  returned: with O(action=reprotect) when not check mode
  type: dict
removed:
  description: With O(action=reprotect), what was removed at the DR site (C(vms), C(disks), C(maps), C(registration)).
  returned: with O(action=reprotect) when not check mode
  type: dict
ready:
  description: With O(action=readiness), whether every check passed.
  returned: with O(action=readiness)
  type: bool
checks:
  description: With O(action=readiness), each check (C(primary_host), C(dr_host), C(primary_storage), C(dr_storage),
    C(relationships), C(vms_at_dr), C(primary_paths)) with C(ok) and C(detail).
  returned: with O(action=readiness)
  type: list
  elements: dict
rto:
  description: Seconds in total and per phase.
  returned: always
  type: dict
resumed:
  description: Whether this run continued an interrupted run's journal.
  returned: when not check mode
  type: bool
warnings:
  description: What the user should know (a volume restored LUN by LUN, a registration kept).
  returned: always
  type: list
  elements: str
error_code:
  description: On failure, a stable code (C(FAILBACK_NOT_READY) when the sites are not where the action starts from,
    C(INVALID_ARGUMENT), C(STORAGE_UNREACHABLE), C(HOST_UNREACHABLE), C(SCOPE_BUSY), ...); C(error_details.phase) names the phase.
    C(CONTROLLER_VM) when the failback's shutdown or reprotect's removal at the DR site would stop the VM this controller runs in
    (refused in C(discover), check mode too, before anything changed).
  returned: failure
  type: str
error_details:
  description: On failure, what the message says as data (names, paths, numbers, C(phase)); empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback import FailbackEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_readiness import check_failback_readiness, site_systems
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.failback_sites import RoundTripStorage
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.dr.reprotect import ReprotectEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession


def run(params, check_mode):
    primary_systems, dr_systems = site_systems(params["storage_systems"], params["primary_storage_systems"], params["dr_storage_systems"])
    if params["action"] == "readiness":
        return check_failback_readiness(params, primary_systems, dr_systems)
    storage = RoundTripStorage(primary_systems + dr_systems)
    options = dict(report_path=params["report_path"], lease_ttl=datetime.timedelta(seconds=params["lease_ttl"]))
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as primary, \
            ScopeSession(params["dr_host"], params["winrm"], params["host_addresses"]) as dr:
        sites = (primary, dr, storage, RoundTripStorage(primary_systems), RoundTripStorage(dr_systems), params["snapinfo_path"])
        if params["action"] == "reprotect":
            engine = ReprotectEngine(*sites, **options)
            return engine.run(vms=params["vms"], datasets=params["datasets"], prove=params["prove"], check_mode=check_mode)
        engine = FailbackEngine(*sites, primary_volumes=params["primary_volumes"], rebuild=params["rebuild"], **options)
        return engine.run(vms=params["vms"], datasets=params["datasets"], path_map=params["path_map"], start=params["start"],
                          start_order=params["start_order"], check_mode=check_mode)


def main():
    spec = smhv_argument_spec()
    spec.update(
        dr_host=dict(type="str", required=True),
        action=dict(type="str", choices=["failback", "reprotect", "readiness"], default="failback"),
        snapinfo_path=dict(type="str", required=True),
        dr_storage_systems=dict(type="list", elements="str"),
        primary_storage_systems=dict(type="list", elements="str"),
        vms=dict(type="list", elements="str"),
        datasets=dict(type="list", elements="str"),
        path_map=dict(type="dict"),
        rebuild=dict(type="bool", default=False),
        primary_volumes=dict(type="dict"),
        start=dict(type="bool", default=True),
        start_order=dict(type="list", elements="dict", options=dict(vms=dict(type="list", elements="str", required=True),
                                                                    wait_seconds=dict(type="int", default=0))),
        prove=dict(type="bool", default=True),
        report_path=dict(type="str", default="C:\\SMHV\\Reports"),
        lease_ttl=dict(type="int", default=1800),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
