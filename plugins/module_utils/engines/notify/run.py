# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smhv_notify's action: read what the catalog knows (the policy's level, the dataset's newest good backup, a failed
attempt's VMs), build the report, and deliver it where the level asks - or, in check mode, say what would be sent.

Notifications change nothing that a re-run could find changed, so the result is `changed: false` either way (as
community.general.mail reports); `notifications` lists each delivery with `sent`. A channel that fails does not stop
the others: the task fails afterwards with NOTIFICATION_FAILED, naming what was delivered and what was not.
"""

from __future__ import annotations

import socket

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.notify import deliver
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.notify.report import (
    APP_VERSION, DEFAULT_LEVEL, build_report, clusters_of, ems_event, mail_text, wants)
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.scopes import Scopes
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.ems import EmsLog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow


def _catalog_facts(params, scope, dataset, policy, backup, clock):
    """(policy's level, newest good backup, the failed attempt's record) from the scope's catalog; any may be None."""
    with Scopes(params["winrm"], params["host_addresses"], clock=clock) as scopes:
        catalog = scopes.get(scope).catalog
        found = catalog.get_policy(dataset, policy) if policy else None
        good = catalog.list_backups(dataset=dataset, status="ok")
        record = catalog.get_backup(dataset, backup) if backup else None
    newest = {"name": good[-1].name, "time": good[-1].time} if good else None
    return (found.record.notify if found is not None else None), newest, record


def _recorded_vms(record):
    return [{"name": vm.name, "outcome": vm.outcome, "reason": vm.reason} for vm in record.vms] if record is not None else None


def _recorded_clusters(record):
    return [] if record is None else list(dict.fromkeys(f.cluster for vm in record.vms for f in vm.files))


def plan_deliveries(params, report, level, ems_clusters):
    """Each delivery the levels ask for: {"channel", "to", ...} with what would be sent."""
    planned = []
    if wants(level, report["status"]):
        if params["smtp"]:
            subject, body = mail_text(report)
            smtp = params["smtp"]
            planned.append({"channel": "email", "to": list(smtp["to"]) + list(smtp.get("cc") or []), "server": "%s:%s" % (smtp["host"], smtp["port"]),
                            "subject": subject, "body": body, "sent": False})
        if params["webhook"]:
            planned.append({"channel": "webhook", "to": [params["webhook"]["url"]], "payload": report, "sent": False})
    ems = params["ems"]
    if wants(ems["level"], report["status"]) and params["storage_systems"]:
        event = ems_event(report, ems.get("computer_name") or socket.gethostname(), APP_VERSION, ems["autosupport"])
        planned.append({"channel": "ems", "to": list(ems_clusters), "event": event, "sent": False})
    return planned


def _describe(delivery):
    if delivery["channel"] == "email":
        return "send e-mail '%s' to %s through %s" % (delivery["subject"], ", ".join(delivery["to"]), delivery["server"])
    if delivery["channel"] == "webhook":
        return "POST the report as JSON to %s" % delivery["to"][0]
    event = delivery["event"]
    return "log EMS event %s (%s, event_id %d) on %s" % (event["category"], event["severity"], event["event_id"], ", ".join(delivery["to"]) or "no cluster")


def _deliver(params, delivery, report, ems_log):
    if delivery["channel"] == "email":
        subject, body = delivery["subject"], delivery["body"]
        delivery["accepted"] = deliver.send_mail(params["smtp"], deliver.mail_message(params["smtp"], subject, body, report))
    elif delivery["channel"] == "webhook":
        delivery["status"] = deliver.post_webhook(params["webhook"], report)
    else:
        delivery["logged"] = [ems_log.log(cluster, delivery["event"]) for cluster in delivery["to"]]
    delivery["sent"] = True


def notify(params, check_mode, clock=utcnow, ems_factory=EmsLog):
    result = params["result"] or {}
    operation = params["operation"]
    backup = result.get("backup") if isinstance(result.get("backup"), dict) else {}
    details = result.get("error_details") if isinstance(result.get("error_details"), dict) else {}
    scope = params["hyperv_host"] or backup.get("scope")
    dataset = params["dataset"] or backup.get("dataset") or details.get("dataset")
    policy = params["policy"] or backup.get("policy")
    warnings, policy_level, newest, record = [], None, None, None
    if operation == "backup" and scope and dataset and params["winrm"]:
        try:
            policy_level, newest, record = _catalog_facts(params, scope, dataset, policy, backup.get("name") or details.get("backup"), clock)
        except SmhvError as error:  # the report goes out anyway: a host that cannot be reached is often what it is about
            warnings.append("The catalog of %s could not be read (%s: %s); the report says so instead of the policy's level and the "
                            "newest good backup." % (scope, error.code, error.message))
    level = params["level"] or policy_level or DEFAULT_LEVEL
    report = build_report(operation, result, scope=scope, dataset=dataset, policy=policy or (record.policy if record is not None else None),
                          recorded_vms=_recorded_vms(record), newest_good=newest, now=clock(), planned=check_mode)
    report["level"] = level
    ems_log, ems_clusters = None, params["ems"].get("clusters") or []
    if wants(params["ems"]["level"], report["status"]) and params["storage_systems"]:
        ems_log = ems_factory(params["storage_systems"])
        if not ems_clusters:
            ems_clusters = clusters_of(result) or _recorded_clusters(record)
        if not ems_clusters:
            ems_clusters, unreachable = ems_log.reachable_clusters()
            warnings += ["No EMS event on an unreachable cluster: %s" % error.message for error in unreachable]
    planned = plan_deliveries(params, report, level, ems_clusters)
    failures = []
    if not check_mode:
        for delivery in planned:
            try:
                _deliver(params, delivery, report, ems_log)
            except SmhvError as error:
                delivery["error"] = error.message
                failures.append(error)
    outcome = {"changed": False, "status": report["status"], "level": level, "report": report, "notifications": planned,
               "actions": [_describe(delivery) for delivery in planned], "warnings": warnings}
    if failures:
        sent = [d["channel"] for d in planned if d["sent"]]
        raise SmhvError("NOTIFICATION_FAILED", "The report of %s was not delivered everywhere: %s%s" % (
            report["summary"], " ".join(error.message for error in failures), " Delivered: %s." % ", ".join(sent) if sent else " Nothing was delivered."),
            {"notifications": planned, "report": report})
    return outcome
