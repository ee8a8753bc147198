# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Datasets (smhv_dataset): resolve members to GUIDs, enforce the seed's rules, write every member scope.

A dataset's definition is stored in the catalog of each scope that has members in it (DESIGN §4),
together with its policies, so any member scope answers for it and backs up its own VMs. Members are
given as VM names or GUIDs with their scope (default: hyperv_host); every scope's inventory is read
once (one vm_inventory per host) and names resolve to GUIDs, which are what is stored. The rules of
rules_dataset run over the members (errors refuse the change and name every problem; warnings are
returned). When the members change and the dataset has policies, their snapshot budget is checked
again over the new set of volumes.

Each scope's copy is written with compare-and-swap (create-only when new), so two plays changing one
dataset at once cannot interleave a half-old, half-new definition; the copies of several scopes are
written one after another, and a re-run completes a run that stopped half way.
"""

from __future__ import annotations

import dataclasses

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection import budget as protection_budget
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import Dataset, DatasetMember
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.dataset import ERROR, DatasetView, validate_dataset
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import validate_name


def member_facts(member, vm=None):
    facts = {"vm_id": member.vm_id, "name": member.name, "scope": member.scope, "found": vm is not None}
    if vm is not None:
        facts.update(host=vm["host"], state=vm["state"], clustered=vm["clustered"])
    return facts


def dataset_facts(dataset, scopes, policies, inventory=None):
    inventory = inventory or {}
    return {"name": dataset.name, "description": dataset.description, "scopes": sorted(scopes),
            "members": [member_facts(member, inventory.get(member.vm_id)) for member in dataset.members],
            "policies": sorted(policies), "created": dataset.created.isoformat() if dataset.created else None,
            "updated": dataset.updated.isoformat() if dataset.updated else None}


def _comparable(dataset):
    return None if dataset is None else dataclasses.replace(dataset, created=None, updated=None)


def _diff_view(dataset):
    if dataset is None:
        return {}
    return {"name": dataset.name, "description": dataset.description,
            "members": ["%s/%s (%s)" % (member.scope, member.name, member.vm_id) for member in dataset.members]}


def resolve_members(scopes, default_scope, members):
    """[(DatasetMember, vm)] for the `members` option (dicts: vm, scope), deduplicated, sorted by scope and name."""
    resolved = {}
    for spec in members:
        handle = scopes.get(spec.get("scope") or default_scope)
        vm = handle.find_vm(spec["vm"])
        resolved[vm["id"]] = (DatasetMember(vm["id"], handle.name, vm["name"]), vm)
    return sorted(resolved.values(), key=lambda pair: (pair[0].scope.casefold(), pair[0].name.casefold(), pair[0].vm_id))


def _existing_members(scopes, dataset, warnings):
    """[(member, vm)] of the stored members, refreshed from the inventories; a vanished VM is kept with a warning."""
    pairs = []
    for member in dataset.members:
        vm = scopes.get(member.scope).vm_by_id().get(member.vm_id)
        if vm is None:
            warnings.append("Member VM %s (%s) of dataset %s is no longer in %s; it stays a member (restores still find it) until "
                            "you remove it." % (member.name, member.vm_id, dataset.name, member.scope))
        pairs.append((dataclasses.replace(member, name=vm["name"]) if vm else member, vm))
    return pairs


def _other_views(handles, name):
    """DatasetView of every other dataset of the scopes, with their policies' schedules and their VMs."""
    views, seen = [], set()
    for handle in handles:
        inventory = handle.vm_by_id()
        schedules = {}
        for policy in handle.catalog.all_policies():
            if policy.schedule is not None:
                schedules.setdefault(policy.dataset.casefold(), []).append(policy.parsed_schedule())
        for other in handle.catalog.get_datasets():
            key = other.name.casefold()
            if key == name.casefold() or key in seen:
                continue
            seen.add(key)
            vms = tuple(inventory[m.vm_id] for m in other.members if m.scope == handle.name and m.vm_id in inventory)
            views.append(DatasetView(other.name, tuple(schedules.get(key, ())), vms))
    return views


def validate(handles, name, vms, now, policy=None):
    """Warnings of the dataset rules; SmhvError with the first error's code naming every error.

    `policy` is a policy of the dataset being created or changed: its schedule counts instead of the stored one's.
    """
    schedules = []
    for handle in handles:
        for stored in handle.catalog.all_policies():
            if stored.dataset.casefold() == name.casefold() and stored.schedule is not None and \
                    (policy is None or stored.name.casefold() != policy.name.casefold()):
                schedules.append(stored.parsed_schedule())
        break  # a dataset's policies are the same in every member scope
    if policy is not None and policy.schedule is not None:
        schedules.append(policy.parsed_schedule())
    view = DatasetView(name, tuple(schedules), tuple(vms))
    problems = validate_dataset(list(vms), view, _other_views(handles, name), start=now)
    errors = [problem for problem in problems if problem.severity == ERROR]
    if errors:
        listed = " ".join("(%d) %s" % (number, problem.message) for number, problem in enumerate(errors, start=1))
        plural = "s" if len(errors) > 1 else ""
        raise SmhvError(errors[0].code, "Dataset %s cannot be saved: %d problem%s. %s" % (name, len(errors), plural, listed),
                        {"dataset": name, "problems": [problem.as_dict() for problem in errors]})
    return [problem.message for problem in problems if problem.severity != ERROR]


def _find(scopes, home, name):
    """The stored definition (from the home scope, else None) and every scope that holds a copy of it."""
    current = home.catalog.get_dataset(name)
    holders = {home.name: current} if current is not None else {}
    if current is not None:
        for scope in sorted(set(member.scope for member in current.record.members)):
            handle = scopes.get(scope)
            if handle.name not in holders:
                copy = handle.catalog.get_dataset(name)
                if copy is not None:
                    holders[handle.name] = copy
    return current, holders


