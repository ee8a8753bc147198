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
    # A virtual Fibre Channel adapter gives the guest LUNs that the host never mounts, so no backup can hold them.
    $fibreChannelHbas = New-SmhvList
    foreach ($hba in @(Get-VMFibreChannelHba -VM $VM)) {
        $fibreChannelHbas.Add([ordered]@{
            san_name = [string]$hba.SanName
            wwnn_set_a = [string]$hba.WorldWideNodeNameSetA
            wwpn_set_a = [string]$hba.WorldWidePortNameSetA
            wwnn_set_b = [string]$hba.WorldWideNodeNameSetB
            wwpn_set_b = [string]$hba.WorldWidePortNameSetB
        })
    }
    # The addresses the guest reports through its integration services (only while it runs): how the controller tells
    # that it runs inside this VM (the self-management guard refuses to stop, remove or restore it).
    $ipAddresses = New-SmhvList
    foreach ($adapter in @(Get-VMNetworkAdapter -VM $VM)) {
        foreach ($address in @($adapter.IPAddresses)) {
            if (-not [string]::IsNullOrEmpty($address)) {
                $ipAddresses.Add([string]$address)
            }
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
        fibre_channel_hbas = $fibreChannelHbas
        ip_addresses = $ipAddresses
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
