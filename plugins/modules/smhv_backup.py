#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_backup
short_description: Back up a dataset of Hyper-V VMs with ONTAP snapshots, application- or crash-consistent
version_added: 0.1.0
description:
  - Backs up the VMs of a dataset (M(netapp_hyperv.smhv.smhv_dataset)) that belong to one scope, a standalone Hyper-V
    host or a failover cluster, as SnapManager for Hyper-V did. The backup is named C(<dataset>_<MM-DD-YYYY_HH.MM.SS>)
    (UTC) and is recorded in the scope's SnapInfo catalog.
  - Application-consistent, C(checkpoint) method (Windows Server 2016 and later, no SnapDrive needed). Production-only
    checkpoints of the running VMs, one agent call per host, make the guests flush through VSS. Then one ONTAP snapshot
    per volume is taken, and the checkpoints are removed (Hyper-V merges them). That is one snapshot per volume where SMHV
    made two.
  - Application-consistent, C(vss_provider) method (hosts with SnapDrive for Windows). diskshadow runs the Hyper-V
    writer and the Data ONTAP VSS hardware provider, which takes a snapshot pair per volume. The pair is renamed
    C(<name>) and C(<name>_backup), as SMHV named it. With O(backup_method=auto), this method is used where the
    coordinating host has the provider, and the checkpoint method elsewhere.
  - Crash-consistent. One snapshot per volume and nothing else, taken together (a consistency-group snapshot when the
    volumes are several and ONTAP is 9.10.1 or later).
  - A failover cluster is backed up as a whole from the node owning the core cluster group, the way SMHV's distributed
    backup worked. VMs may run on any node, and each VM's checkpoint is taken on its owner node. A CSV volume gets one
    snapshot, however many nodes run VMs on it.
  - Saved-state and off VMs fail an application-consistent backup unless O(allow_saved_state) (or the policy) allows
    them. They are then captured as they are on disk and marked C(saved) or C(offline). A VM in live or storage
    migration is left out with a warning, and the other VMs are backed up. The dataset's rules (every file on an ONTAP
    LUN, no mix of clustered and dedicated VMs, no MBR LUN on a CSV) are checked again, and so is each volume's snapshot
    limit.
  - Only one backup per scope runs at a time. The module takes the scope's lease in the SnapInfo catalog, and fails at
    once with the holder's name, or waits up to O(lease_wait) seconds. While it runs, a background thread renews the
    lease over its own connection to the host, so a long script or a slow snapshot never lets another run in. A run
    that dies stops renewing it; its lease is free once its process is gone (same controller) or after O(lease_ttl)
    seconds. Every commit and deletion is fenced by the lease, so a run that lost it records and deletes nothing.
  - The backup's name is claimed before anything is made, with a create-only write of its journal
    (C(backup~<name>)) in the SnapInfo catalog. Two runs of one second (both waiting for the lease, say) get two
    names; the later one moves to the next second. Every side effect (checkpoints, snapshots, the temporary
    consistency group, the VSS backup, the record) is journaled before it is made.
  - After the snapshot, the backup is recorded. SnapMirror and SnapVault relationships of the volumes are updated when
    asked (on their destination clusters). Expired backups of the dataset with the same retention tag are deleted, but
    never the last good one; a backup whose snapshot is busy is kept with a warning and retried on the next run. Then
    the post-script runs, and the SnapInfo LUN is snapshotted as C(smhv_snapinfo_<scope>_<stamp>) with the backup's
    time stamp.
  - The backup is committed once every snapshot exists and its record is written (read back when the answer was lost).
    A failure before that is rolled back from the journal, by the names this run claimed only. Checkpoints are removed,
    this backup's snapshots are deleted, the attempt is recorded as failed, and the lease is released. The error names
    the step and says what was undone. A roll-back that cannot finish leaves the journal open, and the next backup of
    the scope finishes it first (RV(recovered)). Failures before the lease (inventory, validation, a busy scope)
    change nothing.
  - After the commit point nothing deletes the backup. A failed replication, retention, post-script, SnapInfo
    snapshot, VM index update or lease release is a warning on the result (RV(backup.warnings)) and on the record, and
    the task reports the backup (changed, status V(ok)). With O(fail_on_replication_error), a failed replication fails
    the task, and the backup is kept.
  - Every run creates a backup, so the module always reports a change. In check mode, the inventory and validation run
    and RV(actions) lists the plan; nothing is changed.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The scope to back up, a standalone host, a failover cluster name or any node of a cluster. A dataset's VMs in
        other scopes are backed up by a run for each scope.
    required: true
  dataset:
    description:
      - The dataset to back up.
    type: str
    required: true
  policy:
    description:
      - A policy of the dataset (M(netapp_hyperv.smhv.smhv_policy)). Its backup type, method, saved-state option,
        retention, SnapMirror and SnapVault updates and scripts apply.
      - Mutually exclusive with the on-demand options O(backup_type), O(backup_method), O(allow_saved_state),
        O(update_snapmirror), O(snapvault_label), O(retention), O(pre_script) and O(post_script).
    type: str
  backup_type:
    description:
      - On demand, V(application) (application-consistent, the default) or V(crash).
    type: str
    choices: [application, crash]
  backup_method:
    description:
      - On demand, how an application-consistent backup is taken. V(auto) (the default) picks V(vss_provider) where the
        coordinating host has the Data ONTAP VSS hardware provider, and V(checkpoint) elsewhere.
    type: str
    choices: [auto, checkpoint, vss_provider]
  allow_saved_state:
    description:
      - On demand, back up saved-state and off VMs (offline) instead of failing. The default is V(false). NetApp
        recommends V(false) for mission-critical VMs. It does not apply to crash-consistent backups, which take every
        VM as it is.
    type: bool
  update_snapmirror:
    description:
      - On demand, update the SnapMirror relationships of the backed-up volumes (and of the SnapInfo volume) after the
        snapshot. The default is V(false).
    type: bool
  snapvault_label:
    description:
      - On demand, the SnapMirror label to give the snapshots and to update the volumes' SnapVault relationships with.
        By default, no SnapVault update is done.
    type: str
  retention:
    description:
      - On demand, the retention of this backup. The default is tag V(unlimited), which deletes nothing.
    type: dict
    suboptions:
      tag:
        description:
          - The retention class. Retention deletes only backups of the dataset with this tag.
        type: str
        choices: [hourly, daily, weekly, monthly, unlimited]
        default: unlimited
      count:
        description:
          - Keep the newest N good backups of the tag.
        type: int
      age:
        description:
          - Keep backups of the tag younger than this, a positive whole number and a unit (V(m), V(h), V(d), V(w)), such as
            V(30d), as a policy's retention.
        type: str
  pre_script:
    description:
      - On demand, a script to run before the backup, on every host with VMs in it (or on O(pre_script.host)). A
        non-zero exit code fails the backup.
    type: dict
    suboptions:
      path:
        description:
          - The script's path on the hosts. A C(.ps1) runs in C(powershell.exe -File); anything else is started as it is.
        type: str
        required: true
      arguments:
        description:
          - Its arguments, one list element per argument. C($VMSnapshot), C($SnapInfoName) and C($SnapInfoSnapshot) are
            replaced, as SMHV did. The script also gets them as environment variables.
        type: list
        elements: str
        default: []
      host:
        description:
          - Run it on this host only.
        type: str
      timeout:
        description:
          - Seconds the script may run.
        type: int
        default: 3600
  post_script:
    description:
      - On demand, a script to run after the backup and before the SnapInfo snapshot, like O(pre_script).
      - C($VMSnapshot) is the backup's snapshot name, C($SnapInfoName) the backup's time stamp and C($SnapInfoSnapshot)
        the SnapInfo snapshot taken right after the script.
    type: dict
    suboptions:
      path:
        description:
          - The script's path on the hosts.
        type: str
        required: true
      arguments:
        description:
          - Its arguments, with SMHV's variables replaced.
        type: list
        elements: str
        default: []
      host:
        description:
          - Run it on this host only.
        type: str
      timeout:
        description:
          - Seconds the script may run.
        type: int
        default: 3600
  lease_wait:
    description:
      - Seconds to wait for another operation to release the scope's lease. With V(0), a busy scope fails at once with
        C(SCOPE_BUSY) and the holder's name.
    type: int
    default: 0
  lease_ttl:
    description:
      - Seconds the lease lasts without renewal. The backup renews it in the background every fifth of this (at most
        every minute), over a second connection to the coordinating host, however long a step takes. A run that dies
        stops renewing it, and after this time the next backup takes the scope over (at once when the dead run was on
        the same controller).
    type: int
    default: 300
  fail_on_replication_error:
    description:
      - Fail the task when the SnapMirror or SnapVault update fails. The backup is committed by then and is kept
        either way; the error says so (C(error_details.kept)). By default a failed replication is a warning.
    type: bool
    default: false
