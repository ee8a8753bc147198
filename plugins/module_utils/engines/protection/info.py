# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smhv_backup_info: what one scope's catalog says, and what is due.

- datasets and policies of the scope (one listing and one batched read each);
- unprotected VMs: the scope's VMs that no dataset of its catalog holds (SMHV's "unprotected resources");
- backups, filtered by dataset, VM, type, status, retention tag and time: answered from file names
  (no record read) unless `backup_details` or a VM filter needs the records;
- VMs found in backups (SMHV's Get-VMsFromBackup), from the datasets' VM indexes;
- backups and VMs in backups of the catalogs imported beside the scope's own (an active DR scope after a failover,
  catalog/imports.py), each item with its `source_scope`;
- the snapshot budget of every volume the datasets use (protection_budget);
- `protection` (asked for by name): the scope's registration, datasets and policies as the data
  playbooks/configure_protection.yml reads (engines/protection/export.py), to export a site's configuration;
- due policies: a scheduled policy is due when its latest scheduled time at or before `due_at` is
  after its last run (rules_schedule.is_due), so missed runs catch up once. The last run is the newest
  backup record of the dataset and the policy's retention tag made by that policy, failed attempts
  included; a policy that never ran counts from its creation, so creating one does not start a backup.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import HostRepository
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection import budget as protection_budget
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.datasets import dataset_facts
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.export import protection_data
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.policies import policy_facts
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import as_guid, refuse_surrounding_blanks
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.schedule import is_due, next_run, previous_run

GATHER = ("datasets", "policies", "unprotected_vms", "backups", "vms_in_backups", "snapshot_budget", "due")
# Asked for by name only: the scope's configuration as configure_protection.yml's data (engines/protection/export.py).
GATHER_ON_REQUEST = ("protection",)
# Records read at a time while looking for a policy's last run among its tag's backups, newest first.
_LAST_RUN_BATCH = 5


def last_run(catalog, policy):
    """(time, backup name) of the newest backup `policy` made (any status), or (None, None)."""
    summaries = catalog.list_backups(dataset=policy.dataset, retention_tag=policy.retention_tag)
    summaries.reverse()
    for start in range(0, len(summaries), _LAST_RUN_BATCH):
        for record in sorted(catalog.get_backups(summaries[start:start + _LAST_RUN_BATCH]), key=lambda r: r.time, reverse=True):
            if record.policy == policy.name:
                return record.time, record.name
    return None, None


def due_policies(catalog, policies, due_at):
    """One entry per scheduled policy: last run, the slot that makes it due, next run, and `due`."""
    entries = []
    for policy in policies:
        schedule = policy.parsed_schedule()
        if schedule is None:
            continue
        ran, backup = last_run(catalog, policy)
        reference = ran or policy.created
        slot = previous_run(schedule, due_at)
        entries.append({"dataset": policy.dataset, "policy": policy.name, "due": is_due(schedule, reference, due_at),
                        "last_run": ran.isoformat() if ran else None, "last_backup": backup,
                        "counted_from": reference.isoformat() if reference else None,
                        "scheduled_at": slot.isoformat() if slot else None, "next_run": next_run(schedule, due_at).isoformat(),
                        "schedule": schedule.text, "backup_type": policy.backup_type, "retention_tag": policy.retention_tag})
    return entries


def _summary_facts(summary):
    return {"name": summary.name, "dataset": summary.dataset, "time": summary.time.isoformat(), "retention_tag": summary.retention_tag,
            "backup_type": summary.backup_type, "status": summary.status}


def _listed(catalog, summaries):
    """Summaries as facts; a failed attempt also says why (failed_step, error_code, error) from its record: failures are
    few, so reading their records costs one batched read and keeps the listing's cost in its file names."""
    reasons = {}
    failed = [summary for summary in summaries if summary.status == "failed"]
    if failed:
        for record in catalog.get_backups(failed):
            reasons[record.name] = {"failed_step": record.failed_step, "error_code": record.error_code, "error": record.error}
    return [dict(_summary_facts(summary), **reasons.get(summary.name, {})) for summary in summaries]


