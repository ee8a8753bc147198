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
        'vm_import_batch' { return Import-SmhvVmBatch @call }
        'disk_connect' { return Connect-SmhvDisk @call }
        'disk_disconnect' { return Disconnect-SmhvDisk @call }
        'file_copy' { return Copy-SmhvFile @call }
        'cluster_vm_role_add' { return Add-SmhvClusterVmRole @call }
        'cluster_vm_role_remove' { return Remove-SmhvClusterVmRole @call }
        'vm_health' { return Get-SmhvVmHealth @call }
        'cluster_disk_add' { return Add-SmhvClusterDisk @call }
        'cluster_disk_remove' { return Remove-SmhvClusterDisk @call }
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