attributes:
  check_mode:
    description: Runs the inventory and the validation, and returns the plan in RV(actions), without changing anything.
    support: full
  diff_mode:
    description: Not supported; RV(actions) says what a backup does.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost). It talks to the hosts over WinRM,
    a few agent calls per host, and to ONTAP over REST with the C(netapp-ontap) library.
  - Warnings (a VM left out, a busy snapshot kept, no relationship to update) are reported as Ansible warnings.
seealso:
  - module: netapp_hyperv.smhv.smhv_dataset
  - module: netapp_hyperv.smhv.smhv_policy
  - module: netapp_hyperv.smhv.smhv_backup_info
  - module: netapp_hyperv.smhv.smhv_snapinfo
"""

EXAMPLES = r"""
- name: Back up dataset prod by its daily policy (retention and replication come from the policy)
  netapp_hyperv.smhv.smhv_backup:
    hyperv_host: hvclus01
    dataset: prod
    policy: daily
    lease_wait: 600

- name: Crash-consistent backup on demand, kept 24 hours, mirrored to the DR site
  netapp_hyperv.smhv.smhv_backup:
    hyperv_host: hvclus01
    dataset: prod
    backup_type: crash
    update_snapmirror: true
    retention: {tag: hourly, age: 24h}
  delegate_to: localhost

