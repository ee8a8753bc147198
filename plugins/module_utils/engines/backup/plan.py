# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure half of a backup (DESIGN §5): options from a policy or from on-demand values, which VMs are
backed up how, which volumes hold them, and the record that describes the result. Nothing here talks
to a host or to ONTAP; the engine in engines/backup/ does, step by step.
"""

from __future__ import annotations

import dataclasses
import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.records import BackupFile, BackupRecord, BackupVm
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import int_range
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.names import format_stamp, snapshot_names
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.retention import Retention, parse_age

BACKUP_TYPES = ("application", "crash")
METHOD_CHOICES = ("auto", "checkpoint", "vss_provider")
# Windows Server 2016: the first release with production checkpoints.
CHECKPOINT_MIN_BUILD = 14393
# SMHV's post-script variables, replaced in script arguments and set in the script's environment.
SCRIPT_VARIABLES = ("VMSnapshot", "SnapInfoName", "SnapInfoSnapshot")
# VM states: Running is backed up online; Off and Saved (or Paused) only when saved state is allowed.
OFFLINE_STATES = {"Off": "offline", "Saved": "saved", "Paused": "saved"}


# Windows starts a .cmd or .bat file through cmd.exe, which parses its command line again: it acts on
# & | < > ^ ( ) and ", and expands %NAME% (and !NAME! under delayed expansion) even inside quotes, so no
# quoting passes those characters safely. Arguments of such scripts may not contain them (nor control
# characters); a .ps1 or .exe script gets its arguments as they are. The agent checks the same again.
CMD_SCRIPT_EXTENSIONS = (".cmd", ".bat")
CMD_UNSAFE_CHARACTERS = '&|<>^%!"()'
_CMD_UNSAFE = re.compile(r'[&|<>^%!"()\x00-\x1f\x7f]')
# The path is quoted whole on the command line, so only what cmd.exe acts on inside quotes is refused there.
_CMD_UNSAFE_IN_PATH = re.compile(r'[%!"\x00-\x1f\x7f]')


def runs_in_cmd(path):
    """Whether Windows runs `path` through cmd.exe: a .cmd or .bat file, in any case, also with the
    trailing dots and blanks Windows drops from a file name ("x.cmd." opens x.cmd)."""
    return str(path).rstrip(". ").lower().endswith(CMD_SCRIPT_EXTENSIONS)


def _shown(characters):
    return ", ".join("%r" % c if c.isprintable() else "U+%04X" % ord(c) for c in characters)


def check_cmd_arguments(path, arguments):
    """Refuse (INVALID_ARGUMENT) what cmd.exe would interpret in a .cmd/.bat script's path or arguments."""
    if not runs_in_cmd(path):
        return
    bad = sorted(set(_CMD_UNSAFE_IN_PATH.findall(path)))
    if bad:
        raise SmhvError("INVALID_ARGUMENT", "Script path %s has %s, which cmd.exe interprets when it runs a .cmd or .bat script; "
                        "rename the script." % (path, _shown(bad)), {"path": path, "characters": bad})
    for position, argument in enumerate(arguments, 1):
        bad = sorted(set(_CMD_UNSAFE.findall(argument)))
        if bad:
            raise SmhvError("INVALID_ARGUMENT", "Script %s: argument %d %r has %s. Windows runs a .cmd or .bat script through cmd.exe, "
                            "which interprets %s and control characters in its arguments and expands %%NAME%% even inside quotes, "
                            "so they cannot be passed safely. Remove them, or use a .ps1 or .exe script, whose arguments are passed "
                            "as they are." % (path, position, argument, _shown(bad), " ".join(CMD_UNSAFE_CHARACTERS)),
                            {"path": path, "argument": position, "value": argument, "characters": bad})


