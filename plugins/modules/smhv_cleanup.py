#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_cleanup
short_description: Find and remove what the collection left behind in one scope
version_added: 0.1.0
description:
  - Lists (in check mode) or removes what netapp_hyperv.smhv made in one scope and no operation still owns - what a
    killed or failed backup, restore or mount can leave behind.
  - Abandoned operation journals (their lease is free, their operation ended without closing them) are settled by the
    recovery of their operation - a backup before its commit point is undone, one after it finished - under their lease.
    A journal whose lease a live operation holds is reported in RV(kept) with its holder, with everything it names.
  - Production checkpoints named C(smhv_*) on the scope's VMs; snapshots of the scope's volumes that carry the comment
    every backup writes (or are named C(<dataset>_<MM-DD-YYYY_HH.MM.SS>) after one of the scope's datasets, with no comment)
    and have no backup record in the catalog; temporary consistency groups C(smhv_tmp_*); LUN clones C(smhv_restore_*)
    and C(smhv_mount_*) with their LUN maps and disks; the collection's igroups C(smhv_<host>) that only mapped such
    clones; empty folders under O(mount_root) named like a restore's clone or a backup.
  - It never touches anything the collection did not make - its names and its journals are the evidence - nor what an open
    journal, a mount record or a backup record names, nor a snapshot, checkpoint or temporary group younger than
    O(grace_period). While another operation holds the scope's lease, the scope's checkpoints, snapshots and temporary
    groups are kept.
  - The module takes the scope's lease (without waiting) for the run, so no backup of the scope starts meanwhile.
  - Running it again changes nothing. After a crash there is usually nothing to do - the next operation on the scope
    recovers its journals - and this module is the way to look, and to clean up what no later run would.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The scope to clean up - a standalone host, or a failover cluster (its name or a node's); every node is looked at.
    required: true
  grace_period:
    description:
      - Seconds an orphan candidate must have existed before it is removed - snapshots, checkpoints, temporary consistency
        groups and clones younger than this are reported in RV(kept).
    type: int
    default: 3600
  break_lease:
    description:
      - Break the scope's lease first, when its holder is dead - a controller that stopped renewing it, or a process on
        this controller that is gone - then recover the journals it abandoned.
      - Refused with C(LEASE_HELD) while the holder is alive (it renewed within two heartbeats).
    type: bool
    default: false
  mount_root:
    description:
      - The folder under which restores and mounts connect their clones on the hosts (smhv_mount's O(mount_root)).
    type: str
    default: C:\SMHV\Mounts
notes:
  - Check mode reports the same RV(actions), RV(orphans) and RV(kept) as a real run.
  - Mount records (C(smhv/v1/mounts/) in the catalog) own the clones of a mounted backup; a mount made by a version of
    the collection that wrote none has only its clone name, so unmount it with M(netapp_hyperv.smhv.smhv_mount) before
    a cleanup, or its clone is taken for an orphan once it is older than O(grace_period).
seealso:
  - module: netapp_hyperv.smhv.smhv_backup
  - module: netapp_hyperv.smhv.smhv_mount
"""

EXAMPLES = r"""
- name: What would be cleaned up (changes nothing)
  netapp_hyperv.smhv.smhv_cleanup:
    hyperv_host: hvclus01
  check_mode: true
  register: leftovers

- name: Remove what the collection left behind, older than a day
  netapp_hyperv.smhv.smhv_cleanup:
    hyperv_host: hv03
    grace_period: 86400

- name: After a controller died mid-backup, break its lease and recover its journal
  netapp_hyperv.smhv.smhv_cleanup:
    hyperv_host: hvclus01
    break_lease: true
"""

RETURN = r"""
changed:
  description: Whether anything was (or in check mode would be) removed, recovered or broken.
  returned: always
  type: bool
actions:
  description: What the module did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["recover journal backup~ds1_03-14-2026_09.00.00 (backup of ds1) with the backup recovery",
           "remove checkpoint smhv_ds1_03-14-2026_09.00.00 of VM vm01 (0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e) on hv01",
           "delete snapshot ds1_03-14-2026_09.00.00 of volume svm_hv:vol_csv1 on cluster-a"]
orphans:
  description: What no operation owns, by kind, each with C(why) it is an orphan.
  returned: always
  type: dict
  contains:
    journals:
      description: Abandoned journals recovered (name, operation, subject, lease, why).
      type: list
      elements: dict
    checkpoints:
      description: Production checkpoints (name, vm_id, vm_name, host, created, why).
      type: list
      elements: dict
    snapshots:
      description: Snapshots (name, backup, volume, cluster, create_time, why).
      type: list
      elements: dict
    consistency_groups:
      description: Temporary consistency groups (name, cluster, svm, volumes, why).
      type: list
      elements: dict
    clones:
      description: LUN clones (name, path, cluster, svm, serial, hosts it is connected to, igroups it is mapped to, why).
      type: list
      elements: dict
    lun_maps:
      description: The clones' LUN maps, removed with them (lun, igroup, why).
      type: list
      elements: dict
    igroups:
      description: The collection's igroups that only mapped orphan clones (name, cluster, svm, why).
      type: list
      elements: dict
    mount_folders:
      description: Folders under O(mount_root) (path, host, why).
      type: list
      elements: dict
  sample: {"checkpoints": [{"name": "smhv_ds1_03-14-2026_09.00.00", "vm_id": "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e",
           "vm_name": "vm01", "host": "hv01", "created": "2026-03-14T09:00:02Z",
           "why": "a backup's production checkpoint (prefix smhv_) that no open operation names: a backup that stopped before removing it"}],
           "snapshots": [], "journals": [], "consistency_groups": [], "clones": [], "lun_maps": [], "igroups": [], "mount_folders": []}
kept:
  description: Objects of the collection that look like leftovers but are kept, each with its C(kind), C(name) and C(owner) -
    the open journal, mount record or lease holder that owns it, or the grace period.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "clones", "name": "cluster-a:/vol/vol_csv1/smhv_mount_lun1_ds1_03_14_2026_09_00_00", "owner": "mount record m1.json",
            "serial": "wUq1F?AAAAAB"}]
recovered:
  description: What each journal's recovery did (journal, operation, subject, and what the recovery returned, or error).
  returned: always
  type: list
  elements: dict
failed:
  description: Actions that failed (action, code, message); the others still ran. Each is also a warning.
  returned: always
  type: list
  elements: dict
summary:
  description: One line for reports, such as C(hvclus01 - would clean up 1 checkpoints, 2 snapshots).
  returned: always
  type: str
scope:
  description: The scope's name (the cluster's name for a cluster).
  returned: always
  type: str