- name: Application-consistent backup with saved-state VMs allowed and a post-script
  netapp_hyperv.smhv.smhv_backup:
    hyperv_host: hv03
    dataset: fileservers
    backup_method: checkpoint
    allow_saved_state: true
    retention: {tag: daily, count: 7}
    post_script:
      path: 'C:\scripts\sv_update.ps1'
      arguments: [$VMSnapshot, $SnapInfoName]
  delegate_to: localhost
  register: backup

- name: How long did the VMs stay checkpointed?
  ansible.builtin.debug:
    msg: "{{ backup.backup.name }}: {{ backup.timings.checkpoint_seconds_max }} s"
"""

RETURN = r"""
actions:
  description: The plan, in order. Check mode returns it without doing anything.
  returned: always
  type: list
  elements: str
  sample: ["take the lease of hvclus01", "create production checkpoint smhv_prod_03-14-2026_09.00.00 of vm-web01 on hv01",
           "snapshot prod_03-14-2026_09.00.00 of cluster-a:svm_hv:vol_csv1", "remove checkpoint smhv_prod_03-14-2026_09.00.00 on hv01",
           "record backup prod_03-14-2026_09.00.00 in the SnapInfo catalog of hvclus01", "apply retention unlimited to dataset prod",
           "snapshot SnapInfo as smhv_snapinfo_hvclus01_03-14-2026_09.00.00", "release the lease of hvclus01"]
backup:
  description: The backup.
  returned: always
  type: dict
  contains:
    name:
      description: The backup's name, also its snapshots' name.
      type: str
      sample: prod_03-14-2026_09.00.00
    dataset:
      description: The dataset.
      type: str
    policy:
      description: The policy, null on demand.
      type: str
    type:
      description: V(application) or V(crash).
      type: str
    method:
      description: V(checkpoint), V(vss_provider) or V(crash).
      type: str
    time:
      description: The backup's time (UTC, ISO 8601).
      type: str
    scope:
      description: The scope backed up.
      type: str
    status:
      description: V(ok), or V(planned) in check mode.
      type: str
    retention_tag:
      description: The retention tag the backup carries.
      type: str
    snapinfo_snapshot:
      description: The SnapInfo snapshot taken after the backup.
      type: str
    operation:
      description: The id of the backup's journal, C(backup~<name>) (null in check mode).
      type: str
    warnings:
      description:
        - The steps that failed after the commit point (the backup is kept), each with its C(step), C(code) and
          C(message); also written on the backup's record.
      type: list
      elements: dict
      sample: [{"step": "replication", "code": "STORAGE_ERROR", "message": "SnapMirror update of svm_hv:vol_csv1 failed"}]
  sample: {"name": "prod_03-14-2026_09.00.00", "dataset": "prod", "policy": "daily", "type": "application",
           "method": "checkpoint", "time": "2026-03-14T09:00:00+00:00", "scope": "hvclus01", "status": "ok",
           "retention_tag": "daily", "snapinfo_snapshot": "smhv_snapinfo_hvclus01_03-14-2026_09.00.00"}
vms:
  description:
    - The outcome of each member VM of the scope. V(online) is application-consistent (or running, for crash). V(offline)
      and V(saved) were captured in that state. V(skipped) means not backed up, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "0f5b3a52-3d0e-4a4c-9a57-6c1a2b3c4d5e", "name": "vm-web01", "host": "hv01", "state": "Running",
            "outcome": "online", "reason": "", "volumes": ["cluster-a:vol_csv1"], "checkpoint_seconds": 0.41}]
snapshots:
  description: Per volume, the snapshots this backup took (two for V(vss_provider)).
  returned: always
  type: list
  elements: dict
  sample: [{"cluster": "cluster-a", "svm": "svm_hv", "volume": "vol_csv1", "snapshots": ["prod_03-14-2026_09.00.00"]}]
consistency_groups:
  description: The C(cluster/svm) groups whose volumes were captured by one consistency-group snapshot.
  returned: always
  type: list
  elements: str
