# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which VM a user means, and which backup of it (smhv_restore's `vm` and `backup`, smhv_mount's `vm`).

Resolution is exact (issue 13): an input matches a VM's id only when it is a GUID and is that VM's id; it matches a VM's
name when it equals the name (case-insensitively, as Hyper-V compares names; never as a wildcard or a prefix). An input
that is one VM's id and another VM's name is refused as ambiguous, naming both, and so is a name several VMs share.
Names with leading or trailing spaces are refused: Windows trims them in some places and not in others.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import as_guid, parse_backup_name


def _is_id(vm):
    """Whether `vm` is a VM id as Hyper-V shows it: a GUID without braces (a braced one is taken as a name, as before)."""
    return as_guid(vm) == vm.lower()


def check_vm_option(vm):
    """The `vm` option as given; refused when empty or with surrounding spaces."""
    if not isinstance(vm, str) or not vm.strip():
        raise SmhvError("INVALID_ARGUMENT", "vm must be a VM's name or id.", {"vm": vm})
    if vm != vm.strip():
        raise SmhvError("INVALID_ARGUMENT", "vm %r has leading or trailing spaces; give the VM's name exactly as Hyper-V shows it "
                        "(without them), or its id." % vm, {"vm": vm})
    return vm


def pick(vm, by_id, by_name, where):
    """The one id `vm` names, from the candidates {id: name} it matched as an id and as a name; else VM_AMBIGUOUS (or None)."""
    if by_id and by_name and set(by_name) != set(by_id):
        (vm_id, name), = by_id.items()
        others = ", ".join("%s (%s)" % (other_name, other_id) for other_id, other_name in sorted(by_name.items()))
        raise SmhvError("VM_AMBIGUOUS", "%s is the id of VM %s and also the name of VM %s %s; it is not restored or mounted by guess. "
                        "Rename one of them, or give the id of the VM you mean." % (vm, name, others, where),
                        {"vm": vm, "ids": sorted(set(by_id) | set(by_name))})
    if len(by_name) > 1 and not by_id:
        raise SmhvError("VM_AMBIGUOUS", "Several VMs %s are called %s: %s. Give the id of the VM you mean." % (
            where, vm, ", ".join(sorted(by_name))), {"vm": vm, "ids": sorted(by_name)})
    found = by_id or by_name
    return next(iter(found)) if found else None


def resolve_vm(host, catalog, vm, scope_name):
    """The id of the VM `vm` names: among the VMs registered on `host` first, else among the VMs the scope's backups hold
    (a deleted VM)."""
    check_vm_option(vm)
    is_guid = _is_id(vm)
    args = {"names": [vm], "require_all": False}
    if is_guid:
        args["ids"] = [vm]
    found = host.call("vm_inventory", args).result["vms"]
    by_id = {v["id"].lower(): v["name"] for v in found if is_guid and v["id"].lower() == vm.lower()}
    by_name = {v["id"].lower(): v["name"] for v in found if v["name"].lower() == vm.lower()}
    known = catalog.backed_up_vms(catalog.list_datasets()) if is_guid or not by_name else {}
    if is_guid and not by_id and vm.lower() in known:
        by_id = {vm.lower(): known[vm.lower()]["name"]}  # a deleted VM, by its id
    if not by_name:  # a deleted VM, by its name
        by_name = {vm_id: entry["name"] for vm_id, entry in known.items() if entry["name"].lower() == vm.lower()}
    chosen = pick(vm, by_id, by_name, "on host %s or in the backups of scope %s" % (host.name, scope_name))
    if chosen is None and is_guid:
        return vm.lower()  # an id no index knows: the backup lookup says whether a backup holds it
    if chosen is None:
        raise SmhvError("VM_NOT_FOUND", "No VM %s %s is on host %s or in the backups of scope %s." % (
            "with id" if is_guid else "called", vm, host.name, scope_name), {"vm": vm, "ids": []})
    return chosen


def resolve_backed_up_vm(record, vm):
    """The VMs of backup `record` (not skipped) that `vm` names, exactly as resolve_vm() does: [] when none."""
    check_vm_option(vm)
    held = [v for v in record.vms if v.outcome != "skipped"]
    by_id = {v.vm_id: v.name for v in held if _is_id(vm) and v.vm_id == vm.lower()}
    by_name = {v.vm_id: v.name for v in held if v.name.lower() == vm.lower()}
    chosen = pick(vm, by_id, by_name, "in backup %s" % record.name)
    return [v for v in held if v.vm_id == chosen]


def find_backup(catalog, scope_name, vm_id, vm, backup):
    """The backup record to restore `vm_id` from: `backup` by name, or the newest good one holding the VM."""
    if backup:
        parsed = parse_backup_name(backup)
        record = catalog.get_backup(parsed[0], backup) if parsed else None
        if record is None:
            raise SmhvError("BACKUP_NOT_FOUND", "Scope %s has no backup %s in its catalog (smhv_backup_info lists them)."
                            % (scope_name, backup), {"backup": backup})
        if record.status != "ok" or not record.includes(vm_id):
            raise SmhvError("BACKUP_NOT_FOUND", "Backup %s does not hold VM %s (status %s)." % (backup, vm, record.status),
                            {"backup": backup, "vm_id": vm_id})
        return record
    summaries = catalog.list_backups(vm_id=vm_id, status="ok")
    if not summaries:
        raise SmhvError("BACKUP_NOT_FOUND", "No backup in the catalog of %s holds VM %s (%s)." % (scope_name, vm, vm_id),
                        {"vm_id": vm_id})
    return catalog.get_backups(summaries[-1:])[0]