def _record_facts(record):
    facts = {key: value for key, value in record.to_dict().items() if key not in ("kind", "schema_version")}
    facts["retention_tag"] = record.retention_tag
    return facts


def backup_info(scopes, storage, hyperv_host, dataset=None, vm=None, backup_type=None, status=None, retention_tag=None, since=None,
                until=None, backup_details=False, gather=GATHER, due_at=None):
    handle = scopes.get(hyperv_host)
    catalog = handle.catalog
    now = scopes.clock()
    due_at = due_at or now
    gather = set(gather)
    datasets = catalog.get_datasets()
    if dataset is not None:
        chosen = [d for d in datasets if d.name.casefold() == dataset.casefold()]
    else:
        chosen = datasets
    chosen_names = {d.name.casefold() for d in chosen}
    policies = [p for p in catalog.all_policies() if p.dataset.casefold() in chosen_names]
    result = {"changed": False, "actions": [], "warnings": [], "scope": {"name": handle.name, "kind": handle.session.kind,
                                                                         "snapinfo_path": handle.snapinfo_path, "nodes": handle.session.node_names},
              "due_at": due_at.isoformat()}
    needs_inventory = gather & {"datasets", "unprotected_vms", "snapshot_budget"} or vm is not None
    imported = _imported(handle, scopes.clock, result) if gather & {"backups", "vms_in_backups"} else []
    inventory = handle.vm_by_id() if needs_inventory else {}
    if "datasets" in gather:
        by_dataset = {}
        for policy in policies:
            by_dataset.setdefault(policy.dataset.casefold(), []).append(policy.name)
        result["datasets"] = [dataset_facts(d, sorted(set(m.scope for m in d.members)), by_dataset.get(d.name.casefold(), []), inventory)
                              for d in chosen]
    if "policies" in gather:
        result["policies"] = [policy_facts(policy, now) for policy in policies]
    if "unprotected_vms" in gather:
        protected = {member.vm_id for d in datasets for member in d.members}
        result["unprotected_vms"] = [{"vm_id": vm_id, "name": record["name"], "host": record["host"], "state": record["state"],
                                      "clustered": record["clustered"]}
                                     for vm_id, record in sorted(inventory.items(), key=lambda item: item[1]["name"].casefold())
                                     if vm_id not in protected]
    if "backups" in gather:
        vm_id = _vm_id(handle, vm, inventory, catalog, [dataset] if dataset is not None else [d.name for d in chosen]) if vm is not None else None
        summaries = []
        if vm is None or vm_id is not None:
            for name in [dataset]:
                summaries += catalog.list_backups(dataset=name, since=since, until=until, backup_type=backup_type, status=status,
                                                  retention_tag=retention_tag, vm_id=vm_id)
        if backup_details:
            result["backups"] = [_record_facts(record) for record in sorted(catalog.get_backups(summaries), key=lambda r: (r.time, r.name))]
        else:
            result["backups"] = _listed(catalog, summaries)
        for source_scope, other in imported:
            other_id = vm_id or (_imported_vm_id(other, vm) if vm is not None else None)
            if vm is not None and other_id is None:
                continue
            found = other.list_backups(dataset=dataset, since=since, until=until, backup_type=backup_type, status=status,
                                       retention_tag=retention_tag, vm_id=other_id)
            facts = [_record_facts(record) for record in sorted(other.get_backups(found), key=lambda r: (r.time, r.name))] \
                if backup_details else _listed(other, found)
            result["backups"] += [dict(item, source_scope=source_scope) for item in facts]
    if "vms_in_backups" in gather:
        found = catalog.backed_up_vms([dataset] if dataset is not None else [d.name for d in chosen])
        result["vms_in_backups"] = [{"vm_id": vm_id, "name": entry["name"], "datasets": sorted(entry["datasets"]),
                                     "first_backup": entry["first"].isoformat(), "last_backup": entry["last"].isoformat(),
                                     "in_scope_now": vm_id in inventory if needs_inventory else None}
                                    for vm_id, entry in sorted(found.items(), key=lambda item: item[1]["name"].casefold())]
        for source_scope, other in imported:
            names = [name for name in other.list_datasets() if dataset is None or name.casefold() == dataset.casefold()]
            result["vms_in_backups"] += [{"vm_id": vm_id, "name": entry["name"], "datasets": sorted(entry["datasets"]),
                                          "first_backup": entry["first"].isoformat(), "last_backup": entry["last"].isoformat(),
                                          "in_scope_now": vm_id in inventory if needs_inventory else None, "source_scope": source_scope}
                                         for vm_id, entry in sorted(other.backed_up_vms(names).items(), key=lambda item: item[1]["name"].casefold())]
    if "snapshot_budget" in gather:
        uses = protection_budget.gather_volume_uses([handle], storage, datasets=[d.name for d in chosen])
        result["snapshot_budget"] = protection_budget.budgets(uses)
        for budget in result["snapshot_budget"]:
            if budget["used"] > budget["limit"]:
                result["warnings"].append("Volume %s would hold %d snapshots at steady state, over its limit of %d: backups will start "
                                          "failing. Change the retention of %s." % (
                                              budget["volume"], budget["used"], budget["limit"], ", ".join(sorted(budget["per_policy"]))))
            elif budget["unbounded"]:
                result["warnings"].append("Volume %s has policies that keep backups without a bound (%s): its snapshots grow until they "
                                          "reach the limit of %d and backups start failing. Give them a retention count or age." % (
                                              budget["volume"], ", ".join(budget["unbounded"]), budget["limit"]))
        result["warnings"] += protection_budget.warnings(result["snapshot_budget"])
    if "protection" in gather:
        result["protection"] = protection_data(handle)
    if "due" in gather:
        entries = due_policies(catalog, policies, due_at)
        result["schedules"] = entries
        result["due_policies"] = [{"dataset": e["dataset"], "policy": e["policy"], "scheduled_at": e["scheduled_at"],
                                   "last_run": e["last_run"]} for e in entries if e["due"]]
    return result