replication:
  description: The SnapMirror and SnapVault updates done, per relationship.
  returned: always
  type: list
  elements: dict
  sample: [{"kind": "snapmirror", "source": "svm_hv:vol_csv1", "destination": "svm_dr:vol_csv1_dr",
            "destination_cluster": "cluster-b", "state": "success", "bytes_transferred": 4096}]
retention:
  description: Backups of the dataset and tag that retention deleted, kept (with the ones it kept because a snapshot was
    busy or could not be deleted; the next run retries those).
  returned: always
  type: dict
  sample: {"deleted": ["prod_03-07-2026_09.00.00"], "skipped_busy": [], "failed": [], "kept": ["prod_03-14-2026_09.00.00"]}
scripts:
  description: The pre- and post-scripts' runs per host, with exit code and output.
  returned: always
  type: dict
timings:
  description:
    - Seconds in total and per step, and how long the VMs stayed checkpointed per host (from the checkpoint call to
      the end of the removal, an upper bound), with the longest.
  returned: always
  type: dict
  sample: {"total": 3.2, "steps": [{"step": "inventory", "seconds": 0.21, "state": "done"}], "checkpoint_seconds_max": 0.62,
           "checkpoint_seconds_per_host": {"hv01": 0.62, "hv02": 0.58}}
recovered:
  description:
    - Interrupted backups of the scope that this run settled first, from their journals. C(finished) when the backup had
      been committed (its journal closed), C(undone) with what was undone otherwise, C(error) when it could not be.
  returned: when there were any
  type: list
  elements: dict
  sample: [{"journal": "backup~prod_03-14-2026_08.00.00", "operation": "backup", "subject": "prod",
            "backup": "prod_03-14-2026_08.00.00", "undone": ["deleted snapshots (or found them absent): svm_hv:vol_csv1@prod_03-14-2026_08.00.00"]}]
error_code:
  description: On failure, a stable code (C(SCOPE_BUSY), C(VM_STATE_NOT_ALLOWED), C(CHECKPOINT_FAILED), C(STORAGE_ERROR), ...).
  returned: failure
  type: str
error_details:
  description:
    - On failure, the step that failed (C(step)), what was undone and left behind (C(undo)), the journal (C(operation)),
      and timings.
    - With O(fail_on_replication_error), C(kept=true) and the whole result of the kept backup (C(result)).
  returned: failure
  type: dict
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import BackupOptions
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import BackupEngine, SessionScope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.snapinfo import SnapInfoStep

# Option name -> BackupOptions.on_demand() argument.
ON_DEMAND = {"backup_type": "backup_type", "backup_method": "method", "allow_saved_state": "allow_saved_state",
             "update_snapmirror": "update_snapmirror", "snapvault_label": "snapvault_label", "retention": "retention",
             "pre_script": "pre_script", "post_script": "post_script"}


def run(params, check_mode):
    storage = StorageClient(params["storage_systems"])
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        path = session.require_registration()[0]
        catalog = Catalog(HostRepository(session.owner, path))
        options = BackupOptions.resolve(catalog, params["dataset"], params["policy"], {argument: params[option] for option, argument in ON_DEMAND.items()})
        # The lease is renewed over a second connection to the coordinator (opened at the first renewal): the first
        # one runs one call at a time, and a pre-script of an hour must not hold the renewals back.
        lease_catalog = Catalog(HostRepository(session.spare_owner(), path))
        engine = BackupEngine(SessionScope(session), storage, catalog, SnapInfoStep(session, storage, path),
                              lease_ttl=datetime.timedelta(seconds=params["lease_ttl"]), lease_wait=params["lease_wait"],
                              lease_catalog=lease_catalog, fail_on_replication_error=bool(params.get("fail_on_replication_error")))
        return engine.run(params["dataset"], options, check_mode=check_mode)


def script_spec():
    return dict(type="dict", options=dict(path=dict(type="str", required=True), arguments=dict(type="list", elements="str", default=[]),
                                          host=dict(type="str"), timeout=dict(type="int", default=3600)))


def main():
    spec = smhv_argument_spec()
    spec.update(
        dataset=dict(type="str", required=True),
        policy=dict(type="str"),
        backup_type=dict(type="str", choices=["application", "crash"]),
        backup_method=dict(type="str", choices=["auto", "checkpoint", "vss_provider"]),
        allow_saved_state=dict(type="bool"),
        update_snapmirror=dict(type="bool"),
        snapvault_label=dict(type="str"),
        retention=dict(type="dict", options=dict(tag=dict(type="str", default="unlimited",
                                                          choices=["hourly", "daily", "weekly", "monthly", "unlimited"]),
                                                 count=dict(type="int"), age=dict(type="str")),
                       mutually_exclusive=[["count", "age"]]),
        pre_script=script_spec(),
        post_script=script_spec(),
        lease_wait=dict(type="int", default=0),
        lease_ttl=dict(type="int", default=300),
        fail_on_replication_error=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
