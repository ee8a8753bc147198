#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_backup_info
short_description: Datasets, policies, backups, unprotected VMs, snapshot budgets and due policies of a scope
version_added: 0.1.0
description:
  - Reads one scope's SnapInfo catalog (a standalone host or a failover cluster) and reports what
    O(gather) asks for.
  - C(datasets) and C(policies) of the scope; C(unprotected_vms), the scope's VMs in no dataset (SMHV's
    unprotected resources).
  - C(backups), filtered by O(dataset), O(vm), O(backup_type), O(status), O(retention_tag) and time
    (O(since), O(until)). Without O(vm) or O(backup_details) the catalog answers from its file names
    without reading a record, so 10,000 backups list in well under a second; only the records of failed
    attempts are read (in one batched read), to say why each failed.
  - C(vms_in_backups), the VMs the backups hold (SMHV's Get-VMsFromBackup), also VMs that no longer exist.
  - On a DR scope that a failover brought another scope's SnapInfo beside (M(netapp_hyperv.smhv.smhv_failover) onto an active DR site),
    C(backups) and C(vms_in_backups) also list that catalog's, after the scope's own, each with C(source_scope).
  - C(snapshot_budget), per ONTAP volume the datasets use, the snapshots at steady state, per policy,
    the limit and the headroom.
  - C(due), the scheduled policies and which are due at O(due_at) (default now). A policy is due when
    its latest scheduled time is after its last run, so after an outage each policy runs once, not once
    per missed slot. A scheduler (an AWX schedule or cron, see docs/scheduling.md) runs
    C(playbooks/protect.yml) often, and every due policy runs.
  - C(protection), only when named in O(gather), the scope's registration, datasets and policies as the data
    C(playbooks/configure_protection.yml) reads (its C(smhv_protection) entry for this scope), to export a site's
    configuration and import it elsewhere or after a rebuild; C(playbooks/export_protection.yml) writes it to a file.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description: The scope (a standalone host, a failover cluster or one of its nodes).
    required: true
  gather:
    description:
      - What to report. C(snapshot_budget) queries ONTAP; the rest reads the hosts only.
      - C(protection) is not in the default; name it to get RV(protection).
    type: list
    elements: str
    choices: [datasets, policies, unprotected_vms, backups, vms_in_backups, snapshot_budget, due, protection]
    default: [datasets, policies, unprotected_vms, backups, vms_in_backups, snapshot_budget, due]
  dataset:
    description: Only this dataset (its backups are listed even when the dataset was deleted).
    type: str
  vm:
    description: Only backups holding this VM, by name or GUID (a deleted VM is found by its name in the backups).
    type: str
  backup_type:
    description: Only backups of this type.
    type: str
    choices: [application, crash]
  status:
    description: Only backups with this outcome.
    type: str
    choices: [ok, failed]
  retention_tag:
    description: Only backups with this retention tag.
    type: str
    choices: [hourly, daily, weekly, monthly, unlimited]
  since:
    description: Only backups taken at or after this time (ISO 8601; without an offset, UTC).
    type: str
  until:
    description: Only backups taken at or before this time (ISO 8601; without an offset, UTC).
    type: str
  backup_details:
    description: Return each backup's whole record (VMs, files, LUNs, snapshots) instead of its summary.
    type: bool
    default: false
  due_at:
    description: Evaluate due policies at this time (ISO 8601) instead of now, to see what a run at that time would do.
    type: str
attributes:
  check_mode:
    description: Can run in check mode.
    support: full
    details: Reads only; the same report as without check mode.
  diff_mode:
    description: Can show a diff.
    support: none
    details: Reports nothing to diff.
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
seealso:
  - module: netapp_hyperv.smhv.smhv_dataset
  - module: netapp_hyperv.smhv.smhv_policy
"""

EXAMPLES = r"""
- name: Which policies are due on cluster hvclus01
  netapp_hyperv.smhv.smhv_backup_info:
    hyperv_host: hvclus01
    gather: [due]
  delegate_to: localhost
  register: due

- name: Failed backups of dataset web in the last week
  netapp_hyperv.smhv.smhv_backup_info:
    hyperv_host: hvclus01
    gather: [backups]
    dataset: web
    status: failed
    since: "{{ '%Y-%m-%dT%H:%M:%SZ' | strftime(now(utc=true).timestamp() - 7 * 86400) }}"
  delegate_to: localhost

- name: Every backup that holds vm-db01, with its files and snapshots
  netapp_hyperv.smhv.smhv_backup_info:
    hyperv_host: hvclus01
    gather: [backups]
    vm: vm-db01
    backup_details: true
  delegate_to: localhost

- name: Export the scope's datasets and policies as configure_protection.yml's data
  netapp_hyperv.smhv.smhv_backup_info:
    hyperv_host: hv03
    gather: [protection]
  delegate_to: localhost
  register: exported

- name: Write them where configure_protection.yml can read them with -e @protection.yml
  ansible.builtin.copy:
    content: "{{ {'smhv_protection': exported.protection} | to_nice_yaml }}"
    dest: protection.yml
    mode: "0600"
  delegate_to: localhost

- name: VMs that no dataset protects, and the snapshot headroom of every volume
  netapp_hyperv.smhv.smhv_backup_info:
    hyperv_host: hv03
    gather: [unprotected_vms, snapshot_budget]
  delegate_to: localhost
"""

RETURN = r"""
scope:
  description: The scope reported on.
  returned: always
  type: dict
  sample: {name: hvclus01, kind: cluster, snapinfo_path: 'S:\SnapInfo', nodes: [hv01, hv02]}
due_at:
  description: The time due policies were evaluated at (UTC).
  returned: always
  type: str
datasets:
  description: The scope's datasets, as M(netapp_hyperv.smhv.smhv_dataset) returns one.
  returned: when gathered
  type: list
  elements: dict
policies:
  description: The datasets' policies, as M(netapp_hyperv.smhv.smhv_policy) returns one, with C(next_run).
  returned: when gathered
  type: list
  elements: dict
unprotected_vms:
  description: VMs of the scope in no dataset.
  returned: when gathered
  type: list
  elements: dict
  sample: [{vm_id: 0c5f0e0e-5a1b-5d53-9b0e-1f2e3d4c5b6a, name: vm-test01, host: hv02, state: "Off", clustered: true}]
backups:
  description:
    - Matching backups, oldest first; summaries, or whole records with O(backup_details).
    - A failed attempt (C(status=failed)) says why in both forms, C(failed_step) (the step that failed), C(error_code) (its
      stable code, null in records written before the catalog kept it) and C(error) (the message).
  returned: when gathered
  type: list
  elements: dict
  sample: [{name: web_03-14-2026_09.15.00, dataset: web, time: "2026-03-14T09:15:00+00:00", retention_tag: hourly,
            backup_type: application, status: ok},
           {name: web_03-14-2026_10.15.00, dataset: web, time: "2026-03-14T10:15:00+00:00", retention_tag: hourly,
            backup_type: application, status: failed, failed_step: snapshot, error_code: STORAGE_ERROR,
            error: "Backup web_03-14-2026_10.15.00 of dataset web failed at step snapshot: ..."}]
vms_in_backups:
  description: VMs found in the backups, with the datasets and the first and last backup holding each.
  returned: when gathered
  type: list
  elements: dict
  sample: [{vm_id: 1f0c9a4e-2b7d-5c1e-8f3a-4b5c6d7e8f90, name: vm-web01, datasets: [web], first_backup: "2026-03-01T09:15:00+00:00",
            last_backup: "2026-03-14T09:15:00+00:00", in_scope_now: true}]
imported_catalogs:
  description: The other scopes' catalogs brought in beside this scope's own by a failover, whose backups and VMs are listed with C(source_scope).
  returned: when backups or vms_in_backups are gathered and the scope has such catalogs
  type: list
  elements: dict
  sample: [{source_scope: hv03, snapinfo_path: 'R:\SnapInfo', snapshot: smhv_snapinfo_hv03_12-05-2026_17.00.00, imported: "2026-12-05T17:05:00+00:00"}]
snapshot_budget:
  description: Per volume, the steady-state snapshot count, per policy, the limit and the headroom.
  returned: when gathered
  type: list
  elements: dict
  sample: [{volume: "cluster-a:svm_hv:vol_hv03", limit: 1023, used: 94, headroom: 929, per_policy: {files/hourly: 60},
            foreign: 2, snapinfo: 0, in_flight: 2, unbounded: [], unlimited: []}]
  contains:
    unlimited:
      description:
        - Policies with retention unlimited (accepted with M(netapp_hyperv.smhv.smhv_policy)'s C(acknowledge_unlimited)), counted by the
          snapshots their backups hold now; a warning says how many more backups fit before the volume's limit.
      type: list
      elements: str
      returned: always
      sample: [files/archive]
protection:
  description:
    - The scope's entry of C(smhv_protection), the data C(playbooks/configure_protection.yml) reads, keyed by the scope's name;
      members by VM name (with C(scope) when another scope's), policies with only the options that differ from their defaults.
    - C(create_snapinfo) is never included; add it to register a site whose SnapInfo repository does not exist yet.
  returned: when protection is gathered
  type: dict
  sample: {hv03: {snapinfo_path: 'S:\SnapInfo', report_path: 'C:\SMHV\Reports', snapinfo_snaps_count: 30,
                  datasets: [{name: files, members: [{vm: vm-file01}],
                              policies: [{name: nightly, schedule: {frequency: daily, at: "01:30"}, retention: {tag: daily, count: 14},
                                          backup_type: crash}]}]}}
schedules:
  description: Every scheduled policy with its last run, the slot that makes it due, its next run and C(due).
  returned: when due is gathered
  type: list
  elements: dict
due_policies:
  description: The policies due now (dataset and policy), what C(playbooks/protect.yml) runs.
  returned: when due is gathered
  type: list
  elements: dict
  sample: [{dataset: web, policy: hourly, scheduled_at: "2026-03-14T10:15:00+00:00", last_run: "2026-03-14T09:15:02+00:00"}]
actions:
  description: Always empty; the module changes nothing.
  returned: always
  type: list
  elements: str
error_code:
  description:
    - On failure, the error's stable code; the user guide's troubleshooting table says what each means and what to do.
    - Absent when Ansible refuses the task's options before the module runs.
  returned: failure
  type: str
  sample: HOST_UNREACHABLE
error_details:
  description: On failure, what the message says as data (names, paths, numbers); its keys depend on RV(error_code), empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.policies import as_time
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.info import GATHER, GATHER_ON_REQUEST, backup_info
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.scopes import Scopes
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module


def run(params, check_mode):
    storage = StorageClient(params["storage_systems"]) if "snapshot_budget" in params["gather"] else None
    with Scopes(params["winrm"], params["host_addresses"]) as scopes:
        return backup_info(scopes, storage, params["hyperv_host"], dataset=params["dataset"], vm=params["vm"],
                           backup_type=params["backup_type"], status=params["status"], retention_tag=params["retention_tag"],
                           since=as_time(params["since"], "since"), until=as_time(params["until"], "until"),
                           backup_details=params["backup_details"], gather=params["gather"], due_at=as_time(params["due_at"], "due_at"))


def main():
    spec = smhv_argument_spec()
    spec.update(
        gather=dict(type="list", elements="str", choices=list(GATHER + GATHER_ON_REQUEST), default=list(GATHER)),
        dataset=dict(type="str"),
        vm=dict(type="str"),
        backup_type=dict(type="str", choices=["application", "crash"]),
        status=dict(type="str", choices=["ok", "failed"]),
        retention_tag=dict(type="str", choices=["hourly", "daily", "weekly", "monthly", "unlimited"]),
        since=dict(type="str"),
        until=dict(type="str"),
        backup_details=dict(type="bool", default=False),
        due_at=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
