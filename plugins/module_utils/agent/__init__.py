# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PowerShell agent: the only PowerShell in the collection, and how to send it (DESIGN §3).

Every Windows-side operation is a function of one script, AGENT_SCRIPT, picked by the `op` of a JSON
request; the agent answers with exactly one JSON document. Request data is only ever a parameter
value, never source text, so a VM named ``a'; Remove-VM *; '`` is just a name.

Transport (winhost.HostClient):
- PSRP, the first call of a RunspacePool: ``PowerShell(pool).add_script(AGENT_SCRIPT, use_local_scope=False)
  .add_parameter("Request", encode_request(...))``: the script runs dot-sourced, so its functions stay
  defined in the runspace; later calls: ``add_cmdlet(ENTRY_FUNCTION).add_parameter("Request", ...)
  .add_parameter("AgentSha", AGENT_SHA)`` (winhost_sessions.PsrpSession).
- WinRS: ``PowerShell -NoProfile -NonInteractive -EncodedCommand <encoded_bootstrap()>`` and then
  ``winrs_stdin(request_json)`` on stdin; the agent does not fit a command line (8191 chars).
Either way, ``decode_response(output_text)`` returns the agent's answer.

Adding an op: a PowerShell function (approved verb, ``-Arguments``/``-CheckMode`` parameters, returns
``New-SmhvOpResult``), one line in ``Invoke-SmhvOperation``'s switch, and its result shape in
RESULT_SCHEMAS. The lab (lab/smhv_lab/hyperv) implements the same op over its world model; tests keep
the three in step (tests/unit/agent, tests/lab/hyperv).
"""

from __future__ import annotations

import base64
import hashlib
import json

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
    "disk_connect": {"disk": DISK_SCHEMA, "resignatured": bool},
    "disk_disconnect": {"serial": str, "found": bool, "was_online": bool, "removed_access_paths": [str]},
    "file_copy": {"copied": [{"source": str, "destination": str, "size": int}]},
    "cluster_vm_role_add": {"added": [{"vm_id": str, "group": str}], "present": [str], "missing": [str]},
    "cluster_vm_role_remove": {"removed": [{"vm_id": str, "group": str}], "absent": [str]},
    # DR drills (engines/dr): is a VM up (state, the guest's heartbeat) and cut off from the network (no adapter on a switch,
    # or only on the drill's isolated switch: `switches` names them).
    "vm_health": {"vms": [{"vm_id": str, "name": str, "state": str, "heartbeat": Nullable(str), "network_connected": bool,
                           "switches": [str]}], "missing": [str]},
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
# Registry keys whose values host_facts reports (with every subkey).
SMHV_REGISTRY_ROOTS = (
    "HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V",
    "HKLM:\\Cluster\\SOFTWARE\\NetApp\\SnapManager for Hyper-V",
    "HKLM:\\SYSTEM\\CurrentControlSet\\Services\\OnCommandHyperV\\Parameters",
)

STDIN_SENTINEL = b"\n\0\0\0\0\n"

# The agent, for Windows PowerShell 5.1. Conventions: approved verbs and the Smhv noun prefix; every
# collection a result holds is a List or an array (never an enumerated pipeline, which would turn one
# item into a scalar); enums and dates become strings before ConvertTo-Json (5.1 writes enums as
# numbers and dates as "\/Date()\/"); no aliases; paths go to -LiteralPath or .NET, never -Path, so
# wildcard characters in names stay literal.
AGENT_SCRIPT = r"""param([Parameter(Mandatory)][string]$Request)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3
$ProgressPreference = 'SilentlyContinue'

# ---------------------------------------------------------------------------------------------
# Request, response and errors
# ---------------------------------------------------------------------------------------------

function New-SmhvError {
    # An exception that carries a stable error code and details; Invoke-SmhvRequest turns it into
    # {"ok": false, "error": {...}}.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Code,
        [Parameter(Mandatory)][string]$Message,
        [System.Collections.IDictionary]$Details = @{}
    )
    $exception = New-Object -TypeName System.InvalidOperationException -ArgumentList $Message
    $exception.Data['SmhvCode'] = $Code
    $exception.Data['SmhvDetails'] = $Details
    $exception
}

function New-SmhvList {
    [CmdletBinding()]
    param()
    , (New-Object -TypeName 'System.Collections.Generic.List[object]')
}

function New-SmhvOpResult {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][System.Collections.IDictionary]$Result,
        [bool]$Changed = $false
    )
    [ordered]@{ Changed = $Changed; Result = $Result }
}

function Add-SmhvWarning {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Message
    )
    $script:SmhvWarnings.Add($Message)
}

function Get-SmhvArgument {
    # One argument of the request, checked against the type the op expects.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [Parameter(Mandatory)][string]$Name,
        [Parameter(Mandatory)][ValidateSet('String', 'StringList', 'Boolean', 'IntegerList')][string]$Type,
        [object]$Default = $null,
        [switch]$Required
    )
    $property = $Arguments.PSObject.Properties[$Name]
    if ($null -eq $property -or $null -eq $property.Value) {
        if ($Required) {
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument '$Name' is required." -Details @{ argument = $Name })
        }
        if ($Type -eq 'StringList' -or $Type -eq 'IntegerList') {
            return , @($Default)
        }
        return $Default
    }
    $value = $property.Value
    $valid = switch ($Type) {
        'String' { $value -is [string] }
        'Boolean' { $value -is [bool] }
        'StringList' { $value -is [array] -and @($value | Where-Object -FilterScript { $_ -isnot [string] }).Count -eq 0 }
        'IntegerList' { $value -is [array] -and @($value | Where-Object -FilterScript { $_ -isnot [int] -and $_ -isnot [long] }).Count -eq 0 }
    }
    if (-not $valid) {
        $expected = @{ String = 'a string'; Boolean = 'true or false'; StringList = 'a list of strings'; IntegerList = 'a list of integers' }[$Type]
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument '$Name' must be $expected." -Details @{ argument = $Name })
    }
    if ($Type -eq 'StringList' -or $Type -eq 'IntegerList') {
        return , @($value)
    }
    $value
}

function Assert-SmhvAbsolutePath {
    # Drive-rooted or UNC only: a relative path would depend on the remote session's directory.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyString()][string]$Path,
        [Parameter(Mandatory)][string]$Argument
    )
    if ($Path -notmatch '^([A-Za-z]:\\|\\\\[^\\])') {
        $message = "Argument '$Argument': '$Path' is not an absolute Windows path."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = $Argument; path = $Path })
    }
}

function ConvertTo-SmhvJson {
    # Compact JSON, ASCII only: non-ASCII characters become \uXXXX escapes so that the answer survives
    # any console code page on the way back (WinRS stdout is bytes in the shell's code page).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowNull()][object]$InputObject
    )
    $json = ConvertTo-Json -InputObject $InputObject -Depth 32 -Compress
    if ($json -notmatch '[^\x00-\x7E]') {
        return $json
    }
    $builder = New-Object -TypeName System.Text.StringBuilder -ArgumentList ($json.Length + 64)
    foreach ($character in $json.ToCharArray()) {
        if ([int]$character -gt 126) {
            [void]$builder.AppendFormat('\u{0:x4}', [int]$character)
        } else {
            [void]$builder.Append($character)
        }
    }
    $builder.ToString()
}

function ConvertFrom-SmhvRequest {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Request
    )
    try {
        $document = ConvertFrom-Json -InputObject $Request
    } catch {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "The request is not valid JSON: $($_.Exception.Message)")
    }
    if ($document -isnot [System.Management.Automation.PSCustomObject]) {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message 'The request must be a JSON object with op, args and check_mode.')
    }
    $operation = Get-SmhvArgument -Arguments $document -Name 'op' -Type String -Required
    $arguments = New-Object -TypeName psobject
    $argumentsProperty = $document.PSObject.Properties['args']
    if ($null -ne $argumentsProperty -and $null -ne $argumentsProperty.Value) {
        if ($argumentsProperty.Value -isnot [System.Management.Automation.PSCustomObject]) {
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'args' must be a JSON object." -Details @{ argument = 'args' })
        }
        $arguments = $argumentsProperty.Value
    }
    $checkMode = Get-SmhvArgument -Arguments $document -Name 'check_mode' -Type Boolean -Default $false
    [ordered]@{ Operation = $operation; Arguments = $arguments; CheckMode = $checkMode }
}

function ConvertTo-SmhvErrorResponse {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][System.Management.Automation.ErrorRecord]$ErrorRecord,
        [AllowEmptyString()][string]$Operation = ''
    )
    # Our own errors may arrive wrapped (MethodInvocationException, RuntimeException): walk the chain.
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception) {
        if ($exception.Data.Contains('SmhvCode')) {
            return [ordered]@{
                ok = $false
                error = [ordered]@{
                    code = [string]$exception.Data['SmhvCode']
                    message = $exception.Message
                    details = $exception.Data['SmhvDetails']
                }
            }
        }
        $exception = $exception.InnerException
    }
    $details = [ordered]@{ op = $Operation; exception_type = $ErrorRecord.Exception.GetType().FullName; line = $null; command = $null }
    if ($null -ne $ErrorRecord.InvocationInfo) {
        $details.line = $ErrorRecord.InvocationInfo.ScriptLineNumber
        $details.command = ([string]$ErrorRecord.InvocationInfo.Line).Trim()
    }
    [ordered]@{
        ok = $false
        error = [ordered]@{ code = 'AGENT_ERROR'; message = $ErrorRecord.Exception.Message; details = $details }
    }
}

function Invoke-SmhvOperation {
    # The op table. Each op is one function taking -Arguments (the request's args object) and
    # -CheckMode, returning New-SmhvOpResult. The op name selects a function; it is never code.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Operation,
        [Parameter(Mandatory)][psobject]$Arguments,
        [Parameter(Mandatory)][bool]$CheckMode
    )
    $call = @{ Arguments = $Arguments; CheckMode = $CheckMode }
    switch -CaseSensitive ($Operation) {
        'host_facts' { return Get-SmhvHostFacts @call }
        'vm_inventory' { return Get-SmhvVmInventory @call }
        'path_info' { return Get-SmhvPathInfo @call }
        'file_read' { return Read-SmhvFile @call }
        'file_write' { return Write-SmhvFile @call }
        'file_list' { return Get-SmhvFileList @call }
        'file_delete' { return Remove-SmhvFile @call }
        'disk_rescan' { return Update-SmhvDiskCache @call }
        'firewall_rule_ensure' { return Set-SmhvFirewallRule @call }
        'host_boot_info' { return Get-SmhvBootInfo @call }
        'host_reboot' { return Restart-SmhvHost @call }
        'hotfix_install' { return Install-SmhvHotfix @call }
        'package_info' { return Get-SmhvPackageInfo @call }
        'installer_run' { return Invoke-SmhvInstaller @call }
        'prerequisites_ensure' { return Set-SmhvPrerequisite @call }
        'registry_write' { return Set-SmhvRegistryKey @call }
        'checkpoint_create' { return New-SmhvCheckpoint @call }
        'checkpoint_remove' { return Remove-SmhvCheckpoint @call }
        'checkpoint_list' { return Get-SmhvCheckpointList @call }
        'backup_checkpoint' { return New-SmhvBackupCheckpoint @call }
        'vss_backup' { return Invoke-SmhvVssBackup @call }
        'run_script' { return Invoke-SmhvScript @call }
        'vm_stop' { return Stop-SmhvVm @call }
        'vm_start' { return Start-SmhvVm @call }
        'vm_remove' { return Remove-SmhvVm @call }
        'vm_import' { return Import-SmhvVm @call }
        'disk_connect' { return Connect-SmhvDisk @call }
        'disk_disconnect' { return Disconnect-SmhvDisk @call }
        'file_copy' { return Copy-SmhvFile @call }
        'cluster_vm_role_add' { return Add-SmhvClusterVmRole @call }
        'cluster_vm_role_remove' { return Remove-SmhvClusterVmRole @call }
        'vm_health' { return Get-SmhvVmHealth @call }
    }
    throw (New-SmhvError -Code 'UNKNOWN_OP' -Message "Unknown op '$Operation'." -Details @{ op = $Operation })
}

function Invoke-SmhvRequest {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Request
    )
    $operation = ''
    try {
        $parsed = ConvertFrom-SmhvRequest -Request $Request
        $operation = $parsed.Operation
        $outcome = Invoke-SmhvOperation -Operation $operation -Arguments $parsed.Arguments -CheckMode $parsed.CheckMode
        $response = [ordered]@{
            ok = $true
            changed = [bool]$outcome.Changed
            result = $outcome.Result
            warnings = $script:SmhvWarnings.ToArray()
        }
    } catch {
        $response = ConvertTo-SmhvErrorResponse -ErrorRecord $_ -Operation $operation
    }
    ConvertTo-SmhvJson -InputObject $response
}

# ---------------------------------------------------------------------------------------------
# Disks, volumes and LUNs
# ---------------------------------------------------------------------------------------------

function ConvertTo-SmhvPartitionStyle {
    # MSFT_Disk.PartitionStyle is a number in CIM; the Storage module usually shows it as a name.
    [CmdletBinding()]
    param(
        [AllowNull()][object]$Value
    )
    switch ([string]$Value) {
        '0' { return 'RAW' }
        '1' { return 'MBR' }
        '2' { return 'GPT' }
    }
    ([string]$Value).ToUpperInvariant()
}

function ConvertTo-SmhvOfflineReason {
    [CmdletBinding()]
    param(
        [AllowNull()][object]$Value
    )
    $names = @{
        '1' = 'Policy'; '2' = 'Redundant Path'; '3' = 'Snapshot'; '4' = 'Collision'
        '5' = 'Resource Exhaustion'; '6' = 'Critical Write Failures'; '7' = 'Data Integrity Scan Required'
    }
    $key = [string]$Value
    if ($names.ContainsKey($key)) {
        return $names[$key]
    }
    $key
}

function Test-SmhvNetAppDisk {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][object]$Disk
    )
    ([string]$Disk.Manufacturer).Trim() -eq 'NETAPP'
}

function Get-SmhvClusterService {
    # ClusSvc running means this host is an active cluster node; FailoverClusters cmdlets need it.
    [CmdletBinding()]
    param()
    $service = Get-Service -Name 'ClusSvc' -ErrorAction SilentlyContinue
    ($null -ne $service) -and ($service.Status.ToString() -eq 'Running')
}