def _write(handle, wanted, copy):
    """Create or replace one scope's copy with compare-and-swap; a lost race re-reads and retries."""
    catalog = handle.catalog
    if copy is None:
        try:
            return catalog.put_dataset(wanted)
        except SmhvError as error:
            if error.code != "DATASET_EXISTS":
                raise
    return catalog.update_dataset(wanted.name, lambda current: dataclasses.replace(wanted, created=current.created, updated=current.updated))


def _copy_policies(source, target, dataset, check_mode, actions):
    have = {policy.name.casefold() for policy in target.catalog.list_policies(dataset)} if target.catalog.get_dataset(dataset) else set()
    for policy in source.catalog.list_policies(dataset):
        if policy.name.casefold() in have:
            continue
        actions.append("copy policy %s of dataset %s to scope %s" % (policy.name, dataset, target.name))
        if not check_mode:
            try:
                target.catalog.put_policy(policy)
            except SmhvError as error:
                if error.code != "POLICY_EXISTS":
                    raise


def ensure_dataset(scopes, storage, hyperv_host, name, description=None, members=None, state="present", check_mode=False):
    """Create, change or delete dataset `name`; the module's result (changed, actions, dataset, warnings, diff)."""
    validate_name("dataset", name)
    home = scopes.get(hyperv_host)
    current, holders = _find(scopes, home, name)
    actions, warnings = [], []
    before = _diff_view(current.record if current else None)
    if state == "absent":
        for scope, copy in sorted(holders.items()):
            count = len(scopes.get(scope).catalog.list_policies(name))
            actions.append("delete dataset %s%s from scope %s (its backups stay, and still restore)"
                           % (copy.record.name, " and its %d policies" % count if count else "", scope))
            if not check_mode:
                scopes.get(scope).catalog.delete_dataset(copy.record.name)
        return {"changed": bool(actions), "actions": actions, "dataset": None, "warnings": warnings,
                "diff": {"before": before, "after": {}}}

    if members is None:
        if current is None:
            raise SmhvError("INVALID_ARGUMENT", "Dataset %s does not exist in scope %s; give its members to create it." % (name, home.name),
                            {"dataset": name, "scope": home.name})
        pairs = _existing_members(scopes, current.record, warnings)
    else:
        if not members:
            raise SmhvError("INVALID_ARGUMENT", "Dataset %s needs at least one member VM; to remove it, use state=absent." % name,
                            {"dataset": name})
        pairs = resolve_members(scopes, hyperv_host, members)
    record = current.record if current else None
    stored_name = record.name if record else name
    wanted = Dataset(stored_name, description if description is not None else (record.description if record else ""),
                     tuple(member for member, _vm in pairs), created=record.created if record else None,
                     updated=record.updated if record else None)
    member_scopes = sorted(set(member.scope for member in wanted.members))
    handles = [scopes.get(scope) for scope in member_scopes]
    vms = [vm for _member, vm in pairs if vm is not None]
    warnings += validate([home] + [h for h in handles if h is not home], stored_name, vms, scopes.clock())

    policies = home.catalog.list_policies(stored_name) if record else []
    budget = None
    if policies and set(m.vm_id for m in record.members) != set(m.vm_id for m in wanted.members):
        uses = protection_budget.gather_volume_uses(handles, storage, datasets=[stored_name])
        budget = protection_budget.enforce(uses)
        warnings += protection_budget.warnings(budget)  # new members bring their volumes under an unlimited policy

    for handle in handles:
        copy = holders.get(handle.name)
        if copy is None:
            actions.append("create dataset %s in scope %s with %s" % (stored_name, handle.name, ", ".join(
                "%s (%s)" % (m.name, m.vm_id) for m in wanted.members if m.scope == handle.name)))
        elif _comparable(copy.record) != _comparable(wanted):
            actions.append("update dataset %s in scope %s: %s" % (stored_name, handle.name, _describe_change(copy.record, wanted)))
        else:
            continue
        if not check_mode:
            _write(handle, wanted, copy)
        if copy is None and record is not None:
            _copy_policies(home if home.name in holders else scopes.get(next(iter(holders))), handle, stored_name, check_mode, actions)
    for scope in sorted(set(holders) - set(member_scopes)):
        actions.append("delete dataset %s from scope %s, which has no member left (its backups there stay)" % (stored_name, scope))
        if not check_mode:
            scopes.get(scope).catalog.delete_dataset(stored_name)
    inventory = {}
    for handle in handles:
        inventory.update(handle.vm_by_id())
    result = {"changed": bool(actions), "actions": actions, "warnings": warnings,
              "dataset": dataset_facts(wanted, member_scopes, [p.name for p in policies], inventory),
              "diff": {"before": before, "after": _diff_view(wanted)}}
    if budget is not None:
        result["snapshot_budget"] = budget
    return result


def _describe_change(old, new):
    parts = []
    old_ids = {m.vm_id: m for m in old.members}
    new_ids = {m.vm_id: m for m in new.members}
    added = [new_ids[i].name for i in new_ids if i not in old_ids]
    removed = [old_ids[i].name for i in old_ids if i not in new_ids]
    renamed = ["%s -> %s" % (old_ids[i].name, new_ids[i].name) for i in new_ids if i in old_ids and old_ids[i].name != new_ids[i].name]
    if added:
        parts.append("add %s" % ", ".join(added))
    if removed:
        parts.append("remove %s" % ", ".join(removed))
    if renamed:
        parts.append("member renamed %s" % ", ".join(renamed))
    if old.description != new.description:
        parts.append("description %r -> %r" % (old.description, new.description))
    return "; ".join(parts) or "members"
