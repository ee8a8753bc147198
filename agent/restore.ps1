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

function Import-SmhvVmBatch {
    # Import-SmhvVm for each configuration of 'paths' in one call (a failover to a DR cluster registers every VM on the
    # owner node): 'discard_checkpoints' pairs with 'paths' ('' for none), 'map_from' and 'map_to' apply to every VM.
    # The first failure ends the call; the VMs registered before it stay registered (the caller's inventory finds them).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'paths' -Type StringList -Required
    $discards = Get-SmhvArgument -Arguments $Arguments -Name 'discard_checkpoints' -Type StringList
    $mapFrom = Get-SmhvArgument -Arguments $Arguments -Name 'map_from' -Type StringList
    $mapTo = Get-SmhvArgument -Arguments $Arguments -Name 'map_to' -Type StringList
    if ($discards.Count -ne 0 -and $discards.Count -ne $paths.Count) {
        $message = "Arguments 'paths' and 'discard_checkpoints' must have the same length."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'discard_checkpoints' })
    }
    $vms = New-SmhvList
    for ($index = 0; $index -lt $paths.Count; $index++) {
        $one = [ordered]@{ path = $paths[$index]; map_from = $mapFrom; map_to = $mapTo }
        if ($discards.Count -gt 0 -and $discards[$index]) {
            $one['discard_checkpoint'] = $discards[$index]
        }
        $vms.Add((Import-SmhvVm -Arguments ([pscustomobject]$one) -CheckMode $CheckMode).Result)
    }
    New-SmhvOpResult -Result ([ordered]@{ vms = $vms }) -Changed ($vms.Count -gt 0)
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

function Get-SmhvClusterDiskResource {
    # The cluster's Physical Disk resource (a CSV or a cluster disk) for a disk, found by the disk id the resource
    # records (DiskIdGuid for GPT, DiskSignature for MBR), or $null.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Disk
    )
    $resources = @(Get-ClusterSharedVolume) + @(Get-ClusterResource | Where-Object -FilterScript { [string]$_.ResourceType -eq 'Physical Disk' })
    foreach ($resource in $resources) {
        if ($Disk.Guid) {
            $id = [string](Get-ClusterParameter -InputObject $resource -Name 'DiskIdGuid').Value
            if ($id -and $id.Trim('{', '}') -eq ([string]$Disk.Guid).Trim('{', '}')) {
                return $resource
            }
        } elseif ([uint32](Get-ClusterParameter -InputObject $resource -Name 'DiskSignature').Value -eq [uint32]$Disk.Signature) {
            return $resource
        }
    }
    $null
}

