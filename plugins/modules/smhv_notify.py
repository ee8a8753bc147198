#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_notify
short_description: Report a backup or DR run by e-mail, JSON webhook and ONTAP's EMS log, as SMHV's notifications did
version_added: 0.1.0
description:
  - Takes the registered result of M(netapp_hyperv.smhv.smhv_backup), M(netapp_hyperv.smhv.smhv_failover) or
    M(netapp_hyperv.smhv.smhv_failback), failed or not, and reports it where its level asks. C(protect.yml),
    C(backup_now.yml) and the DR plays run it at the end of every run (in an C(always) section), so a failure is reported too.
  - "The report names the scope, dataset, policy and backup, each VM's outcome, the failing step and its error code, the warnings,
    and how old the dataset's newest good backup is (for the DR modules: the recovery point's age, RV(report.newest_good_backup))."
  - "Levels, as in SMHV: C(never), C(on_error) (the run failed), C(on_error_or_warning) (failed, or it succeeded with a warning, a
    skipped VM or a drill VM that did not pass; the default and SMHV's advice) and C(always). A backup's level is its policy's
    (M(netapp_hyperv.smhv.smhv_policy)'s O(netapp_hyperv.smhv.smhv_policy#module:notify)), read from the scope's catalog; O(level)
    overrides it for one run."
  - E-mail goes through an SMTP server with Python's email and smtplib, as community.general.mail sends it (STARTTLS or implicit TLS,
    a login, several recipients); the webhook gets the report as JSON in a POST, sent with Ansible's own C(open_url), as
    ansible.builtin.uri sends it. One module does both, so levels, the catalog's facts and check mode are decided in one place.
  - EMS events go to the ONTAP clusters that hold the run's volumes (or O(ems.clusters)), through
    C(POST /api/support/ems/application-logs) (ONTAP 9.11 and later) as C(app.log.err) for a failure and C(app.log.notice)
    otherwise; with O(ems.autosupport) ONTAP also raises an AutoSupport. By default only failures are logged; O(ems.level=always)
    logs every run.
  - It is not in the action group C(group/netapp_hyperv.smhv.smhv) (the DR plays set DR-only options for the group), so give it
    O(winrm), O(storage_systems) and O(host_addresses) yourself, as C(playbooks/tasks/notify.yml) does.
  - Nothing here changes what a re-run would find, so the module reports C(changed=false); RV(notifications) says what was sent.
    A channel that fails does not stop the others; then the task fails with C(NOTIFICATION_FAILED).
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The backup's scope, whose catalog has its policy and its dataset's backups; default the result's C(backup.scope).
      - Without a scope (or for the DR operations) the catalog is not read; the level is then O(level) or C(on_error_or_warning).
    type: str
  result:
    description: The registered result of the task to report (its C(failed), C(msg), C(error_code) and C(error_details) when it failed).
    type: dict
    required: true
  operation:
    description: What the result is of.
    type: str
    choices: [backup, failover, drill, failback]
    default: backup
  dataset:
    description: The dataset, when the result does not say it (a backup that failed before it had a name).
    type: str
  policy:
    description: The policy the backup ran for (C(protect.yml) passes it); its level applies unless O(level) is given.
    type: str
  level:
    description: When to send the e-mail and the webhook, for this run; default the policy's, else C(on_error_or_warning).
    type: str
    choices: [never, on_error, on_error_or_warning, always]
  smtp:
    description: E-mail through an SMTP server; omit for no e-mail.
    type: dict
    suboptions:
      host:
        description: The SMTP server.
        type: str
        required: true
      port:
        description: Its port (587 is submission with STARTTLS, 465 implicit TLS, 25 plain).
        type: int
        default: 587
      security:
        description: C(starttls) (upgrade the connection before the login; refused when the server does not offer it), C(tls) (TLS
          from the start) or C(none) (plain text, for a relay on the same network).
        type: str
        choices: [starttls, tls, none]
        default: starttls
      username:
        description: The login, if the server wants one.
        type: str
      password:
        description: Its password.
        type: str
      sender:
        description: The From address.
        type: str
        required: true
      to:
        description: The recipients.
        type: list
        elements: str
        required: true
      cc:
        description: Recipients in copy.
        type: list
        elements: str
      validate_certs:
        description: Check the server's certificate.
        type: bool
        default: true
      ca_path:
        description: A PEM file of the CA that signed the server's certificate, instead of the system's.
        type: path
      timeout:
        description: Seconds to wait for the server.
        type: int
        default: 30
  webhook:
    description: A URL that gets the report (RV(report)) as JSON in a POST; omit for none.
    type: dict
    suboptions:
      url:
        description: The URL.
        type: str
        required: true
      headers:
        description: Extra headers, such as an C(Authorization) token (not logged).
        type: dict
      validate_certs:
        description: Check the server's certificate.
        type: bool
        default: true
      ca_path:
        description: A PEM file of the CA that signed the server's certificate.
        type: path
      timeout:
        description: Seconds to wait for the answer.
        type: int
        default: 30
  ems:
    description: Events in ONTAP's EMS log (needs the REST role to allow C(POST /api/support/ems/application-logs)).
    type: dict
    default: {}
    suboptions:
      level:
        description: When to log; C(on_error) logs failures, C(always) every run.
        type: str
        choices: [never, on_error, on_error_or_warning, always]
        default: on_error
      autosupport:
        description: Ask ONTAP to raise an AutoSupport with the event (C(autosupport_required)).
        type: bool
        default: false
      clusters:
        description: The ONTAP clusters (names in O(storage_systems)) to log on; default those holding the run's volumes, else every
          configured cluster that answers.
        type: list
        elements: str
      computer_name:
        description: The C(computer_name) of the event; default the controller's host name.
        type: str