function Get-SmhvVolumeMap {
    # Every mounted volume (drive letters, mount points, CSVs) with the disk behind it, longest access
    # path first, so the first entry whose access path starts a file path is the volume holding it.
    [CmdletBinding()]
    param()
    if ($null -ne $script:SmhvVolumeMap) {
        return , $script:SmhvVolumeMap
    }
    $disksByNumber = @{}
    foreach ($disk in Get-Disk) {
        $disksByNumber[[int]$disk.Number] = $disk
    }
    $entries = New-SmhvList
    foreach ($partition in Get-Partition) {
        $accessPaths = @($partition.AccessPaths | Where-Object -FilterScript { $_ -and -not $_.StartsWith('\\?\') })
        if ($accessPaths.Count -eq 0) {
            continue
        }
        $volume = Get-Volume -Partition $partition -ErrorAction SilentlyContinue
        $disk = $disksByNumber[[int]$partition.DiskNumber]
        foreach ($accessPath in $accessPaths) {
            $entry = [ordered]@{
                access_path = $accessPath
                volume_id = $null
                disk_number = [int]$partition.DiskNumber
                disk_serial = $null
                netapp_lun = $false
                partition_style = $null
                is_csv = $false
                csv_name = $null
                is_smb = $false
                free_bytes = $null
                size_bytes = $null
            }
            if ($null -ne $volume) {
                $entry.volume_id = [string]$volume.Path
                $entry.free_bytes = [long]$volume.SizeRemaining
                $entry.size_bytes = [long]$volume.Size
            }
            if ($null -ne $disk) {
                $entry.disk_serial = [string]$disk.SerialNumber
                $entry.netapp_lun = Test-SmhvNetAppDisk -Disk $disk
                $entry.partition_style = ConvertTo-SmhvPartitionStyle -Value $disk.PartitionStyle
            }
            $entries.Add($entry)
        }
    }
    if (Get-SmhvClusterService) {
        foreach ($csv in Get-ClusterSharedVolume) {
            $info = @($csv.SharedVolumeInfo)
            if ($info.Count -eq 0) {
                continue
            }
            $accessPath = ([string]$info[0].FriendlyVolumeName).TrimEnd('\') + '\'
            # The CSV's disk resource names its disk by GPT disk GUID (or MBR signature).
            $resource = Get-ClusterResource -Name $csv.Name
            $diskIdGuid = [string](Get-ClusterParameter -InputObject $resource -Name 'DiskIdGuid' -ErrorAction SilentlyContinue).Value
            $diskSignature = [string](Get-ClusterParameter -InputObject $resource -Name 'DiskSignature' -ErrorAction SilentlyContinue).Value
            $disk = $null
            foreach ($candidate in $disksByNumber.Values) {
                $isGptMatch = $diskIdGuid -and ([string]$candidate.Guid) -eq $diskIdGuid
                $isMbrMatch = $diskSignature -and $diskSignature -ne '0x0' -and
                    ([string]$candidate.Signature) -eq [string][Convert]::ToUInt32($diskSignature, 16)
                if ($isGptMatch -or $isMbrMatch) {
                    $disk = $candidate
                }
            }
            $entry = [ordered]@{
                access_path = $accessPath
                volume_id = [string]$info[0].Partition.Name
                disk_number = $null
                disk_serial = $null
                netapp_lun = $false
                partition_style = $null
                is_csv = $true
                csv_name = [string]$csv.Name
                is_smb = $false
                free_bytes = [long]$info[0].Partition.FreeSpace
                size_bytes = [long]$info[0].Partition.Size
            }
            if ($null -ne $disk) {
                $entry.disk_number = [int]$disk.Number
                $entry.disk_serial = [string]$disk.SerialNumber
                $entry.netapp_lun = Test-SmhvNetAppDisk -Disk $disk
                $entry.partition_style = ConvertTo-SmhvPartitionStyle -Value $disk.PartitionStyle
            }
            # On the coordinator node the partition may also list the CSV path; the CSV view wins.
            $shadowed = @($entries | Where-Object -FilterScript { $_.access_path -eq $accessPath })
            foreach ($duplicate in $shadowed) {
                [void]$entries.Remove($duplicate)
            }
            $entries.Add($entry)
        }
    }
    $sorted = New-SmhvList
    foreach ($entry in ($entries | Sort-Object -Property { $_.access_path.Length } -Descending)) {
        $sorted.Add($entry)
    }
    $script:SmhvVolumeMap = $sorted
    , $sorted
}

function Get-SmhvPathStorage {
    # The storage record for one absolute path: which volume, disk and LUN hold it.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path
    )
    if ($Path.StartsWith('\\')) {
        return [ordered]@{
            access_path = $null; volume_id = $null; disk_number = $null; disk_serial = $null; netapp_lun = $false
            partition_style = $null; is_csv = $false; csv_name = $null; is_smb = $true; free_bytes = $null; size_bytes = $null
        }
    }
    $candidate = $Path.Replace('/', '\').TrimEnd('\') + '\'
    foreach ($entry in (Get-SmhvVolumeMap)) {
        if ($candidate.StartsWith($entry.access_path, [System.StringComparison]::OrdinalIgnoreCase)) {
            return $entry
        }
    }
    [ordered]@{
        access_path = $null; volume_id = $null; disk_number = $null; disk_serial = $null; netapp_lun = $false
        partition_style = $null; is_csv = $false; csv_name = $null; is_smb = $false; free_bytes = $null; size_bytes = $null
    }
}

function Get-SmhvDiskRecord {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][object]$Disk
    )
    $accessPaths = New-SmhvList
    if (-not $Disk.IsOffline) {
        foreach ($partition in @(Get-Partition -DiskNumber $Disk.Number -ErrorAction SilentlyContinue)) {
            foreach ($accessPath in @($partition.AccessPaths | Where-Object -FilterScript { $_ -and -not $_.StartsWith('\\?\') })) {
                $accessPaths.Add([string]$accessPath)
            }
        }
    }
    $offlineReason = $null
    if ($Disk.IsOffline) {
        $offlineReason = ConvertTo-SmhvOfflineReason -Value $Disk.OfflineReason
    }
    [ordered]@{
        number = [int]$Disk.Number
        serial = [string]$Disk.SerialNumber
        netapp_lun = Test-SmhvNetAppDisk -Disk $Disk
        online = -not $Disk.IsOffline
        read_only = [bool]$Disk.IsReadOnly
        offline_reason = $offlineReason
        partition_style = ConvertTo-SmhvPartitionStyle -Value $Disk.PartitionStyle
        size_bytes = [long]$Disk.Size
        is_clustered = [bool]$Disk.IsClustered
        access_paths = $accessPaths
    }
}

# ---------------------------------------------------------------------------------------------
# host_facts
# ---------------------------------------------------------------------------------------------

function Get-SmhvClusterFacts {
    [CmdletBinding()]
    param()
    if (-not (Get-SmhvClusterService)) {
        return $null
    }
    $cluster = Get-Cluster
    $coreGroup = Get-ClusterGroup | Where-Object -FilterScript { $_.GroupType.ToString() -eq 'Cluster' } | Select-Object -First 1
    $nodes = New-SmhvList
    foreach ($node in Get-ClusterNode) {
        $nodes.Add([ordered]@{ name = [string]$node.Name; state = $node.State.ToString() })
    }
    $csvs = New-SmhvList
    foreach ($csv in Get-ClusterSharedVolume) {
        $info = @($csv.SharedVolumeInfo)
        $path = ''
        if ($info.Count -gt 0) {
            $path = [string]$info[0].FriendlyVolumeName
        }
        $csvs.Add([ordered]@{ name = [string]$csv.Name; path = $path; owner_node = [string]$csv.OwnerNode.Name; state = $csv.State.ToString() })
    }
    [ordered]@{ name = [string]$cluster.Name; owner_node = [string]$coreGroup.OwnerNode.Name; nodes = $nodes; csvs = $csvs }
}

function Get-SmhvInstalledFeature {
    [CmdletBinding()]
    param()
    $names = New-SmhvList
    if ($null -eq (Get-Command -Name 'Get-WindowsFeature' -ErrorAction SilentlyContinue)) {
        Add-SmhvWarning -Message 'Get-WindowsFeature is not available (not a Windows Server?); features are not reported.'
        return , $names
    }
    foreach ($feature in (Get-WindowsFeature | Where-Object -FilterScript { $_.Installed } | Sort-Object -Property Name)) {
        $names.Add([string]$feature.Name)
    }
    , $names
}

function Get-SmhvVssProvider {
    # The providers vssadmin lists, read from their registration (no localized text to parse).
    [CmdletBinding()]
    param()
    $typeNames = @{ '1' = 'System'; '2' = 'Software'; '3' = 'Hardware'; '4' = 'FileShare' }
    $providers = New-SmhvList
    $root = 'HKLM:\SYSTEM\CurrentControlSet\Services\VSS\Providers'
    if (-not (Test-Path -LiteralPath $root)) {
        return , $providers
    }
    foreach ($key in (Get-ChildItem -LiteralPath $root | Sort-Object -Property PSChildName)) {
        $type = [string]$key.GetValue('Type')
        if ($typeNames.ContainsKey($type)) {
            $type = $typeNames[$type]
        }
        $providers.Add([ordered]@{
            id = ([string]$key.PSChildName).ToLowerInvariant()
            name = [string]$key.GetValue('')
            type = $type
            version = [string]$key.GetValue('Version')
        })
    }
    , $providers
}

function Get-SmhvServiceFacts {
    [CmdletBinding()]
    param()
    $services = New-SmhvList
    foreach ($name in @('OnCommandHyperV', 'SWSvc', 'vmms', 'ClusSvc', 'MSiSCSI', 'VSS')) {
        $service = Get-Service -Name $name -ErrorAction SilentlyContinue
        if ($null -eq $service) {
            $services.Add([ordered]@{ name = $name; installed = $false; display_name = $null; status = $null; start_type = $null })
        } else {
            $services.Add([ordered]@{
                name = $name
                installed = $true
                display_name = [string]$service.DisplayName
                status = $service.Status.ToString()
                start_type = $service.StartType.ToString()
            })
        }
    }
    , $services
}

function Test-SmhvPortMatch {
    # A firewall LocalPort entry is a port ('808'), a range ('4094-4095') or a keyword ('Any', 'RPC').
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyString()][string]$Entry,
        [Parameter(Mandatory)][long]$Port
    )
    if ($Entry -match '^\d+$') {
        return [long]$Entry -eq $Port
    }
    if ($Entry -match '^(\d+)-(\d+)$') {
        return ([long]$Matches[1] -le $Port) -and ($Port -le [long]$Matches[2])
    }
    $false
}

function Get-SmhvFirewallFacts {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][long[]]$Ports
    )
    $rules = New-SmhvList
    foreach ($filter in @(Get-NetFirewallPortFilter -Protocol 'TCP')) {
        $localPorts = @($filter.LocalPort | ForEach-Object -Process { [string]$_ })
        $matched = New-SmhvList
        foreach ($port in $Ports) {
            foreach ($entry in $localPorts) {
                if ((Test-SmhvPortMatch -Entry $entry -Port $port) -and -not $matched.Contains([int]$port)) {
                    $matched.Add([int]$port)
                }
            }
        }
        if ($matched.Count -eq 0) {
            continue
        }
        $rule = Get-NetFirewallRule -AssociatedNetFirewallPortFilter $filter
        $rules.Add([ordered]@{
            name = [string]$rule.Name
            display_name = [string]$rule.DisplayName
            enabled = $rule.Enabled.ToString() -eq 'True'
            direction = $rule.Direction.ToString()
            action = $rule.Action.ToString()
            profile = $rule.Profile.ToString()
            protocol = 'TCP'
            local_ports = $localPorts
            matched_ports = $matched
        })
    }
    , $rules
}

function Get-SmhvInitiatorFacts {
    [CmdletBinding()]
    param()
    $ports = New-SmhvList
    foreach ($port in @(Get-InitiatorPort -ErrorAction SilentlyContinue)) {
        $ports.Add([ordered]@{ node_address = [string]$port.NodeAddress; connection_type = $port.ConnectionType.ToString() })
    }
    , $ports
}

function Get-SmhvRegistryFacts {
    # SMHV's settings: every value under its keys, one record per key, names as 'HKLM:\...'.
    [CmdletBinding()]
    param()
    $records = New-SmhvList
    $roots = @(
        'HKLM:\SOFTWARE\NetApp\SnapManager for Hyper-V',
        'HKLM:\Cluster\SOFTWARE\NetApp\SnapManager for Hyper-V',
        'HKLM:\SYSTEM\CurrentControlSet\Services\OnCommandHyperV\Parameters'
    )
    foreach ($root in $roots) {
        if (-not (Test-Path -LiteralPath $root)) {
            continue
        }
        $keys = @(Get-Item -LiteralPath $root) + @(Get-ChildItem -LiteralPath $root -Recurse)
        foreach ($key in $keys) {
            $values = [ordered]@{}
            foreach ($valueName in $key.GetValueNames()) {
                $label = $valueName
                if ($valueName -eq '') {
                    $label = '(default)'
                }
                $values[$label] = $key.GetValue($valueName, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
            }
            $records.Add([ordered]@{ key = ([string]$key.Name) -replace '^HKEY_LOCAL_MACHINE\\', 'HKLM:\'; values = $values })
        }
    }
    , $records
}

function Get-SmhvHostFacts {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ports = Get-SmhvArgument -Arguments $Arguments -Name 'firewall_ports' -Type IntegerList -Default @(808, 4094, 4095)
    $os = Get-CimInstance -ClassName 'Win32_OperatingSystem'
    $computer = Get-CimInstance -ClassName 'Win32_ComputerSystem'
    $currentVersion = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
    $ubr = 0
    if ($null -ne $currentVersion.PSObject.Properties['UBR']) {
        $ubr = [int]$currentVersion.UBR
    }
    $hotfixes = New-SmhvList
    foreach ($id in (Get-HotFix | ForEach-Object -MemberName 'HotFixID' | Sort-Object -Unique)) {
        $hotfixes.Add([string]$id)
    }
    $providers = Get-SmhvVssProvider
    $netAppProvider = @($providers | Where-Object -FilterScript { $_.id -eq '{ddd3d232-a96f-4ac5-8f7b-250fd91fd102}' }).Count -gt 0
    $result = [ordered]@{
        computer_name = [string]$env:COMPUTERNAME
        domain = [string]$computer.Domain
        part_of_domain = [bool]$computer.PartOfDomain
        os = [ordered]@{ caption = [string]$os.Caption; version = [string]$os.Version; build = [int]$os.BuildNumber; ubr = $ubr }
        powershell_version = $PSVersionTable.PSVersion.ToString()
        cluster = Get-SmhvClusterFacts
        features = Get-SmhvInstalledFeature
        hotfixes = $hotfixes
        vss_providers = $providers
        netapp_vss_provider = $netAppProvider
        services = Get-SmhvServiceFacts
        firewall_rules = Get-SmhvFirewallFacts -Ports $ports
        initiator_ports = Get-SmhvInitiatorFacts
        registry = Get-SmhvRegistryFacts
    }
    New-SmhvOpResult -Result $result
}

# ---------------------------------------------------------------------------------------------
# vm_inventory
# ---------------------------------------------------------------------------------------------

function Get-SmhvFileRecord {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path,
        [Parameter(Mandatory)][string]$Kind
    )
    [ordered]@{ path = $Path; kind = $Kind; storage = Get-SmhvPathStorage -Path $Path }
}

function Get-SmhvPrefixedFile {
    # Files '<Prefix>.*' in a directory: a VM's or checkpoint's .vmcx/.vmrs/.vmgs.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Directory,
        [Parameter(Mandatory)][string]$Prefix
    )
    $paths = New-SmhvList
    if (Test-Path -LiteralPath $Directory -PathType Container) {
        foreach ($item in (Get-ChildItem -LiteralPath $Directory -Filter ($Prefix + '.*') -File -Force | Sort-Object -Property FullName)) {
            $paths.Add([string]$item.FullName)
        }
    }
    , $paths
}

function Get-SmhvVhdChain {
    # The parents of a virtual disk, nearest first: a checkpoint's .avhdx sits on the disk it diverged from.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path
    )
    $parents = New-SmhvList
    $current = $Path
    while ($true) {
        $vhd = Get-VHD -Path $current
        if ([string]::IsNullOrEmpty($vhd.ParentPath) -or $parents.Contains($vhd.ParentPath)) {
            break
        }
        $parents.Add([string]$vhd.ParentPath)
        $current = $vhd.ParentPath
    }
    , $parents
}

function Get-SmhvMigrationState {
    # Live and storage migrations show in the VM's operational status (VMOperationalStatus names).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$OperationalStatus
    )
    if ($OperationalStatus -contains 'MigratingVirtualMachine' -or $OperationalStatus -contains 'MigratingPlannedVm') {
        return 'live'
    }
    if ($OperationalStatus -contains 'StorageMigrationPhaseOne' -or $OperationalStatus -contains 'StorageMigrationPhaseTwo') {
        return 'storage'
    }
    ''
}

