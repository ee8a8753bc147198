# ---------------------------------------------------------------------------------------------
# A host's checkpoints and merges side by side (checkpoint_create, backup_checkpoint, checkpoint_remove)
# ---------------------------------------------------------------------------------------------
# A production checkpoint spends seconds in the guest's VSS and in Hyper-V, and a merge seconds more; made one
# VM after another, a node's checkpoint window grows with its VMs. Checkpoint-VM and Remove-VMSnapshot run as
# Hyper-V jobs (-AsJob) instead, at most Get-SmhvCheckpointJobLimit at once, the next one started as soon as one
# ends (Wait-Job -Any); Hyper-V queues what it will not run at once. Each VM keeps its own outcome as in a loop:
# one VM's failure is reported for that VM and stops no other.

function Get-SmhvCheckpointJobLimit {
    # How many checkpoint or merge jobs run at once on a host: CHECKPOINT_JOBS in the agent's contract, which the
    # lab runs as many of. Hyper-V documents no limit; each checkpoint freezes a guest through VSS and writes to
    # the same storage, so a few at once, not a node's every VM.
    [CmdletBinding()]
    param()
    4
}

function Wait-SmhvEndedJob {
    # Waits until one of the running jobs ends; returns the entries of all that have ended, each with the job's
    # 'output' or the message of its 'error', and takes them (and their jobs) out of $Running.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][System.Collections.IDictionary]$Running
    )
    $null = Wait-Job -Job @($Running.Values | ForEach-Object -Process { $_['job'] }) -Any
    $ended = @($Running.Values | Where-Object -FilterScript { @('NotStarted', 'Running') -notcontains [string]$_['job'].State })
    foreach ($entry in $ended) {
        $job = $entry['job']
        $Running.Remove($job.Id)
        try {
            # A job's error records come back as errors here, which -ErrorAction Stop makes the message.
            $entry['output'] = @(Receive-Job -Job $job -ErrorAction Stop)
            if ([string]$job.State -ne 'Completed') {
                $message = "The Hyper-V job ended $($job.State)."
                if ($null -ne $job.JobStateInfo.Reason) {
                    $message = $job.JobStateInfo.Reason.Message
                }
                throw $message
            }
        } catch {
            $entry['error'] = $_.Exception.Message
        } finally {
            # The job has ended and its outcome is read; a job object left behind costs nothing but memory.
            Remove-Job -Job $job -Force -ErrorAction SilentlyContinue
        }
    }
    , $ended
}

function Restore-SmhvCheckpointType {
    # The VM's CheckpointType set back to what it was before its production checkpoint.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][System.Collections.IDictionary]$Entry
    )
    if ($null -ne $Entry['before'] -and $Entry['before'] -ne 'ProductionOnly') {
        try {
            Set-VM -VM $Entry['vm'] -CheckpointType $Entry['before']
        } catch {
            if ($null -eq $Entry['error']) {
                $Entry['error'] = $_.Exception.Message
            }
        }
    }
}

function New-SmhvProductionCheckpointSet {
    # Production-only checkpoints of $VMs, side by side. Checkpoint-VM takes no type: each VM's CheckpointType is
    # set to ProductionOnly for its checkpoint, so Hyper-V fails instead of falling back to a standard
    # (crash-consistent) checkpoint, and set back to what it was once its job ends. Returns checkpoints and
    # failures (CHECKPOINT_FAILED), each in the VMs' order.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][System.Collections.IList]$VMs,
        [Parameter(Mandatory)][string]$Name
    )
    $limit = Get-SmhvCheckpointJobLimit
    $running = @{}
    $ended = New-SmhvList
    $next = 0
    while ($next -lt $VMs.Count -or $running.Count -gt 0) {
        while ($next -lt $VMs.Count -and $running.Count -lt $limit) {
            $vm = $VMs[$next]
            $entry = @{ index = $next; vm = $vm; before = $null; job = $null; output = $null; error = $null }
            $next++
            try {
                $entry['before'] = $vm.CheckpointType.ToString()
                if ($entry['before'] -ne 'ProductionOnly') {
                    Set-VM -VM $vm -CheckpointType ProductionOnly
                }
                $entry['job'] = Checkpoint-VM -VM $vm -SnapshotName $Name -Passthru -AsJob
                $running[$entry['job'].Id] = $entry
            } catch {
                $entry['error'] = $_.Exception.Message
                Restore-SmhvCheckpointType -Entry $entry
                $ended.Add($entry)
            }
        }
        if ($running.Count -gt 0) {
            foreach ($entry in (Wait-SmhvEndedJob -Running $running)) {
                Restore-SmhvCheckpointType -Entry $entry
                $ended.Add($entry)
            }
        }
    }
    $checkpoints = New-SmhvList
    $failures = New-SmhvList
    foreach ($entry in @($ended | Sort-Object -Property { $_['index'] })) {
        $vm = $entry['vm']
        $key = $vm.Id.ToString().ToLowerInvariant()
        $made = @($entry['output'] | Where-Object -FilterScript { $null -ne $_ })
        if ($null -eq $entry['error'] -and $made.Count -eq 0) {
            $entry['error'] = "Checkpoint-VM returned no checkpoint for VM $($vm.Name)."
        }
        if ($null -ne $entry['error']) {
            $failures.Add([ordered]@{ vm_id = $key; vm_name = [string]$vm.Name; code = 'CHECKPOINT_FAILED'; message = [string]$entry['error'] })
            continue
        }
        $checkpoint = $made[0]
        $checkpoints.Add([ordered]@{
            vm_id = $key
            vm_name = [string]$vm.Name
            checkpoint_id = $checkpoint.Id.ToString()
            name = [string]$checkpoint.Name
            created = $checkpoint.CreationTime.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'")
            checkpoint_type = $entry['before']
        })
    }
    [ordered]@{ checkpoints = $checkpoints; failures = $failures }
}

function Remove-SmhvCheckpointSet {
    # Remove-VMSnapshot of each entry's 'checkpoint' (Hyper-V merges its .avhdx files into their parents) side by
    # side, one at a time per VM ('key'): Hyper-V runs one operation on a VM at a time. Sets each entry's 'error'
    # when its merge failed.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][System.Collections.IList]$Entries
    )
    $limit = Get-SmhvCheckpointJobLimit
    $waiting = New-SmhvList
    foreach ($entry in $Entries) {
        $waiting.Add($entry)
    }
    $running = @{}
    while ($waiting.Count -gt 0 -or $running.Count -gt 0) {
        foreach ($entry in @($waiting)) {
            if ($running.Count -ge $limit) {
                break
            }
            $busy = @($running.Values | Where-Object -FilterScript { $_['key'] -eq $entry['key'] }).Count -gt 0
            if ($busy) {
                continue
            }
            $null = $waiting.Remove($entry)
            try {
                $entry['job'] = Remove-VMSnapshot -VMSnapshot $entry['checkpoint'] -AsJob
                $running[$entry['job'].Id] = $entry
            } catch {
                $entry['error'] = $_.Exception.Message
            }
        }
        if ($running.Count -gt 0) {
            $null = Wait-SmhvEndedJob -Running $running
        }
    }
}
