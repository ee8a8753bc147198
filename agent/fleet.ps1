# ---------------------------------------------------------------------------------------------
# Fleet: firewall rules, hotfixes, reboots, SnapDrive/SMHV packages, SnapDrive-free prerequisites
# ---------------------------------------------------------------------------------------------

function ConvertTo-SmhvCommandLine {
    # The command line whose argv, parsed the way the Microsoft C runtime parses it (CommandLineToArgvW),
    # is exactly $ArgumentList: an element with blanks or quotes is quoted, backslashes before a quote are
    # doubled, quotes are escaped. Python's subprocess.list2cmdline follows the same rules. No element is
    # ever interpreted by a shell: the result goes to ProcessStartInfo.Arguments.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$ArgumentList
    )
    $parts = New-SmhvList
    foreach ($argument in $ArgumentList) {
        if ($argument.Length -gt 0 -and $argument -notmatch '[\s"]') {
            $parts.Add($argument)
            continue
        }
        $builder = New-Object -TypeName System.Text.StringBuilder
        [void]$builder.Append([char]34)
        $backslashes = 0
        foreach ($character in $argument.ToCharArray()) {
            if ([int]$character -eq 92) {
                $backslashes++
                continue
            }
            if ([int]$character -eq 34) {
                [void]$builder.Append([char]92, 2 * $backslashes + 1)
            } elseif ($backslashes -gt 0) {
                [void]$builder.Append([char]92, $backslashes)
            }
            [void]$builder.Append($character)
            $backslashes = 0
        }
        if ($backslashes -gt 0) {
            [void]$builder.Append([char]92, 2 * $backslashes)
        }
        [void]$builder.Append([char]34)
        $parts.Add($builder.ToString())
    }
    $parts -join ' '
}

function Invoke-SmhvProcess {
    # Run a program with an argument array and wait for it; returns its exit code. The command line is
    # never echoed back (installer arguments carry service account passwords).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$FilePath,
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$ArgumentList,
        [int]$TimeoutSeconds = 3600
    )
    $startInfo = New-Object -TypeName System.Diagnostics.ProcessStartInfo
    $startInfo.FileName = $FilePath
    $startInfo.Arguments = ConvertTo-SmhvCommandLine -ArgumentList $ArgumentList
    $startInfo.UseShellExecute = $false
    $startInfo.CreateNoWindow = $true
    $process = [System.Diagnostics.Process]::Start($startInfo)
    try {
        if (-not $process.WaitForExit($TimeoutSeconds * 1000)) {
            $message = "$FilePath did not finish within $TimeoutSeconds seconds; it is still running on the host."
            throw (New-SmhvError -Code 'PROCESS_TIMEOUT' -Message $message -Details @{ path = $FilePath; timeout = $TimeoutSeconds })
        }
        [int]$process.ExitCode
    } finally {
        $process.Dispose()
    }
}

function Get-SmhvFirewallRuleRecord {
    # The rule with this Name (not DisplayName), or $null.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Name
    )
    $rule = Get-NetFirewallRule -Name $Name -ErrorAction SilentlyContinue
    if ($null -eq $rule) {
        return $null
    }
    $filter = Get-NetFirewallPortFilter -AssociatedNetFirewallRule $rule
    $ports = New-SmhvList
    foreach ($entry in @($filter.LocalPort)) {
        $ports.Add([string]$entry)
    }
    [ordered]@{
        name = [string]$rule.Name
        display_name = [string]$rule.DisplayName
        description = [string]$rule.Description
        enabled = $rule.Enabled.ToString() -eq 'True'
        direction = $rule.Direction.ToString()
        action = $rule.Action.ToString()
        profile = $rule.Profile.ToString()
        protocol = [string]$filter.Protocol
        local_ports = $ports
    }
}