def _imported(handle, clock, result):
    """[(source scope, Catalog)] of the catalogs imported beside the scope's own; result["imported_catalogs"] says which."""
    records = handle.catalog.imported_catalogs()
    if records:
        result["imported_catalogs"] = [{"source_scope": r.source_scope, "snapinfo_path": r.snapinfo_path, "snapshot": r.snapshot,
                                        "imported": r.imported.isoformat() if r.imported else None} for r in records]
    return [(r.source_scope, Catalog(HostRepository(handle.session.owner, r.snapinfo_path), clock=clock)) for r in records]


def _imported_vm_id(catalog, vm):
    """The GUID a VM filter names in an imported catalog: as given, or the one VM of that name in its backups."""
    guid = as_guid(vm)
    if guid is not None:
        return guid
    found = [vm_id for vm_id, entry in catalog.backed_up_vms(catalog.list_datasets()).items() if entry["name"].casefold() == vm.casefold()]
    return found[0] if len(found) == 1 else None


def _vm_id(handle, vm, inventory, catalog, datasets):
    """The GUID a VM filter names: a GUID as given, a name of a VM in the scope now, or a name found in backups (a deleted VM)."""
    refuse_surrounding_blanks("VM name", vm, "remove them, or name the VM by its id")
    guid = as_guid(vm)
    if guid is not None:
        return guid
    now_there = [vm_id for vm_id, record in inventory.items() if record["name"].casefold() == vm.casefold()]
    if len(now_there) == 1:
        return now_there[0]
    in_backups = [vm_id for vm_id, entry in catalog.backed_up_vms(datasets).items() if entry["name"].casefold() == vm.casefold()]
    if len(in_backups) == 1:
        return in_backups[0]
    if not now_there and not in_backups:
        return None
    return handle.find_vm(vm)["id"]  # raises VM_AMBIGUOUS with the ids
