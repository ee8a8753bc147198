# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policies (smhv_policy): a dataset's schedule, retention, backup type, replication and scripts.

A policy is stored with its dataset in every member scope's catalog. Before one is created or
changed, the snapshot budget of every volume the dataset's VMs use is computed with it in place
(protection_budget: the other policies on those volumes, the snapshots already there that no policy
governs, SnapInfo copies, the backup being taken) and a policy that would push a volume past its
limit is refused with the numbers. Retention works per dataset and retention tag (rules_retention),
so two policies of one dataset may not share a tag: each would count the other's backups.
Retention unlimited never deletes, so its snapshots grow until the volume's limit; it is refused unless
the options acknowledge it (acknowledge_unlimited), and then every volume it loads gets a warning with
the numbers (issue 22, the seed's §6.6).
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection import budget as protection_budget
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import Script
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Policy
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import WriteConflict
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.datasets import validate
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import validate_name
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import parse_age
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.schedule import next_run

SCHEDULE_KEYS = ("frequency", "minute", "at", "weekday", "day_of_month", "cron", "timezone")


def format_age(seconds):
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return "%d%s" % (seconds // size, unit)
    return "%dm" % (seconds // 60)


def _script(spec):
    if not spec:
        return None
    return {"path": spec["path"], "arguments": list(spec.get("arguments") or []), "host": spec.get("host")}


def build_policy(dataset, name, schedule, retention, backup_type="application", method=None, allow_saved_state=False,
                 snapmirror_update=False, snapvault_update=False, snapvault_label=None, pre_script=None, post_script=None, notify="on_error_or_warning"):
    """The Policy the module's options describe, with every cross-option rule checked."""
    validate_name("policy", name)
    if backup_type == "crash":
        if method not in (None, "crash"):
            raise SmhvError("INVALID_ARGUMENT", "Policy %s: method %r makes application-consistent backups; a crash-consistent policy takes "
                            "storage snapshots only (leave method unset)." % (name, method), {"policy": name})
        method = "crash"
        if allow_saved_state:
            raise SmhvError("INVALID_ARGUMENT", "Policy %s: allow_saved_state does not apply to crash-consistent backups, which take every VM "
                            "whatever its state (the seed's rule); remove it." % name, {"policy": name})
    else:
        method = method or "checkpoint"
        if method == "crash":
            raise SmhvError("INVALID_ARGUMENT", "Policy %s: method crash needs backup_type crash." % name, {"policy": name})
    if snapvault_update and not snapvault_label:
        raise SmhvError("INVALID_ARGUMENT", "Policy %s: snapvault_update needs snapvault_label, the SnapMirror label the vault policy "
                        "keeps (for example 'daily')." % name, {"policy": name})
    if snapvault_label and not snapvault_update:
        raise SmhvError("INVALID_ARGUMENT", "Policy %s: snapvault_label is set but snapvault_update is false." % name, {"policy": name})
    for kind, script in (("pre_script", pre_script), ("post_script", post_script)):
        if script and not re.match(r"^([A-Za-z]:\\|\\\\[^\\])", script["path"]):
            raise SmhvError("INVALID_ARGUMENT", "Policy %s: %s path %r must be an absolute Windows path on the hosts (C:\\Scripts\\x.ps1 or "
                            "\\\\server\\share\\x.ps1)." % (name, kind, script["path"]), {"policy": name, kind: script["path"]})
        Script.from_option(script)  # a timeout in range; nothing cmd.exe would interpret in a .cmd/.bat script's arguments
    schedule_spec = None
    if schedule:
        schedule_spec = {key: schedule[key] for key in SCHEDULE_KEYS if schedule.get(key) is not None}
    retention = retention or {}
    age = retention.get("age")
    policy = Policy(dataset, name, retention.get("tag"), retention_count=retention.get("count"),
                    retention_age_seconds=int(parse_age(age).total_seconds()) if age is not None else None, schedule=schedule_spec,
                    backup_type=backup_type, method=method, allow_saved_state=bool(allow_saved_state),
                    snapmirror_update=bool(snapmirror_update), snapvault_update=bool(snapvault_update),
                    snapvault_label=snapvault_label or None, pre_script=_script(pre_script), post_script=_script(post_script),
                    notify=notify or "on_error_or_warning")
    policy.retention()
    policy.parsed_schedule()
    return policy


def policy_facts(policy, now=None):
    facts = {key: value for key, value in policy.to_dict().items() if key not in ("kind", "schema_version")}
    facts["retention"] = {"tag": policy.retention_tag, "count": policy.retention_count,
                          "age": format_age(policy.retention_age_seconds) if policy.retention_age_seconds else None,
                          "describe": policy.retention().describe()}
    schedule = policy.parsed_schedule()
    facts["schedule_text"] = schedule.text if schedule else "on demand"
    if schedule is not None and now is not None:
        facts["next_run"] = next_run(schedule, now).isoformat()
    return facts


def _comparable(policy):
    return None if policy is None else dataclasses.replace(policy, created=None)


def _diff_view(policy):
    if policy is None:
        return {}
    return {key: value for key, value in policy.to_dict().items() if key not in ("kind", "schema_version", "created")}


def ensure_policy(scopes, storage, hyperv_host, dataset, name, state="present", options=None, check_mode=False):
    """Create, change or delete policy `name` of `dataset` in every member scope; the module's result."""
    validate_name("dataset", dataset)
    validate_name("policy", name)
    home = scopes.get(hyperv_host)
    found = home.catalog.get_dataset(dataset)
    if found is None:
        raise home.catalog.dataset_not_found(dataset, "Dataset %s does not exist in scope %s. Create it with netapp_hyperv.smhv.smhv_dataset "
                                             "first, or name a scope that has members in it." % (dataset, home.name), scope=home.name)
    record = found.record
    handles = [home] + [scopes.get(scope) for scope in sorted(set(m.scope for m in record.members)) if scopes.get(scope) is not home]
    copies = {handle.name: handle.catalog.get_policy(record.name, name) for handle in handles}
    stored = next((copy.record for copy in copies.values() if copy is not None), None)
    before = _diff_view(stored)
    actions, warnings = [], []
    now = scopes.clock()
    if state == "absent":
        for handle in handles:
            if copies[handle.name] is not None:
                actions.append("delete policy %s of dataset %s from scope %s (its backups stay)" % (name, record.name, handle.name))
                if not check_mode:
                    handle.catalog.delete_policy(record.name, copies[handle.name].record.name)
        return {"changed": bool(actions), "actions": actions, "policy": None, "warnings": warnings, "snapshot_budget": None,
                "diff": {"before": before, "after": {}}}

    options = dict(options)
    acknowledged = bool(options.pop("acknowledge_unlimited", False))
    wanted = build_policy(record.name, stored.name if stored else name, **options)
    if wanted.retention_tag == "unlimited" and not acknowledged:
        raise SmhvError("INVALID_ARGUMENT", "Policy %s of dataset %s: retention unlimited never deletes a backup, so its snapshots add up on "
                        "every volume the dataset uses until the volume's snapshot limit (255 before ONTAP 9.4, 1023 from 9.4), after which "
                        "every backup there fails. Set acknowledge_unlimited: true to accept that (smhv_backup_info's snapshot_budget then "
                        "counts what it holds and warns), or keep a count or an age." % (name, record.name),
                        {"dataset": record.name, "policy": name, "tag": "unlimited"})
    for other in home.catalog.list_policies(record.name):
        if other.name.casefold() != name.casefold() and other.retention_tag == wanted.retention_tag:
            raise SmhvError("RETENTION_TAG_IN_USE", "Policy %s of dataset %s already keeps the %s backups; retention counts backups per "
                            "dataset and retention tag, so two policies with one tag would delete each other's backups. Give policy %s "
                            "another retention tag, or change policy %s." % (other.name, record.name, wanted.retention_tag, name,
                                                                             other.name),
                            {"dataset": record.name, "policy": other.name, "tag": wanted.retention_tag})
    wanted = dataclasses.replace(wanted, created=stored.created if stored else now)
    changing = [handle for handle in handles if _comparable(copies[handle.name].record if copies[handle.name] else None) != _comparable(wanted)]
    budget = None
    if changing:
        uses = protection_budget.gather_volume_uses(handles, storage, datasets=[record.name], replace=wanted)
        budget = protection_budget.enforce(uses)
        warnings += protection_budget.warnings(budget)
        if not uses:
            warnings.append("Dataset %s has no member VM files on ONTAP LUNs that could be found; the snapshot budget was not checked."
                            % record.name)
    if changing and wanted.schedule is not None:
        # A new schedule can make two datasets sharing a CSV collide: the dataset rules' warnings, with this policy in place.
        vms = [vm for handle in handles for member in record.members if member.scope == handle.name
               for vm in [handle.vm_by_id().get(member.vm_id)] if vm is not None]
        warnings += validate(handles, record.name, vms, now, policy=wanted)
    if wanted.method == "vss_provider" and not home.session.facts["netapp_vss_provider"]:
        warnings.append("Method vss_provider needs the Data ONTAP VSS Hardware Provider (SnapDrive), which host %s does not have; backups "
                        "of this policy would fail there. Use method checkpoint." % home.session.owner.name)
    for handle in changing:
        copy = copies[handle.name]
        if copy is None:
            actions.append("create policy %s of dataset %s in scope %s" % (name, record.name, handle.name))
        else:
            changed = sorted(key for key, value in _diff_view(wanted).items() if _diff_view(copy.record).get(key) != value)
            actions.append("update policy %s of dataset %s in scope %s: %s" % (name, record.name, handle.name, ", ".join(changed)))
        if not check_mode:
            try:
                handle.catalog.put_policy(wanted, expected_sha256=copy.sha256 if copy else None)
            except SmhvError as error:
                if error.code != "POLICY_EXISTS":
                    raise
                raise SmhvError("CATALOG_CONFLICT", "Policy %s of dataset %s was created in scope %s by another run meanwhile; run again."
                                % (name, record.name, handle.name), {"dataset": record.name, "policy": name}) from None
            except WriteConflict:
                raise SmhvError("CATALOG_CONFLICT", "Policy %s of dataset %s changed in scope %s while this run was checking it; run again."
                                % (name, record.name, handle.name), {"dataset": record.name, "policy": name}) from None
    return {"changed": bool(actions), "actions": actions, "warnings": warnings, "policy": policy_facts(wanted, now),
            "snapshot_budget": budget, "diff": {"before": before, "after": _diff_view(wanted)}}


def as_time(text, option):
    """An aware datetime from an ISO 8601 option value (naive means UTC)."""
    if text is None:
        return None
    try:
        when = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise SmhvError("INVALID_ARGUMENT", "Option %s: %r is not an ISO 8601 time such as 2026-03-14T09:00:00Z." % (option, text),
                        {option: text}) from None
    return when if when.utcoffset() is not None else when.replace(tzinfo=datetime.timezone.utc)