function Add-SmhvClusterDisk {
    # A LUN every node sees made a disk of this failover cluster (Get-ClusterAvailableDisk offers only disks every node
    # has discovered; Add-ClusterDisk), then either a cluster shared volume (Add-ClusterSharedVolume) whose folder
    # C:\ClusterStorage\VolumeN is renamed to the access path asked for, or a cluster disk whose partition gets the drive
    # letter on this node, its owner. A disk already in the cluster at that path is left as it is (a re-run).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $serial = Get-SmhvArgument -Arguments $Arguments -Name 'serial' -Type String -Required
    $accessPath = Get-SmhvArgument -Arguments $Arguments -Name 'access_path' -Type String -Required
    $csv = Get-SmhvArgument -Arguments $Arguments -Name 'csv' -Type Boolean -Default $false
    Assert-SmhvAbsolutePath -Path $accessPath -Argument 'access_path'
    $accessPath = $accessPath.TrimEnd('\') + '\'
    $root = 'C:\ClusterStorage\'
    $folder = ''
    if ($accessPath.StartsWith($root, [StringComparison]::OrdinalIgnoreCase)) {
        $folder = $accessPath.Substring($root.Length).TrimEnd('\')
    }
    if (($csv -and (-not $folder -or $folder.Contains('\'))) -or (-not $csv -and $accessPath.Length -ne 3)) {
        $message = "Argument 'access_path': a cluster shared volume is at $root<folder>, a cluster disk at a drive letter 'X:\', not '$accessPath'."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'access_path' })
    }
    if (-not $CheckMode) {
        Update-HostStorageCache
    }
    $disk = Get-SmhvDiskBySerial -Serial $serial
    $number = [int]$disk.Number
    $changed = $false
    $resource = Get-SmhvClusterDiskResource -Disk $disk
    if ($null -eq $resource) {
        $available = @(Get-ClusterAvailableDisk | Where-Object -FilterScript { [int]$_.Number -eq $number })
        if ($available.Count -eq 0) {
            $message = "The disk with serial number '$serial' is not available to the cluster: every node must see it. " +
                "Map the LUN to every node's igroup and rescan them."
            throw (New-SmhvError -Code 'DISK_NOT_FOUND' -Message $message -Details @{ serial = $serial })
        }
        $changed = $true
        if (-not $CheckMode) {
            $resource = $available[0] | Add-ClusterDisk
        }
    }
    $name = if ($null -eq $resource) { '' } else { [string]$resource.Name }
    if ($csv) {
        $shared = @(Get-ClusterSharedVolume | Where-Object -FilterScript { [string]$_.Name -eq $name })
        if ($shared.Count -eq 0 -and -not $CheckMode) {
            $shared = @(Add-ClusterSharedVolume -Name $name)
            $changed = $true
        }
        if ($shared.Count -gt 0) {
            $current = [string]@($shared[0].SharedVolumeInfo)[0].FriendlyVolumeName
            if ($current.TrimEnd('\') -ne $accessPath.TrimEnd('\') -and -not $CheckMode) {
                Rename-Item -LiteralPath $current -NewName $folder
                $changed = $true
            }
        }
    } elseif (-not $CheckMode) {
        $partition = Get-SmhvDataPartition -Number $number
        if (@($partition.AccessPaths | Where-Object -FilterScript { $_ -eq $accessPath }).Count -eq 0) {
            Assert-SmhvDriveLetterFree -AccessPath $accessPath
            Add-PartitionAccessPath -DiskNumber $number -PartitionNumber $partition.PartitionNumber -AccessPath $accessPath
            $changed = $true
        }
    }
    $record = Get-SmhvDiskRecord -Disk (Get-Disk -Number $number)
    New-SmhvOpResult -Result ([ordered]@{ disk = $record; resource = $name; csv = $csv; access_path = $accessPath }) -Changed $changed
}

function Remove-SmhvClusterDisk {
    # A disk taken out of this failover cluster (the end of a drill on a DR cluster): a cluster shared volume first back
    # to available storage (Remove-ClusterSharedVolume), then its Physical Disk resource removed (Remove-ClusterResource
    # -Force), which leaves the disk offline on every node, so its LUN can be unmapped. A disk the cluster does not have
    # (or this node no longer sees) is no change: a re-run.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $serial = Get-SmhvArgument -Arguments $Arguments -Name 'serial' -Type String -Required
    $disk = @(Get-Disk | Where-Object -FilterScript { ([string]$_.SerialNumber).Trim() -eq $serial }) | Select-Object -First 1
    $resource = if ($null -eq $disk) { $null } else { Get-SmhvClusterDiskResource -Disk $disk }
    if ($null -eq $resource) {
        return New-SmhvOpResult -Result ([ordered]@{ serial = $serial; found = $false; resource = ''; csv = $false }) -Changed $false
    }
    $name = [string]$resource.Name
    $csv = @(Get-ClusterSharedVolume | Where-Object -FilterScript { [string]$_.Name -eq $name }).Count -gt 0
    if (-not $CheckMode) {
        if ($csv) {
            Remove-ClusterSharedVolume -Name $name -Confirm:$false
        }
        Remove-ClusterResource -Name $name -Force
    }
    New-SmhvOpResult -Result ([ordered]@{ serial = $serial; found = $true; resource = $name; csv = $csv }) -Changed $true
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
