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
