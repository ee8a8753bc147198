"""The backup ops over the world: production checkpoints, the VSS provider backup and pre/post scripts
(New-SmhvCheckpoint, Remove-SmhvCheckpoint, New-SmhvBackupCheckpoint, Invoke-SmhvVssBackup and
Invoke-SmhvScript in the agent).

backup_checkpoint is a backup's inventory and its checkpoints in one call: vm_inventory's record of each
given VM on the host, the policy's outcome for it, and checkpoint_create's checkpoints of the online ones.

checkpoint_create / checkpoint_remove use the world's checkpoint model: a production checkpoint of a
running VM flushes the guest's writes in flight first, then puts an .avhdx on every disk; removing it
merges the layer back (world/windows.py). Each checkpoint and each merge is one of the agent's Hyper-V
jobs (agent/checkpoint_jobs.ps1): CHECKPOINT_JOBS of them side by side, each taking the host's time for it
in one of the host's slots, so a host that runs fewer at once queues the rest (hyperv/timing.py).

vss_backup plays diskshadow, the Hyper-V writer and the Data ONTAP VSS hardware provider in one step:
the writer has each running guest (with the backup integration service) flush its writes, and the
provider takes two snapshots of every ONTAP volume behind the given Windows volumes, the shadow copy
and the one after the writer's autorecovery, named as this lab's provider names them,
``vss_<shadow copy id>`` and ``vss_<shadow copy id>_ar``. Real providers choose their own names too:
the controller identifies the new snapshots by comparing the volume before and after, and renames them.

run_script cannot run a program. A lab script is a text file on the host (system drive or a LUN) that
this op interprets, one command a line, so tests can give scripts any outcome:

    echo TEXT          a line on stdout
    error TEXT         a line on stderr
    write PATH TEXT    write TEXT to the file PATH on this host (proof that the script ran, and with what)
    sleep SECONDS      virtual time: the run fails with SCRIPT_TIMEOUT if the total passes timeout_seconds
    exit CODE          stop with this exit code (default 0)
    # or rem ...       a comment

TEXT and PATH expand %NAME% (the request's environment, then COMPUTERNAME), %1..%9 and %* (the
arguments). Any other line is answered like cmd.exe answers an unknown command (stderr, exit code 9009).
"""
from __future__ import annotations

import re
import uuid
from typing import Any

from ..world.storage import OntapError
from ..world.windows import checkpoint_create as world_checkpoint_create
from ..world.windows import checkpoint_remove as world_checkpoint_remove
from ..world.windows import flush_guest_writes
from .context import AgentFailure, OpContext, argument, assert_absolute
from .vm_ops import _vm_record

_DATA_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_VM_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_VOLUME_ROOT = re.compile(r'[A-Za-z]:\\([^"\r\n*?<>|]+\\)?')
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_EXPANSION = re.compile(r"%(\*|[1-9]|[A-Za-z_][A-Za-z0-9_]*)%|%(\*|[1-9])")
_OUTPUT_LIMIT = 65536


def _data_name(args: dict[str, Any], name: str) -> str:
    value = argument(args, name, "String", required=True)
    if not _DATA_NAME.fullmatch(value):
        raise AgentFailure("BAD_REQUEST", f"Argument '{name}': '{value}' may only hold letters, digits, '_', '-' and '.'.",
                           {"argument": name})
    return value


def _failure(vm_id: str, vm_name: str | None, code: str, message: str) -> dict[str, Any]:
    return {"vm_id": vm_id, "vm_name": vm_name, "code": code, "message": message}


_VM_ERRORS = (KeyError, ValueError, OSError)  # what a VM's own checkpoint or merge may fail with