@dataclasses.dataclass(frozen=True)
class Script:
    """A pre- or post-script: a path on the hosts, its arguments, where it runs (None: every member host)."""

    path: str
    arguments: tuple = ()
    host: str | None = None
    timeout: int = 3600

    @classmethod
    def from_option(cls, value):
        """The script of an option or a policy record, checked: a timeout in range, and for a .cmd or .bat
        script no argument cmd.exe would interpret."""
        if not value:
            return None
        if not value.get("path"):
            raise SmhvError("INVALID_ARGUMENT", "A script needs a path, e.g. {path: 'C:\\\\scripts\\\\post.cmd', arguments: ['$VMSnapshot']}.",
                            {"script": value})
        script = cls(value["path"], tuple(str(a) for a in value.get("arguments") or ()), value.get("host"),
                     int(value.get("timeout") or 3600))
        low, high = int_range("pre_script.timeout")
        if not low <= script.timeout <= high:
            raise SmhvError("INVALID_ARGUMENT", "Script %s: timeout is %d; it must be between %d and %d seconds."
                            % (script.path, script.timeout, low, high), {"path": script.path, "timeout": script.timeout})
        check_cmd_arguments(script.path, script.arguments)
        return script

    def arguments_for(self, variables):
        """The arguments with each of `variables` ($VMSnapshot, $SnapInfoName and $SnapInfoSnapshot, as SMHV did; a drill's
        guest check adds its own) replaced, as data; checked again for a .cmd or .bat script once the values are in."""
        out = []
        for argument in self.arguments:
            for name in variables:
                argument = re.sub(re.escape("$" + name), lambda _m, value=variables[name]: value, argument, flags=re.IGNORECASE)
            out.append(argument)
        check_cmd_arguments(self.path, out)
        return out

    def as_dict(self):
        return {"path": self.path, "arguments": list(self.arguments), "host": self.host, "timeout": self.timeout}


@dataclasses.dataclass(frozen=True)
class BackupOptions:
    """What one backup does: from a policy, or given on demand."""

    backup_type: str
    method: str  # auto | checkpoint | vss_provider (application); crash (crash)
    allow_saved_state: bool
    update_snapmirror: bool
    snapvault_label: str | None
    retention: Retention
    pre_script: Script | None = None
    post_script: Script | None = None
    policy: str | None = None

    @classmethod
    def from_policy(cls, policy):
        return cls(policy.backup_type, policy.method, policy.allow_saved_state, policy.snapmirror_update,
                   policy.snapvault_label if policy.snapvault_update else None, policy.retention(),
                   Script.from_option(policy.pre_script), Script.from_option(policy.post_script), policy.name)

    @classmethod
    def resolve(cls, catalog, dataset, policy, on_demand):
        """The options of a backup of `dataset`: its policy's (read from `catalog`), or those given on demand (a dict of
        on_demand()'s arguments; with a policy, none of them may be given)."""
        if policy:
            given = sorted(name for name, value in on_demand.items() if value is not None)
            if given:
                raise SmhvError("INVALID_ARGUMENT", "policy %s sets the backup's options; do not also give %s." % (policy, ", ".join(given)),
                                {"given": given})
            found = catalog.get_policy(dataset, policy)
            if found is None:
                raise SmhvError("INVALID_ARGUMENT", "Dataset %s has no policy %s." % (dataset, policy), {"dataset": dataset, "policy": policy})
            return cls.from_policy(found.record)
        return cls.on_demand(**{name: value for name, value in on_demand.items() if value is not None})

    @classmethod
    def on_demand(cls, backup_type="application", method="auto", allow_saved_state=False, update_snapmirror=False,
                  snapvault_label=None, retention=None, pre_script=None, post_script=None):
        if backup_type not in BACKUP_TYPES:
            raise SmhvError("INVALID_ARGUMENT", "backup_type must be application or crash, got %r." % (backup_type,))
        if backup_type == "crash":
            if method not in ("auto", None):
                raise SmhvError("INVALID_ARGUMENT", "backup_method %s applies to application-consistent backups only; a crash-consistent "
                                "backup takes storage snapshots and nothing else." % method, {"backup_method": method})
            method = "crash"
        elif method not in METHOD_CHOICES:
            raise SmhvError("INVALID_ARGUMENT", "backup_method must be one of %s, got %r." % (", ".join(METHOD_CHOICES), method))
        retention = retention or {}
        age = retention.get("age")
        kept = Retention(retention.get("tag") or "unlimited", retention.get("count"), parse_age(age) if age else None)
        return cls(backup_type, method, bool(allow_saved_state), bool(update_snapmirror), snapvault_label or None, kept,
                   Script.from_option(pre_script), Script.from_option(post_script), None)


