# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an operation's registered result says, as one report: scope, dataset, policy, backup, each VM's outcome, the
failing step and its error code, and the age of the newest good backup; whether a level asks for it to be sent; and the
forms it is sent in (an e-mail's subject and text, the webhook's JSON, an EMS event). Pure: no I/O.

A result is what `register:` holds after the task, failed or not: a failed module's result has `failed`, `msg`,
`error_code` and `error_details` (with `step` for a backup, `phase` for the DR modules where they say it).
"""

from __future__ import annotations

# The collection version EMS events carry as app_version (tests/unit/notify checks it against galaxy.yml).
APP_VERSION = "0.1.0"
LEVELS = ("never", "on_error", "on_error_or_warning", "always")
DEFAULT_LEVEL = "on_error_or_warning"
OPERATIONS = ("backup", "failover", "drill", "failback")
# EMS event ids: one per operation and status, so an EMS filter or an AutoSupport rule can pick them.
EVENT_IDS = {"backup": 1000, "failover": 2000, "drill": 3000, "failback": 4000}
STATUS_OFFSETS = {"ok": 1, "warning": 2, "error": 3}
EMS_SEVERITIES = {"ok": "notice", "warning": "notice", "error": "error"}
# VM outcomes that make a run that succeeded a warning: a VM left out, or a drill VM that did not pass.
WARNING_OUTCOMES = ("skipped", "failed")


def wants(level, status):
    """Whether `level` asks for a report of a run whose status is `status` (ok | warning | error)."""
    if level == "always":
        return True
    if level == "on_error_or_warning":
        return status in ("warning", "error")
    if level == "on_error":
        return status == "error"
    return False


def _vms(result, recorded_vms):
    vms = []
    for vm in result.get("vms") or recorded_vms or []:
        if isinstance(vm, dict):
            vms.append({"name": vm.get("name"), "outcome": vm.get("outcome") or vm.get("state"), "reason": vm.get("reason") or ""})
    return vms


def _warnings(result):
    texts = [text for text in result.get("warnings") or [] if isinstance(text, str)]
    backup = result.get("backup") if isinstance(result.get("backup"), dict) else {}
    for warning in backup.get("warnings") or []:
        if isinstance(warning, dict):
            texts.append("%s: %s (%s)" % (warning.get("step"), warning.get("message"), warning.get("code")))
    return texts


def build_report(operation, result, scope=None, dataset=None, policy=None, recorded_vms=None, newest_good=None, now=None, planned=False):
    """The report of one run. `newest_good`: {"name", "time"} of the dataset's newest good backup (from the catalog),
    or None; a DR result's own `rpo_seconds` (the recovery point's age) stands for it there. `planned`: the run was in
    check mode (the result is a plan)."""
    details = result.get("error_details") if isinstance(result.get("error_details"), dict) else {}
    backup = result.get("backup") if isinstance(result.get("backup"), dict) else {}
    failed = bool(result.get("failed")) or bool(result.get("error_code"))
    vms = _vms(result, recorded_vms)
    warnings = _warnings(result)
    if failed:
        status = "error"
    elif warnings or result.get("passed") is False or any(vm["outcome"] in WARNING_OUTCOMES for vm in vms):
        status = "warning"
    else:
        status = "ok"
    report = {
        "source": "netapp_hyperv.smhv", "operation": operation, "status": status,
        "scope": scope or backup.get("scope") or result.get("dr_host") or result.get("primary") or details.get("scope"),
        "dataset": dataset or backup.get("dataset") or details.get("dataset"),
        "policy": policy or backup.get("policy") or details.get("policy"),
        "backup": backup.get("name") or details.get("backup"),
        "time": now.isoformat() if now is not None else None, "planned": planned or backup.get("status") == "planned",
        "vms": vms, "warnings": warnings,
        "failure": {"step": details.get("step") or details.get("phase"), "error_code": result.get("error_code") or "UNKNOWN",
                    "message": result.get("msg") or ""} if failed else None,
        "newest_good_backup": None,
    }
    if newest_good is not None:
        age = int((now - newest_good["time"]).total_seconds()) if now is not None else None
        report["newest_good_backup"] = {"name": newest_good["name"], "time": newest_good["time"].isoformat(), "age_seconds": age}
    elif isinstance(result.get("rpo_seconds"), int):
        report["newest_good_backup"] = {"name": None, "time": None, "age_seconds": result["rpo_seconds"]}
    report["summary"] = summary(report)
    return report


def format_age(seconds):
    if seconds is None:
        return "unknown"
    if seconds < 3600:
        return "%d min" % (seconds // 60)
    if seconds < 86400 * 2:
        return "%d h %02d min" % (seconds // 3600, seconds % 3600 // 60)
    return "%d days %d h" % (seconds // 86400, seconds % 86400 // 3600)


def summary(report):
    what = report["operation"]
    if report["backup"]:
        what += " " + report["backup"]
    if report["dataset"]:
        what += " of dataset %s" % report["dataset"]
    if report["policy"]:
        what += " (policy %s)" % report["policy"]
    where = " on %s" % report["scope"] if report["scope"] else ""
    if report["failure"]:
        step = " at step %s" % report["failure"]["step"] if report["failure"]["step"] else ""
        return "%s%s failed%s (%s)" % (what, where, step, report["failure"]["error_code"])
    if report["planned"]:
        return "%s%s planned (check mode, nothing was done)" % (what, where)
    if report["status"] == "warning":
        return "%s%s succeeded with warnings" % (what, where)
    return "%s%s succeeded" % (what, where)


def mail_text(report):
    """(subject, body) of the e-mail."""
    subject = "[SMHV] %s: %s" % (report["status"].upper(), report["summary"])
    lines = [report["summary"] + ".", ""]
    for label, key in (("Scope", "scope"), ("Dataset", "dataset"), ("Policy", "policy"), ("Backup", "backup"), ("Time", "time")):
        lines.append("%-10s %s" % (label + ":", report[key] if report[key] else "-"))
    lines.append("%-10s %s" % ("Status:", report["status"]))
    if report["failure"]:
        lines += ["", "Failed at step: %s" % (report["failure"]["step"] or "-"), "Error code:     %s" % report["failure"]["error_code"],
                  "Error:          %s" % report["failure"]["message"]]
    if report["vms"]:
        lines += ["", "VMs:"] + ["  %-24s %s%s" % (vm["name"], vm["outcome"], " - " + vm["reason"] if vm["reason"] else "") for vm in report["vms"]]
    if report["warnings"]:
        lines += ["", "Warnings:"] + ["  - " + text for text in report["warnings"]]
    newest = report["newest_good_backup"]
    lines.append("")
    if newest is None:
        lines.append("Newest good backup: none known")
    elif newest["name"]:
        lines.append("Newest good backup: %s, %s old (%s)" % (newest["name"], format_age(newest["age_seconds"]), newest["time"]))
    else:
        lines.append("Recovery point age: %s" % format_age(newest["age_seconds"]))
    lines += ["", "-- netapp_hyperv.smhv"]
    return subject, "\n".join(lines) + "\n"


def ems_event(report, computer_name, app_version, autosupport):
    """The fields of POST /api/support/ems/application-logs for the report."""
    return {"computer_name": computer_name, "event_source": "netapp_hyperv.smhv", "app_version": app_version,
            "event_id": EVENT_IDS.get(report["operation"], 9000) + STATUS_OFFSETS[report["status"]],
            "category": report["operation"], "event_description": ("SMHV " + report["summary"])[:1000],
            "severity": EMS_SEVERITIES[report["status"]], "autosupport_required": bool(autosupport)}


def clusters_of(result):
    """The ONTAP clusters a result names (its snapshots' and VMs' volumes), in order: where its EMS event belongs."""
    names = []
    for snapshot in result.get("snapshots") or []:
        if isinstance(snapshot, dict) and snapshot.get("cluster"):
            names.append(snapshot["cluster"])
    for vm in result.get("vms") or []:
        for volume in (vm.get("volumes") or []) if isinstance(vm, dict) else []:
            names.append(str(volume).split(":", 1)[0])
    details = result.get("error_details") if isinstance(result.get("error_details"), dict) else {}
    if details.get("cluster"):
        names.append(details["cluster"])
    return list(dict.fromkeys(names))