function Test-SmhvFirewallRuleMatch {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][System.Collections.IDictionary]$Record,
        [Parameter(Mandatory)][string]$DisplayName,
        [Parameter(Mandatory)][AllowEmptyString()][string]$Description,
        [Parameter(Mandatory)][string[]]$Ports,
        [Parameter(Mandatory)][string]$FirewallProfile
    )
    $wantProfile = (@($FirewallProfile.Split(',') | ForEach-Object -Process { $_.Trim() } | Sort-Object) -join ',')
    $haveProfile = (@($Record.profile.Split(',') | ForEach-Object -Process { $_.Trim() } | Sort-Object) -join ',')
    $havePorts = (@($Record.local_ports | Sort-Object) -join ',')
    $wantPorts = (@($Ports | Sort-Object) -join ',')
    ($Record.display_name -ceq $DisplayName) -and ($Record.description -ceq $Description) -and $Record.enabled -and
    ($Record.direction -eq 'Inbound') -and ($Record.action -eq 'Allow') -and ($Record.protocol -eq 'TCP') -and
    ($havePorts -eq $wantPorts) -and ($haveProfile -eq $wantProfile)
}

function Set-SmhvFirewallRule {
    # op firewall_rule_ensure: one inbound TCP allow rule, found by its Name, present with exactly these
    # ports (created or corrected in place) or absent. Check mode answers what would change.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $name = Get-SmhvArgument -Arguments $Arguments -Name 'name' -Type String -Required
    $state = Get-SmhvArgument -Arguments $Arguments -Name 'state' -Type String -Default 'present'
    $displayName = Get-SmhvArgument -Arguments $Arguments -Name 'display_name' -Type String -Default $name
    $description = Get-SmhvArgument -Arguments $Arguments -Name 'description' -Type String -Default ''
    $firewallProfile = Get-SmhvArgument -Arguments $Arguments -Name 'profile' -Type String -Default 'Any'
    $portNumbers = Get-SmhvArgument -Arguments $Arguments -Name 'ports' -Type IntegerList -Default @()
    if ($state -cne 'present' -and $state -cne 'absent') {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'state' must be 'present' or 'absent'." -Details @{ argument = 'state' })
    }
    $ports = [string[]]@($portNumbers | ForEach-Object -Process { [string]$_ })
    if ($state -eq 'present' -and $ports.Count -eq 0) {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'ports' must list at least one port." -Details @{ argument = 'ports' })
    }
    $before = Get-SmhvFirewallRuleRecord -Name $name
    $changed = $false
    if ($state -eq 'absent') {
        $changed = $null -ne $before
        if ($changed -and -not $CheckMode) {
            Remove-NetFirewallRule -Name $name
        }
    } elseif ($null -eq $before) {
        $changed = $true
        if (-not $CheckMode) {
            $rule = @{
                Name = $name; DisplayName = $displayName; Description = $description; Direction = 'Inbound'
                Protocol = 'TCP'; LocalPort = $ports; Action = 'Allow'; Profile = $firewallProfile; Enabled = 'True'
            }
            [void](New-NetFirewallRule @rule)
        }
    } elseif (-not (Test-SmhvFirewallRuleMatch -Record $before -DisplayName $displayName -Description $description -Ports $ports `
                -FirewallProfile $firewallProfile)) {
        $changed = $true
        if (-not $CheckMode) {
            $update = @{
                Name = $name; NewDisplayName = $displayName; Description = $description; Direction = 'Inbound'
                Protocol = 'TCP'; LocalPort = $ports; Action = 'Allow'; Profile = $firewallProfile; Enabled = 'True'
            }
            Set-NetFirewallRule @update
        }
    }
    $after = $before
    if ($changed -and -not $CheckMode) {
        $after = Get-SmhvFirewallRuleRecord -Name $name
    }
    New-SmhvOpResult -Result ([ordered]@{ name = $name; before = $before; after = $after }) -Changed $changed
}

function Get-SmhvLastBootTime {
    [CmdletBinding()]
    param()
    $os = Get-CimInstance -ClassName 'Win32_OperatingSystem'
    ([datetime]$os.LastBootUpTime).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ')
}

function Get-SmhvRebootReason {
    # Why Windows waits for a restart: the servicing stack, Windows Update, or pending file renames.
    [CmdletBinding()]
    param()
    $reasons = New-SmhvList
    if (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending') {
        $reasons.Add('component_based_servicing')
    }
    if (Test-Path -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') {
        $reasons.Add('windows_update')
    }
    $session = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager'
    if ($null -ne $session.PSObject.Properties['PendingFileRenameOperations']) {
        $reasons.Add('pending_file_rename')
    }
    , $reasons
}

function Get-SmhvBootInfo {
    # op host_boot_info: when the host last booted and whether it waits for a restart.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $reasons = Get-SmhvRebootReason
    $result = [ordered]@{ last_boot_time = Get-SmhvLastBootTime; reboot_pending = $reasons.Count -gt 0; reasons = $reasons }
    New-SmhvOpResult -Result $result
}

function Restart-SmhvHost {
    # op host_reboot: schedule a restart a few seconds out (shutdown.exe /r /t), so this answer gets back
    # to the controller before WinRM stops; the controller then waits for a new boot time.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $reason = Get-SmhvArgument -Arguments $Arguments -Name 'reason' -Type String -Default 'netapp_hyperv.smhv'
    $lastBoot = Get-SmhvLastBootTime
    if (-not $CheckMode) {
        $shutdown = Join-Path -Path $env:SystemRoot -ChildPath 'System32\shutdown.exe'
        # /d p:2:17 = planned, operating system, hotfix installation.
        $exitCode = Invoke-SmhvProcess -FilePath $shutdown -ArgumentList @('/r', '/t', '5', '/d', 'p:2:17', '/c', $reason) -TimeoutSeconds 60
        if ($exitCode -ne 0) {
            throw (New-SmhvError -Code 'REBOOT_FAILED' -Message "shutdown.exe /r answered exit code $exitCode." -Details @{ exit_code = $exitCode })
        }
    }
    New-SmhvOpResult -Result ([ordered]@{ last_boot_time = $lastBoot; scheduled = -not $CheckMode }) -Changed (-not $CheckMode)
}

function Install-SmhvHotfix {
    # op hotfix_install: wusa.exe <kb>.msu /quiet /norestart, the .msu found in a folder (a share) by its
    # KB number. Exit codes: 0 installed, 3010 installed and needs a restart, 0x240006 already installed,
    # 0x80240017 not applicable to this host.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $kb = Get-SmhvArgument -Arguments $Arguments -Name 'kb' -Type String -Required
    $source = Get-SmhvArgument -Arguments $Arguments -Name 'source' -Type String -Required
    Assert-SmhvAbsolutePath -Path $source -Argument 'source'
    if ($kb -cnotmatch '^KB\d{6,8}$') {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'kb': '$kb' is not a KB id like KB2770917." -Details @{ argument = 'kb' })
    }
    $result = [ordered]@{ kb = $kb; file = $null; outcome = ''; exit_code = $null; reboot_required = $false }
    if ($null -ne (Get-HotFix -Id $kb -ErrorAction SilentlyContinue)) {
        $result.outcome = 'already_installed'
        return New-SmhvOpResult -Result $result
    }
    $files = @()
    if (Test-Path -LiteralPath $source -PathType Container) {
        $files = @(Get-ChildItem -LiteralPath $source -Filter ('*' + $kb + '*.msu') -File | Sort-Object -Property Name)
    }
    if ($files.Count -eq 0) {
        $message = "No .msu file for $kb in $source (looked for *$kb*.msu)."
        throw (New-SmhvError -Code 'HOTFIX_FILE_NOT_FOUND' -Message $message -Details @{ kb = $kb; source = $source })
    }
    $result.file = [string]$files[0].FullName
    if ($CheckMode) {
        $result.outcome = 'would_install'
        return New-SmhvOpResult -Result $result -Changed $true
    }
    $wusa = Join-Path -Path $env:SystemRoot -ChildPath 'System32\wusa.exe'
    $exitCode = Invoke-SmhvProcess -FilePath $wusa -ArgumentList @($result.file, '/quiet', '/norestart') -TimeoutSeconds 7200
    $result.exit_code = $exitCode
    switch ($exitCode) {
        0 { $result.outcome = 'installed' }
        3010 { $result.outcome = 'installed'; $result.reboot_required = $true }
        2359302 { $result.outcome = 'already_installed' }
        -2145124329 { $result.outcome = 'not_applicable' }
        default {
            $message = "wusa.exe could not install $kb from $($result.file): exit code $exitCode."
            throw (New-SmhvError -Code 'HOTFIX_INSTALL_FAILED' -Message $message -Details @{ kb = $kb; exit_code = $exitCode })
        }
    }
    New-SmhvOpResult -Result $result -Changed ($result.outcome -eq 'installed')
}

function Get-SmhvInstalledProduct {
    # Programs and Features entries (64- and 32-bit) whose DisplayName starts with one of $Prefixes.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$Prefixes
    )
    $products = New-SmhvList
    $roots = @('HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall', 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall')
    foreach ($root in $roots) {
        if (-not (Test-Path -LiteralPath $root)) {
            continue
        }
        foreach ($key in (Get-ChildItem -LiteralPath $root | Sort-Object -Property PSChildName)) {
            $displayName = [string]$key.GetValue('DisplayName')
            $wanted = @($Prefixes | Where-Object -FilterScript { $displayName.StartsWith($_, [System.StringComparison]::OrdinalIgnoreCase) }).Count -gt 0
            if (-not $displayName -or -not $wanted) {
                continue
            }
            $products.Add([ordered]@{
                name = $displayName
                version = [string]$key.GetValue('DisplayVersion')
                product_code = [string]$key.PSChildName
                publisher = [string]$key.GetValue('Publisher')
            })
        }
    }
    , $products
}

function Get-SmhvPackageInfo {
    # op package_info: installed NetApp products, and what each installer file (local or UNC) contains.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $prefixes = Get-SmhvArgument -Arguments $Arguments -Name 'products' -Type StringList -Default @()
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'installers' -Type StringList -Default @()
    $installers = New-SmhvList
    foreach ($path in $paths) {
        Assert-SmhvAbsolutePath -Path $path -Argument 'installers'
        $record = [ordered]@{ path = $path; exists = $false; product_name = $null; product_version = $null }
        if (Test-Path -LiteralPath $path -PathType Leaf) {
            $info = (Get-Item -LiteralPath $path).VersionInfo
            $record.exists = $true
            $record.product_name = [string]$info.ProductName
            $record.product_version = [string]$info.ProductVersion
        }
        $installers.Add($record)
    }
    New-SmhvOpResult -Result ([ordered]@{ installed = Get-SmhvInstalledProduct -Prefixes $prefixes; installers = $installers })
}

function Invoke-SmhvInstaller {
    # op installer_run: run an installer (setup.exe, .msi through msiexec, or msiexec.exe itself for an
    # uninstall by product code) with an argument array, wait, and judge its exit code: 0 success, 3010
    # and 1641 success with a restart needed, anything else a failure.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'path' -Type String -Required
    $argumentList = Get-SmhvArgument -Arguments $Arguments -Name 'arguments' -Type StringList -Default @()
    $program = $path
    if ($path -ceq 'msiexec.exe') {
        $program = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
    } else {
        Assert-SmhvAbsolutePath -Path $path -Argument 'path'
        if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
            throw (New-SmhvError -Code 'FILE_NOT_FOUND' -Message "Installer $path does not exist or is not readable from this host." -Details @{ path = $path })
        }
        if ($path.EndsWith('.msi', [System.StringComparison]::OrdinalIgnoreCase)) {
            $program = Join-Path -Path $env:SystemRoot -ChildPath 'System32\msiexec.exe'
            $argumentList = @('/i', $path) + @($argumentList)
        }
    }
    $result = [ordered]@{ path = $path; exit_code = $null; reboot_required = $false }
    if ($CheckMode) {
        return New-SmhvOpResult -Result $result -Changed $true
    }
    $exitCode = Invoke-SmhvProcess -FilePath $program -ArgumentList $argumentList -TimeoutSeconds 3600
    $result.exit_code = $exitCode
    if ($exitCode -eq 3010 -or $exitCode -eq 1641) {
        $result.reboot_required = $true
    } elseif ($exitCode -ne 0) {
        $message = "The installer $path failed with exit code $exitCode; see its log on the host."
        throw (New-SmhvError -Code 'INSTALLER_FAILED' -Message $message -Details @{ path = $path; exit_code = $exitCode })
    }
    New-SmhvOpResult -Result $result -Changed $true
}

function Set-SmhvPrerequisite {
    # op prerequisites_ensure: Windows features installed, the MSDSM claim for a vendor/product (MPIO),
    # and services set to start automatically and running. Check mode answers what would change.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $featureNames = Get-SmhvArgument -Arguments $Arguments -Name 'features' -Type StringList -Default @()
    $vendorId = Get-SmhvArgument -Arguments $Arguments -Name 'mpio_vendor_id' -Type String -Default ''
    $productId = Get-SmhvArgument -Arguments $Arguments -Name 'mpio_product_id' -Type String -Default ''
    $serviceNames = Get-SmhvArgument -Arguments $Arguments -Name 'services' -Type StringList -Default @()
    $changed = $false
    $restartNeeded = $false
    $features = New-SmhvList
    if ($featureNames.Count -gt 0) {
        $missing = New-SmhvList
        foreach ($feature in @(Get-WindowsFeature -Name $featureNames)) {
            $installed = [bool]$feature.Installed
            $features.Add([ordered]@{ name = [string]$feature.Name; installed_before = $installed; installed = $installed })
            if (-not $installed) {
                $missing.Add([string]$feature.Name)
            }
        }
        foreach ($name in $featureNames) {
            if (@($features | Where-Object -FilterScript { $_.name -eq $name }).Count -eq 0) {
                throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Windows feature '$name' does not exist on this host." -Details @{ feature = $name })
            }
        }
        if ($missing.Count -gt 0) {
            $changed = $true
            if (-not $CheckMode) {
                $outcome = Install-WindowsFeature -Name $missing.ToArray()
                if (-not $outcome.Success) {
                    $message = "Install-WindowsFeature failed for $($missing -join ', ')."
                    throw (New-SmhvError -Code 'FEATURE_INSTALL_FAILED' -Message $message -Details @{ features = $missing })
                }
                $restartNeeded = $outcome.RestartNeeded.ToString() -eq 'Yes'
                foreach ($record in $features) {
                    $record.installed = $true
                }
            }
        }
    }
    $mpio = $null
    if ($vendorId) {
        $mpio = [ordered]@{ vendor_id = $vendorId; product_id = $productId; claimed_before = $false; claimed = $false }
        if ($null -ne (Get-Command -Name 'Get-MSDSMSupportedHW' -ErrorAction SilentlyContinue)) {
            $claims = @(Get-MSDSMSupportedHW | Where-Object -FilterScript { $_.VendorId.Trim() -eq $vendorId -and $_.ProductId.Trim() -eq $productId })
            $mpio.claimed_before = $claims.Count -gt 0
            $mpio.claimed = $mpio.claimed_before
        }
        if (-not $mpio.claimed_before) {
            $changed = $true
            if (-not $CheckMode) {
                if ($null -eq (Get-Command -Name 'New-MSDSMSupportedHW' -ErrorAction SilentlyContinue)) {
                    $message = 'The MPIO cmdlets are not available yet (Multipath-IO needs a restart); run again after the restart to claim the LUNs.'
                    Add-SmhvWarning -Message $message
                    $restartNeeded = $true
                } else {
                    [void](New-MSDSMSupportedHW -VendorId $vendorId -ProductId $productId)
                    $mpio.claimed = $true
                    $restartNeeded = $true
                }
            }
        }
    }
    $services = New-SmhvList
    foreach ($name in $serviceNames) {
        $service = Get-Service -Name $name -ErrorAction SilentlyContinue
        if ($null -eq $service) {
            throw (New-SmhvError -Code 'SERVICE_NOT_FOUND' -Message "Service '$name' is not installed on this host." -Details @{ service = $name })
        }
        $record = [ordered]@{
            name = $name
            start_type_before = $service.StartType.ToString()
            status_before = $service.Status.ToString()
            start_type = $service.StartType.ToString()
            status = $service.Status.ToString()
        }
        if ($record.start_type_before -ne 'Automatic') {
            $changed = $true
            if (-not $CheckMode) {
                Set-Service -Name $name -StartupType Automatic
                $record.start_type = 'Automatic'
            }
        }
        if ($record.status_before -ne 'Running') {
            $changed = $true
            if (-not $CheckMode) {
                Start-Service -Name $name
                $record.status = (Get-Service -Name $name).Status.ToString()
            }
        }
        $services.Add($record)
    }
    $result = [ordered]@{ features = $features; mpio = $mpio; services = $services; restart_needed = $restartNeeded }
    New-SmhvOpResult -Result $result -Changed $changed
}
