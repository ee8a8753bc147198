# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PowerShell agent's contract: its ops, error codes and result shapes, and how requests and answers look (DESIGN §3).

Every Windows-side operation is a function of one script, AGENT_SCRIPT, picked by the `op` of a JSON
request; the agent answers with exactly one JSON document. Request data is only ever a parameter
value, never source text, so a VM named ``a'; Remove-VM *; '`` is just a name.

The PowerShell itself is in agent/*.ps1 at the top of the repository; scripts/build_agent.py (`make agent`)
generates ``agent.script`` from it, which this package re-exports: AGENT_SCRIPT, AGENT_SHA, ENTRY_FUNCTION,
BOOTSTRAP_SCRIPT and source_of(), which names the file and line of a line of AGENT_SCRIPT (docs/agent.md).

Transport (winhost.client.HostClient, winhost.sessions):
- PSRP, the first call of a RunspacePool: ``PowerShell(pool).add_script(AGENT_SCRIPT, use_local_scope=False)
  .add_parameter("Request", encode_request(...))``: the script runs dot-sourced, so its functions stay
  defined in the runspace; later calls: ``add_cmdlet(ENTRY_FUNCTION).add_parameter("Request", ...)
  .add_parameter("AgentSha", AGENT_SHA)`` (winhost.sessions.PsrpSession).
- WinRS: ``PowerShell -NoProfile -NonInteractive -EncodedCommand <sessions.encoded_bootstrap()>`` and then
  ``sessions.winrs_stdin(request_json)`` on stdin; the agent does not fit a command line (8191 chars).
Either way, ``decode_response(output_text)`` returns the agent's answer.

Adding an op: a PowerShell function in agent/ (approved verb, ``-Arguments``/``-CheckMode`` parameters, returns
``New-SmhvOpResult``), one line in ``Invoke-SmhvOperation``'s switch (agent/core.ps1), its result shape in
RESULT_SCHEMAS, then `make agent`. The lab (lab/smhv_lab/hyperv) implements the same op over its world model;
tests keep the three in step (tests/unit/agent, tests/lab/hyperv).
"""

from __future__ import annotations

import json

# The PowerShell, generated from agent/*.ps1; callers reach it as agent.AGENT_SCRIPT and so on.
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.agent.script import (
    AGENT_SCRIPT,
    AGENT_SHA,
    BOOTSTRAP_SCRIPT,
    ENTRY_FUNCTION,
    source_of,
)

# Codes the agent itself may answer with (besides the ones engines map to SmhvError codes).
AGENT_ERROR_CODES = {
    "BAD_REQUEST": "The request is not valid JSON, or an argument is missing or has the wrong type.",
    "UNKNOWN_OP": "The agent has no such op (controller and agent versions differ?).",
    "AGENT_ERROR": "An unexpected error inside the agent; details name the op and the exception.",
    "VM_NOT_FOUND": "A requested VM (by name or id) is not registered on the host.",
    "FILE_NOT_FOUND": "A file to read does not exist.",
    "PATH_NOT_FOUND": "The directory for a file to write does not exist and create_dirs is false.",
    "DIRECTORY_NOT_EMPTY": "A directory to delete has content and recurse is false.",
    "CHECKPOINT_FAILED": "Hyper-V could not create or remove a VM checkpoint (details name the VM).",
    "VSS_PROVIDER_MISSING": "The Data ONTAP VSS hardware provider is not registered on the host (SnapDrive not installed).",
    "VSS_BACKUP_FAILED": "diskshadow did not create the shadow copies; its exit code and output are in the details.",
    "SCRIPT_TIMEOUT": "A pre- or post-script did not finish in time and was stopped.",
    "WRITE_CONFLICT": "A conditional file_write found other content (expected_sha256) or an existing file (create_only).",
    "WRITE_LOCKED": "Another writer held the file's .lock for longer than file_write waits.",
    "LEASE_LOST": "A fenced file_write or file_delete found its lease file (fence_path) no longer carrying fence_token.",
    "PROCESS_TIMEOUT": "An installer or other program the agent started did not finish in time.",
    "REBOOT_FAILED": "shutdown.exe refused to schedule the restart.",
    "HOTFIX_FILE_NOT_FOUND": "No .msu file for the KB in the source folder.",
    "HOTFIX_INSTALL_FAILED": "wusa.exe failed to install an update.",
    "INSTALLER_FAILED": "An installer (setup.exe, msiexec) ended with a failure exit code.",
    "FEATURE_INSTALL_FAILED": "Install-WindowsFeature failed.",
    "SERVICE_NOT_FOUND": "A service to configure is not installed.",
    "VM_STATE_NOT_ALLOWED": "vm_remove of a VM that is not off.",
    "VM_EXISTS": "vm_import of a configuration whose VM id is already registered on the host.",
    "DISK_NOT_FOUND": "No disk with the LUN's serial number after a rescan (the LUN is not mapped to the host).",
    "DRIVE_LETTER_IN_USE": "disk_connect: the drive letter asked for belongs to another volume, or no drive letter is free.",
}


class Nullable(object):
    """Schema marker: the value may be null, otherwise it follows `spec`."""

    def __init__(self, spec):
        self.spec = spec

    def __repr__(self):
        return "Nullable(%r)" % (self.spec,)


# What a disk/volume/LUN lookup says about one path (path_info, and every file in vm_inventory).
STORAGE_SCHEMA = {
    "access_path": Nullable(str),  # volume root as Windows mounts it: 'J:\\', 'C:\\ClusterStorage\\Volume1\\'
    "volume_id": Nullable(str),  # '\\\\?\\Volume{guid}\\'
    "disk_number": Nullable(int),
    "disk_serial": Nullable(str),  # Get-Disk SerialNumber: the ONTAP LUN serial for NetApp LUNs
    "netapp_lun": bool,  # the disk is an ONTAP LUN (Get-Disk Manufacturer NETAPP)
    "partition_style": Nullable(str),  # GPT | MBR | RAW
    "is_csv": bool,
    "csv_name": Nullable(str),
    "is_smb": bool,  # a UNC path: no disk behind it on this host
    "free_bytes": Nullable(int),
    "size_bytes": Nullable(int),
}

DISK_SCHEMA = {
    "number": int,
    "serial": str,
    "netapp_lun": bool,
    "online": bool,
    "read_only": bool,
    "offline_reason": Nullable(str),  # Policy | Collision | ... while offline
    "partition_style": str,
    "size_bytes": int,
    "is_clustered": bool,
    "access_paths": [str],
}

VM_SCHEMA = {
    "id": str,  # lower-case GUID: the key that identifies a VM (names are display only)
    "name": str,
    "host": str,
    "state": str,  # Running | Off | Saved | Paused | ...
    "generation": int,
    "clustered": bool,
    "cluster_group": Nullable(str),
    "owner_node": str,
    "configuration_location": str,
    "config_path": Nullable(str),  # the .vmcx (or .xml) file, null when it is missing
    "snapshot_location": str,
    "checkpoint_type": str,  # Production | ProductionOnly | Standard | Disabled
    "processor_count": int,
    "memory_startup_bytes": int,
    "operational_status": [str],
    "migration": str,  # '' | 'live' | 'storage'
    "backup_integration_enabled": Nullable(bool),  # integration service "Backup (volume shadow copy)"
    "hard_disks": [{
        "path": str,  # the file the VM writes to now (an .avhdx while a checkpoint exists)
        "controller_type": str,
        "controller_number": int,
        "controller_location": int,
        "parent_paths": [str],  # differencing chain, nearest parent first, base disk last
    }],
    "passthrough_disks": [{
        "disk_number": int,
        "disk_serial": Nullable(str),
        "controller_type": str,
        "controller_number": int,
        "controller_location": int,
    }],
    # Virtual Fibre Channel adapters (Get-VMFibreChannelHba): the LUNs behind them are the guest's, never in a backup.
    "fibre_channel_hbas": [{
        "san_name": str,  # the host's virtual SAN the adapter connects to
        "wwnn_set_a": str,  # world wide node and port names, as Hyper-V shows them (16 hex digits); set B is
        "wwpn_set_a": str,  # the one the VM uses while it live-migrates
        "wwnn_set_b": str,
        "wwpn_set_b": str,
    }],
    # The guest's addresses on its network adapters (Get-VMNetworkAdapter's IPAddresses; empty while it is off).
    "ip_addresses": [str],
    "checkpoints": [{"id": str, "name": str, "created": str}],
    "files": [{"path": str, "kind": str, "storage": STORAGE_SCHEMA}],  # kind: config | vhd | checkpoint_config
}

# Fleet ops (firewall rules, hotfixes, reboots, packages, prerequisites; fleet_*.py engines).
FIREWALL_RULE_SCHEMA = {"name": str, "display_name": str, "description": str, "enabled": bool, "direction": str,
                        "action": str, "profile": str, "protocol": str, "local_ports": [str]}
FLEET_RESULT_SCHEMAS = {
    "firewall_rule_ensure": {"name": str, "before": Nullable(FIREWALL_RULE_SCHEMA), "after": Nullable(FIREWALL_RULE_SCHEMA)},
    "host_boot_info": {"last_boot_time": str, "reboot_pending": bool, "reasons": [str]},
    "host_reboot": {"last_boot_time": str, "scheduled": bool},
    # outcome: installed | already_installed | not_applicable | would_install (check mode)
    "hotfix_install": {"kb": str, "file": Nullable(str), "outcome": str, "exit_code": Nullable(int), "reboot_required": bool},
    "package_info": {
        "installed": [{"name": str, "version": str, "product_code": str, "publisher": str}],
        "installers": [{"path": str, "exists": bool, "product_name": Nullable(str), "product_version": Nullable(str)}],
    },
    "installer_run": {"path": str, "exit_code": Nullable(int), "reboot_required": bool},
    "prerequisites_ensure": {
        "features": [{"name": str, "installed_before": bool, "installed": bool}],
        "mpio": Nullable({"vendor_id": str, "product_id": str, "claimed_before": bool, "claimed": bool}),
        "services": [{"name": str, "start_type_before": Nullable(str), "status_before": Nullable(str),
                      "start_type": Nullable(str), "status": Nullable(str)}],
        "restart_needed": bool,
    },
}

# Backup ops (backup*.py engines): production checkpoints, the VSS provider backup, pre/post scripts.
VM_FAILURE_SCHEMA = {"vm_id": str, "vm_name": Nullable(str), "code": str, "message": str}
# checkpoint_type: the VM's type before; it is set back after the production-only checkpoint.
CHECKPOINT_SCHEMA = {"vm_id": str, "vm_name": str, "checkpoint_id": str, "name": str, "created": str, "checkpoint_type": str}
BACKUP_RESULT_SCHEMAS = {
    "checkpoint_create": {"checkpoints": [CHECKPOINT_SCHEMA], "failures": [VM_FAILURE_SCHEMA]},
    "checkpoint_remove": {"removed": [{"vm_id": str, "checkpoint_id": str}], "missing": [str], "failures": [VM_FAILURE_SCHEMA]},
    # Read-only: every checkpoint on the host whose name starts with `prefix` (smhv_cleanup looks for the backups' own).
    "checkpoint_list": {"checkpoints": [{"vm_id": str, "vm_name": str, "checkpoint_id": str, "name": str, "created": str}]},
    # A backup's first call to a host: the inventory of the given VMs found there (taken before any checkpoint),
    # the saved-state/off/migration policy's outcome for each (online | offline | saved | skipped | refused),
    # and production-only checkpoints of the online ones, made only when no VM of the host is refused.
    "backup_checkpoint": {
        "vms": [VM_SCHEMA],
        "missing": [str],
        "outcomes": [{"vm_id": str, "outcome": str}],
        "checkpoints": [CHECKPOINT_SCHEMA],
        "failures": [VM_FAILURE_SCHEMA],
    },
    "vss_backup": {"shadow_copy_set_id": str, "shadow_copies": [{"volume": str, "shadow_copy_id": str}], "exit_code": int,
                   "output": str},
    "run_script": {"path": str, "exit_code": int, "stdout": str, "stderr": str, "milliseconds": int},
}
# Restore and mount ops (restore.py, mount.py): VM power and registration, LUNs connected as disks, file copies.
VM_POWER_SCHEMA = {"vms": [{"vm_id": str, "name": str, "state_before": Nullable(str), "state": str}], "missing": [str]}
RESTORE_RESULT_SCHEMAS = {
    "vm_stop": VM_POWER_SCHEMA,
    "vm_start": VM_POWER_SCHEMA,
    "vm_remove": {"removed": [str], "missing": [str]},
    "vm_import": {"vm_id": str, "name": str, "state": str, "checkpoint_discarded": bool},
    "vm_import_batch": {"vms": [{"vm_id": str, "name": str, "state": str, "checkpoint_discarded": bool}]},
    "disk_connect": {"disk": DISK_SCHEMA, "resignatured": bool},
    "disk_disconnect": {"serial": str, "found": bool, "was_online": bool, "removed_access_paths": [str]},
    "file_copy": {"copied": [{"source": str, "destination": str, "size": int}]},
    "cluster_vm_role_add": {"added": [{"vm_id": str, "group": str}], "present": [str], "missing": [str]},
    "cluster_vm_role_remove": {"removed": [{"vm_id": str, "group": str}], "absent": [str]},
    # DR drills (engines/dr): is a VM up (state, the guest's heartbeat) and cut off from the network (no adapter on a switch,
    # or only on the drill's isolated switch: `switches` names them).
    "vm_health": {"vms": [{"vm_id": str, "name": str, "state": str, "heartbeat": Nullable(str), "network_connected": bool,
                           "switches": [str]}], "missing": [str]},
    "cluster_disk_add": {"disk": DISK_SCHEMA, "resource": str, "csv": bool, "access_path": str},
    "cluster_disk_remove": {"serial": str, "found": bool, "resource": str, "csv": bool},
}
# The Hyper-V VSS writer; the Data ONTAP provider's id is NETAPP_VSS_PROVIDER_ID.
HYPERV_VSS_WRITER_ID = "{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}"

# op -> shape of its `result`. The agent's PowerShell and the lab's Python both honour these exactly
# (same keys, no more); validate_result() checks an answer against them.
RESULT_SCHEMAS = {
    "host_facts": {
        "computer_name": str,
        "domain": str,
        "part_of_domain": bool,
        "os": {"caption": str, "version": str, "build": int, "ubr": int},
        "powershell_version": str,
        "cluster": Nullable({
            "name": str,
            "owner_node": str,  # owner of the core cluster group
            "nodes": [{"name": str, "state": str}],
            "csvs": [{"name": str, "path": str, "owner_node": str, "state": str}],
        }),
        "features": [str],  # installed Windows features
        "hotfixes": [str],
        "vss_providers": [{"id": str, "name": str, "type": str, "version": str}],
        "netapp_vss_provider": bool,
        "services": [{"name": str, "installed": bool, "display_name": Nullable(str), "status": Nullable(str),
                      "start_type": Nullable(str)}],
        "firewall_rules": [{"name": str, "display_name": str, "enabled": bool, "direction": str, "action": str,
                            "profile": str, "protocol": str, "local_ports": [str], "matched_ports": [int]}],
        "initiator_ports": [{"node_address": str, "connection_type": str}],
        "registry": [{"key": str, "values": dict}],
    },
    "vm_inventory": {
        "vms": [VM_SCHEMA],
        "missing": {"names": [str], "ids": [str]},
    },
    "path_info": {
        "paths": [{"path": str, "exists": bool, "is_directory": bool, "storage": STORAGE_SCHEMA}],
    },
    "file_read": {
        "files": [{"path": str, "exists": bool, "size": Nullable(int), "sha256": Nullable(str),
                   "content": Nullable(str)}],
        "encoding": str,
    },
    # previous_sha256: the file's hash before the write (null: there was none), the same as sha256 when unchanged.
    "file_write": {"path": str, "size": int, "sha256": str, "previous_sha256": Nullable(str)},
    # format (FILE_LIST_FORMATS): 'entries' fills `entries` and leaves `names` null; 'names' and 'names_gzip' leave
    # `entries` empty and put in `names` the paths relative to `path`, one per line (LF), a directory's ending in '\\',
    # in the order of `entries`; 'names_gzip' is that text in UTF-8, gzip-compressed, in base64 (read by
    # catalog_repository.decode_file_names).
    "file_list": {
        "path": str,
        "exists": bool,
        "format": str,
        "entries": [{"path": str, "name": str, "is_directory": bool, "size": Nullable(int)}],
        "names": Nullable(str),
    },
    "file_delete": {"deleted": [str], "missing": [str]},
    "disk_rescan": {"disks": [DISK_SCHEMA], "added": [str], "removed": [str]},
    **FLEET_RESULT_SCHEMAS,
    "registry_write": {"key": str, "existed": bool, "exists": bool, "values": dict, "set": [str], "removed": [str]},
    **BACKUP_RESULT_SCHEMAS,
    **RESTORE_RESULT_SCHEMAS,
}

OPS = tuple(RESULT_SCHEMAS)

# What file_list answers with. A name-only listing is about a third of the entries' JSON, and gzip makes
# the catalog's 10,000 backup names a few dozen KB: one WinRM message instead of several (docs/agent.md).
FILE_LIST_FORMATS = ("entries", "names", "names_gzip")

# Services host_facts reports: SMHV (its service key), SnapDrive, Hyper-V VMMS, cluster, iSCSI, VSS.
HOST_SERVICES = ("OnCommandHyperV", "SWSvc", "vmms", "ClusSvc", "MSiSCSI", "VSS")
# SMHV's Net.Tcp port (808) and SnapDrive's HTTP/HTTPS web-service ports (4094/4095).
DEFAULT_FIREWALL_PORTS = (808, 4094, 4095)
NETAPP_VSS_PROVIDER_ID = "{ddd3d232-a96f-4ac5-8f7b-250fd91fd102}"
# How many checkpoint or merge jobs the agent runs at once on one host (Get-SmhvCheckpointJobLimit in
# agent/checkpoint_jobs.ps1); the lab's Hyper-V runs as many of the agent's jobs.
CHECKPOINT_JOBS = 4
# Registry keys whose values host_facts reports (with every subkey).
SMHV_REGISTRY_ROOTS = (
    "HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V",
    "HKLM:\\Cluster\\SOFTWARE\\NetApp\\SnapManager for Hyper-V",
    "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\OnCommandHyperV\\Parameters",
)

# What ends the bootstrap's stdin: agent/bootstrap.ps1 reads lines up to the one that is four NULs.
STDIN_SENTINEL = b"\n\0\0\0\0\n"

# What Invoke-SmhvAgent answers, before reading the request, when -AgentSha is not its own hash: the
# runspace holds another version's agent. Not in AGENT_ERROR_CODES: the client sends the script again
# and no user ever meets it.
VERSION_MISMATCH_CODE = "AGENT_VERSION_MISMATCH"


def encode_request(op, args, check_mode):
    """The JSON request the agent takes as -Request. ASCII only, so no code page can mangle it."""
    if op not in OPS:
        raise ValueError("unknown agent op %r; the agent implements: %s" % (op, ", ".join(OPS)))
    if not isinstance(args, dict):
        raise ValueError("agent op arguments must be a dict, got %s" % type(args).__name__)
    return json.dumps({"op": op, "args": args, "check_mode": bool(check_mode)}, ensure_ascii=True,
                      separators=(",", ":"))


def _candidate_documents(text):
    decoder = json.JSONDecoder()
    for line in text.splitlines():
        stripped = line.strip().lstrip("\ufeff")
        if not stripped.startswith("{"):
            continue
        try:
            document, end = decoder.raw_decode(stripped)
        except ValueError as error:
            yield None, "%s in %r" % (error, _excerpt(stripped))
            continue
        if stripped[end:].strip():
            yield None, "unexpected text after the JSON document: %r" % _excerpt(stripped[end:])
            continue
        yield document, None


def _excerpt(text, limit=200):
    return text if len(text) <= limit else text[:limit] + "..."


def decode_response(text):
    """The agent's one JSON answer, found in its output among blank lines and other noise.

    Raises ValueError saying what is wrong when there is no answer, more than one, or it breaks the
    contract ({"ok": true, "changed", "result", "warnings"} or {"ok": false, "error": {code, message}}).
    An AGENT_ERROR's line of AGENT_SCRIPT is named as the file and line it comes from (details.source,
    and before the message).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    found, problems = [], []
    for document, problem in _candidate_documents(text or ""):
        if problem:
            problems.append(problem)
        elif isinstance(document, dict) and "ok" in document:
            found.append(document)
    if not found:
        reason = ("malformed JSON: " + problems[0]) if problems else "no JSON document in the output"
        raise ValueError("The agent gave no answer (%s). Output was: %r" % (reason, _excerpt(text or "", 500)))
    if len(found) > 1:
        raise ValueError("The agent answered %d JSON documents where one was expected." % len(found))
    response = found[0]
    if response["ok"] is True:
        missing = [key for key in ("changed", "result", "warnings") if key not in response]
        if missing or not isinstance(response["result"], dict) or not isinstance(response["warnings"], list):
            raise ValueError("The agent's answer breaks the contract (missing or wrong: %s): %r"
                             % (", ".join(missing) or "result/warnings", _excerpt(json.dumps(response))))
    elif response["ok"] is False:
        error = response.get("error")
        if not isinstance(error, dict) or not isinstance(error.get("code"), str) or "message" not in error:
            raise ValueError("The agent's error answer has no error code and message: %r"
                             % _excerpt(json.dumps(response)))
        error.setdefault("details", {})
        if not isinstance(error["details"], dict):
            error["details"] = {"value": error["details"]}
        _name_source_line(error)
    else:
        raise ValueError("The agent's answer has ok=%r; expected true or false." % (response["ok"],))
    return response


def _name_source_line(error):
    """An unexpected error's file and line, 'agent/files.ps1:87', in details.source and before the message.

    ConvertTo-SmhvErrorResponse reports PowerShell's ScriptLineNumber as details.line: a line of AGENT_SCRIPT,
    which names nothing a reader can open.
    """
    source = source_of(error["details"].get("line"))
    if error["code"] != "AGENT_ERROR" or source is None:
        return
    error["details"]["source"] = source
    if isinstance(error["message"], str):
        error["message"] = "%s: %s" % (source, error["message"])


def _shape_problems(spec, value, where):
    if isinstance(spec, Nullable):
        return [] if value is None else _shape_problems(spec.spec, value, where)
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return ["%s: expected an object, got %s" % (where, type(value).__name__)]
        problems = ["%s: missing key %r" % (where, key) for key in spec if key not in value]
        problems += ["%s: unexpected key %r" % (where, key) for key in value if key not in spec]
        for key in spec:
            if key in value:
                problems += _shape_problems(spec[key], value[key], "%s.%s" % (where, key))
        return problems
    if isinstance(spec, list):
        if not isinstance(value, list):
            return ["%s: expected a list, got %s" % (where, type(value).__name__)]
        problems = []
        for index, item in enumerate(value):
            problems += _shape_problems(spec[0], item, "%s[%d]" % (where, index))
        return problems
    if spec is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, spec)
    return [] if ok else ["%s: expected %s, got %r" % (where, spec.__name__, value)]


def validate_result(op, result):
    """Problems (a list of strings, empty when none) of an op's `result` against RESULT_SCHEMAS."""
    if op not in RESULT_SCHEMAS:
        return ["unknown op %r" % (op,)]
    return _shape_problems(RESULT_SCHEMAS[op], result, op)