error_code:
  description: Stable code of the failure, for example C(LEASE_HELD) (O(break_lease) with a live holder) or C(SCOPE_NOT_REGISTERED).
  returned: failure
  type: str
error_details:
  description: On failure, what the message says as data (names, paths, numbers); its keys depend on RV(error_code), empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.cleanup.run import MOUNT_ROOT, CleanupEngine
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient

MAX_GRACE_SECONDS = 10 * 366 * 86400


def run(params, check_mode):
    if not 0 <= params["grace_period"] <= MAX_GRACE_SECONDS:
        raise SmhvError("INVALID_ARGUMENT", "grace_period is %d seconds; use 0 to %d." % (params["grace_period"], MAX_GRACE_SECONDS))
    storage = StorageClient(params["storage_systems"])
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        catalog = Catalog(HostRepository(session.owner, session.require_registration()[0]))
        engine = CleanupEngine(session, storage, catalog, grace=datetime.timedelta(seconds=params["grace_period"]),
                               mount_root=params["mount_root"], break_lease=params["break_lease"])
        return engine.run(check_mode)


def main():
    spec = smhv_argument_spec()
    spec.update(
        grace_period=dict(type="int", default=3600),
        break_lease=dict(type="bool", default=False),
        mount_root=dict(type="str", default=MOUNT_ROOT),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