function Get-SmhvVmRecord {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][object]$VM
    )
    $id = $VM.Id.ToString()
    $files = New-SmhvList
    $configPath = $null
    $configDirectory = Join-Path -Path $VM.ConfigurationLocation -ChildPath 'Virtual Machines'
    foreach ($path in (Get-SmhvPrefixedFile -Directory $configDirectory -Prefix $id)) {
        $files.Add((Get-SmhvFileRecord -Path $path -Kind 'config'))
        $extension = [System.IO.Path]::GetExtension($path)
        if ($null -eq $configPath -and ($extension -eq '.vmcx' -or $extension -eq '.xml')) {
            $configPath = $path
        }
    }
    $hardDisks = New-SmhvList
    $passthroughDisks = New-SmhvList
    foreach ($drive in @(Get-VMHardDiskDrive -VM $VM)) {
        if ($null -ne $drive.DiskNumber) {
            $serial = $null
            $disk = Get-Disk -Number $drive.DiskNumber -ErrorAction SilentlyContinue
            if ($null -ne $disk) {
                $serial = [string]$disk.SerialNumber
            }
            $passthroughDisks.Add([ordered]@{
                disk_number = [int]$drive.DiskNumber
                disk_serial = $serial
                controller_type = $drive.ControllerType.ToString()
                controller_number = [int]$drive.ControllerNumber
                controller_location = [int]$drive.ControllerLocation
            })
            continue
        }
        # One unreadable disk (its LUN offline, say) must not hide the whole inventory: warn instead.
        try {
            $parents = Get-SmhvVhdChain -Path $drive.Path
        } catch {
            Add-SmhvWarning -Message ("VM '{0}': cannot read virtual disk '{1}': {2}" -f $VM.Name, $drive.Path, $_.Exception.Message)
            $parents = New-SmhvList
        }
        $hardDisks.Add([ordered]@{
            path = [string]$drive.Path
            controller_type = $drive.ControllerType.ToString()
            controller_number = [int]$drive.ControllerNumber
            controller_location = [int]$drive.ControllerLocation
            parent_paths = $parents
        })
        foreach ($path in @([string]$drive.Path) + @($parents)) {
            $files.Add((Get-SmhvFileRecord -Path $path -Kind 'vhd'))
        }
    }
    $checkpoints = New-SmhvList
    $checkpointDirectory = Join-Path -Path $VM.SnapshotFileLocation -ChildPath 'Snapshots'
    foreach ($checkpoint in @(Get-VMSnapshot -VM $VM | Sort-Object -Property CreationTime)) {
        $checkpoints.Add([ordered]@{
            id = $checkpoint.Id.ToString()
            name = [string]$checkpoint.Name
            created = $checkpoint.CreationTime.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")
        })
        foreach ($path in (Get-SmhvPrefixedFile -Directory $checkpointDirectory -Prefix $checkpoint.Id.ToString())) {
            $files.Add((Get-SmhvFileRecord -Path $path -Kind 'checkpoint_config'))
        }
    }
    $clusterGroup = $null
    $ownerNode = [string]$VM.ComputerName
    if ($VM.IsClustered) {
        $group = Get-ClusterGroup -VMId $VM.Id -ErrorAction SilentlyContinue
        if ($null -ne $group) {
            $clusterGroup = [string]$group.Name
            $ownerNode = [string]$group.OwnerNode.Name
        }
    }
    # Integration service names are localized; SMHV hosts are English-language Windows Server.
    $backupIntegration = $null
    $service = Get-VMIntegrationService -VM $VM | Where-Object -FilterScript { $_.Name -eq 'Backup (volume shadow copy)' } | Select-Object -First 1
    if ($null -ne $service) {
        $backupIntegration = [bool]$service.Enabled
    }
    $operationalStatus = New-SmhvList
    foreach ($status in @($VM.OperationalStatus)) {
        if ($null -ne $status) {
            $operationalStatus.Add($status.ToString())
        }
    }
    [ordered]@{
        id = $id
        name = [string]$VM.Name
        host = [string]$VM.ComputerName
        state = $VM.State.ToString()
        generation = [int]$VM.Generation
        clustered = [bool]$VM.IsClustered
        cluster_group = $clusterGroup
        owner_node = $ownerNode
        configuration_location = [string]$VM.ConfigurationLocation
        config_path = $configPath
        snapshot_location = [string]$VM.SnapshotFileLocation
        checkpoint_type = $VM.CheckpointType.ToString()
        processor_count = [int]$VM.ProcessorCount
        memory_startup_bytes = [long]$VM.MemoryStartup
        operational_status = $operationalStatus
        migration = Get-SmhvMigrationState -OperationalStatus $operationalStatus.ToArray()
        backup_integration_enabled = $backupIntegration
        hard_disks = $hardDisks
        passthrough_disks = $passthroughDisks
        checkpoints = $checkpoints
        files = $files
    }
}

function Get-SmhvVmInventory {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $names = Get-SmhvArgument -Arguments $Arguments -Name 'names' -Type StringList -Default @()
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Default @()
    $requireAll = Get-SmhvArgument -Arguments $Arguments -Name 'require_all' -Type Boolean -Default $true
    # One Get-VM, then exact comparison: Get-VM -Name would treat '*' or '[' in a name as a wildcard.
    $all = @(Get-VM | Sort-Object -Property Name)
    $selected = New-SmhvList
    $missingNames = New-SmhvList
    $missingIds = New-SmhvList
    if ($names.Count -eq 0 -and $ids.Count -eq 0) {
        foreach ($vm in $all) {
            $selected.Add($vm)
        }
    } else {
        foreach ($name in $names) {
            $found = @($all | Where-Object -FilterScript { $_.Name -eq $name })
            if ($found.Count -eq 0) {
                $missingNames.Add($name)
            }
            foreach ($vm in $found) {
                if (-not $selected.Contains($vm)) {
                    $selected.Add($vm)
                }
            }
        }
        foreach ($id in $ids) {
            $found = @($all | Where-Object -FilterScript { $_.Id.ToString() -eq $id })
            if ($found.Count -eq 0) {
                $missingIds.Add($id)
            }
            foreach ($vm in $found) {
                if (-not $selected.Contains($vm)) {
                    $selected.Add($vm)
                }
            }
        }
    }
    if ($requireAll -and ($missingNames.Count + $missingIds.Count) -gt 0) {
        $missing = @($missingNames) + @($missingIds)
        $message = 'No virtual machine on host {0} matches: {1}.' -f $env:COMPUTERNAME, ($missing -join ', ')
        throw (New-SmhvError -Code 'VM_NOT_FOUND' -Message $message -Details @{ names = $missingNames; ids = $missingIds })
    }
    $records = New-SmhvList
    foreach ($vm in $selected) {
        $records.Add((Get-SmhvVmRecord -VM $vm))
    }
    New-SmhvOpResult -Result ([ordered]@{ vms = $records; missing = [ordered]@{ names = $missingNames; ids = $missingIds } })
}

# ---------------------------------------------------------------------------------------------
# path_info and files
# ---------------------------------------------------------------------------------------------

function Get-SmhvPathInfo {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'paths' -Type StringList -Required
    $records = New-SmhvList
    foreach ($path in $paths) {
        Assert-SmhvAbsolutePath -Path $path -Argument 'paths'
        $records.Add([ordered]@{
            path = $path
            exists = Test-Path -LiteralPath $path
            is_directory = Test-Path -LiteralPath $path -PathType Container
            storage = Get-SmhvPathStorage -Path $path
        })
    }
    New-SmhvOpResult -Result ([ordered]@{ paths = $records })
}

function Get-SmhvSha256 {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][byte[]]$Bytes
    )
    $algorithm = [System.Security.Cryptography.SHA256]::Create()
    try {
        [System.BitConverter]::ToString($algorithm.ComputeHash($Bytes)).Replace('-', '').ToLowerInvariant()
    } finally {
        $algorithm.Dispose()
    }
}

function ConvertFrom-SmhvContent {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyString()][string]$Content,
        [Parameter(Mandatory)][string]$Encoding
    )
    if ($Encoding -eq 'base64') {
        try {
            return , [System.Convert]::FromBase64String($Content)
        } catch {
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'content' is not valid base64." -Details @{ argument = 'content' })
        }
    }
    , (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false).GetBytes($Content)
}

function ConvertTo-SmhvContent {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][byte[]]$Bytes,
        [Parameter(Mandatory)][string]$Encoding
    )
    if ($Encoding -eq 'base64') {
        return [System.Convert]::ToBase64String($Bytes)
    }
    $utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    # A UTF-8 byte order mark is not part of the text.
    if ($Bytes.Length -ge 3 -and $Bytes[0] -eq 0xEF -and $Bytes[1] -eq 0xBB -and $Bytes[2] -eq 0xBF) {
        return $utf8.GetString($Bytes, 3, $Bytes.Length - 3)
    }
    $utf8.GetString($Bytes)
}

function Get-SmhvEncodingArgument {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments
    )
    $encoding = Get-SmhvArgument -Arguments $Arguments -Name 'encoding' -Type String -Default 'utf-8'
    if ($encoding -cne 'utf-8' -and $encoding -cne 'base64') {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'encoding' must be 'utf-8' or 'base64'." -Details @{ argument = 'encoding' })
    }
    $encoding
}

function Read-SmhvFile {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'paths' -Type StringList -Required
    $encoding = Get-SmhvEncodingArgument -Arguments $Arguments
    $missingOk = Get-SmhvArgument -Arguments $Arguments -Name 'missing_ok' -Type Boolean -Default $false
    $files = New-SmhvList
    foreach ($path in $paths) {
        Assert-SmhvAbsolutePath -Path $path -Argument 'paths'
        if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
            if (-not $missingOk) {
                throw (New-SmhvError -Code 'FILE_NOT_FOUND' -Message "File '$path' does not exist." -Details @{ path = $path })
            }
            $files.Add([ordered]@{ path = $path; exists = $false; size = $null; sha256 = $null; content = $null })
            continue
        }
        $bytes = [System.IO.File]::ReadAllBytes($path)
        $files.Add([ordered]@{
            path = $path
            exists = $true
            size = $bytes.Length
            sha256 = Get-SmhvSha256 -Bytes $bytes
            content = ConvertTo-SmhvContent -Bytes $bytes -Encoding $encoding
        })
    }
    New-SmhvOpResult -Result ([ordered]@{ files = $files; encoding = $encoding })
}

function Get-SmhvFileSha256 {
    # The hash of a file's bytes, or $null when there is no such file.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path
    )
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        return $null
    }
    Get-SmhvSha256 -Bytes ([System.IO.File]::ReadAllBytes($Path))
}

function Assert-SmhvWriteCondition {
    # The condition of a conditional file_write against the file's current hash ($null: no file).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path,
        # [object], not [string]: PowerShell would turn $null into '' for a string parameter.
        [AllowNull()][object]$Current,
        [AllowNull()][object]$Expected,
        [bool]$CreateOnly
    )
    $details = [ordered]@{ path = $Path; expected_sha256 = $Expected; create_only = $CreateOnly; actual_sha256 = $Current }
    if ($CreateOnly -and $null -ne $Current) {
        throw (New-SmhvError -Code 'WRITE_CONFLICT' -Message "File '$Path' already exists (create_only)." -Details $details)
    }
    if ($null -ne $Expected -and $Current -ne $Expected) {
        $found = 'no file'
        if ($null -ne $Current) {
            $found = "sha256 $Current"
        }
        throw (New-SmhvError -Code 'WRITE_CONFLICT' -Message "File '$Path' changed underneath: expected sha256 $Expected, found $found." -Details $details)
    }
}

function Assert-SmhvFence {
    # A fenced file_write or file_delete acts only while the lease file 'fence_path' carries 'fence_token' and is not
    # released: an operation whose lease was taken over (it expired, another run took it) can then neither commit a record
    # nor delete one. Only the holder rewrites its lease (renewals keep the token), so the token is the whole test.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'fence_path' -Type String -Default $null
    $token = Get-SmhvArgument -Arguments $Arguments -Name 'fence_token' -Type String -Default $null
    if ($null -eq $path -and $null -eq $token) {
        return
    }
    if ($null -eq $path -or $null -eq $token) {
        $message = "Arguments 'fence_path' and 'fence_token' go together."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'fence_path' })
    }
    Assert-SmhvAbsolutePath -Path $path -Argument 'fence_path'
    $found = $null
    $released = $false
    if (Test-Path -LiteralPath $path -PathType Leaf) {
        $lease = [System.IO.File]::ReadAllText($path) | ConvertFrom-Json
        if ($null -ne $lease.PSObject.Properties['token']) {
            $found = $lease.token
        }
        if ($null -ne $lease.PSObject.Properties['released']) {
            $released = [bool]$lease.released
        }
    }
    if ($found -ne $token -or $released) {
        $state = ''
        if ($released) {
            $state = ', released'
        }
        $message = "The lease '$path' is no longer held by this operation (its token is now '$found'$state); nothing was changed."
        $details = [ordered]@{ path = $path; token = $token; found_token = $found; released = $released }
        throw (New-SmhvError -Code 'LEASE_LOST' -Message $message -Details $details)
    }
}

function Enter-SmhvFileLock {
    # The lock that makes a file_write's compare and replace one step for every writer of the file:
    # '<path>.lock', created with FileMode.CreateNew (exactly one creator wins, on NTFS and on a CSV
    # that several cluster nodes write) and held open without sharing until the caller disposes it.
    # DeleteOnClose has Windows remove the file when the handle closes, also when the process dies.
    # Stale locks: a lock file older than $StaleSeconds whose holder vanished without closing it (a
    # node that lost power mid-write) is deleted. The delete only succeeds when no process holds the
    # file open (holders open it without FileShare.Delete), so a live lock is never broken; otherwise
    # the writer waits, and after $TimeoutMilliseconds answers WRITE_LOCKED naming the lock file.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path,
        [int]$TimeoutMilliseconds = 10000,
        [int]$StaleSeconds = 120
    )
    $lockPath = $Path + '.lock'
    $deadline = [System.DateTime]::UtcNow.AddMilliseconds($TimeoutMilliseconds)
    $reason = ''
    while ($true) {
        try {
            return New-Object -TypeName System.IO.FileStream -ArgumentList @($lockPath, [System.IO.FileMode]::CreateNew,
                [System.IO.FileAccess]::Write, [System.IO.FileShare]::None, 1, [System.IO.FileOptions]::DeleteOnClose)
        } catch {
            # New-Object wraps the constructor's exception: find the IO failure (the file exists, or a
            # delete of the previous lock is still pending, which Windows reports as access denied).
            $inner = $_.Exception
            while ($null -ne $inner.InnerException -and $inner -isnot [System.IO.IOException] -and $inner -isnot [System.UnauthorizedAccessException]) {
                $inner = $inner.InnerException
            }
            if ($inner -isnot [System.IO.IOException] -and $inner -isnot [System.UnauthorizedAccessException]) {
                throw
            }
            $reason = $inner.Message
        }
        $age = $null
        if ([System.IO.File]::Exists($lockPath)) {
            $age = ([System.DateTime]::UtcNow - [System.IO.File]::GetLastWriteTimeUtc($lockPath)).TotalSeconds
            if ($age -gt $StaleSeconds) {
                try {
                    [System.IO.File]::Delete($lockPath)
                    continue
                } catch {
                    $reason = "the lock is $([int]$age) s old but still held open: $($_.Exception.Message)"
                }
            }
        }
        if ([System.DateTime]::UtcNow -ge $deadline) {
            $message = "File '$Path' stayed locked by another writer for $TimeoutMilliseconds ms ($lockPath; $reason). Try again; a lock " +
                "file older than $StaleSeconds s that no process holds open is removed by the next writer."
            throw (New-SmhvError -Code 'WRITE_LOCKED' -Message $message -Details ([ordered]@{ path = $Path; lock_path = $lockPath; age_seconds = $age }))
        }
        [System.Threading.Thread]::Sleep(25)
    }
}

function Write-SmhvFile {
    # Atomic and idempotent: same content -> unchanged; otherwise a temporary file in the same
    # directory (same volume) replaces the target in one rename, so a reader never sees half a file.
    # Conditional (compare-and-swap): expected_sha256 replaces only the file with that hash,
    # create_only creates only a file that is not there; a failed condition answers WRITE_CONFLICT
    # with the hash found. Every write that changes the file compares and replaces while holding
    # '<path>.lock' (Enter-SmhvFileLock), so writers on several cluster nodes cannot interleave; and
    # create_only's rename is File.Move, which refuses to overwrite a file that appeared meanwhile.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'path' -Type String -Required
    $content = Get-SmhvArgument -Arguments $Arguments -Name 'content' -Type String -Required
    $encoding = Get-SmhvEncodingArgument -Arguments $Arguments
    $createDirs = Get-SmhvArgument -Arguments $Arguments -Name 'create_dirs' -Type Boolean -Default $false
    $expected = Get-SmhvArgument -Arguments $Arguments -Name 'expected_sha256' -Type String -Default $null
    $createOnly = Get-SmhvArgument -Arguments $Arguments -Name 'create_only' -Type Boolean -Default $false
    Assert-SmhvAbsolutePath -Path $path -Argument 'path'
    if ($null -ne $expected) {
        if ($expected -notmatch '^[0-9A-Fa-f]{64}$') {
            $message = "Argument 'expected_sha256' must be 64 hexadecimal digits."
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'expected_sha256' })
        }
        if ($createOnly) {
            $message = "Arguments 'expected_sha256' and 'create_only' exclude each other."
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'create_only' })
        }
        $expected = $expected.ToLowerInvariant()
    }
    $bytes = ConvertFrom-SmhvContent -Content $content -Encoding $encoding
    $sha256 = Get-SmhvSha256 -Bytes $bytes
    $result = [ordered]@{ path = $path; size = $bytes.Length; sha256 = $sha256; previous_sha256 = $null }
    $directory = [System.IO.Path]::GetDirectoryName($path)
    if ([string]::IsNullOrEmpty($directory) -or [string]::IsNullOrEmpty([System.IO.Path]::GetFileName($path))) {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'path': '$path' does not name a file." -Details @{ argument = 'path'; path = $path })
    }
    $directoryExists = Test-Path -LiteralPath $directory -PathType Container
    if (-not $directoryExists -and -not $createDirs) {
        $message = "Directory '$directory' does not exist (set create_dirs to create it)."
        throw (New-SmhvError -Code 'PATH_NOT_FOUND' -Message $message -Details @{ path = $path; directory = $directory })
    }
    $current = Get-SmhvFileSha256 -Path $path
    Assert-SmhvWriteCondition -Path $path -Current $current -Expected $expected -CreateOnly $createOnly
    Assert-SmhvFence -Arguments $Arguments
    $result.previous_sha256 = $current
    if ($current -eq $sha256) {
        return New-SmhvOpResult -Result $result
    }
    if ($CheckMode) {
        return New-SmhvOpResult -Result $result -Changed $true
    }
    if (-not $directoryExists) {
        $null = [System.IO.Directory]::CreateDirectory($directory)
    }
    $lock = Enter-SmhvFileLock -Path $path
    $temporary = [System.IO.Path]::Combine($directory, ('.{0}.{1}.tmp' -f [System.IO.Path]::GetFileName($path), [guid]::NewGuid().ToString('N')))
    try {
        # Under the lock: the file may have changed since the first look.
        $current = Get-SmhvFileSha256 -Path $path
        Assert-SmhvWriteCondition -Path $path -Current $current -Expected $expected -CreateOnly $createOnly
        Assert-SmhvFence -Arguments $Arguments
        $result.previous_sha256 = $current
        if ($current -eq $sha256) {
            return New-SmhvOpResult -Result $result
        }
        [System.IO.File]::WriteAllBytes($temporary, $bytes)
        if ($null -ne $current) {
            # [NullString]::Value: PowerShell would pass $null to a string parameter as '', which File.Replace rejects.
            [System.IO.File]::Replace($temporary, $path, [NullString]::Value)
        } else {
            try {
                [System.IO.File]::Move($temporary, $path)
            } catch {
                # A writer that does not take the lock (an older agent) created the file meanwhile.
                if (-not $createOnly -or -not [System.IO.File]::Exists($path)) {
                    throw
                }
                Assert-SmhvWriteCondition -Path $path -Current (Get-SmhvFileSha256 -Path $path) -Expected $expected -CreateOnly $createOnly
            }
        }
    } finally {
        if ([System.IO.File]::Exists($temporary)) {
            [System.IO.File]::Delete($temporary)
        }
        $lock.Dispose()
    }
    New-SmhvOpResult -Result $result -Changed $true
}

