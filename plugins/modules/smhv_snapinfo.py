#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_snapinfo
short_description: Snapshot, prune, mirror and restore a scope's SnapInfo LUN
version_added: 0.1.0
description:
  - Protects the SnapInfo repository of a scope registered with M(netapp_hyperv.smhv.smhv_host). The repository is the
    catalog of every backup, and a DR recovery starts by restoring it.
  - With O(state=present), it takes a snapshot of the SnapInfo LUN's volume named as SMHV named it,
    C(smhv_snapinfo_<scope>_<MM-DD-YYYY_HH.MM.SS>) in UTC. The scope is the cluster name for a cluster. It then deletes
    the oldest of these snapshots beyond the retention count, which defaults to the scope's C(snapinfo_snaps_count),
    30 unless changed. Only this scope's SnapInfo snapshots are counted or deleted. A busy snapshot is kept with a
    warning. Finally, every SnapMirror or SnapVault relationship whose source is the volume is updated.
  - Taking a snapshot is a change every time. Set O(min_interval) to take one only when the newest is older, which
    makes re-runs report no change.
  - With O(state=restored), it restores the SnapInfo LUN from O(snapshot) with a single-LUN SnapRestore
    (C(volume snapshot restore-file)), then rescans the disks of the coordinating host and reads the restored scope
    record. A volume SnapRestore is never used. It would roll back the other LUNs of the volume (the SnapInfo LUNs of
    other scopes) and delete every newer snapshot, SnapMirror's common snapshot included.
  - A restore reports a change every time. Whether the LUN already holds exactly the snapshot's content cannot be
    known without comparing every block, so a re-run restores again, which is harmless.
  - To list SnapInfo snapshots, use M(netapp_hyperv.smhv.smhv_snapinfo_info).
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The scope, a standalone host, a failover cluster name or any node of a cluster.
    required: true
  state:
    description:
      - V(present) takes a SnapInfo snapshot, prunes and mirrors. V(restored) restores the SnapInfo LUN from a snapshot.
    type: str
    choices: [present, restored]
    default: present
  snapshot:
    description:
      - With O(state=restored), the snapshot to restore. V(latest) is the newest SnapInfo snapshot of O(source_scope).
        Any other value is the exact name of a snapshot of the SnapInfo volume.
    type: str
    default: latest
  source_scope:
    description:
      - Whose SnapInfo snapshots V(latest) picks. The default is the scope itself.
      - At a DR site, name the primary scope, for example C(hvclus01), whose snapshots came over with the mirror.
    type: str
  snapinfo_path:
    description:
      - The SnapInfo directory, when the scope is not registered yet. A DR host is registered only after its SnapInfo is
        restored, so the restore needs the path given here. By default, the registered path is used.
    type: str
  retention:
    description:
      - How many SnapInfo snapshots of the scope to keep. Defaults to the scope's C(snapinfo_snaps_count).
    type: int
  min_interval:
    description:
      - With O(state=present), seconds. No snapshot is taken when the newest SnapInfo snapshot of the scope is younger.
        Pruning still applies.
      - V(0) takes a snapshot on every run.
    type: int
    default: 0
  snapmirror_update:
    description:
      - After taking a snapshot, update every SnapMirror and SnapVault relationship whose source is the SnapInfo volume.
        A relationship that is not C(snapmirrored), for example broken off, is skipped with a warning.
    type: bool
    default: true
  snapmirror_label:
    description:
      - SnapMirror label of the new snapshot, for SnapVault policies that keep snapshots by label.
    type: str
    default: ""
attributes:
  check_mode:
    description: Validates and plans as a real run, and returns the same RV(actions), without changing anything.
    support: full
  diff_mode:
    description: Not supported; RV(actions) says what changes.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
  - A restore needs a writable volume. At a DR site, break the SnapMirror relationship of the SnapInfo volume first and
    connect its LUN to the DR host.
  - On a real host, no other job should use SnapInfo during a restore. The volume on the LUN is replaced under the
    mounted file system, and the disk rescan that follows makes Windows read it again.
seealso:
  - module: netapp_hyperv.smhv.smhv_snapinfo_info
  - module: netapp_hyperv.smhv.smhv_host
"""

EXAMPLES = r"""
- name: Snapshot SnapInfo after a backup, keep the scope's count, update its mirror
  netapp_hyperv.smhv.smhv_snapinfo:
    hyperv_host: hvclus01

