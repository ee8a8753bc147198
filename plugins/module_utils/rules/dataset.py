# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dataset validation: the seed's rules over a VM inventory, as structured problems.

Each rule takes VMs shaped like agent.VM_SCHEMA (vm_inventory's answer) and returns a list of
Problem: a stable code, a severity (error: the backup would fail or be wrong; warning: it runs, but
something is not protected or may collide) and a message that names the VM, the path and the fix.
validate_dataset() runs them all. Nothing here talks to a host.

Files on an SMB share are neither accepted nor refused by the ONTAP rule: from the host a UNC path
has no disk behind it to check. A dataset is all SAN or all SMB (check_smb_san_mix); what an SMB
dataset needs is the backup engine's concern.
"""

from __future__ import annotations

import dataclasses
import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import utcnow
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.schedule import runs_between

ERROR = "error"
WARNING = "warning"
# Two backups of one CSV closer than this are taken to collide: the seed says one of them fails.
DEFAULT_OVERLAP_WINDOW = datetime.timedelta(hours=1)
# A month of runs shows every collision of hourly/daily/weekly/monthly schedules.
_OVERLAP_HORIZON = datetime.timedelta(days=31)
_OVERLAP_MAX_RUNS = 50000


@dataclasses.dataclass(frozen=True)
class Problem:
    code: str
    severity: str
    message: str
    vm_id: str | None = None
    vm_name: str | None = None
    path: str | None = None

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DatasetView:
    """A dataset as the CSV rule sees it: its name, its policies' schedules and its VMs (VM_SCHEMA)."""

    name: str
    schedules: tuple
    vms: tuple


def _vm_label(vm):
    return "VM %s (%s) on %s" % (vm["name"], vm["id"], vm["host"])


def _is_smb(vm):
    return any(entry["storage"]["is_smb"] for entry in vm["files"])


def check_files_on_ontap(vms):
    """Every file of every VM (configuration, VHDs, checkpoint files) must be on an ONTAP LUN."""
    problems = []
    for vm in vms:
        for entry in vm["files"]:
            storage = entry["storage"]
            if storage["netapp_lun"] or storage["is_smb"]:
                continue
            if storage["disk_serial"] is None and storage["access_path"] is None:
                where = "on no disk the host can see (missing file?)"
            else:
                where = "on disk %s (serial %s), which is not an ONTAP LUN" % (storage["disk_number"], storage["disk_serial"])
            problems.append(Problem(
                "NOT_ON_ONTAP", ERROR,
                "%s: %s file %s is %s. A storage snapshot cannot include it; move the VM's storage to an ONTAP LUN "
                "(Move-VMStorage) or remove the VM from the dataset." % (_vm_label(vm), entry["kind"], entry["path"], where),
                vm["id"], vm["name"], entry["path"]))
    return problems


def check_clustered_mix(vms):
    """Dedicated (host-local) and clustered (highly available) VMs of one scope must not share a dataset.

    The seed's rule is about VMs "that belong to the same host cluster": a scope's part of a dataset is
    backed up by that scope on its own, so VMs of a standalone host may share a dataset with the
    clustered VMs of a failover cluster. VMs carry their scope in "scope" (the engine adds it to
    vm_inventory's records); VMs without one are taken as one scope.
    """
    problems = []
    scopes = {}
    for vm in vms:
        scopes.setdefault(vm.get("scope"), []).append(vm)
    for scope, members in sorted(scopes.items(), key=lambda item: str(item[0])):
        clustered = sorted(vm["name"] for vm in members if vm["clustered"])
        dedicated = sorted(vm["name"] for vm in members if not vm["clustered"])
        if clustered and dedicated:
            problems.append(Problem("DATASET_MIXES_CLUSTERED", ERROR,
                                    "The dataset mixes clustered VMs (%s) with dedicated VMs (%s)%s; backups of such a dataset fail. Put the "
                                    "dedicated VMs in a dataset of their own." % (", ".join(clustered), ", ".join(dedicated),
                                                                                  " of %s" % scope if scope else "")))
    return problems


def check_smb_san_mix(vms):
    """VMs on SMB shares and VMs on SAN LUNs must not share a dataset, nor one VM use both."""
    problems = []
    for vm in vms:
        kinds = set(entry["storage"]["is_smb"] for entry in vm["files"])
        if len(kinds) > 1:
            smb = sorted(entry["path"] for entry in vm["files"] if entry["storage"]["is_smb"])
            problems.append(Problem("DATASET_MIXES_SMB_SAN", ERROR,
                                    "%s has files both on SMB shares (%s) and on LUNs; move them all to one kind of storage."
                                    % (_vm_label(vm), ", ".join(smb)), vm["id"], vm["name"], smb[0]))
    smb_vms = sorted(vm["name"] for vm in vms if _is_smb(vm))
    san_vms = sorted(vm["name"] for vm in vms if not _is_smb(vm))
    if smb_vms and san_vms:
        problems.append(Problem("DATASET_MIXES_SMB_SAN", ERROR,
                                "The dataset mixes VMs on SMB shares (%s) with VMs on SAN LUNs (%s), which SMHV does not support; "
                                "split them into two datasets." % (", ".join(smb_vms), ", ".join(san_vms))))
    return problems


def check_mbr_on_csv(vms):
    """VMs on CSVs (or shared disks) must be on GPT LUNs: SMHV refuses MBR LUNs there."""
    problems = []
    for vm in vms:
        for entry in vm["files"]:
            storage = entry["storage"]
            if storage["is_csv"] and storage["partition_style"] == "MBR":
                problems.append(Problem(
                    "MBR_LUN_ON_CSV", ERROR,
                    "%s: %s is on CSV %s, an MBR-partitioned LUN (serial %s); VMs on CSVs need GPT LUNs. Move the VM to a CSV on a "
                    "GPT LUN." % (_vm_label(vm), entry["path"], storage["csv_name"], storage["disk_serial"]),
                    vm["id"], vm["name"], entry["path"]))
    return problems


def check_unprotected_disks(vms):
    """Warn about pass-through disks and virtual Fibre Channel adapters: a backup never includes their LUNs (the seed:
    "It does not back up data on pass-through or direct-attached iSCSI or VFC disks")."""
    problems = []
    for vm in vms:
        for disk in vm["passthrough_disks"]:
            slot = "%s %d:%d" % (disk["controller_type"], disk["controller_number"], disk["controller_location"])
            problems.append(Problem(
                "PASSTHROUGH_DISK_EXCLUDED", WARNING,
                "%s: pass-through disk %d (serial %s) at %s is not in the backup; protect its data inside the guest, or convert it "
                "to a VHDX on an ONTAP LUN." % (_vm_label(vm), disk["disk_number"], disk["disk_serial"] or "unknown", slot),
                vm["id"], vm["name"]))
        for hba in vm["fibre_channel_hbas"]:
            problems.append(Problem(
                "VFC_DISK_EXCLUDED", WARNING,
                "%s: the LUNs of its virtual Fibre Channel adapter on SAN %s (WWPN %s, %s) are not in the backup; protect their "
                "data inside the guest, or move it to a VHDX on an ONTAP LUN." % (
                    _vm_label(vm), hba["san_name"], hba["wwpn_set_a"], hba["wwpn_set_b"]),
                vm["id"], vm["name"]))
    return problems


def _csvs(vms):
    """{volume key: (CSV name, {VM names})} for the CSVs the VMs' files are on; a volume GUID is unique across clusters."""
    found = {}
    for vm in vms:
        for entry in vm["files"]:
            storage = entry["storage"]
            if storage["is_csv"]:
                key = storage["volume_id"] or storage["csv_name"]
                found.setdefault(key, (storage["csv_name"], set()))[1].add(vm["name"])
    return found


def schedules_overlap(first, second, start, window=DEFAULT_OVERLAP_WINDOW):
    """The first pair of runs, one of each schedule, less than `window` apart in the month after `start`; or None."""
    end = start + _OVERLAP_HORIZON
    runs = sorted([(when, 0) for when in runs_between(first, start, end, _OVERLAP_MAX_RUNS)]
                  + [(when, 1) for when in runs_between(second, start, end, _OVERLAP_MAX_RUNS)])
    latest = [None, None]
    for when, which in runs:
        other = latest[1 - which]
        if other is not None and when - other < window:
            return (when, other) if which == 0 else (other, when)
        latest[which] = when
    return None


def check_csv_split(dataset, others, start, window=DEFAULT_OVERLAP_WINDOW):
    """Warn when VMs on one CSV are split between `dataset` and another dataset whose schedules collide with it.

    Both backups snapshot the whole CSV volume and only one backup runs per host at a time, so one
    of two colliding backups fails (the seed: keep a CSV's VMs in one dataset, or do not overlap).
    """
    problems = []
    mine = _csvs(dataset.vms)
    for other in others:
        if other.name == dataset.name:
            continue
        shared = sorted(set(mine) & set(_csvs(other.vms)))
        if not shared:
            continue
        collision = None
        for schedule in dataset.schedules:
            for their in other.schedules:
                collision = collision or schedules_overlap(schedule, their, start, window)
        if collision is None:
            continue
        theirs = _csvs(other.vms)
        for key in shared:
            csv_name = mine[key][0]
            problems.append(Problem(
                "CSV_SPLIT_OVERLAP", WARNING,
                "CSV %s holds VMs of dataset %s (%s) and of dataset %s (%s), and their schedules collide (e.g. %s and %s, less than "
                "%s apart): one of the two backups will fail. Put the CSV's VMs in one dataset, or move one schedule."
                % (csv_name, dataset.name, ", ".join(sorted(mine[key][1])), other.name, ", ".join(sorted(theirs[key][1])),
                   collision[0].isoformat(), collision[1].isoformat(), window)))
    return problems


def validate_dataset(vms, dataset=None, others=(), start=None):
    """All rules: errors first, then warnings, each group in rule order. The CSV rule runs when `dataset` is given."""
    problems = (check_files_on_ontap(vms) + check_clustered_mix(vms) + check_smb_san_mix(vms) + check_mbr_on_csv(vms)
                + check_unprotected_disks(vms))
    if dataset is not None:
        problems += check_csv_split(dataset, others, start or utcnow())
    return [p for p in problems if p.severity == ERROR] + [p for p in problems if p.severity == WARNING]
