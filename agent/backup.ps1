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

function New-SmhvCheckpoint {
    # Production-only checkpoints of many VMs, side by side (New-SmhvProductionCheckpointSet). One VM's failure
    # does not stop the others; the caller removes what was made (checkpoint_remove works by name). Failures list
    # the VMs not found first, then the ones whose checkpoint failed.
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
    $found = New-SmhvList
    foreach ($id in $ids) {
        $key = $id.ToLowerInvariant()
        if (-not $table.ContainsKey($key)) {
            $message = "No virtual machine with id $id on host $env:COMPUTERNAME."
            $failures.Add([ordered]@{ vm_id = $key; vm_name = $null; code = 'VM_NOT_FOUND'; message = $message })
            continue
        }
        $found.Add($table[$key])
    }
    if (-not $CheckMode) {
        $made = New-SmhvProductionCheckpointSet -VMs $found -Name $name
        $checkpoints.AddRange($made['checkpoints'])
        $failures.AddRange($made['failures'])
    }
    $changed = $checkpoints.Count -gt 0 -or ($CheckMode -and $found.Count -gt 0)
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
        $made = New-SmhvProductionCheckpointSet -VMs $online -Name $name
        $checkpoints.AddRange($made['checkpoints'])
        $failures.AddRange($made['failures'])
    }
    $changed = $checkpoints.Count -gt 0 -or ($CheckMode -and $refused -eq 0 -and $online.Count -gt 0)
    $result = [ordered]@{ vms = $vms; missing = $missing; outcomes = $outcomes; checkpoints = $checkpoints; failures = $failures }
    New-SmhvOpResult -Result $result -Changed $changed
}

function Remove-SmhvCheckpoint {
    # Remove the checkpoint called 'name' from each VM (Remove-VMSnapshot; Hyper-V merges the .avhdx files
    # into their parents), the VMs side by side (Remove-SmhvCheckpointSet). By name, not id, so a caller that
    # lost checkpoint_create's answer can still clean up; a VM without such a checkpoint (or gone) is listed in
    # 'missing', not an error.
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
    $merges = New-SmhvList
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
            $merges.Add(@{ key = $key; vm = $vm; checkpoint = $checkpoint; job = $null; output = $null; error = $null })
        }
    }
    if (-not $CheckMode) {
        Remove-SmhvCheckpointSet -Entries $merges
    }
    foreach ($merge in $merges) {
        if ($null -ne $merge['error']) {
            $failures.Add([ordered]@{
                vm_id = $merge['key']
                vm_name = [string]$merge['vm'].Name
                code = 'CHECKPOINT_FAILED'
                message = [string]$merge['error']
            })
            continue
        }
        $removed.Add([ordered]@{ vm_id = $merge['key']; checkpoint_id = $merge['checkpoint'].Id.ToString() })
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