def choose_method(options, coordinator_facts):
    """The concrete method: crash, or for an application backup the one asked, or with auto the VSS
    provider where SnapDrive's Data ONTAP VSS provider is on the coordinating host, else checkpoints."""
    build = coordinator_facts["os"]["build"]
    has_provider = bool(coordinator_facts["netapp_vss_provider"])
    method = options.method
    if method == "auto":
        method = "vss_provider" if has_provider else "checkpoint"
    if method == "vss_provider" and not has_provider:
        raise SmhvError("INVALID_ARGUMENT", "backup_method vss_provider needs the Data ONTAP VSS hardware provider (SnapDrive for Windows) on "
                        "%s, which does not have it. Use backup_method checkpoint (Windows Server 2016 and later) or auto."
                        % coordinator_facts["computer_name"], {"host": coordinator_facts["computer_name"]})
    if method == "checkpoint" and build < CHECKPOINT_MIN_BUILD:
        raise SmhvError("INVALID_ARGUMENT", "Host %s runs Windows build %d; production checkpoints need Windows Server 2016 (build %d) or "
                        "later. Install SnapDrive and use backup_method vss_provider, or take crash-consistent backups."
                        % (coordinator_facts["computer_name"], build, CHECKPOINT_MIN_BUILD), {"build": build})
    return method


@dataclasses.dataclass
class VmPlan:
    """One member VM in this backup: where it runs, how it is captured, and its files on ONTAP."""

    vm: dict  # agent.VM_SCHEMA record
    node: str  # the host that answered for it (its owner node)
    outcome: str  # online | offline | saved | skipped
    reason: str = ""
    files: list = dataclasses.field(default_factory=list)  # [(file record, LunRef or None)]

    @property
    def vm_id(self):
        return self.vm["id"]


def classify(vm, node, options):
    """The VmPlan of an inventoried VM: migration skips it alone; saved/off VMs need allow_saved_state
    (application backups only: a crash-consistent backup takes every VM as it is, as SMHV did)."""
    if vm["migration"]:
        return VmPlan(vm, node, "skipped", "VM %s is in %s migration; it cannot be backed up now and is left out of this backup."
                      % (vm["name"], vm["migration"]))
    if vm["state"] == "Running":
        return VmPlan(vm, node, "online")
    outcome = OFFLINE_STATES.get(vm["state"])
    if outcome is None:
        return VmPlan(vm, node, "skipped", "VM %s is %s; wait until it is Running, Off or Saved." % (vm["name"], vm["state"]))
    if options.backup_type == "crash":
        return VmPlan(vm, node, outcome, "VM was %s; captured as it is on disk" % vm["state"])
    if not options.allow_saved_state:
        return VmPlan(vm, node, "refused", "VM %s is %s, so it cannot be backed up online; allow saved-state backups "
                      "(allow_saved_state, or the policy's option) or move it to a dataset whose policy allows them." % (vm["name"], vm["state"]))
    return VmPlan(vm, node, outcome, "VM was %s; backed up %s (no application consistency inside the guest)"
                  % (vm["state"], "offline" if outcome == "offline" else "in its saved state"))


def volume_key(lun):
    return (lun.cluster, lun.volume_uuid)


def backup_record(name, dataset, options, method, when, scope, plans, volume_snapshots, status="ok", failed_step=None, error=None,
                  snapinfo_snapshot=None, operation=None, error_code=None):
    """The catalog record of a backup: per VM its files with the LUN, volume and snapshot names holding them.
    `operation`: the id of the journal that made it (backup~<name>), which tells a recovery the record is its own."""
    vms = []
    for plan in plans:
        files = []
        for entry, lun in plan.files:
            if lun is None:
                continue
            files.append(BackupFile(path=entry["path"], kind=entry["kind"], lun_serial=lun.serial, cluster=lun.cluster, svm=lun.svm,
                                    volume=lun.volume_name, snapshots=tuple(volume_snapshots.get(volume_key(lun), ()))))
        vms.append(BackupVm(vm_id=plan.vm_id, name=plan.vm["name"], host=plan.node, outcome=plan.outcome, reason=plan.reason,
                            files=tuple(files), snapshot_location=plan.vm.get("snapshot_location") or ""))
    return BackupRecord(name=name, dataset=dataset, policy=options.policy, retention_tag=options.retention.tag,
                        backup_type=options.backup_type, method=method, time=when, scope=scope, status=status, vms=tuple(vms),
                        failed_step=failed_step, error=error, error_code=error_code, snapinfo_snapshot=snapinfo_snapshot,
                        operation=operation)


def script_variables(backup, when, snapinfo_snapshot):
    return {"VMSnapshot": backup, "SnapInfoName": format_stamp(when), "SnapInfoSnapshot": snapinfo_snapshot}


def names_of(backup, method):
    return snapshot_names(backup, method)