function ConvertTo-SmhvNameList {
    # file_list's `names`: the lines joined by LF; with -Compress, that text in UTF-8, gzip-compressed (GZipStream, in
    # System.dll since .NET 2.0, so no Add-Type), in base64.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$Lines,
        [bool]$Compress = $false
    )
    $text = [string]::Join("`n", $Lines)
    if (-not $Compress) {
        return $text
    }
    $bytes = [System.Text.Encoding]::UTF8.GetBytes($text)
    $buffer = New-Object -TypeName System.IO.MemoryStream
    $gzip = New-Object -TypeName System.IO.Compression.GZipStream -ArgumentList $buffer, ([System.IO.Compression.CompressionMode]::Compress)
    try {
        $gzip.Write($bytes, 0, $bytes.Length)
    } finally {
        $gzip.Dispose()  # writes the gzip trailer; the MemoryStream keeps its bytes for ToArray()
    }
    [System.Convert]::ToBase64String($buffer.ToArray())
}

function Get-SmhvFileList {
    # format 'entries': one object per entry. 'names' and 'names_gzip': the paths relative to $path, one per line, a
    # directory's ending in '\' (RESULT_SCHEMAS): 10,000 catalog records answer in a few dozen KB instead of 1.8 MB.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'path' -Type String -Required
    $recurse = Get-SmhvArgument -Arguments $Arguments -Name 'recurse' -Type Boolean -Default $false
    $filter = Get-SmhvArgument -Arguments $Arguments -Name 'filter' -Type String -Default '*'
    $format = Get-SmhvArgument -Arguments $Arguments -Name 'format' -Type String -Default 'entries'
    if ($format -cne 'entries' -and $format -cne 'names' -and $format -cne 'names_gzip') {
        $message = "Argument 'format' must be 'entries' or 'names' or 'names_gzip'."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'format' })
    }
    Assert-SmhvAbsolutePath -Path $path -Argument 'path'
    $entries = New-SmhvList
    $lines = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $result = [ordered]@{ path = $path; exists = $false; format = $format; entries = $entries; names = $null }
    if (Test-Path -LiteralPath $path -PathType Container) {
        $result.exists = $true
        # Children's FullName starts with the directory's FullName as the provider normalised it, not with $path.
        $prefix = (Get-Item -LiteralPath $path -Force).FullName.TrimEnd('\') + '\'
        $items = @(Get-ChildItem -LiteralPath $path -Filter $filter -Recurse:$recurse -Force)
        # Ordinal order of the upper-cased paths: the same on every host whatever its culture, and in the lab.
        # A foreach statement, not a pipeline: per-item pipeline calls cost seconds on 10,000 items.
        $keys = New-Object -TypeName 'string[]' -ArgumentList $items.Count
        for ($index = 0; $index -lt $items.Count; $index++) {
            $keys[$index] = $items[$index].FullName.ToUpperInvariant()
        }
        [System.Array]::Sort($keys, $items, [System.StringComparer]::Ordinal)
        foreach ($item in $items) {
            $fullName = [string]$item.FullName
            if ($format -ceq 'entries') {
                $size = $null
                if (-not $item.PSIsContainer) {
                    $size = [long]$item.Length
                }
                $entries.Add([ordered]@{ path = $fullName; name = [string]$item.Name; is_directory = [bool]$item.PSIsContainer; size = $size })
                continue
            }
            if (-not $fullName.StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase)) {
                $message = "Listing '$path' found '$fullName', which is not below '$prefix'."
                throw (New-SmhvError -Code 'AGENT_ERROR' -Message $message -Details @{ path = $path; entry = $fullName })
            }
            $relative = $fullName.Substring($prefix.Length)
            if ($item.PSIsContainer) {
                $relative += '\'
            }
            $lines.Add($relative)
        }
    }
    if ($format -cne 'entries') {
        $result.names = ConvertTo-SmhvNameList -Lines $lines.ToArray() -Compress ($format -ceq 'names_gzip')
    }
    New-SmhvOpResult -Result $result
}

function Remove-SmhvFile {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'paths' -Type StringList -Required
    $recurse = Get-SmhvArgument -Arguments $Arguments -Name 'recurse' -Type Boolean -Default $false
    Assert-SmhvFence -Arguments $Arguments
    $deleted = New-SmhvList
    $missing = New-SmhvList
    foreach ($path in $paths) {
        Assert-SmhvAbsolutePath -Path $path -Argument 'paths'
        if (-not (Test-Path -LiteralPath $path)) {
            $missing.Add($path)
            continue
        }
        $isDirectory = Test-Path -LiteralPath $path -PathType Container
        if ($isDirectory -and -not $recurse -and @(Get-ChildItem -LiteralPath $path -Force).Count -gt 0) {
            $message = "Directory '$path' is not empty (set recurse to delete it with its content)."
            throw (New-SmhvError -Code 'DIRECTORY_NOT_EMPTY' -Message $message -Details @{ path = $path })
        }
        if (-not $CheckMode) {
            Remove-Item -LiteralPath $path -Recurse:$isDirectory -Force
        }
        $deleted.Add($path)
    }
    New-SmhvOpResult -Result ([ordered]@{ deleted = $deleted; missing = $missing }) -Changed ($deleted.Count -gt 0)
}

# ---------------------------------------------------------------------------------------------
# disk_rescan
# ---------------------------------------------------------------------------------------------

function Update-SmhvDiskCache {
    # Rescan the storage buses so newly mapped LUNs appear as disks and unmapped ones go away.
    # Check mode reports the disks as they are, without rescanning.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $before = @(Get-Disk | ForEach-Object -MemberName 'SerialNumber')
    if (-not $CheckMode) {
        Update-HostStorageCache
    }
    $disks = New-SmhvList
    $after = New-SmhvList
    foreach ($disk in (Get-Disk | Sort-Object -Property Number)) {
        $disks.Add((Get-SmhvDiskRecord -Disk $disk))
        $after.Add([string]$disk.SerialNumber)
    }
    $added = New-SmhvList
    foreach ($serial in $after) {
        if ($before -notcontains $serial) {
            $added.Add($serial)
        }
    }
    $removed = New-SmhvList
    foreach ($serial in $before) {
        if (-not $after.Contains([string]$serial)) {
            $removed.Add([string]$serial)
        }
    }
    $result = [ordered]@{ disks = $disks; added = $added; removed = $removed }
    New-SmhvOpResult -Result $result -Changed (($added.Count + $removed.Count) -gt 0)
}

# ---------------------------------------------------------------------------------------------
# registry and SnapInfo settings (registry_write)
# ---------------------------------------------------------------------------------------------

function Get-SmhvRegistrySubkey {
    # 'HKLM:\SOFTWARE\NetApp\...' -> 'SOFTWARE\NetApp\...' below HKEY_LOCAL_MACHINE. Only SMHV's own
    # keys (the roots host_facts reports) may be written: the agent is not a general registry editor.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Key,
        [bool]$Below
    )
    $roots = @(
        'HKLM:\SOFTWARE\NetApp\SnapManager for Hyper-V',
        'HKLM:\Cluster\SOFTWARE\NetApp\SnapManager for Hyper-V',
        'HKLM:\SYSTEM\CurrentControlSet\Services\OnCommandHyperV\Parameters'
    )
    $normalized = $Key.TrimEnd('\')
    foreach ($root in $roots) {
        $isRoot = $normalized.Equals($root, [System.StringComparison]::OrdinalIgnoreCase)
        if (($isRoot -and -not $Below) -or $normalized.StartsWith($root + '\', [System.StringComparison]::OrdinalIgnoreCase)) {
            return $normalized.Substring(6)
        }
    }
    $message = "Argument 'key': '$Key' is not inside SMHV's registry keys ($($roots -join ', '))."
    throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'key'; key = $Key })
}

function Get-SmhvRegistryValueArgument {
    # 'values': {"<name>": {"type": "String" | "DWord", "data": <string> | <0..2147483647>}}.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments
    )
    $wanted = [ordered]@{}
    $property = $Arguments.PSObject.Properties['values']
    if ($null -eq $property -or $null -eq $property.Value) {
        return $wanted
    }
    $problem = "Argument 'values' must be a JSON object of name -> {type: String or DWord, data}."
    if ($property.Value -isnot [System.Management.Automation.PSCustomObject]) {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $problem -Details @{ argument = 'values' })
    }
    foreach ($entry in $property.Value.PSObject.Properties) {
        $spec = $entry.Value
        $type = $null
        $data = $null
        if ($spec -is [System.Management.Automation.PSCustomObject]) {
            $typeProperty = $spec.PSObject.Properties['type']
            $dataProperty = $spec.PSObject.Properties['data']
            if ($null -ne $typeProperty -and $null -ne $dataProperty) {
                $type = $typeProperty.Value
                $data = $dataProperty.Value
            }
        }
        $valid = ($type -ceq 'String' -and $data -is [string]) -or
            ($type -ceq 'DWord' -and ($data -is [int] -or $data -is [long]) -and $data -ge 0 -and $data -le [int]::MaxValue)
        if (-not $valid) {
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message "$problem Value '$($entry.Name)' is not." -Details @{ argument = 'values'; value = $entry.Name })
        }
        if ($type -ceq 'DWord') {
            $wanted[$entry.Name] = [ordered]@{ Kind = [Microsoft.Win32.RegistryValueKind]::DWord; Data = [int]$data }
        } else {
            $wanted[$entry.Name] = [ordered]@{ Kind = [Microsoft.Win32.RegistryValueKind]::String; Data = [string]$data }
        }
    }
    $wanted
}

function Set-SmhvRegistryKey {
    # Set and remove values of one SMHV registry key, or delete the key with its subkeys. Only what
    # differs is written; check mode reports the same outcome without writing. Under HKLM:\Cluster
    # (the cluster database hive) a write reaches the other nodes through the cluster service.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $key = Get-SmhvArgument -Arguments $Arguments -Name 'key' -Type String -Required
    $deleteKey = Get-SmhvArgument -Arguments $Arguments -Name 'delete_key' -Type Boolean -Default $false
    $remove = Get-SmhvArgument -Arguments $Arguments -Name 'remove' -Type StringList -Default @()
    $wanted = Get-SmhvRegistryValueArgument -Arguments $Arguments
    $subkey = Get-SmhvRegistrySubkey -Key $key -Below $deleteKey
    $hive = [Microsoft.Win32.Registry]::LocalMachine
    $current = [ordered]@{}
    $kinds = @{}
    $handle = $hive.OpenSubKey($subkey, $false)
    $existed = $null -ne $handle
    if ($existed) {
        try {
            foreach ($valueName in $handle.GetValueNames()) {
                $current[$valueName] = $handle.GetValue($valueName, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
                $kinds[$valueName] = $handle.GetValueKind($valueName).ToString()
            }
        } finally {
            $handle.Close()
        }
    }
    $set = New-SmhvList
    $removed = New-SmhvList
    $after = [ordered]@{}
    if ($deleteKey) {
        $result = [ordered]@{ key = 'HKLM:\' + $subkey; existed = $existed; exists = $false; values = $after; set = $set; removed = $removed }
        if ($existed -and -not $CheckMode) {
            $hive.DeleteSubKeyTree($subkey, $false)
        }
        return New-SmhvOpResult -Result $result -Changed $existed
    }
    foreach ($valueName in $current.Keys) {
        if (@($remove | Where-Object -FilterScript { $_ -eq $valueName }).Count -gt 0 -and -not $wanted.Contains($valueName)) {
            $removed.Add([string]$valueName)
        } else {
            $after[$valueName] = $current[$valueName]
        }
    }
    foreach ($valueName in $wanted.Keys) {
        $spec = $wanted[$valueName]
        $same = $current.Contains($valueName) -and $kinds[$valueName] -ceq $spec.Kind.ToString() -and $current[$valueName] -ceq $spec.Data
        if (-not $same) {
            $set.Add([string]$valueName)
        }
        $after[$valueName] = $spec.Data
    }
    $changed = (-not $existed) -or $set.Count -gt 0 -or $removed.Count -gt 0
    if ($changed -and -not $CheckMode) {
        $writable = $hive.CreateSubKey($subkey)
        try {
            foreach ($valueName in $set) {
                $writable.SetValue($valueName, $wanted[$valueName].Data, $wanted[$valueName].Kind)
            }
            foreach ($valueName in $removed) {
                $writable.DeleteValue($valueName, $false)
            }
        } finally {
            $writable.Close()
        }
    }
    $result = [ordered]@{ key = 'HKLM:\' + $subkey; existed = $existed; exists = $true; values = $after; set = $set; removed = $removed }
    New-SmhvOpResult -Result $result -Changed $changed
}

# ---------------------------------------------------------------------------------------------
# Fleet: firewall rules, hotfixes, reboots, SnapDrive/SMHV packages, SnapDrive-free prerequisites
# ---------------------------------------------------------------------------------------------

function ConvertTo-SmhvCommandLine {
    # The command line whose argv, parsed the way the Microsoft C runtime parses it (CommandLineToArgvW),
    # is exactly $ArgumentList: an element with blanks or quotes is quoted, backslashes before a quote are
    # doubled, quotes are escaped. Python's subprocess.list2cmdline follows the same rules. No element is
    # ever interpreted by a shell: the result goes to ProcessStartInfo.Arguments.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$ArgumentList
    )
    $parts = New-SmhvList
    foreach ($argument in $ArgumentList) {
        if ($argument.Length -gt 0 -and $argument -notmatch '[\s"]') {
            $parts.Add($argument)
            continue
        }
        $builder = New-Object -TypeName System.Text.StringBuilder
        [void]$builder.Append([char]34)
        $backslashes = 0
        foreach ($character in $argument.ToCharArray()) {
            if ([int]$character -eq 92) {
                $backslashes++
                continue
            }
            if ([int]$character -eq 34) {
                [void]$builder.Append([char]92, 2 * $backslashes + 1)
            } elseif ($backslashes -gt 0) {
                [void]$builder.Append([char]92, $backslashes)
            }
            [void]$builder.Append($character)
            $backslashes = 0
        }
        if ($backslashes -gt 0) {
            [void]$builder.Append([char]92, 2 * $backslashes)
        }
        [void]$builder.Append([char]34)
        $parts.Add($builder.ToString())
    }
    $parts -join ' '
}

function Invoke-SmhvProcess {
    # Run a program with an argument array and wait for it; returns its exit code. The command line is
    # never echoed back (installer arguments carry service account passwords).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$FilePath,
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$ArgumentList,
        [int]$TimeoutSeconds = 3600
    )
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $FilePath
    $startInfo.Arguments = ConvertTo-SmhvCommandLine -ArgumentList $ArgumentList
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)
    try {
        if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
            $message = "$FilePath did not finish within $TimeoutSeconds seconds; it is still running on the host."
            throw (New-SmhvError -Code 'PROCESS_TIMEOUT' -Message $message -Details @{ path = $FilePath; timeout = $TimeoutSeconds })
        }
        [int]$process.ExitCode
    } finally {
        $process.Dispose()
    }
}