attributes:
  check_mode:
    description: Can run in check mode.
    support: full
    details: Reads the catalog, sends nothing and returns in RV(notifications) what would be sent (subject, text, JSON, EMS event).
  diff_mode:
    description: Can show a diff.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
  - Not built yet (issue 17, later parts) - job reports written to the scope's report path, the HTML protection report, and a
    JMESPath C(query) option of M(netapp_hyperv.smhv.smhv_backup_info).
seealso:
  - module: netapp_hyperv.smhv.smhv_policy
  - module: netapp_hyperv.smhv.smhv_backup
  - module: community.general.mail
"""

EXAMPLES = r"""
- name: Back up, and report the backup however it ends
  block:
    - name: Back up dataset web with its hourly policy
      netapp_hyperv.smhv.smhv_backup:
        hyperv_host: hvclus01
        dataset: web
        policy: hourly
      register: backup
  always:
    - name: Report it by e-mail and webhook at the policy's level; failures also go to EMS
      netapp_hyperv.smhv.smhv_notify:
        winrm: "{{ smhv_winrm }}"
        storage_systems: "{{ smhv_storage_systems }}"
        host_addresses: "{{ smhv_host_addresses | default({}) }}"
        result: "{{ backup }}"
        policy: hourly
        smtp:
          host: smtp.example.com
          username: smhv@example.com
          password: "{{ vault_smtp_password }}"
          sender: smhv@example.com
          to: [backup-admins@example.com, oncall@example.com]
        webhook:
          url: https://hooks.example.com/smhv
          headers: {Authorization: "Bearer {{ vault_hook_token }}"}
  delegate_to: localhost

- name: Log every backup of this run to EMS, with an AutoSupport on failure, and no e-mail
  netapp_hyperv.smhv.smhv_notify:
    winrm: "{{ smhv_winrm }}"
    storage_systems: "{{ smhv_storage_systems }}"
    host_addresses: "{{ smhv_host_addresses | default({}) }}"
    result: "{{ backup }}"
    level: never
    ems: {level: always, autosupport: "{{ backup is failed }}"}
  delegate_to: localhost

- name: Report a DR failover always
  netapp_hyperv.smhv.smhv_notify:
    winrm: "{{ smhv_winrm }}"
    storage_systems: "{{ smhv_storage_systems }}"
    host_addresses: "{{ smhv_host_addresses | default({}) }}"
    operation: failover
    result: "{{ failover }}"
    level: always
    webhook: {url: "https://hooks.example.com/smhv"}
  delegate_to: localhost
"""

RETURN = r"""
changed:
  description: Always false; notifications change nothing a re-run would find.
  returned: always
  type: bool
status:
  description: The run's status, C(ok), C(warning) or C(error).
  returned: always
  type: str
  sample: error