- name: At most one SnapInfo snapshot an hour, keep 48
  netapp_hyperv.smhv.smhv_snapinfo:
    hyperv_host: hv03
    min_interval: 3600
    retention: 48

- name: First step of a DR recovery, restore the primary's latest SnapInfo on the DR host
  netapp_hyperv.smhv.smhv_snapinfo:
    hyperv_host: hvdr01
    state: restored
    snapinfo_path: 'S:\'
    source_scope: hvclus01

- name: Restore a named SnapInfo snapshot
  netapp_hyperv.smhv.smhv_snapinfo:
    hyperv_host: hv03
    state: restored
    snapshot: smhv_snapinfo_hv03_03-14-2026_09.00.00
"""

RETURN = r"""
actions:
  description: What the module did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create snapshot smhv_snapinfo_hv03_03-14-2026_09.00.00 of volume svm_hv:vol_snapinfo on cluster-a",
           "SnapMirror update svm_hv:vol_snapinfo -> svm_dr:vol_snapinfo_dr"]
snapinfo:
  description: The SnapInfo LUN and its volume.
  returned: always
  type: dict
  sample: {"snapinfo_path": "S:\\", "snapinfo_snaps_count": 30, "cluster": "cluster-a", "svm": "svm_hv", "volume": "vol_snapinfo",
           "path": "/vol/vol_snapinfo/snapinfo_hv03", "serial": "wUq1F?AAAAAB", "size": 21474836480, "volume_type": "rw",
           "volume_snapshot_count": 3}
snapshot:
  description: The snapshot taken, or planned in check mode. Null when O(min_interval) skipped it.
  returned: with O(state=present)
  type: str
  sample: smhv_snapinfo_hv03_03-14-2026_09.00.00
deleted:
  description: SnapInfo snapshots deleted by retention, or planned for deletion in check mode.
  returned: with O(state=present)
  type: list
  elements: str
snapshots:
  description: The scope's SnapInfo snapshots kept, oldest first (name, time from the name, create_time, volume, cluster,
    snapmirror_label, busy).
  returned: with O(state=present)
  type: list
  elements: dict
snapmirror:
  description: The relationships updated (source, destination, destination_cluster, state, bytes_transferred).
  returned: with O(state=present)
  type: list
  elements: dict
restored_from:
  description: The snapshot the SnapInfo LUN was restored from.
  returned: with O(state=restored)
  type: str
  sample: smhv_snapinfo_hvclus01_03-14-2026_09.00.00
scope_record:
  description: The scope record read from the restored SnapInfo. Null in check mode, or when the snapshot predates the
    registration.
  returned: with O(state=restored)
  type: dict
error_code:
  description: Stable code of the failure, for example C(SCOPE_NOT_REGISTERED), C(VOLUME_READ_ONLY) or C(STORAGE_OBJECT_NOT_FOUND).
  returned: failure
  type: str
error_details:
  description: On failure, what the message says as data (names, paths, numbers); its keys depend on RV(error_code), empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines import snapinfo


def run(params, check_mode):
    if params["retention"] is not None and params["retention"] < 1:
        raise SmhvError("INVALID_ARGUMENT", "retention is %d; keep at least 1 SnapInfo snapshot." % params["retention"])
    if params["min_interval"] < 0:
        raise SmhvError("INVALID_ARGUMENT", "min_interval is %d seconds; use 0 (always snapshot) or more." % params["min_interval"])
    storage = StorageClient(params["storage_systems"])
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        if params["state"] == "restored":
            return snapinfo.restore(session, storage, params["snapshot"], params["snapinfo_path"], params["source_scope"], check_mode)
        return snapinfo.take(session, storage, params["snapinfo_path"], params["retention"], params["min_interval"],
                             params["snapmirror_update"], params["snapmirror_label"], check_mode)


def main():
    spec = smhv_argument_spec()
    spec.update(
        state=dict(type="str", default="present", choices=["present", "restored"]),
        snapshot=dict(type="str", default="latest"),
        source_scope=dict(type="str"),
        snapinfo_path=dict(type="str"),
        retention=dict(type="int"),
        min_interval=dict(type="int", default=0),
        snapmirror_update=dict(type="bool", default=True),
        snapmirror_label=dict(type="str", default=""),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