function Get-SmhvFirewallRuleRecord {
    # The rule with this Name (not DisplayName), or $null.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Name
    )
    $rule = Get-NetFirewallRule -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $rule) {
        return $null
    }
    $filter = Get-NetFirewallPortFilter -AssociatedNetFirewallRule $rule
    $ports = New-SmhvList
    foreach ($entry in @($filter.LocalPort)) {
        $ports.Add([string]$entry)
    }
    [ordered]@{
        name = [string]$rule.Name
        display_name = [string]$rule.DisplayName
        description = [string]$rule.Description
        enabled = $rule.Enabled.ToString() -eq 'True'
        direction = $rule.Direction.ToString()
        action = $rule.Action.ToString()
        profile = $rule.Profile.ToString()
        protocol = [string]$filter.Protocol
        local_ports = $ports
    }
}

function Test-SmhvFirewallRuleMatch {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][System.Collections.IDictionary]$Record,
        [Parameter(Mandatory)][string]$DisplayName,
        [Parameter(Mandatory)][AllowEmptyString()][string]$Description,
        [Parameter(Mandatory)][string[]]$Ports,
        [Parameter(Mandatory)][string]$FirewallProfile
    )
    $wantProfile = (@($FirewallProfile.Split(',') | ForEach-Object -Process { $_.Trim() } | Sort-Object) -join ',')
    $haveProfile = (@($Record.profile.Split(',') | ForEach-Object -Process { $_.Trim() } | Sort-Object) -join ',')
    $havePorts = (@($Record.local_ports | Sort-Object) -join ',')
    $wantPorts = (@($Ports | Sort-Object) -join ',')
    ($Record.display_name -ceq $DisplayName) -and ($Record.description -ceq $Description) -and $Record.enabled -and
    ($Record.direction -eq 'Inbound') -and ($Record.action -eq 'Allow') -and ($Record.protocol -eq 'TCP') -and
    ($havePorts -eq $wantPorts) -and ($haveProfile -eq $wantProfile)
}

