#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_policy
short_description: Create, change or delete a backup policy of an SMHV dataset
version_added: 0.1.0
description:
  - A policy says when a dataset is backed up (O(schedule)), how long its backups are kept (O(retention)),
    how (O(backup_type), O(method), O(allow_saved_state)), what is replicated afterwards
    (O(snapmirror_update), O(snapvault_update)) and which scripts run around it.
  - The policy is written to the SnapInfo catalog of every scope that has members in the dataset.
  - No Windows scheduler is involved. M(netapp_hyperv.smhv.smhv_backup_info) reports which policies are
    due (a missed run is caught up once, not once per missed slot), so one frequent AWX schedule or cron
    entry runs every due policy; see the collection's docs/scheduling.md.
  - Before a policy is created or changed, the snapshot budget of every ONTAP volume the dataset's VMs use
    is computed with it in place; the policy is refused (C(SNAPSHOT_BUDGET_EXCEEDED)) when a volume would
    pass its snapshot limit at steady state, and the message shows the numbers per volume. Counted are the
    backups every policy on the volume keeps (times 2 for O(method=vss_provider), which makes two snapshots
    per backup), the snapshots on the volume that no policy governs, SnapInfo copies when the SnapInfo LUN
    shares the volume, and the backup being taken. A keep-by-age retention counts the runs of the schedule
    within that age (30 days of hourly backups is 720).
  - Retention works per dataset and retention tag, so two policies of one dataset cannot share a tag
    (C(RETENTION_TAG_IN_USE)).
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description: A scope with members in the dataset (standalone host, failover cluster or one of its nodes).
    required: true
  dataset:
    description: The dataset the policy belongs to.
    type: str
    required: true
  name:
    description: The policy's name (letters, digits, C(_) and C(-), at most 40).
    type: str
    required: true
  state:
    description: Whether the policy exists.
    type: str
    choices: [present, absent]
    default: present
  schedule:
    description:
      - When backups run. Omit for a policy run only on demand.
      - Times are wall-clock times of O(schedule.timezone); across a DST change a missing time runs once,
        a repeated time runs once.
    type: dict
    suboptions:
      frequency:
        description: C(hourly) at O(schedule.minute), C(daily), C(weekly) or C(monthly) at O(schedule.at), or C(cron).
        type: str
        required: true
        choices: [hourly, daily, weekly, monthly, cron]
      minute:
        description: Minute past the hour, for C(hourly).
        type: int
      at:
        description: Time of day C(HH:MM), for C(daily), C(weekly) and C(monthly) (default C(00:00)).
        type: str
      weekday:
        description: Day of the week, for C(weekly) (default C(sunday)).
        type: str
        choices: [sunday, monday, tuesday, wednesday, thursday, friday, saturday]
      day_of_month:
        description: Day of the month, for C(monthly); past a month's end it runs on the month's last day.
        type: int
      cron:
        description: A 5-field cron expression (Vixie cron), or a macro such as C(@daily), for C(cron).
        type: str
      timezone:
        description: IANA time zone of the schedule, such as C(Europe/Berlin).
        type: str
        default: UTC
  retention:
    description:
      - Which backups of this dataset and tag are kept; give O(retention.count) or O(retention.age), not both.
      - Required with O(state=present).
    type: dict
    suboptions:
      tag:
        description:
          - The retention tag the policy's backups carry.
          - C(unlimited) never deletes a backup, so it has no snapshot bound; it needs O(acknowledge_unlimited=true).
        type: str
        required: true
        choices: [hourly, daily, weekly, monthly, unlimited]
      count:
        description: Keep the newest N good backups.
        type: int
      age:
        description: Keep backups younger than this, a number with a unit m, h, d or w, such as C(30d).
        type: str
  acknowledge_unlimited:
    description:
      - Accept O(retention.tag=unlimited), which never deletes a backup. Without it such a policy is refused with
        C(INVALID_ARGUMENT) (check mode too), because its snapshots add up until the volume's snapshot limit (255 before
        ONTAP 9.4, 1023 from 9.4, less on a SnapMirror destination), after which every backup on that volume fails.
      - With it, the snapshot budget counts the unlimited policy by the snapshots its backups hold now, and the module (and
        M(netapp_hyperv.smhv.smhv_backup_info)'s C(snapshot_budget)) warns, per volume, how many more backups fit.
      - Retention of the other tags always keeps the newest good backup, whatever its count or age says.
      - Ignored for the other retention tags. Long-term copies belong on a SnapVault destination (O(snapvault_update)), not here.
    type: bool
    default: false
  backup_type:
    description: C(application) (VSS inside the guests) or C(crash) (storage snapshots only).
    type: str
    choices: [application, crash]
    default: application
  method:
    description:
      - How an application-consistent backup is taken. C(checkpoint) uses production checkpoints and one
        snapshot per volume; C(vss_provider) uses the Data ONTAP VSS hardware provider (SnapDrive) and makes
        two snapshots per volume. Default C(checkpoint); not used with O(backup_type=crash).
    type: str
    choices: [checkpoint, vss_provider]
  allow_saved_state:
    description:
      - Back up VMs that cannot be backed up online (saved or off) instead of failing. Not applicable to
        crash-consistent backups. The seed advises false for mission-critical VMs.
    type: bool
    default: false
  snapmirror_update:
    description: Update the SnapMirror relationships of the backed-up volumes after each backup.
    type: bool
    default: false
  snapvault_update:
    description: Update the SnapVault relationships after each backup, with O(snapvault_label) on the snapshots.
    type: bool
    default: false
  snapvault_label:
    description: The SnapMirror label the backup snapshots get, which the vault policy keeps.
    type: str
  pre_script:
    description:
      - A PowerShell script run before the backup, on every member host or on O(pre_script.host) only.
    type: dict
    suboptions:
      path:
        description: The script's absolute path on the hosts.
        type: str
        required: true
      arguments:
        description:
          - Its arguments; C($VMSnapshot), C($SnapInfoName) and C($SnapInfoSnapshot) are replaced as in SMHV. Each is one
            argument of the process, passed as data.
          - A C(.cmd) or C(.bat) script runs through C(cmd.exe), which acts on C(& | < > ^ ( \)) and quotes and expands
            C(%NAME%) even inside quotes, so an argument holding any of C(& | < > ^ % ! " ( \)) or a control character is
            refused with C(INVALID_ARGUMENT). A C(.ps1) script takes any text.
        type: list
        elements: str
      host:
        description: Run it on this host only.
        type: str
  post_script:
    description: A PowerShell script run after the backup; as O(pre_script).
    type: dict
    suboptions:
      path:
        description: The script's absolute path on the hosts.
        type: str
        required: true
      arguments:
        description: Its arguments.
        type: list
        elements: str
      host:
        description: Run it on this host only.
        type: str
  notify:
    description:
      - "When the policy's backups are reported by e-mail and webhook (M(netapp_hyperv.smhv.smhv_notify),
        which C(protect.yml) and C(backup_now.yml) run after each backup): C(never), C(on_error) (the backup failed),
        C(on_error_or_warning) (failed, or taken with a warning or a VM skipped; SMHV's advice) or C(always)."
      - A run overrides it with M(netapp_hyperv.smhv.smhv_notify)'s O(netapp_hyperv.smhv.smhv_notify#module:level)
        (the playbooks' C(smhv_notify_level)).
    type: str
    choices: [never, on_error, on_error_or_warning, always]
    default: on_error_or_warning
attributes:
  check_mode:
    description: Can run in check mode.
    support: full
    details: Plans the same actions and budget check and changes nothing.
  diff_mode:
    description: Can show a diff.
    support: full
    details: Shows the policy before and after.
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
seealso:
  - module: netapp_hyperv.smhv.smhv_dataset
  - module: netapp_hyperv.smhv.smhv_backup_info
"""

EXAMPLES = r"""
- name: Hourly backups of dataset web, the newest 30 kept, mirrored to the DR site
  netapp_hyperv.smhv.smhv_policy:
    hyperv_host: hvclus01
    dataset: web
    name: hourly
    schedule: {frequency: hourly, minute: 15}
    retention: {tag: hourly, count: 30}
    snapmirror_update: true
    notify: on_error
  delegate_to: localhost

- name: Nightly crash-consistent backups kept two weeks, vaulted
  netapp_hyperv.smhv.smhv_policy:
    hyperv_host: hvclus01
    dataset: web
    name: nightly
    schedule: {frequency: daily, at: "01:30", timezone: Europe/Berlin}
    retention: {tag: daily, age: 14d}
    backup_type: crash
    snapvault_update: true
    snapvault_label: daily
    post_script:
      path: C:\Scripts\notify.ps1
      arguments: ["$VMSnapshot"]
      host: hv01
  delegate_to: localhost

- name: Monthly backups kept forever, accepting that they fill the volumes' snapshot budget (the result warns how many fit)
  netapp_hyperv.smhv.smhv_policy:
    hyperv_host: hv03
    dataset: files
    name: archive
    schedule: {frequency: monthly, day_of_month: 1, at: "02:00"}
    retention: {tag: unlimited}
    acknowledge_unlimited: true
  delegate_to: localhost

- name: Business hours only, by cron
  netapp_hyperv.smhv.smhv_policy:
    hyperv_host: hv03
    dataset: files
    name: workday
    schedule: {frequency: cron, cron: "0 8-18/2 * * mon-fri"}
    retention: {tag: hourly, count: 48}
  delegate_to: localhost
"""

RETURN = r"""
actions:
  description: What the module did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create policy hourly of dataset web in scope hvclus01"]
policy:
  description: The policy as stored (null after O(state=absent)).
  returned: always
  type: dict
  contains:
    dataset: {description: Its dataset., type: str, returned: always, sample: web}
    name: {description: Its name., type: str, returned: always, sample: hourly}
    schedule: {description: The schedule as given (null when on demand)., type: dict, returned: always}
    notify: {description: "When its backups are reported (C(never), C(on_error), C(on_error_or_warning), C(always)).", type: str,
             returned: always, sample: on_error_or_warning}
    schedule_text: {description: The schedule in words., type: str, returned: always, sample: "hourly at :15"}
    next_run: {description: The next scheduled run (UTC)., type: str, returned: when scheduled, sample: "2026-03-14T10:15:00+00:00"}
    retention: {description: "Tag, count, age and a description.", type: dict, returned: always,
                sample: {tag: hourly, count: 30, age: null, describe: the newest 30 hourly}}
    retention_tag: {description: "The retention tag, as stored (RV(policy.retention) has it as C(tag)).", type: str, returned: always, sample: hourly}
    retention_count: {description: How many backups of the tag are kept (null without a count)., type: int, returned: always, sample: 30}
    retention_age_seconds:
      description: The age in seconds past which backups of the tag are deleted (null without an age); C(retention.age) in words.
      type: int
      returned: always
      sample: 2592000
    backup_type: {description: C(application) or C(crash)., type: str, returned: always, sample: application}
    method: {description: 'C(checkpoint), C(vss_provider) or C(crash).', type: str, returned: always, sample: checkpoint}
    allow_saved_state: {description: Whether saved or off VMs are backed up., type: bool, returned: always, sample: false}
    snapmirror_update: {description: Whether SnapMirror is updated., type: bool, returned: always, sample: true}
    snapvault_update: {description: Whether SnapVault is updated., type: bool, returned: always, sample: false}
    snapvault_label: {description: The SnapVault label., type: str, returned: always}
    pre_script: {description: "Path, arguments and host of the pre-script.", type: dict, returned: always}
    post_script: {description: "Path, arguments and host of the post-script.", type: dict, returned: always}
    created: {description: When the policy was created (UTC); a new policy is first due after this., type: str, returned: always}
snapshot_budget:
  description: Per volume of the dataset, the snapshot budget with this policy in place (when it was created or changed).
  returned: when the policy was created or changed
  type: list
  elements: dict
  contains:
    volume: {description: "cluster:svm:volume", type: str, returned: always, sample: "cluster-a:svm_hv:vol_hv03"}
    limit: {description: The volume's snapshot limit., type: int, returned: always, sample: 1023}
    used: {description: Snapshots at steady state., type: int, returned: always, sample: 94}
    headroom: {description: limit - used., type: int, returned: always, sample: 929}
    per_policy: {description: "Snapshots each policy keeps (dataset/policy: count).", type: dict, returned: always, sample: {files/hourly: 60}}
    foreign: {description: Snapshots no policy governs., type: int, returned: always, sample: 2}
    snapinfo: {description: SnapInfo copies kept on the volume., type: int, returned: always, sample: 0}
    in_flight: {description: Snapshots of the backup being taken., type: int, returned: always, sample: 2}
    unbounded: {description: Policies without a bound (refused)., type: list, elements: str, returned: always, sample: []}
    unlimited:
      description: Acknowledged unlimited policies, counted in RV(snapshot_budget.per_policy) by the snapshots their backups hold now.
      type: list
      elements: str
      returned: always
      sample: [files/archive]
error_code:
  description: Stable code of the failure (for example C(SNAPSHOT_BUDGET_EXCEEDED), C(DATASET_NOT_FOUND), C(RETENTION_TAG_IN_USE)).
  returned: failure
  type: str
  sample: SNAPSHOT_BUDGET_EXCEEDED
error_details:
  description: Structured details; for a budget failure, C(volumes) holds every volume's numbers.
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.policies import ensure_policy
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.scopes import Scopes
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module

WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]


def script_spec():
    return dict(path=dict(type="str", required=True), arguments=dict(type="list", elements="str"), host=dict(type="str"))


def run(params, check_mode):
    options = {key: params[key] for key in ("schedule", "retention", "backup_type", "method", "allow_saved_state", "snapmirror_update",
                                            "snapvault_update", "snapvault_label", "pre_script", "post_script", "notify",
                                            "acknowledge_unlimited")}
    with Scopes(params["winrm"], params["host_addresses"]) as scopes:
        return ensure_policy(scopes, StorageClient(params["storage_systems"]), params["hyperv_host"], params["dataset"], params["name"],
                             params["state"], options, check_mode)


def main():
    spec = smhv_argument_spec()
    spec.update(
        dataset=dict(type="str", required=True),
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        schedule=dict(type="dict", options=dict(
            frequency=dict(type="str", required=True, choices=["hourly", "daily", "weekly", "monthly", "cron"]),
            minute=dict(type="int"), at=dict(type="str"), weekday=dict(type="str", choices=WEEKDAYS),
            day_of_month=dict(type="int"), cron=dict(type="str"), timezone=dict(type="str", default="UTC"))),
        retention=dict(type="dict", options=dict(
            tag=dict(type="str", required=True, choices=["hourly", "daily", "weekly", "monthly", "unlimited"]),
            count=dict(type="int"), age=dict(type="str")), mutually_exclusive=[("count", "age")]),
        acknowledge_unlimited=dict(type="bool", default=False),
        backup_type=dict(type="str", default="application", choices=["application", "crash"]),
        method=dict(type="str", choices=["checkpoint", "vss_provider"]),
        allow_saved_state=dict(type="bool", default=False),
        snapmirror_update=dict(type="bool", default=False),
        snapvault_update=dict(type="bool", default=False),
        snapvault_label=dict(type="str"),
        pre_script=dict(type="dict", options=script_spec()),
        post_script=dict(type="dict", options=script_spec()),
        notify=dict(type="str", default="on_error_or_warning", choices=["never", "on_error", "on_error_or_warning", "always"]),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_if=[("state", "present", ("retention",))])
    run_module(module, run)


if __name__ == "__main__":
    main()
