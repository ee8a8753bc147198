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