function Set-SmhvFirewallRule {
    # op firewall_rule_ensure: one inbound TCP allow rule, found by its Name, present with exactly these
    # ports (created or corrected in place) or absent. Check mode answers what would change.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $name = Get-SmhvArgument -Arguments $Arguments -Name 'name' -Type String -Required
    $state = Get-SmhvArgument -Arguments $Arguments -Name 'state' -Type String -Default 'present'
    $displayName = Get-SmhvArgument -Arguments $Arguments -Name 'display_name' -Type String -Default $name
    $description = Get-SmhvArgument -Arguments $Arguments -Name 'description' -Type String -Default ''
    $firewallProfile = Get-SmhvArgument -Arguments $Arguments -Name 'profile' -Type String -Default 'Any'
    $portNumbers = Get-SmhvArgument -Arguments $Arguments -Name 'ports' -Type IntegerList -Default @()
    if ($state -cne 'present' -and $state -cne 'absent') {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'state' must be 'present' or 'absent'." -Details @{ argument = 'state' })
    }
    $ports = [string[]]@($portNumbers | ForEach-Object -Process { [string]$_ })
    if ($state -eq 'present' -and $ports.Count -eq 0) {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'ports' must list at least one port." -Details @{ argument = 'ports' })
    }
    $before = Get-SmhvFirewallRuleRecord -Name $name
    $changed = $false
    if ($state -eq 'absent') {
        $changed = $null -ne $before
        if ($changed -and -not $CheckMode) {
            Remove-NetFirewallRule -Name $name
        }
    } elseif ($null -eq $before) {
        $changed = $true
        if (-not $CheckMode) {
            $rule = @{
                Name = $name; DisplayName = $displayName; Description = $description; Direction = 'Inbound'
                Protocol = 'TCP'; LocalPort = $ports; Action = 'Allow'; Profile = $firewallProfile; Enabled = 'True'
            }
            [void](New-NetFirewallRule @rule)
        }
    } elseif (-not (Test-SmhvFirewallRuleMatch -Record $before -DisplayName $displayName -Description $description -Ports $ports `
                -FirewallProfile $firewallProfile)) {
        $changed = $true
        if (-not $CheckMode) {
            $update = @{
                Name = $name; NewDisplayName = $displayName; Description = $description; Direction = 'Inbound'
                Protocol = 'TCP'; LocalPort = $ports; Action = 'Allow'; Profile = $firewallProfile; Enabled = 'True'
            }
            Set-NetFirewallRule @update
        }
    }
    $after = $before
    if ($changed -and -not $CheckMode) {
        $after = Get-SmhvFirewallRuleRecord -Name $name
    }
    New-SmhvOpResult -Result ([ordered]@{ name = $name; before = $before; after = $after }) -Changed $changed
}

function Get-SmhvLastBootTime {
    [CmdletBinding()]
    param()
    $os = Get-CimInstance -ClassName 'Win32_OperatingSystem'
    ([datetime]$os.LastBootUpTime).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
}

function Get-SmhvRebootReason {
    # Why Windows waits for a restart: the servicing stack, Windows Update, or pending file renames.
    [CmdletBinding()]
    param()
    $reasons = New-SmhvList
    if (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') {
        $reasons.Add('component_based_servicing')
    }
    if (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') {
        $reasons.Add('windows_update')
    }
    $session = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager'
    if ($null -ne $session.PSObject.Properties['PendingFileRenameOperations']) {
        $reasons.Add('pending_file_rename')
    }
    , $reasons
}

function Get-SmhvBootInfo {
    # op host_boot_info: when the host last booted and whether it waits for a restart.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $reasons = Get-SmhvRebootReason
    $result = [ordered]@{ last_boot_time = Get-SmhvLastBootTime; reboot_pending = $reasons.Count -gt 0; reasons = $reasons }
    New-SmhvOpResult -Result $result
}

function Restart-SmhvHost {
    # op host_reboot: schedule a restart a few seconds out (shutdown.exe /r /t), so this answer gets back
    # to the controller before WinRM stops; the controller then waits for a new boot time.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $reason = Get-SmhvArgument -Arguments $Arguments -Name 'reason' -Type String -Default 'netapp_hyperv.smhv'
    $lastBoot = Get-SmhvLastBootTime
    if (-not $CheckMode) {
        $shutdown = Join-Path -Path $env:SystemRoot -ChildPath 'System32\shutdown.exe'
        # /d p:2:17 = planned, operating system, hotfix installation.
        $exitCode = Invoke-SmhvProcess -FilePath $shutdown -ArgumentList @('/r', '/t', '5', '/d', 'p:2:17', '/c', $reason) -TimeoutSeconds 60
        if ($exitCode -ne 0) {
            throw (New-SmhvError -Code 'REBOOT_FAILED' -Message "shutdown.exe /r answered exit code $exitCode." -Details @{ exit_code = $exitCode })
        }
    }
    New-SmhvOpResult -Result ([ordered]@{ last_boot_time = $lastBoot; scheduled = -not $CheckMode }) -Changed (-not $CheckMode)
}

function Install-SmhvHotfix {
    # op hotfix_install: wusa.exe <kb>.msu /quiet /norestart, the .msu found in a folder (a share) by its
    # KB number. Exit codes: 0 installed, 3010 installed and needs a restart, 0x240006 already installed,
    # 0x80240017 not applicable to this host.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $kb = Get-SmhvArgument -Arguments $Arguments -Name 'kb' -Type String -Required
    $source = Get-SmhvArgument -Arguments $Arguments -Name 'source' -Type String -Required
    Assert-SmhvAbsolutePath -Path $source -Argument 'source'
    if ($kb -cnotmatch '^KB\d{6,8}$') {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'kb': '$kb' is not a KB id like KB2770917." -Details @{ argument = 'kb' })
    }
    $result = [ordered]@{ kb = $kb; file = $null; outcome = ''; exit_code = $null; reboot_required = $false }
    if ($null -ne (Get-HotFix -Id $kb -ErrorAction SilentlyContinue)) {
        $result.outcome = 'already_installed'
        return New-SmhvOpResult -Result $result
    }
    $files = @()
    if (Test-Path -LiteralPath $source -PathType Container) {
        $files = @(Get-ChildItem -LiteralPath $source -Filter ('*' + $kb + '*.msu') -File | Sort-Object -Property Name)
    }
    if ($files.Count -eq 0) {
        $message = "No .msu file for $kb in $source (looked for *$kb*.msu)."
        throw (New-SmhvError -Code 'HOTFIX_FILE_NOT_FOUND' -Message $message -Details @{ kb = $kb; source = $source })
    }
    $result.file = [string]$files[0].FullName
    if ($CheckMode) {
        $result.outcome = 'would_install'
        return New-SmhvOpResult -Result $result -Changed $true
    }
    $wusa = Join-Path -Path $env:SystemRoot -ChildPath 'System32\wusa.exe'
    $exitCode = Invoke-SmhvProcess -FilePath $wusa -ArgumentList @($result.file, '/quiet', '/norestart') -TimeoutSeconds 7200
    $result.exit_code = $exitCode
    switch ($exitCode) {
        0 { $result.outcome = 'installed' }
        3010 { $result.outcome = 'installed'; $result.reboot_required = $true }
        2359302 { $result.outcome = 'already_installed' }
        -2145124329 { $result.outcome = 'not_applicable' }
        default {
            $message = "wusa.exe could not install $kb from $($result.file): exit code $exitCode."
            throw (New-SmhvError -Code 'HOTFIX_INSTALL_FAILED' -Message $message -Details @{ kb = $kb; exit_code = $exitCode })
        }
    }
    New-SmhvOpResult -Result $result -Changed ($result.outcome -eq 'installed')
}

function Get-SmhvInstalledProduct {
    # Programs and Features entries (64- and 32-bit) whose DisplayName starts with one of $Prefixes.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$Prefixes
    )
    $products = New-SmhvList
    $roots = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall')
    foreach ($root in $roots) {
        if (-not (Test-Path -LiteralPath $root)) {
            continue
        }
        foreach ($key in (Get-ChildItem -LiteralPath $root | Sort-Object -Property PSChildName)) {
            $displayName = [string]$key.GetValue('DisplayName')
            $wanted = @($Prefixes | Where-Object -FilterScript { $displayName.StartsWith($_, [System.StringComparison]::OrdinalIgnoreCase) }).Count -gt 0
            if (-not $displayName -or -not $wanted) {
                continue
            }
            $products.Add([ordered]@{
                name = $displayName
                version = [string]$key.GetValue('DisplayVersion')
                product_code = [string]$key.PSChildName
                publisher = [string]$key.GetValue('Publisher')
            })
        }
    }
    , $products
}

function Get-SmhvPackageInfo {
    # op package_info: installed NetApp products, and what each installer file (local or UNC) contains.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $prefixes = Get-SmhvArgument -Arguments $Arguments -Name 'products' -Type StringList -Default @()
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'installers' -Type StringList -Default @()
    $installers = New-SmhvList
    foreach ($path in $paths) {
        Assert-SmhvAbsolutePath -Path $path -Argument 'installers'
        $record = [ordered]@{ path = $path; exists = $false; product_name = $null; product_version = $null }
        if (Test-Path -LiteralPath $path -PathType Leaf) {
            $info = (Get-Item -LiteralPath $path).VersionInfo
            $record.exists = $true
            $record.product_name = [string]$info.ProductName
            $record.product_version = [string]$info.ProductVersion
        }
        $installers.Add($record)
    }
    New-SmhvOpResult -Result ([ordered]@{ installed = Get-SmhvInstalledProduct -Prefixes $prefixes; installers = $installers })
}

function Invoke-SmhvInstaller {
    # op installer_run: run an installer (setup.exe, .msi through msiexec, or msiexec.exe itself for an
    # uninstall by product code) with an argument array, wait, and judge its exit code: 0 success, 3010
    # and 1641 success with a restart needed, anything else a failure.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'path' -Type String -Required
    $argumentList = Get-SmhvArgument -Arguments $Arguments -Name 'arguments' -Type StringList -Default @()
    $program = $path
    if ($path -ceq 'msiexec.exe') {
        $program = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
    } else {
        Assert-SmhvAbsolutePath -Path $path -Argument 'path'
        if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
            throw (New-SmhvError -Code 'FILE_NOT_FOUND' -Message "Installer $path does not exist or is not readable from this host." -Details @{ path = $path })
        }
        if ($path.EndsWith('.msi', [System.StringComparison]::OrdinalIgnoreCase)) {
            $program = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
            $argumentList = @('/i', $path) + @($argumentList)
        }
    }
    $result = [ordered]@{ path = $path; exit_code = $null; reboot_required = $false }
    if ($CheckMode) {
        return New-SmhvOpResult -Result $result -Changed $true
    }
    $exitCode = Invoke-SmhvProcess -FilePath $program -ArgumentList $argumentList -TimeoutSeconds 3600
    $result.exit_code = $exitCode
    if ($exitCode -eq 3010 -or $exitCode -eq 1641) {
        $result.reboot_required = $true
    } elseif ($exitCode -ne 0) {
        $message = "The installer $path failed with exit code $exitCode; see its log on the host."
        throw (New-SmhvError -Code 'INSTALLER_FAILED' -Message $message -Details @{ path = $path; exit_code = $exitCode })
    }
    New-SmhvOpResult -Result $result -Changed $true
}

function Set-SmhvPrerequisite {
    # op prerequisites_ensure: Windows features installed, the MSDSM claim for a vendor/product (MPIO),
    # and services set to start automatically and running. Check mode answers what would change.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $featureNames = Get-SmhvArgument -Arguments $Arguments -Name 'features' -Type StringList -Default @()
    $vendorId = Get-SmhvArgument -Arguments $Arguments -Name 'mpio_vendor_id' -Type String -Default ''
    $productId = Get-SmhvArgument -Arguments $Arguments -Name 'mpio_product_id' -Type String -Default ''
    $serviceNames = Get-SmhvArgument -Arguments $Arguments -Name 'services' -Type StringList -Default @()
    $changed = $false
    $restartNeeded = $false
    $features = New-SmhvList
    if ($featureNames.Count -gt 0) {
        $missing = New-SmhvList
        foreach ($feature in @(Get-WindowsFeature -Name $featureNames)) {
            $installed = [bool]$feature.Installed
            $features.Add([ordered]@{ name = [string]$feature.Name; installed_before = $installed; installed = $installed })
            if (-not $installed) {
                $missing.Add([string]$feature.Name)
            }
        }
        foreach ($name in $featureNames) {
            if (@($features | Where-Object -FilterScript { $_.name -eq $name }).Count -eq 0) {
                throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Windows feature '$name' does not exist on this host." -Details @{ feature = $name })
            }
        }
        if ($missing.Count -gt 0) {
            $changed = $true
            if (-not $CheckMode) {
                $outcome = Install-WindowsFeature -Name $missing.ToArray()
                if (-not $outcome.Success) {
                    $message = "Install-WindowsFeature failed for $($missing -join ', ')."
                    throw (New-SmhvError -Code 'FEATURE_INSTALL_FAILED' -Message $message -Details @{ features = $missing })
                }
                $restartNeeded = $outcome.RestartNeeded.ToString() -eq 'Yes'
                foreach ($record in $features) {
                    $record.installed = $true
                }
            }
        }
    }
    $mpio = $null
    if ($vendorId) {
        $mpio = [ordered]@{ vendor_id = $vendorId; product_id = $productId; claimed_before = $false; claimed = $false }
        if ($null -ne (Get-Command -Name 'Get-MSDSMSupportedHW' -ErrorAction SilentlyContinue)) {
            $claims = @(Get-MSDSMSupportedHW | Where-Object -FilterScript { $_.VendorId.Trim() -eq $vendorId -and $_.ProductId.Trim() -eq $productId })
            $mpio.claimed_before = $claims.Count -gt 0
            $mpio.claimed = $mpio.claimed_before
        }
        if (-not $mpio.claimed_before) {
            $changed = $true
            if (-not $CheckMode) {
                if ($null -eq (Get-Command -Name 'New-MSDSMSupportedHW' -ErrorAction SilentlyContinue)) {
                    $message = 'The MPIO cmdlets are not available yet (Multipath-IO needs a restart); run again after the restart to claim the LUNs.'
                    Add-SmhvWarning -Message $message
                    $restartNeeded = $true
                } else {
                    [void](New-MSDSMSupportedHW -VendorId $vendorId -ProductId $productId)
                    $mpio.claimed = $true
                    $restartNeeded = $true
                }
            }
        }
    }
    $services = New-SmhvList
    foreach ($name in $serviceNames) {
        $service = Get-Service -Name $name -ErrorAction SilentlyContinue
        if ($null -eq $service) {
            throw (New-SmhvError -Code 'SERVICE_NOT_FOUND' -Message "Service '$name' is not installed on this host." -Details @{ service = $name })
        }
        $record = [ordered]@{
            name = $name
            start_type_before = $service.StartType.ToString()
            status_before = $service.Status.ToString()
            start_type = $service.StartType.ToString()
            status = $service.Status.ToString()
        }
        if ($record.start_type_before -ne 'Automatic') {
            $changed = $true
            if (-not $CheckMode) {
                Set-Service -Name $name -StartupType Automatic
                $record.start_type = 'Automatic'
            }
        }
        if ($record.status_before -ne 'Running') {
            $changed = $true
            if (-not $CheckMode) {
                Start-Service -Name $name
                $record.status = (Get-Service -Name $name).Status.ToString()
            }
        }
        $services.Add($record)
    }
    $result = [ordered]@{ features = $features; mpio = $mpio; services = $services; restart_needed = $restartNeeded }
    New-SmhvOpResult -Result $result -Changed $changed
}

# ---------------------------------------------------------------------------------------------
# Checkpoints, VSS backup and scripts (checkpoint_create, checkpoint_remove, vss_backup, run_script)
# ---------------------------------------------------------------------------------------------

function Get-SmhvVmTable {
    # Lower-case VM id -> VM, from one Get-VM: a batch of ids costs one enumeration.
    [CmdletBinding()]
    param()
    $table = @{}
    foreach ($vm in @(Get-VM)) {
        $table[$vm.Id.ToString().ToLowerInvariant()] = $vm
    }
    $table
}

function Assert-SmhvDataName {
    # Names that become checkpoint names, diskshadow lines and file names: letters, digits, '_', '-', '.'.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyString()][string]$Value,
        [Parameter(Mandatory)][string]$Argument
    )
    if ($Value -cnotmatch '^[A-Za-z0-9_.-]{1,100}$') {
        $message = "Argument '$Argument': '$Value' may only hold letters, digits, '_', '-' and '.'."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = $Argument })
    }
}

function Assert-SmhvVmId {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyString()][string]$Value
    )
    if ($Value -notmatch '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'ids': '$Value' is not a VM id (GUID)." -Details @{ argument = 'ids' })
    }
}

function New-SmhvProductionCheckpoint {
    # One production-only checkpoint. Checkpoint-VM takes no type: the VM's CheckpointType is set to
    # ProductionOnly for the checkpoint, so Hyper-V fails instead of falling back to a standard
    # (crash-consistent) checkpoint, and set back to what it was.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][object]$VM,
        [Parameter(Mandatory)][string]$Name
    )
    $before = $VM.CheckpointType.ToString()
    if ($before -ne 'ProductionOnly') {
        Set-VM -VM $VM -CheckpointType ProductionOnly
    }
    try {
        $checkpoint = Checkpoint-VM -VM $VM -SnapshotName $Name -Passthru
    } finally {
        if ($before -ne 'ProductionOnly') {
            Set-VM -VM $VM -CheckpointType $before
        }
    }
    [ordered]@{
        vm_id = $VM.Id.ToString().ToLowerInvariant()
        vm_name = [string]$VM.Name
        checkpoint_id = $checkpoint.Id.ToString()
        name = [string]$checkpoint.Name
        created = $checkpoint.CreationTime.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'")
        checkpoint_type = $before
    }
}

function New-SmhvCheckpoint {
    # Production-only checkpoints of many VMs (New-SmhvProductionCheckpoint). One VM's failure does not stop
    # the others; the caller removes what was made (checkpoint_remove works by name).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $name = Get-SmhvArgument -Arguments $Arguments -Name 'name' -Type String -Required
    Assert-SmhvDataName -Value $name -Argument 'name'
    $table = Get-SmhvVmTable
    $checkpoints = New-SmhvList
    $failures = New-SmhvList
    $planned = 0
    foreach ($id in $ids) {
        $key = $id.ToLowerInvariant()
        if (-not $table.ContainsKey($key)) {
            $message = "No virtual machine with id $id on host $env:COMPUTERNAME."
            $failures.Add([ordered]@{ vm_id = $key; vm_name = $null; code = 'VM_NOT_FOUND'; message = $message })
            continue
        }
        $vm = $table[$key]
        $planned++
        if ($CheckMode) {
            continue
        }
        try {
            $checkpoints.Add((New-SmhvProductionCheckpoint -VM $vm -Name $name))
        } catch {
            $failures.Add([ordered]@{ vm_id = $key; vm_name = [string]$vm.Name; code = 'CHECKPOINT_FAILED'; message = $_.Exception.Message })
        }
    }
    $changed = $checkpoints.Count -gt 0 -or ($CheckMode -and $planned -gt 0)
    New-SmhvOpResult -Result ([ordered]@{ checkpoints = $checkpoints; failures = $failures }) -Changed $changed
}

function Get-SmhvBackupOutcome {
    # How an application backup takes one inventoried VM (the controller's backup_plan.classify, which
    # re-checks it): a VM in migration is skipped, a Running one is backed up online (checkpointed), an Off
    # one offline and a Saved or Paused one in its saved state when saved-state backups are allowed, else
    # refused; any other state is skipped.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][System.Collections.IDictionary]$Record,
        [Parameter(Mandatory)][bool]$AllowSavedState
    )
    $state = [string]$Record['state']
    if ([string]$Record['migration'] -ne '') {
        return 'skipped'
    }
    if ($state -ceq 'Running') {
        return 'online'
    }
    $outcome = switch -CaseSensitive ($state) {
        'Off' { 'offline' }
        'Saved' { 'saved' }
        'Paused' { 'saved' }
        default { 'skipped' }
    }
    if ($outcome -ne 'skipped' -and -not $AllowSavedState) {
        return 'refused'
    }
    $outcome
}

function New-SmhvBackupCheckpoint {
    # backup_checkpoint, a backup's one call before the snapshot: the inventory of the backup's VMs on this host
    # and production-only checkpoints of the ones it takes online, so the host pays one round trip for both.
    # Every VM is inventoried first (the record the backup keeps describes it before its checkpoint), then
    # classified by the policy given (Get-SmhvBackupOutcome); only when no VM of this host is refused are the
    # online ones checkpointed. Ids that are not on this host are listed in 'missing': a cluster's VMs are
    # spread over its nodes, and the caller sends every node the same list. The caller re-checks the
    # dataset rules with this inventory and removes the checkpoints (by name) if the backup cannot go on.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $name = Get-SmhvArgument -Arguments $Arguments -Name 'name' -Type String -Required
    $allowSavedState = Get-SmhvArgument -Arguments $Arguments -Name 'allow_saved_state' -Type Boolean -Default $false
    Assert-SmhvDataName -Value $name -Argument 'name'
    foreach ($id in $ids) {
        Assert-SmhvVmId -Value $id
    }
    $table = Get-SmhvVmTable
    $vms = New-SmhvList
    $missing = New-SmhvList
    $outcomes = New-SmhvList
    $online = New-SmhvList
    $refused = 0
    foreach ($id in $ids) {
        $key = $id.ToLowerInvariant()
        if (-not $table.ContainsKey($key)) {
            $missing.Add($key)
            continue
        }
        $record = Get-SmhvVmRecord -VM $table[$key]
        $outcome = Get-SmhvBackupOutcome -Record $record -AllowSavedState $allowSavedState
        $vms.Add($record)
        $outcomes.Add([ordered]@{ vm_id = $key; outcome = $outcome })
        if ($outcome -eq 'online') {
            $online.Add($table[$key])
        } elseif ($outcome -eq 'refused') {
            $refused++
        }
    }
    $checkpoints = New-SmhvList
    $failures = New-SmhvList
    if ($refused -eq 0 -and -not $CheckMode) {
        foreach ($vm in $online) {
            try {
                $checkpoints.Add((New-SmhvProductionCheckpoint -VM $vm -Name $name))
            } catch {
                $failure = [ordered]@{
                    vm_id = $vm.Id.ToString().ToLowerInvariant()
                    vm_name = [string]$vm.Name
                    code = 'CHECKPOINT_FAILED'
                    message = $_.Exception.Message
                }
                $failures.Add($failure)
            }
        }
    }
    $changed = $checkpoints.Count -gt 0 -or ($CheckMode -and $refused -eq 0 -and $online.Count -gt 0)
    $result = [ordered]@{ vms = $vms; missing = $missing; outcomes = $outcomes; checkpoints = $checkpoints; failures = $failures }
    New-SmhvOpResult -Result $result -Changed $changed
}

function Remove-SmhvCheckpoint {
    # Remove the checkpoint called 'name' from each VM (Remove-VMSnapshot; Hyper-V merges the .avhdx files
    # into their parents). By name, not id, so a caller that lost checkpoint_create's answer can still
    # clean up; a VM without such a checkpoint (or gone) is listed in 'missing', not an error.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $name = Get-SmhvArgument -Arguments $Arguments -Name 'name' -Type String -Required
    Assert-SmhvDataName -Value $name -Argument 'name'
    $table = Get-SmhvVmTable
    $removed = New-SmhvList
    $missing = New-SmhvList
    $failures = New-SmhvList
    foreach ($id in $ids) {
        $key = $id.ToLowerInvariant()
        if (-not $table.ContainsKey($key)) {
            $missing.Add($key)
            continue
        }
        $vm = $table[$key]
        # Exact comparison: Get-VMSnapshot -Name would read wildcards.
        $found = @(Get-VMSnapshot -VM $vm | Where-Object -FilterScript { $_.Name -ceq $name })
        if ($found.Count -eq 0) {
            $missing.Add($key)
            continue
        }
        foreach ($checkpoint in $found) {
            try {
                if (-not $CheckMode) {
                    Remove-VMSnapshot -VMSnapshot $checkpoint
                }
                $removed.Add([ordered]@{ vm_id = $key; checkpoint_id = $checkpoint.Id.ToString() })
            } catch {
                $failures.Add([ordered]@{ vm_id = $key; vm_name = [string]$vm.Name; code = 'CHECKPOINT_FAILED'; message = $_.Exception.Message })
            }
        }
    }
    $result = [ordered]@{ removed = $removed; missing = $missing; failures = $failures }
    New-SmhvOpResult -Result $result -Changed ($removed.Count -gt 0)
}

function Get-SmhvCheckpointList {
    # checkpoint_list (read-only): the checkpoints of every VM on this host whose name starts with 'prefix'
    # (ordinal, case-sensitive; '' lists them all), oldest first per VM.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $prefix = Get-SmhvArgument -Arguments $Arguments -Name 'prefix' -Type String -Default ''
    $checkpoints = New-SmhvList
    foreach ($vm in @(Get-VM | Sort-Object -Property Name)) {
        foreach ($checkpoint in @(Get-VMSnapshot -VM $vm | Sort-Object -Property CreationTime)) {
            $name = [string]$checkpoint.Name
            if (-not $name.StartsWith($prefix, [System.StringComparison]::Ordinal)) {
                continue
            }
            $checkpoints.Add([ordered]@{
                vm_id = $vm.Id.ToString().ToLowerInvariant()
                vm_name = [string]$vm.Name
                checkpoint_id = $checkpoint.Id.ToString()
                name = $name
                created = $checkpoint.CreationTime.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")
            })
        }
    }
    New-SmhvOpResult -Result ([ordered]@{ checkpoints = $checkpoints })
}

function Read-SmhvOutputTail {
    # The last 64 KB of a captured output file ('' when it is empty or missing).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path
    )
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        return ''
    }
    $text = [System.IO.File]::ReadAllText($Path)
    if ($text.Length -gt 65536) {
        $text = $text.Substring($text.Length - 65536)
    }
    $text
}

function Start-SmhvCapturedProcess {
    # Run a program with an argument array, capture stdout and stderr in files of a private directory, wait
    # up to $TimeoutSeconds (then stop it), and return exit code, output and duration.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$FilePath,
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$ArgumentList,
        [Parameter(Mandatory)][string]$Directory,
        [Parameter(Mandatory)][int]$TimeoutSeconds
    )
    $stdoutPath = Join-Path -Path $Directory -ChildPath 'stdout.txt'
    $stderrPath = Join-Path -Path $Directory -ChildPath 'stderr.txt'
    $started = [System.Diagnostics.Stopwatch]::StartNew()
    $start = @{
        FilePath = $FilePath
        NoNewWindow = $true
        PassThru = $true
        RedirectStandardOutput = $stdoutPath
        RedirectStandardError = $stderrPath
        WorkingDirectory = $Directory
    }
    if ($ArgumentList.Count -gt 0) {
        # Start-Process joins an array with bare spaces; one quoted line keeps each argument whole.
        $start['ArgumentList'] = ConvertTo-SmhvCommandLine -ArgumentList $ArgumentList
    }
    $process = Start-Process @start
    $null = $process.Handle  # keeps the exit code readable after the process ends (Start-Process -PassThru quirk)
    $finished = $process.WaitForExit($TimeoutSeconds * 1000)
    if (-not $finished) {
        $process.Kill()
    }
    [ordered]@{
        finished = $finished
        exit_code = $(if ($finished) { [int]$process.ExitCode } else { -1 })
        stdout = Read-SmhvOutputTail -Path $stdoutPath
        stderr = Read-SmhvOutputTail -Path $stderrPath
        milliseconds = [int]$started.ElapsedMilliseconds
    }
}

function New-SmhvPrivateDirectory {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Prefix
    )
    $path = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath ($Prefix + [guid]::NewGuid().ToString('N'))
    [void][System.IO.Directory]::CreateDirectory($path)
    $path
}

function Invoke-SmhvVssBackup {
    # The vss_provider method: a diskshadow script that takes one persistent, application-consistent
    # shadow copy set of the given volumes through the Hyper-V writer (the VMs as its components) and
    # the Data ONTAP VSS hardware provider, which makes the ONTAP snapshots (a pair per volume once the
    # writer's autorecovery is done). The script is written from validated data, one value per line:
    # ids are GUIDs, volumes drive or mount-point roots, the name [A-Za-z0-9_.-]; nothing else reaches it.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $volumes = Get-SmhvArgument -Arguments $Arguments -Name 'volumes' -Type StringList -Required
    $name = Get-SmhvArgument -Arguments $Arguments -Name 'name' -Type String -Required
    Assert-SmhvDataName -Value $name -Argument 'name'
    foreach ($id in $ids) {
        Assert-SmhvVmId -Value $id
    }
    if ($volumes.Count -eq 0) {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'volumes' must name at least one volume." -Details @{ argument = 'volumes' })
    }
    foreach ($volume in $volumes) {
        if ($volume -notmatch '^[A-Za-z]:\\([^"\r\n*?<>|]+\\)?$') {
            $message = "Argument 'volumes': '$volume' is not a volume root (J:\ or a mount point such as C:\ClusterStorage\Volume1\)."
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'volumes'; volume = $volume })
        }
    }
    $providerId = '{ddd3d232-a96f-4ac5-8f7b-250fd91fd102}'
    if (@(Get-SmhvVssProvider | Where-Object -FilterScript { $_.id -eq $providerId }).Count -eq 0) {
        $message = "The Data ONTAP VSS Hardware Provider is not registered on host $env:COMPUTERNAME; " +
            'install SnapDrive for Windows, or use the checkpoint method.'
        throw (New-SmhvError -Code 'VSS_PROVIDER_MISSING' -Message $message -Details @{ provider = $providerId })
    }
    if ($CheckMode) {
        return New-SmhvOpResult -Result ([ordered]@{ shadow_copy_set_id = ''; shadow_copies = (New-SmhvList); exit_code = 0; output = '' }) -Changed $true
    }
    $writerId = '{66841cd4-6ded-4f4b-8f17-fd23f8ddc3de}'
    $directory = New-SmhvPrivateDirectory -Prefix 'smhv_vss_'
    $lines = New-SmhvList
    $lines.Add('set context persistent')
    $lines.Add('set verbose on')
    $lines.Add('set metadata "' + (Join-Path -Path $directory -ChildPath ($name + '.cab')) + '"')
    $lines.Add('begin backup')
    $lines.Add('writer verify ' + $writerId)
    foreach ($id in $ids) {
        $lines.Add('writer verify ' + $writerId + '\' + $id.ToUpperInvariant())
    }
    for ($index = 0; $index -lt $volumes.Count; $index++) {
        $lines.Add(('add volume "{0}" alias SMHV{1} provider {2}' -f $volumes[$index], $index, $providerId))
    }
    $lines.Add('create')
    $lines.Add('end backup')
    $scriptPath = Join-Path -Path $directory -ChildPath 'backup.dsh'
    [System.IO.File]::WriteAllLines($scriptPath, [string[]]$lines.ToArray())
    $diskshadow = Join-Path -Path $env:SystemRoot -ChildPath 'System32\diskshadow.exe'
    $run = Start-SmhvCapturedProcess -FilePath $diskshadow -ArgumentList @('/s', $scriptPath) -Directory $directory -TimeoutSeconds 900
    $output = $run.stdout + $run.stderr
    # diskshadow announces each alias: "Alias SMHV0 for shadow ID {...} set as environment variable."
    $copies = New-SmhvList
    foreach ($match in [regex]::Matches($output, 'Alias SMHV(\d+) for shadow ID (\{[0-9A-Fa-f-]{36}\})')) {
        $copies.Add([ordered]@{ volume = $volumes[[int]$match.Groups[1].Value]; shadow_copy_id = $match.Groups[2].Value.ToLowerInvariant() })
    }
    $set = [regex]::Match($output, 'Alias VSS_SHADOW_SET for value (\{[0-9A-Fa-f-]{36}\})')
    if (-not $run.finished -or $run.exit_code -ne 0 -or $copies.Count -ne $volumes.Count -or -not $set.Success) {
        $tail = $output.Substring([Math]::Max(0, $output.Length - 4000))
        $counts = "exit code $($run.exit_code), $($copies.Count) of $($volumes.Count) volumes"
        $message = "diskshadow on host $env:COMPUTERNAME did not create the shadow copies ($counts): $tail"
        throw (New-SmhvError -Code 'VSS_BACKUP_FAILED' -Message $message -Details @{ exit_code = $run.exit_code; volumes = $volumes; directory = $directory })
    }
    $result = [ordered]@{
        shadow_copy_set_id = $set.Groups[1].Value.ToLowerInvariant()
        shadow_copies = $copies
        exit_code = $run.exit_code
        output = $output.Substring([Math]::Max(0, $output.Length - 4000))
    }
    New-SmhvOpResult -Result $result -Changed $true
}

function Get-SmhvEnvironmentArgument {
    # The 'environment' argument: a JSON object of variable names to string values.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments
    )
    $values = [ordered]@{}
    $property = $Arguments.PSObject.Properties['environment']
    if ($null -eq $property -or $null -eq $property.Value) {
        return $values
    }
    if ($property.Value -isnot [System.Management.Automation.PSCustomObject]) {
        $message = "Argument 'environment' must be a JSON object of names to strings."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'environment' })
    }
    foreach ($item in $property.Value.PSObject.Properties) {
        if ($item.Name -cnotmatch '^[A-Za-z_][A-Za-z0-9_]{0,63}$' -or $item.Value -isnot [string]) {
            $message = "Argument 'environment': '$($item.Name)' must be a variable name with a string value."
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'environment'; name = $item.Name })
        }
        $values[$item.Name] = $item.Value
    }
    $values
}

function Assert-SmhvCmdSafeScript {
    # Windows runs a .cmd or .bat file (also named with trailing dots or blanks) through cmd.exe, which parses
    # the command line again: it acts on & | < > ^ ( ) and the quote, and expands %NAME% (and !NAME!) even
    # inside quotes, so no quoting makes them safe. The controller refuses them (backup_plan.check_cmd_arguments);
    # this refuses them again before anything runs. The path is quoted whole, so only % ! and the quote matter there.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path,
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$ArgumentList
    )
    if ($Path.TrimEnd('. '.ToCharArray()) -notmatch '\.(cmd|bat)$') {
        return
    }
    if ($Path -match '[%!"\x00-\x1f\x7f]') {
        $message = "Argument 'path': script $Path has a character cmd.exe interprets (% ! or a quote or a control character)."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'path'; path = $Path })
    }
    $position = 0
    foreach ($argument in $ArgumentList) {
        $position++
        if ($argument -match '[&|<>^%!"()\x00-\x1f\x7f]') {
            $message = "Argument 'arguments': element $position for script $Path has a character cmd.exe interprets in a .cmd or .bat " +
                "script's arguments (& | < > ^ % ! ( ), a quote or a control character); it cannot be passed safely."
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'arguments'; position = $position; path = $Path })
        }
    }
}

function Invoke-SmhvScript {
    # A pre- or post-script: a .ps1 runs in powershell.exe -File, anything else (.cmd, .bat, .exe) is started
    # as it is. Arguments are an array (each element one argv entry, never parsed by a shell); SMHV's
    # variables arrive as environment variables of the process (VMSnapshot, SnapInfoName, SnapInfoSnapshot).
    # A .cmd or .bat script goes through cmd.exe: Assert-SmhvCmdSafeScript refuses what it would interpret.
    # A non-zero exit code is a result, not an error: the caller decides.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'path' -Type String -Required
    $argumentList = Get-SmhvArgument -Arguments $Arguments -Name 'arguments' -Type StringList -Default @()
    $environment = Get-SmhvEnvironmentArgument -Arguments $Arguments
    $timeout = 3600
    $timeoutProperty = $Arguments.PSObject.Properties['timeout_seconds']
    if ($null -ne $timeoutProperty -and $null -ne $timeoutProperty.Value) {
        if (($timeoutProperty.Value -isnot [int] -and $timeoutProperty.Value -isnot [long]) -or $timeoutProperty.Value -lt 1 -or
            $timeoutProperty.Value -gt 86400) {
            $message = "Argument 'timeout_seconds' must be an integer between 1 and 86400."
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'timeout_seconds' })
        }
        $timeout = [int]$timeoutProperty.Value
    }
    Assert-SmhvAbsolutePath -Path $path -Argument 'path'
    Assert-SmhvCmdSafeScript -Path $path -ArgumentList @($argumentList)
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
        throw (New-SmhvError -Code 'FILE_NOT_FOUND' -Message "Script $path does not exist on host $env:COMPUTERNAME." -Details @{ path = $path })
    }
    if ($CheckMode) {
        return New-SmhvOpResult -Result ([ordered]@{ path = $path; exit_code = 0; stdout = ''; stderr = ''; milliseconds = 0 }) -Changed $true
    }
    $program = $path
    $list = @($argumentList)
    if ($path.EndsWith('.ps1', [System.StringComparison]::OrdinalIgnoreCase)) {
        $program = Join-Path -Path $PSHOME -ChildPath 'powershell.exe'
        $list = @('-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', $path) + @($argumentList)
    }
    $previous = @{}
    foreach ($variable in $environment.Keys) {
        $previous[$variable] = [System.Environment]::GetEnvironmentVariable($variable, [System.EnvironmentVariableTarget]::Process)
        [System.Environment]::SetEnvironmentVariable($variable, $environment[$variable], [System.EnvironmentVariableTarget]::Process)
    }
    $directory = New-SmhvPrivateDirectory -Prefix 'smhv_script_'
    try {
        $run = Start-SmhvCapturedProcess -FilePath $program -ArgumentList $list -Directory $directory -TimeoutSeconds $timeout
    } finally {
        foreach ($variable in $previous.Keys) {
            [System.Environment]::SetEnvironmentVariable($variable, $previous[$variable], [System.EnvironmentVariableTarget]::Process)
        }
    }
    if (-not $run.finished) {
        $message = "Script $path did not finish within $timeout seconds on host $env:COMPUTERNAME and was stopped."
        throw (New-SmhvError -Code 'SCRIPT_TIMEOUT' -Message $message -Details @{ path = $path; timeout = $timeout; stdout = $run.stdout })
    }
    $result = [ordered]@{ path = $path; exit_code = $run.exit_code; stdout = $run.stdout; stderr = $run.stderr; milliseconds = $run.milliseconds }
    New-SmhvOpResult -Result $result -Changed $true
}

# ---------------------------------------------------------------------------------------------
# restore and mount (vm_stop, vm_start, vm_remove, vm_import, disk_connect, disk_disconnect, file_copy)
# ---------------------------------------------------------------------------------------------

function Get-SmhvVmStateRecord {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Id,
        [AllowNull()][string]$Before
    )
    $vm = Get-VM -Id $Id
    [ordered]@{ vm_id = $Id; name = [string]$vm.Name; state_before = $Before; state = $vm.State.ToString() }
}

function Set-SmhvVmPower {
    # Stop-VM (guest shut down; -TurnOff with turn_off) or Start-VM for each VM id; VMs already there are unchanged.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode,
        [Parameter(Mandatory)][ValidateSet('Off', 'Running')][string]$Target
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $turnOff = Get-SmhvArgument -Arguments $Arguments -Name 'turn_off' -Type Boolean -Default $false
    $table = Get-SmhvVmTable
    $vms = New-SmhvList
    $missing = New-SmhvList
    $changed = $false
    foreach ($id in $ids) {
        Assert-SmhvVmId -Value $id
        $key = $id.ToLowerInvariant()
        if (-not $table.ContainsKey($key)) {
            $missing.Add($key)
            continue
        }
        $vm = $table[$key]
        $before = $vm.State.ToString()
        if ($before -ne $Target) {
            $changed = $true
            if (-not $CheckMode) {
                if ($Target -eq 'Running') {
                    Start-VM -VM $vm
                } elseif ($turnOff) {
                    Stop-VM -VM $vm -TurnOff -Force
                } else {
                    Stop-VM -VM $vm -Force
                }
            }
        }
        $vms.Add((Get-SmhvVmStateRecord -Id $key -Before $before))
    }
    New-SmhvOpResult -Result ([ordered]@{ vms = $vms; missing = $missing }) -Changed $changed
}

function Stop-SmhvVm {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    Set-SmhvVmPower -Arguments $Arguments -CheckMode $CheckMode -Target 'Off'
}

function Start-SmhvVm {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    Set-SmhvVmPower -Arguments $Arguments -CheckMode $CheckMode -Target 'Running'
}

function Remove-SmhvVm {
    # Remove-VM: the registration and the VM's configuration go; its virtual disks stay. Only VMs that are off.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $table = Get-SmhvVmTable
    $removed = New-SmhvList
    $missing = New-SmhvList
    foreach ($id in $ids) {
        Assert-SmhvVmId -Value $id
        $key = $id.ToLowerInvariant()
        if (-not $table.ContainsKey($key)) {
            $missing.Add($key)
            continue
        }
        $vm = $table[$key]
        if ($vm.State.ToString() -ne 'Off') {
            $message = "VM '$($vm.Name)' is $($vm.State); stop it before removing it."
            throw (New-SmhvError -Code 'VM_STATE_NOT_ALLOWED' -Message $message -Details @{ vm_id = $key; state = $vm.State.ToString() })
        }
        if (-not $CheckMode) {
            Remove-VM -VM $vm -Force
        }
        $removed.Add($key)
    }
    New-SmhvOpResult -Result ([ordered]@{ removed = $removed; missing = $missing }) -Changed ($removed.Count -gt 0)
}

function ConvertTo-SmhvMappedPath {
    # The path with its longest matching prefix in From replaced by the same entry of To (case-insensitive).
    [CmdletBinding()]
    param(
        [AllowEmptyString()][string]$Path,
        [AllowEmptyCollection()][object[]]$From,
        [AllowEmptyCollection()][object[]]$To
    )
    $best = -1
    for ($index = 0; $index -lt $From.Count; $index++) {
        $prefix = [string]$From[$index]
        if ($Path.StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase) -and ($best -lt 0 -or $prefix.Length -gt ([string]$From[$best]).Length)) {
            $best = $index
        }
    }
    if ($best -lt 0) {
        return $Path
    }
    [string]$To[$best] + $Path.Substring(([string]$From[$best]).Length)
}

function Import-SmhvVm {
    # Import-VM -Register: the VM defined by the configuration file, registered in place with its own id.
    # 'discard_checkpoint': a checkpoint of that exact name (the backup's own) is applied and removed,
    # so the VM is as the backup captured it.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'path' -Type String -Required
    $discard = Get-SmhvArgument -Arguments $Arguments -Name 'discard_checkpoint' -Type String -Default ''
    $mapFrom = Get-SmhvArgument -Arguments $Arguments -Name 'map_from' -Type StringList
    $mapTo = Get-SmhvArgument -Arguments $Arguments -Name 'map_to' -Type StringList
    Assert-SmhvAbsolutePath -Path $path -Argument 'path'
    if ($mapFrom.Count -ne $mapTo.Count) {
        $message = "Arguments 'map_from' and 'map_to' must have the same length."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'map_to' })
    }
    if (-not [System.IO.File]::Exists($path)) {
        throw (New-SmhvError -Code 'FILE_NOT_FOUND' -Message "File '$path' does not exist." -Details @{ path = $path })
    }
    $id = [System.IO.Path]::GetFileNameWithoutExtension($path).ToLowerInvariant()
    $table = Get-SmhvVmTable
    if ($table.ContainsKey($id)) {
        $message = "A VM with id $id is already registered on host $($env:COMPUTERNAME)."
        throw (New-SmhvError -Code 'VM_EXISTS' -Message $message -Details @{ vm_id = $id })
    }
    # A DR drill registers the VM under another name ('new_name', Rename-VM) with every network adapter disconnected.
    $newName = Get-SmhvArgument -Arguments $Arguments -Name 'new_name' -Type String -Default ''
    $isolate = Get-SmhvArgument -Arguments $Arguments -Name 'disconnect_network' -Type Boolean -Default $false
    $switchName = Get-SmhvArgument -Arguments $Arguments -Name 'switch_name' -Type String -Default ''
    $discarded = $false
    $name = ''
    $state = 'Off'
    if (-not $CheckMode) {
        if ($mapFrom.Count -gt 0) {
            # Restored to other paths: the planned VM's disks and checkpoint folder follow the map, then it is registered.
            $report = Compare-VM -Path $path -Register
            foreach ($drive in @(Get-VMHardDiskDrive -VM $report.VM)) {
                $mapped = ConvertTo-SmhvMappedPath -Path ([string]$drive.Path) -From $mapFrom -To $mapTo
                if ($mapped -ne [string]$drive.Path) {
                    Set-VMHardDiskDrive -VMHardDiskDrive $drive -Path $mapped
                }
            }
            $snapshots = ConvertTo-SmhvMappedPath -Path ([string]$report.VM.SnapshotFileLocation) -From $mapFrom -To $mapTo
            if ($snapshots -ne [string]$report.VM.SnapshotFileLocation) {
                Set-VM -VM $report.VM -SnapshotFileLocation $snapshots
            }
            $vm = Import-VM -CompatibilityReport $report
        } else {
            $vm = Import-VM -Path $path -Register
        }
        $id = $vm.Id.ToString().ToLowerInvariant()
        $name = [string]$vm.Name
        if ($discard) {
            foreach ($checkpoint in @(Get-VMSnapshot -VM $vm | Where-Object -FilterScript { $_.Name -ceq $discard })) {
                Restore-VMSnapshot -VMSnapshot $checkpoint -Confirm:$false
                Remove-VMSnapshot -VMSnapshot $checkpoint
                $discarded = $true
            }
        }
        if ($newName) {
            Rename-VM -VM $vm -NewName $newName
            $name = $newName
        }
        if ($switchName) {
            # A drill on an isolated switch: every adapter moves there.
            foreach ($adapter in @(Get-VMNetworkAdapter -VM $vm)) {
                Connect-VMNetworkAdapter -VMNetworkAdapter $adapter -SwitchName $switchName
            }
        } elseif ($isolate) {
            foreach ($adapter in @(Get-VMNetworkAdapter -VM $vm)) {
                Disconnect-VMNetworkAdapter -VMNetworkAdapter $adapter
            }
        }
        $state = (Get-VM -Id $id).State.ToString()
    }
    New-SmhvOpResult -Result ([ordered]@{ vm_id = $id; name = $name; state = $state; checkpoint_discarded = $discarded }) -Changed $true
}

function Get-SmhvVmHealth {
    # Per VM id: its state, the guest's heartbeat (the Heartbeat integration service's primary status, null when the VM is
    # not running or the service is off) and whether any network adapter is connected to a switch.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $table = Get-SmhvVmTable
    $vms = New-SmhvList
    $missing = New-SmhvList
    foreach ($id in $ids) {
        Assert-SmhvVmId -Value $id
        $key = $id.ToLowerInvariant()
        if (-not $table.ContainsKey($key)) {
            $missing.Add($key)
            continue
        }
        $vm = $table[$key]
        $heartbeat = $null
        if ($vm.State.ToString() -eq 'Running') {
            $service = @(Get-VMIntegrationService -VM $vm -Name 'Heartbeat') | Select-Object -First 1
            if ($null -ne $service -and $service.Enabled) {
                $heartbeat = [string]$service.PrimaryStatusDescription
            }
        }
        $switches = New-SmhvList
        foreach ($adapter in @(Get-VMNetworkAdapter -VM $vm | Where-Object -FilterScript { $_.SwitchName })) {
            $switches.Add([string]$adapter.SwitchName)
        }
        $vms.Add([ordered]@{ vm_id = $key; name = [string]$vm.Name; state = $vm.State.ToString(); heartbeat = $heartbeat
                             network_connected = ($switches.Count -gt 0); switches = $switches })
    }
    New-SmhvOpResult -Result ([ordered]@{ vms = $vms; missing = $missing }) -Changed $false
}

function Get-SmhvDiskBySerial {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Serial
    )
    $disk = @(Get-Disk | Where-Object -FilterScript { ([string]$_.SerialNumber).Trim() -eq $Serial }) | Select-Object -First 1
    if ($null -eq $disk) {
        $message = "No disk with serial number '$Serial' on host $($env:COMPUTERNAME) after a rescan; is the LUN mapped to its igroup?"
        throw (New-SmhvError -Code 'DISK_NOT_FOUND' -Message $message -Details @{ serial = $Serial })
    }
    $disk
}

function Get-SmhvDataPartition {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][int]$Number
    )
    @(Get-Partition -DiskNumber $Number | Where-Object -FilterScript { $_.Type -ne 'Reserved' -and $_.Type -ne 'System' -and $_.Type -ne 'Recovery' }) |
        Sort-Object -Property Size -Descending | Select-Object -First 1
}

function Assert-SmhvDriveLetterFree {
    # Add-PartitionAccessPath would refuse a drive letter another volume has; say which letter, before trying.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$AccessPath
    )
    $letter = $AccessPath.Substring(0, 1).ToUpperInvariant()
    $holders = @(Get-Volume | Where-Object -FilterScript { $_.DriveLetter -and ([string]$_.DriveLetter).ToUpperInvariant() -eq $letter })
    if ($holders.Count -gt 0) {
        $message = "Drive letter ${letter}: belongs to another volume on host $($env:COMPUTERNAME); choose a free letter, or let one be assigned."
        throw (New-SmhvError -Code 'DRIVE_LETTER_IN_USE' -Message $message -Details @{ drive_letter = $letter })
    }
}

function Connect-SmhvDisk {
    # A LUN mapped to this host as a disk with a volume: rescan, online (a new disk id first when it collides
    # with a disk already online, as a clone beside its source does), writable, and the access path
    # (drive letter 'X:\' or an empty folder, created) when given. A volume has one drive letter at most: asked
    # for another, the one it has (Windows may give one when the disk comes online) is replaced. With
    # assign_drive_letter, a volume without a drive letter gets the first free one (-AssignDriveLetter).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $serial = Get-SmhvArgument -Arguments $Arguments -Name 'serial' -Type String -Required
    $accessPath = Get-SmhvArgument -Arguments $Arguments -Name 'access_path' -Type String -Default ''
    $assignDriveLetter = Get-SmhvArgument -Arguments $Arguments -Name 'assign_drive_letter' -Type Boolean -Default $false
    if ($accessPath) {
        Assert-SmhvAbsolutePath -Path $accessPath -Argument 'access_path'
        if (-not $accessPath.EndsWith('\')) {
            $accessPath = $accessPath + '\'
        }
    }
    if (-not $CheckMode) {
        Update-HostStorageCache
    }
    $disk = Get-SmhvDiskBySerial -Serial $serial
    $number = [int]$disk.Number
    $changed = $false
    $resignatured = $false
    if ($disk.IsOffline) {
        $changed = $true
        $others = @(Get-Disk | Where-Object -FilterScript { $_.Number -ne $number -and -not $_.IsOffline })
        $collides = (ConvertTo-SmhvOfflineReason -Value $disk.OfflineReason) -eq 'Collision'
        if ($disk.Guid) {
            $collides = $collides -or @($others | Where-Object -FilterScript { $_.Guid -eq $disk.Guid }).Count -gt 0
        } else {
            $collides = $collides -or @($others | Where-Object -FilterScript { $_.Signature -eq $disk.Signature }).Count -gt 0
        }
        if (-not $CheckMode) {
            if ($collides) {
                if ($disk.Guid) {
                    Set-Disk -Number $number -Guid ('{' + [guid]::NewGuid().ToString() + '}')
                } else {
                    Set-Disk -Number $number -Signature ([uint32](Get-Random -Minimum 1 -Maximum 2147483647))
                }
                $resignatured = $true
            }
            Set-Disk -Number $number -IsOffline $false
        }
    }
    if ($disk.IsReadOnly) {
        $changed = $true
        if (-not $CheckMode) {
            Set-Disk -Number $number -IsReadOnly $false
        }
    }
    if (($accessPath -or $assignDriveLetter) -and -not $CheckMode) {
        $partition = Get-SmhvDataPartition -Number $number
        $present = @($partition.AccessPaths | Where-Object -FilterScript { $_ -eq $accessPath }).Count -gt 0
        $letters = @($partition.AccessPaths | Where-Object -FilterScript { $_ -and $_.Length -eq 3 -and $_.EndsWith(':\') })
        if ($accessPath -and -not $present) {
            if ($accessPath.Length -eq 3) {
                Assert-SmhvDriveLetterFree -AccessPath $accessPath
                foreach ($letter in $letters) {
                    Remove-PartitionAccessPath -DiskNumber $number -PartitionNumber $partition.PartitionNumber -AccessPath $letter
                }
                $letters = @($accessPath)
            } elseif (-not [System.IO.Directory]::Exists($accessPath)) {
                [void][System.IO.Directory]::CreateDirectory($accessPath)
            }
            Add-PartitionAccessPath -DiskNumber $number -PartitionNumber $partition.PartitionNumber -AccessPath $accessPath
            $changed = $true
        }
        if ($assignDriveLetter -and $letters.Count -eq 0) {
            Add-PartitionAccessPath -DiskNumber $number -PartitionNumber $partition.PartitionNumber -AssignDriveLetter
            $changed = $true
            $partition = Get-SmhvDataPartition -Number $number
            if (@($partition.AccessPaths | Where-Object -FilterScript { $_ -and $_.Length -eq 3 -and $_.EndsWith(':\') }).Count -eq 0) {
                $message = "No drive letter is free on host $($env:COMPUTERNAME) for disk $number; mount it in a folder instead."
                throw (New-SmhvError -Code 'DRIVE_LETTER_IN_USE' -Message $message -Details @{ serial = $serial })
            }
        }
    }
    $record = Get-SmhvDiskRecord -Disk (Get-SmhvDiskBySerial -Serial $serial)
    New-SmhvOpResult -Result ([ordered]@{ disk = $record; resignatured = $resignatured }) -Changed $changed
}

function Disconnect-SmhvDisk {
    # The reverse of disk_connect: access paths removed, disk offline, so the LUN can be restored, unmapped or deleted.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $serial = Get-SmhvArgument -Arguments $Arguments -Name 'serial' -Type String -Required
    $disk = @(Get-Disk | Where-Object -FilterScript { ([string]$_.SerialNumber).Trim() -eq $serial }) | Select-Object -First 1
    $removed = New-SmhvList
    if ($null -eq $disk) {
        return New-SmhvOpResult -Result ([ordered]@{ serial = $serial; found = $false; was_online = $false; removed_access_paths = $removed })
    }
    $number = [int]$disk.Number
    $wasOnline = -not $disk.IsOffline
    if ($wasOnline) {
        foreach ($partition in @(Get-Partition -DiskNumber $number)) {
            foreach ($accessPath in @($partition.AccessPaths | Where-Object -FilterScript { $_ -and -not $_.StartsWith('\\?\') })) {
                if (-not $CheckMode) {
                    Remove-PartitionAccessPath -DiskNumber $number -PartitionNumber $partition.PartitionNumber -AccessPath $accessPath
                }
                $removed.Add([string]$accessPath)
            }
        }
        if (-not $CheckMode) {
            Set-Disk -Number $number -IsOffline $true
        }
    }
    New-SmhvOpResult -Result ([ordered]@{ serial = $serial; found = $true; was_online = $wasOnline; removed_access_paths = $removed }) -Changed $wasOnline
}

function Add-SmhvClusterVmRole {
    # Add-ClusterVirtualMachineRole for each VM id registered on this node: the VM becomes highly available again
    # (SMHV never did this for you). VMs already clustered are listed in 'present'.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $table = Get-SmhvVmTable
    $added = New-SmhvList
    $present = New-SmhvList
    $missing = New-SmhvList
    foreach ($id in $ids) {
        Assert-SmhvVmId -Value $id
        $key = $id.ToLowerInvariant()
        if (-not $table.ContainsKey($key)) {
            $missing.Add($key)
            continue
        }
        $vm = $table[$key]
        if ($vm.IsClustered) {
            $present.Add($key)
            continue
        }
        $group = [string]$vm.Name
        if (-not $CheckMode) {
            $group = [string](Add-ClusterVirtualMachineRole -VMId $vm.Id).Name
        }
        $added.Add([ordered]@{ vm_id = $key; group = $group })
    }
    New-SmhvOpResult -Result ([ordered]@{ added = $added; present = $present; missing = $missing }) -Changed ($added.Count -gt 0)
}

function Remove-SmhvClusterVmRole {
    # Remove-ClusterGroup -RemoveResources of each VM's cluster group: the VM stays registered on its node, no longer
    # highly available (before Remove-VM in a restore). VMs not clustered are listed in 'absent'.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $ids = Get-SmhvArgument -Arguments $Arguments -Name 'ids' -Type StringList -Required
    $removed = New-SmhvList
    $absent = New-SmhvList
    foreach ($id in $ids) {
        Assert-SmhvVmId -Value $id
        $key = $id.ToLowerInvariant()
        $group = Get-ClusterGroup -VMId ([guid]$key) -ErrorAction SilentlyContinue
        if ($null -eq $group) {
            $absent.Add($key)
            continue
        }
        if (-not $CheckMode) {
            Remove-ClusterGroup -InputObject $group -RemoveResources -Force
        }
        $removed.Add([ordered]@{ vm_id = $key; group = [string]$group.Name })
    }
    New-SmhvOpResult -Result ([ordered]@{ removed = $removed; absent = $absent }) -Changed ($removed.Count -gt 0)
}

function Copy-SmhvFile {
    # sources[i] -> destinations[i] on this host, overwriting; the destination's folder is created.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $sources = Get-SmhvArgument -Arguments $Arguments -Name 'sources' -Type StringList -Required
    $destinations = Get-SmhvArgument -Arguments $Arguments -Name 'destinations' -Type StringList -Required
    if ($sources.Count -ne $destinations.Count) {
        $message = "Arguments 'sources' and 'destinations' must have the same length."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'destinations' })
    }
    $copied = New-SmhvList
    for ($index = 0; $index -lt $sources.Count; $index++) {
        $source = $sources[$index]
        $destination = $destinations[$index]
        Assert-SmhvAbsolutePath -Path $source -Argument 'sources'
        Assert-SmhvAbsolutePath -Path $destination -Argument 'destinations'
        if (-not [System.IO.File]::Exists($source)) {
            throw (New-SmhvError -Code 'FILE_NOT_FOUND' -Message "File '$source' does not exist." -Details @{ path = $source })
        }
        $size = (New-Object -TypeName System.IO.FileInfo -ArgumentList $source).Length
        if (-not $CheckMode) {
            [void][System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($destination))
            [System.IO.File]::Copy($source, $destination, $true)
        }
        $copied.Add([ordered]@{ source = $source; destination = $destination; size = [long]$size })
    }
    New-SmhvOpResult -Result ([ordered]@{ copied = $copied }) -Changed ($copied.Count -gt 0)
}

# ---------------------------------------------------------------------------------------------
# Main: exactly one JSON document on the output, whatever happens.
# ---------------------------------------------------------------------------------------------

function Invoke-SmhvAgent {
    # The entry point. The script's last line calls it; over PSRP the script runs dot-sourced in the runspace
    # (UseLocalScope false), so this function stays defined there and later calls of the same RunspacePool send
    # only this command, with the request and the agent's hash as parameter values (winhost_sessions.py).
    # A different agent left defined in the runspace answers AGENT_VERSION_MISMATCH before reading the
    # request, and the controller sends the script again. Keep its name and parameters unchanged.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Request,
        [Parameter(Mandatory)][string]$AgentSha
    )
    $ErrorActionPreference = 'Stop'
    Set-StrictMode -Version 3
    $ProgressPreference = 'SilentlyContinue'
    if ($AgentSha -cne '@@AGENT_SHA@@') {
        '{"ok":false,"error":{"code":"AGENT_VERSION_MISMATCH",' +
        '"message":"The agent defined in this runspace is another version.","details":{"agent_sha":"@@AGENT_SHA@@"}}}'
        return
    }
    # Per call: nothing of a previous call's warnings or volume map is reused.
    $script:SmhvWarnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $script:SmhvVolumeMap = $null
    try {
        Invoke-SmhvRequest -Request $Request
    } catch {
        # Only reached if building the answer itself failed; the message is escaped by ConvertTo-Json.
        '{"ok":false,"error":{"code":"AGENT_ERROR","message":' + (ConvertTo-Json -InputObject ([string]$_.Exception.Message) -Compress) + ',"details":{}}}'
    }
}

Invoke-SmhvAgent -Request $Request -AgentSha '@@AGENT_SHA@@'
"""

# The agent's identity: SHA-256 (first 16 hex digits) of the script with the placeholder, which the script
# then carries. PSRP's short call sends it (winhost_sessions.PsrpSession) and Invoke-SmhvAgent compares.
AGENT_SHA = hashlib.sha256(AGENT_SCRIPT.encode("utf-8")).hexdigest()[:16]
AGENT_SCRIPT = AGENT_SCRIPT.replace("@@AGENT_SHA@@", AGENT_SHA)
# The function the script defines and the PSRP short call invokes (`PowerShell.add_cmdlet`).
ENTRY_FUNCTION = "Invoke-SmhvAgent"
# What Invoke-SmhvAgent answers, before reading the request, when -AgentSha is not its own hash: the
# runspace holds another version's agent. Not in AGENT_ERROR_CODES: the client sends the script again
# and no user ever meets it.
VERSION_MISMATCH_CODE = "AGENT_VERSION_MISMATCH"

# Runs first over WinRS (powershell.exe -EncodedCommand), small enough for the 8191-char command line.
# It reads the payload {"script", "request"} from stdin up to the sentinel line and runs the script
# with the request as the -Request parameter value. Creating a script block from text is the one
# exception to "no code from data" and it is safe: the text is AGENT_SCRIPT, the collection's own
# code sent verbatim by the controller, as Ansible's own bootstrap_wrapper does with its exec wrapper;
# the user's data stays in $payload.request and only ever binds to the agent's -Request parameter.
BOOTSTRAP_SCRIPT = r"""$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$lines = foreach ($line in $input) {
    if ($line -eq "`0`0`0`0") {
        break
    }
    $line
}
$payload = ConvertFrom-Json -InputObject ($lines -join "`n")
$agent = [scriptblock]::Create($payload.script)
& $agent -Request $payload.request
"""


def encode_request(op, args, check_mode):
    """The JSON request the agent takes as -Request. ASCII only, so no code page can mangle it."""
    if op not in OPS:
        raise ValueError("unknown agent op %r; the agent implements: %s" % (op, ", ".join(OPS)))
    if not isinstance(args, dict):
        raise ValueError("agent op arguments must be a dict, got %s" % type(args).__name__)
    return json.dumps({"op": op, "args": args, "check_mode": bool(check_mode)}, ensure_ascii=True,
                      separators=(",", ":"))


def winrs_stdin(request_json):
    """Everything the bootstrap reads on stdin: one line of JSON {script, request}, then the sentinel."""
    payload = json.dumps({"script": AGENT_SCRIPT, "request": request_json}, ensure_ascii=True,
                         separators=(",", ":"))
    return payload.encode("ascii") + STDIN_SENTINEL


def encoded_bootstrap():
    """BOOTSTRAP_SCRIPT for powershell.exe -EncodedCommand: base64 of UTF-16LE."""
    return base64.b64encode(BOOTSTRAP_SCRIPT.encode("utf-16-le")).decode("ascii")


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
    else:
        raise ValueError("The agent's answer has ok=%r; expected true or false." % (response["ok"],))
    return response


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