def _production_checkpoints(ctx: OpContext, vms: list, name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """New-SmhvProductionCheckpointSet: each VM's Checkpoint-VM -AsJob (its type ProductionOnly for the checkpoint,
    then set back; the VM's own type never changes, so passing the type for this one checkpoint is the same
    thing), side by side as the agent runs them (ctx.run_jobs). A job takes the host's checkpoint time
    (hyperv/timing.py) before its checkpoint exists; the VM may have gone meanwhile (world_checkpoint_create's
    KeyError). Checkpoints and failures in the VMs' order."""
    def land(vm):
        checkpoint = world_checkpoint_create(ctx.world, vm.id, name, checkpoint_type="ProductionOnly")
        return {"vm_id": vm.id.lower(), "vm_name": vm.name, "checkpoint_id": checkpoint.id, "name": checkpoint.name,
                "created": checkpoint.created, "checkpoint_type": vm.checkpoint_type}

    checkpoints, failures = [], []
    for vm, (made, error) in zip(vms, ctx.run_jobs("checkpoint.create", vms, land)):
        if error is None:
            checkpoints.append(made)
        elif isinstance(error, _VM_ERRORS):
            failures.append(_failure(vm.id.lower(), vm.name, "CHECKPOINT_FAILED", str(error)))
        else:
            raise error
    return checkpoints, failures


def checkpoint_create(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """New-SmhvCheckpoint: the VMs not on this host fail VM_NOT_FOUND (listed first), the others are checkpointed."""
    ids = argument(args, "ids", "StringList", required=True)
    name = _data_name(args, "name")
    failures, found = [], []
    for vm_id in ids:
        key = vm_id.lower()
        vm = ctx.host.vms.get(key)
        if vm is None:
            failures.append(_failure(key, None, "VM_NOT_FOUND", f"No virtual machine with id {vm_id} on host {ctx.computer_name}."))
            continue
        found.append(vm)
    checkpoints = []
    if not ctx.check_mode:
        checkpoints, failed = _production_checkpoints(ctx, found, name)
        failures += failed
    changed = bool(checkpoints) or (ctx.check_mode and bool(found))
    return {"checkpoints": checkpoints, "failures": failures}, changed


_OFFLINE_OUTCOMES = {"Off": "offline", "Saved": "saved", "Paused": "saved"}


def backup_outcome(record: dict[str, Any], allow_saved_state: bool) -> str:
    """Get-SmhvBackupOutcome: online | offline | saved | skipped | refused for one inventoried VM."""
    if record["migration"]:
        return "skipped"
    if record["state"] == "Running":
        return "online"
    outcome = _OFFLINE_OUTCOMES.get(record["state"], "skipped")
    if outcome != "skipped" and not allow_saved_state:
        return "refused"
    return outcome


def backup_checkpoint(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """New-SmhvBackupCheckpoint: every given VM on this host inventoried, classified, and the online ones
    checkpointed when none is refused; ids not on this host are 'missing'."""
    ids = argument(args, "ids", "StringList", required=True)
    name = _data_name(args, "name")
    allow_saved_state = argument(args, "allow_saved_state", "Boolean", False)
    for vm_id in ids:
        if not _VM_ID.fullmatch(vm_id):
            raise AgentFailure("BAD_REQUEST", f"Argument 'ids': '{vm_id}' is not a VM id (GUID).", {"argument": "ids"})
    vms, missing, outcomes, online, refused = [], [], [], [], 0
    for vm_id in ids:
        key = vm_id.lower()
        vm = ctx.host.vms.get(key)
        if vm is None:
            missing.append(key)
            continue
        record = _vm_record(ctx, vm)
        outcome = backup_outcome(record, allow_saved_state)
        vms.append(record)
        outcomes.append({"vm_id": key, "outcome": outcome})
        if outcome == "online":
            online.append(vm)
        elif outcome == "refused":
            refused += 1
    checkpoints, failures = [], []
    if not refused and not ctx.check_mode:
        checkpoints, failures = _production_checkpoints(ctx, online, name)
    changed = bool(checkpoints) or (ctx.check_mode and not refused and bool(online))
    return {"vms": vms, "missing": missing, "outcomes": outcomes, "checkpoints": checkpoints, "failures": failures}, changed


def checkpoint_remove(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Remove-SmhvCheckpoint: each VM's checkpoints called `name` merged by Remove-VMSnapshot -AsJob, side by side
    and one at a time per VM (Remove-SmhvCheckpointSet); each merge takes the host's time before it lands."""
    ids = argument(args, "ids", "StringList", required=True)
    name = _data_name(args, "name")
    merges, missing = [], []
    for vm_id in ids:
        key = vm_id.lower()
        vm = ctx.host.vms.get(key)
        found = [c for c in vm.checkpoints if c.name == name] if vm is not None else []
        if not found:
            missing.append(key)
            continue
        merges += [(key, vm, checkpoint) for checkpoint in found]

    def land(merge):
        world_checkpoint_remove(ctx.world, merge[1].id, merge[2].id)  # Remove-VMSnapshot returns once the merge is done

    outcomes = [(None, None)] * len(merges)  # check mode plans every merge
    if not ctx.check_mode:
        outcomes = ctx.run_jobs("checkpoint.remove", merges, land, group=lambda merge: merge[0])
    removed, failures = [], []
    for (key, vm, checkpoint), (_landed, error) in zip(merges, outcomes):
        if error is None:
            removed.append({"vm_id": key, "checkpoint_id": checkpoint.id})
        elif isinstance(error, _VM_ERRORS):
            failures.append(_failure(key, vm.name, "CHECKPOINT_FAILED", str(error)))
        else:
            raise error
    return {"removed": removed, "missing": missing, "failures": failures}, bool(removed)


def checkpoint_list(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Get-SmhvCheckpointList: the checkpoints whose name starts with `prefix` (ordinal), VMs by name, oldest first."""
    prefix = argument(args, "prefix", "String", "")
    checkpoints = []
    for vm in sorted(ctx.host.vms.values(), key=lambda vm: vm.name.lower()):
        for checkpoint in sorted(vm.checkpoints, key=lambda c: c.created):
            if checkpoint.name.startswith(prefix):
                checkpoints.append({"vm_id": vm.id.lower(), "vm_name": vm.name, "checkpoint_id": checkpoint.id,
                                    "name": checkpoint.name, "created": checkpoint.created})
    return {"checkpoints": checkpoints}, False


def _vss_failure(ctx: OpContext, message: str, volumes: list[str]) -> AgentFailure:
    return AgentFailure("VSS_BACKUP_FAILED", f"diskshadow on host {ctx.computer_name} did not create the shadow copies "
                        f"(exit code 1, 0 of {len(volumes)} volumes): {message}", {"exit_code": 1, "volumes": volumes})


def vss_backup(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    ids = argument(args, "ids", "StringList", required=True)
    volumes = argument(args, "volumes", "StringList", required=True)
    _data_name(args, "name")
    for vm_id in ids:
        if not _VM_ID.fullmatch(vm_id):
            raise AgentFailure("BAD_REQUEST", f"Argument 'ids': '{vm_id}' is not a VM id (GUID).", {"argument": "ids"})
    if not volumes:
        raise AgentFailure("BAD_REQUEST", "Argument 'volumes' must name at least one volume.", {"argument": "volumes"})
    for volume in volumes:
        if not _VOLUME_ROOT.fullmatch(volume):
            raise AgentFailure("BAD_REQUEST", f"Argument 'volumes': '{volume}' is not a volume root (J:\\ or a mount point "
                               "such as C:\\ClusterStorage\\Volume1\\).", {"argument": "volumes", "volume": volume})
    provider = ctx.agent.NETAPP_VSS_PROVIDER_ID
    if not any(p["id"].lower() == provider for p in ctx.host.vss_providers):
        raise AgentFailure("VSS_PROVIDER_MISSING", f"The Data ONTAP VSS Hardware Provider is not registered on host "
                           f"{ctx.computer_name}; install SnapDrive for Windows, or use the checkpoint method.",
                           {"provider": provider})
    if ctx.check_mode:
        return {"shadow_copy_set_id": "", "shadow_copies": [], "exit_code": 0, "output": ""}, True
    # Which ONTAP volume holds each Windows volume (the provider snapshots whole FlexVols).
    targets: dict[int, tuple[Any, Any]] = {}
    for volume in volumes:
        disk = ctx.host.online_disk_for(volume)
        cluster, lun = ctx.world.find_lun_by_serial(disk.serial) if disk is not None else (None, None)
        if lun is None:
            raise _vss_failure(ctx, f"volume {volume} is not on a Data ONTAP LUN this host sees.", volumes)
        targets.setdefault(id(lun.volume), (cluster, lun.volume))
    # The Hyper-V writer (through the CSV writer for VMs on other cluster nodes): each running guest with the
    # backup integration service flushes (in-guest VSS).
    nodes = [h for h in ctx.world.hosts.values() if h is ctx.host or (ctx.host.cluster and h.cluster == ctx.host.cluster)]
    for vm_id in ids:
        vm = next((h.vms[vm_id.lower()] for h in nodes if vm_id.lower() in h.vms), None)
        if vm is not None and vm.state == "Running" and vm.integration_services.get("Backup (volume shadow copy)", False):
            flush_guest_writes(ctx.world, vm.id)
    set_id = str(uuid.uuid4())
    copies = [{"volume": volume, "shadow_copy_id": "{%s}" % uuid.uuid4()} for volume in volumes]
    taken = []
    try:
        for index, (cluster, volume) in enumerate(targets.values()):
            tag = copies[min(index, len(copies) - 1)]["shadow_copy_id"].strip("{}").replace("-", "")
            for suffix in ("", "_ar"):
                snapshot = cluster._take_snapshot(volume, f"vss_{tag}{suffix}", comment="Data ONTAP VSS hardware provider")
                taken.append((cluster, snapshot))
    except OntapError as error:
        for cluster, snapshot in taken:  # a provider that fails deletes what it made
            cluster.delete_snapshot(snapshot)
        raise _vss_failure(ctx, str(error), volumes) from None
    lines = ["DISKSHADOW.EXE  Copyright (C) Microsoft Corporation.", "", "-> set context persistent", "-> begin backup", "-> create"]
    lines += [f"Alias SMHV{index} for shadow ID {copy['shadow_copy_id']} set as environment variable."
              for index, copy in enumerate(copies)]
    lines += [f"Alias VSS_SHADOW_SET for value {{{set_id}}} set as environment variable.", "-> end backup"]
    output = "\r\n".join(lines) + "\r\n"
    return {"shadow_copy_set_id": "{%s}" % set_id, "shadow_copies": copies, "exit_code": 0, "output": output}, True


def _environment(args: dict[str, Any]) -> dict[str, str]:
    value = args.get("environment")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AgentFailure("BAD_REQUEST", "Argument 'environment' must be a JSON object of names to strings.",
                           {"argument": "environment"})
    for name, item in value.items():
        if not _ENV_NAME.fullmatch(name) or not isinstance(item, str):
            raise AgentFailure("BAD_REQUEST", f"Argument 'environment': '{name}' must be a variable name with a string value.",
                               {"argument": "environment", "name": name})
    return dict(value)


def _timeout(args: dict[str, Any]) -> int:
    value = args.get("timeout_seconds")
    if value is None:
        return 3600
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 86400:
        raise AgentFailure("BAD_REQUEST", "Argument 'timeout_seconds' must be an integer between 1 and 86400.",
                           {"argument": "timeout_seconds"})
    return value


_CMD_SCRIPT = re.compile(r"\.(cmd|bat)$", re.IGNORECASE)
_CMD_UNSAFE_IN_PATH = re.compile(r'[%!"\x00-\x1f\x7f]')
_CMD_UNSAFE = re.compile(r'[&|<>^%!"()\x00-\x1f\x7f]')


def _assert_cmd_safe(path: str, arguments: list[str]) -> None:
    """Assert-SmhvCmdSafeScript: a .cmd/.bat script (trailing dots and blanks dropped, as Windows does) runs
    through cmd.exe, so its path may not hold % ! or a quote, nor its arguments & | < > ^ % ! ( ) or a quote."""
    if not _CMD_SCRIPT.search(path.rstrip(". ")):
        return
    if _CMD_UNSAFE_IN_PATH.search(path):
        raise AgentFailure("BAD_REQUEST", f"Argument 'path': script {path} has a character cmd.exe interprets (% ! or a quote or "
                           "a control character).", {"argument": "path", "path": path})
    for position, item in enumerate(arguments, 1):
        if _CMD_UNSAFE.search(item):
            raise AgentFailure("BAD_REQUEST", f"Argument 'arguments': element {position} for script {path} has a character cmd.exe "
                               "interprets in a .cmd or .bat script's arguments (& | < > ^ % ! ( ), a quote or a control character); "
                               "it cannot be passed safely.", {"argument": "arguments", "position": position, "path": path})


def _expand(text: str, environment: dict[str, str], arguments: list[str]) -> str:
    def one(match: re.Match) -> str:
        key = match.group(1) or match.group(2)
        if key == "*":
            return " ".join(arguments)
        if key.isdigit():
            return arguments[int(key) - 1] if int(key) <= len(arguments) else ""
        folded = {name.lower(): value for name, value in environment.items()}
        return folded.get(key.lower(), match.group(0))
    return _EXPANSION.sub(one, text)


def run_script(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    path = argument(args, "path", "String", required=True)
    arguments = argument(args, "arguments", "StringList", [])
    environment = {"COMPUTERNAME": ctx.computer_name, **_environment(args)}
    timeout = _timeout(args)
    assert_absolute(path, "path")
    _assert_cmd_safe(path, arguments)
    try:
        text = ctx.host.read_file(ctx.world, path).decode("utf-8", errors="replace")
    except (FileNotFoundError, ValueError):
        raise AgentFailure("FILE_NOT_FOUND", f"Script {path} does not exist on host {ctx.computer_name}.", {"path": path}) from None
    if ctx.check_mode:
        return {"path": path, "exit_code": 0, "stdout": "", "stderr": "", "milliseconds": 0}, True
    stdout, stderr, exit_code, elapsed = [], [], 0, 0.0
    for raw in text.splitlines():
        line = raw.strip()
        command, _blank, rest = line.partition(" ")
        command = command.lower()
        if not line or command in ("#", "rem") or line.startswith("#"):
            continue
        if command == "echo":
            stdout.append(_expand(rest, environment, arguments))
        elif command == "error":
            stderr.append(_expand(rest, environment, arguments))
        elif command == "write":
            target, _blank, content = rest.partition(" ")
            ctx.host.write_file(ctx.world, _expand(target, environment, arguments),
                                _expand(content, environment, arguments).encode("utf-8"))
        elif command == "sleep":
            elapsed += float(rest or 0)
            if elapsed > timeout:
                raise AgentFailure("SCRIPT_TIMEOUT", f"Script {path} did not finish within {timeout} seconds on host "
                                   f"{ctx.computer_name} and was stopped.",
                                   {"path": path, "timeout": timeout, "stdout": "\r\n".join(stdout)})
        elif command == "exit":
            exit_code = int(rest or 0)
            break
        else:
            stderr.append(f"'{command}' is not recognized as an internal or external command,\r\noperable program or batch file.")
            exit_code = 9009
    result = {"path": path, "exit_code": exit_code, "stdout": "\r\n".join(stdout)[-_OUTPUT_LIMIT:],
              "stderr": "\r\n".join(stderr)[-_OUTPUT_LIMIT:], "milliseconds": int(elapsed * 1000)}
    return result, True


OPS = {
    "checkpoint_create": checkpoint_create,
    "checkpoint_remove": checkpoint_remove,
    "checkpoint_list": checkpoint_list,
    "backup_checkpoint": backup_checkpoint,
    "vss_backup": vss_backup,
    "run_script": run_script,
}
