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
