# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scope's protection as the data playbooks/configure_protection.yml reads (SMHV's export/import between consoles, §6.2).

smhv_backup_info's `gather: [protection]` returns {scope: {snapinfo_path, report_path, snapinfo_snaps_count, datasets}},
one entry of `smhv_protection`; playbooks/export_protection.yml merges the scopes' entries into one file. Datasets name their
members by VM name (what a user writes, and what still finds the VM on another console or after a re-registration), with
the member's scope when it is not this one. Policies carry only the options smhv_policy takes, defaults left out, and
`acknowledge_unlimited: true` for an unlimited retention, which smhv_policy refuses without it. `create_snapinfo` is never
written: the SnapInfo repository is there on an existing site, and a first registration of a new one asks for it.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.policies import format_age

# smhv_policy's defaults: an option at its default is left out of the export.
POLICY_DEFAULTS = {"backup_type": "application", "allow_saved_state": False, "snapmirror_update": False, "snapvault_update": False,
                   "notify": "on_error_or_warning"}


def _script(script):
    if not script:
        return None
    return dict((key, value) for key, value in (("path", script["path"]), ("arguments", script.get("arguments")),
                                                ("host", script.get("host"))) if value)


def policy_data(policy):
    """One policy as configure_protection.yml's `policies` item."""
    retention = {"tag": policy.retention_tag}
    if policy.retention_count is not None:
        retention["count"] = policy.retention_count
    if policy.retention_age_seconds is not None:
        retention["age"] = format_age(policy.retention_age_seconds)
    data = {"name": policy.name, "retention": retention}
    if policy.schedule:
        data["schedule"] = dict(policy.schedule)
    for key, default in POLICY_DEFAULTS.items():
        if getattr(policy, key) != default:
            data[key] = getattr(policy, key)
    if policy.backup_type != "crash" and policy.method not in (None, "checkpoint"):
        data["method"] = policy.method
    if policy.snapvault_label:
        data["snapvault_label"] = policy.snapvault_label
    for key in ("pre_script", "post_script"):
        if getattr(policy, key):
            data[key] = _script(getattr(policy, key))
    if policy.retention_tag == "unlimited":
        data["acknowledge_unlimited"] = True
    return data


def protection_data(handle):
    """{scope name: its entry of smhv_protection} for one open scope (ScopeHandle)."""
    registration = handle.session.registration()
    catalog = handle.catalog
    policies = {}
    for policy in catalog.all_policies():
        policies.setdefault(policy.dataset.casefold(), []).append(policy)
    datasets = []
    for dataset in sorted(catalog.get_datasets(), key=lambda d: d.name.casefold()):
        members = [dict([("vm", member.name)] + ([("scope", member.scope)] if member.scope.casefold() != handle.name.casefold() else []))
                   for member in dataset.members]
        entry = {"name": dataset.name, "members": members}
        if dataset.description:
            entry["description"] = dataset.description
        entry["policies"] = [policy_data(policy) for policy in sorted(policies.get(dataset.name.casefold(), []), key=lambda p: p.name.casefold())]
        datasets.append(entry)
    return {handle.name: {"snapinfo_path": handle.snapinfo_path, "report_path": registration["report_path"],
                          "snapinfo_snaps_count": handle.snapinfo_copies, "datasets": datasets}}
