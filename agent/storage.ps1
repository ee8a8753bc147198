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
