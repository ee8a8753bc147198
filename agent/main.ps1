param([Parameter(Mandatory)][string]$Request)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3
$ProgressPreference = 'SilentlyContinue'

. "$PSScriptRoot\core.ps1"

. "$PSScriptRoot\storage.ps1"

. "$PSScriptRoot\host_facts.ps1"

. "$PSScriptRoot\vm_inventory.ps1"

. "$PSScriptRoot\files.ps1"

. "$PSScriptRoot\disk_rescan.ps1"

. "$PSScriptRoot\registry.ps1"

. "$PSScriptRoot\fleet.ps1"

. "$PSScriptRoot\checkpoint_jobs.ps1"

. "$PSScriptRoot\backup.ps1"

. "$PSScriptRoot\restore.ps1"

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