level:
  description: The level that applied (O(level), else the policy's, else C(on_error_or_warning)).
  returned: always
  type: str
  sample: on_error_or_warning
actions:
  description: What was sent (or would be in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["send e-mail '[SMHV] ERROR: backup web_12-06-2026_02.00.00 of dataset web (policy hourly) on hvclus01 failed at step snapshot
            (STORAGE_ERROR)' to backup-admins@example.com through smtp.example.com:587"]
report:
  description: The report, as the webhook gets it.
  returned: always
  type: dict
  contains:
    source: {description: Always C(netapp_hyperv.smhv)., type: str, returned: always}
    operation: {description: "C(backup), C(failover), C(drill) or C(failback).", type: str, returned: always}
    status: {description: "C(ok), C(warning) or C(error).", type: str, returned: always}
    level: {description: The level that applied., type: str, returned: always}
    summary: {description: One line saying what happened., type: str, returned: always,
              sample: "backup web_12-06-2026_02.00.00 of dataset web (policy hourly) on hvclus01 failed at step snapshot (STORAGE_ERROR)"}
    scope: {description: The scope., type: str, returned: always}
    dataset: {description: The dataset (null for a DR run)., type: str, returned: always}
    policy: {description: The policy (null on demand)., type: str, returned: always}
    backup: {description: The backup's name (null when it failed before it had one)., type: str, returned: always}
    time: {description: When the report was made (UTC)., type: str, returned: always}
    vms: {description: "Each VM's C(name), C(outcome) (C(online), C(offline), C(saved), C(skipped); for DR C(restored), C(passed), ...) and
          C(reason)", type: list, elements: dict, returned: always}
    failure: {description: "C(step), C(error_code) and C(message) of a failed run; null otherwise.", type: dict, returned: always,
              sample: {step: snapshot, error_code: STORAGE_ERROR, message: "Backup ... failed at step snapshot: ..."}}
    warnings: {description: The run's warnings (and a backup's after-commit failures)., type: list, elements: str, returned: always}
    newest_good_backup:
      description: "The dataset's newest good backup, C(name), C(time) and C(age_seconds); for a DR run only C(age_seconds), the recovery
        point's age; null when unknown."
      type: dict
      returned: always
      sample: {name: web_12-06-2026_01.00.00, time: "2026-12-06T01:00:00+00:00", age_seconds: 3640}
notifications:
  description: "Each delivery: C(channel) (C(email), C(webhook), C(ems)), C(to), C(sent) and what was sent (C(subject) and C(body),
    the webhook's C(payload), the EMS C(event)); C(error) when it failed."
  returned: always
  type: list
  elements: dict
error_code:
  description: On failure, a stable code; C(NOTIFICATION_FAILED) when a channel failed (error_details.notifications says which were sent).
  returned: failure
  type: str
  sample: NOTIFICATION_FAILED
error_details:
  description: On failure, C(notifications) and C(report).
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.notify.report import LEVELS, OPERATIONS
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.notify.run import notify
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module


def main():
    spec = smhv_argument_spec(host_required=False)
    spec.update(
        result=dict(type="dict", required=True),
        operation=dict(type="str", choices=list(OPERATIONS), default="backup"),
        dataset=dict(type="str"),
        policy=dict(type="str"),
        level=dict(type="str", choices=list(LEVELS)),
        smtp=dict(type="dict", options=dict(
            host=dict(type="str", required=True), port=dict(type="int", default=587),
            security=dict(type="str", choices=["starttls", "tls", "none"], default="starttls"),
            username=dict(type="str"), password=dict(type="str", no_log=True), sender=dict(type="str", required=True),
            to=dict(type="list", elements="str", required=True), cc=dict(type="list", elements="str"),
            validate_certs=dict(type="bool", default=True), ca_path=dict(type="path"), timeout=dict(type="int", default=30))),
        webhook=dict(type="dict", options=dict(
            url=dict(type="str", required=True), headers=dict(type="dict", no_log=True), validate_certs=dict(type="bool", default=True),
            ca_path=dict(type="path"), timeout=dict(type="int", default=30))),
        ems=dict(type="dict", default={}, options=dict(
            level=dict(type="str", choices=list(LEVELS), default="on_error"), autosupport=dict(type="bool", default=False),
            clusters=dict(type="list", elements="str"), computer_name=dict(type="str"))),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, notify)


if __name__ == "__main__":
    main()
