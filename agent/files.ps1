# ---------------------------------------------------------------------------------------------
# path_info and files
# ---------------------------------------------------------------------------------------------

function Get-SmhvPathInfo {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'paths' -Type StringList -Required
    $records = New-SmhvList
    foreach ($path in $paths) {
        Assert-SmhvAbsolutePath -Path $path -Argument 'paths'
        $records.Add([ordered]@{
            path = $path
            exists = Test-Path -LiteralPath $path
            is_directory = Test-Path -LiteralPath $path -PathType Container
            storage = Get-SmhvPathStorage -Path $path
        })
    }
    New-SmhvOpResult -Result ([ordered]@{ paths = $records })
}

function Get-SmhvSha256 {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][byte[]]$Bytes
    )
    $algorithm = [System.Security.Cryptography.SHA256]::Create()
    try {
        [System.BitConverter]::ToString($algorithm.ComputeHash($Bytes)).Replace('-', '').ToLowerInvariant()
    } finally {
        $algorithm.Dispose()
    }
}

function ConvertFrom-SmhvContent {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyString()][string]$Content,
        [Parameter(Mandatory)][string]$Encoding
    )
    if ($Encoding -eq 'base64') {
        try {
            return , [System.Convert]::FromBase64String($Content)
        } catch {
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'content' is not valid base64." -Details @{ argument = 'content' })
        }
    }
    , (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false).GetBytes($Content)
}

function ConvertTo-SmhvContent {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][byte[]]$Bytes,
        [Parameter(Mandatory)][string]$Encoding
    )
    if ($Encoding -eq 'base64') {
        return [System.Convert]::ToBase64String($Bytes)
    }
    $utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false
    # A UTF-8 byte order mark is not part of the text.
    if ($Bytes.Length -ge 3 -and $Bytes[0] -eq 0xEF -and $Bytes[1] -eq 0xBB -and $Bytes[2] -eq 0xBF) {
        return $utf8.GetString($Bytes, 3, $Bytes.Length - 3)
    }
    $utf8.GetString($Bytes)
}

function Get-SmhvEncodingArgument {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments
    )
    $encoding = Get-SmhvArgument -Arguments $Arguments -Name 'encoding' -Type String -Default 'utf-8'
    if ($encoding -cne 'utf-8' -and $encoding -cne 'base64') {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'encoding' must be 'utf-8' or 'base64'." -Details @{ argument = 'encoding' })
    }
    $encoding
}

function Read-SmhvFile {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'paths' -Type StringList -Required
    $encoding = Get-SmhvEncodingArgument -Arguments $Arguments
    $missingOk = Get-SmhvArgument -Arguments $Arguments -Name 'missing_ok' -Type Boolean -Default $false
    $files = New-SmhvList
    foreach ($path in $paths) {
        Assert-SmhvAbsolutePath -Path $path -Argument 'paths'
        if (-not (Test-Path -LiteralPath $path -PathType Leaf)) {
            if (-not $missingOk) {
                throw (New-SmhvError -Code 'FILE_NOT_FOUND' -Message "File '$path' does not exist." -Details @{ path = $path })
            }
            $files.Add([ordered]@{ path = $path; exists = $false; size = $null; sha256 = $null; content = $null })
            continue
        }
        $bytes = [System.IO.File]::ReadAllBytes($path)
        $files.Add([ordered]@{
            path = $path
            exists = $true
            size = $bytes.Length
            sha256 = Get-SmhvSha256 -Bytes $bytes
            content = ConvertTo-SmhvContent -Bytes $bytes -Encoding $encoding
        })
    }
    New-SmhvOpResult -Result ([ordered]@{ files = $files; encoding = $encoding })
}

function Get-SmhvFileSha256 {
    # The hash of a file's bytes, or $null when there is no such file.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path
    )
    if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
        return $null
    }
    Get-SmhvSha256 -Bytes ([System.IO.File]::ReadAllBytes($Path))
}

function Assert-SmhvWriteCondition {
    # The condition of a conditional file_write against the file's current hash ($null: no file).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path,
        # [object], not [string]: PowerShell would turn $null into '' for a string parameter.
        [AllowNull()][object]$Current,
        [AllowNull()][object]$Expected,
        [bool]$CreateOnly
    )
    $details = [ordered]@{ path = $Path; expected_sha256 = $Expected; create_only = $CreateOnly; actual_sha256 = $Current }
    if ($CreateOnly -and $null -ne $Current) {
        throw (New-SmhvError -Code 'WRITE_CONFLICT' -Message "File '$Path' already exists (create_only)." -Details $details)
    }
    if ($null -ne $Expected -and $Current -ne $Expected) {
        $found = 'no file'
        if ($null -ne $Current) {
            $found = "sha256 $Current"
        }
        throw (New-SmhvError -Code 'WRITE_CONFLICT' -Message "File '$Path' changed underneath: expected sha256 $Expected, found $found." -Details $details)
    }
}

function Assert-SmhvFence {
    # A fenced file_write or file_delete acts only while the lease file 'fence_path' carries 'fence_token' and is not
    # released: an operation whose lease was taken over (it expired, another run took it) can then neither commit a record
    # nor delete one. Only the holder rewrites its lease (renewals keep the token), so the token is the whole test.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'fence_path' -Type String -Default $null
    $token = Get-SmhvArgument -Arguments $Arguments -Name 'fence_token' -Type String -Default $null
    if ($null -eq $path -and $null -eq $token) {
        return
    }
    if ($null -eq $path -or $null -eq $token) {
        $message = "Arguments 'fence_path' and 'fence_token' go together."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'fence_path' })
    }
    Assert-SmhvAbsolutePath -Path $path -Argument 'fence_path'
    $found = $null
    $released = $false
    if (Test-Path -LiteralPath $path -PathType Leaf) {
        $lease = [System.IO.File]::ReadAllText($path) | ConvertFrom-Json
        if ($null -ne $lease.PSObject.Properties['token']) {
            $found = $lease.token
        }
        if ($null -ne $lease.PSObject.Properties['released']) {
            $released = [bool]$lease.released
        }
    }
    if ($found -ne $token -or $released) {
        $state = ''
        if ($released) {
            $state = ', released'
        }
        $message = "The lease '$path' is no longer held by this operation (its token is now '$found'$state); nothing was changed."
        $details = [ordered]@{ path = $path; token = $token; found_token = $found; released = $released }
        throw (New-SmhvError -Code 'LEASE_LOST' -Message $message -Details $details)
    }
}

function Enter-SmhvFileLock {
    # The lock that makes a file_write's compare and replace one step for every writer of the file:
    # '<path>.lock', created with FileMode.CreateNew (exactly one creator wins, on NTFS and on a CSV
    # that several cluster nodes write) and held open without sharing until the caller disposes it.
    # DeleteOnClose has Windows remove the file when the handle closes, also when the process dies.
    # Stale locks: a lock file older than $StaleSeconds whose holder vanished without closing it (a
    # node that lost power mid-write) is deleted. The delete only succeeds when no process holds the
    # file open (holders open it without FileShare.Delete), so a live lock is never broken; otherwise
    # the writer waits, and after $TimeoutMilliseconds answers WRITE_LOCKED naming the lock file.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][string]$Path,
        [int]$TimeoutMilliseconds = 10000,
        [int]$StaleSeconds = 120
    )
    $lockPath = $Path + '.lock'
    $deadline = [System.DateTime]::UtcNow.AddMilliseconds($TimeoutMilliseconds)
    $reason = ''
    while ($true) {
        try {
            return New-Object -TypeName System.IO.FileStream -ArgumentList @($lockPath, [System.IO.FileMode]::CreateNew,
                [System.IO.FileAccess]::Write, [System.IO.FileShare]::None, 1, [System.IO.FileOptions]::DeleteOnClose)
        } catch {
            # New-Object wraps the constructor's exception: find the IO failure (the file exists, or a
            # delete of the previous lock is still pending, which Windows reports as access denied).
            $inner = $_.Exception
            while ($null -ne $inner.InnerException -and $inner -isnot [System.IO.IOException] -and $inner -isnot [System.UnauthorizedAccessException]) {
                $inner = $inner.InnerException
            }
            if ($inner -isnot [System.IO.IOException] -and $inner -isnot [System.UnauthorizedAccessException]) {
                throw
            }
            $reason = $inner.Message
        }
        $age = $null
        if ([System.IO.File]::Exists($lockPath)) {
            $age = ([System.DateTime]::UtcNow - [System.IO.File]::GetLastWriteTimeUtc($lockPath)).TotalSeconds
            if ($age -gt $StaleSeconds) {
                try {
                    [System.IO.File]::Delete($lockPath)
                    continue
                } catch {
                    $reason = "the lock is $([int]$age) s old but still held open: $($_.Exception.Message)"
                }
            }
        }
        if ([System.DateTime]::UtcNow -ge $deadline) {
            $message = "File '$Path' stayed locked by another writer for $TimeoutMilliseconds ms ($lockPath; $reason). Try again; a lock " +
                "file older than $StaleSeconds s that no process holds open is removed by the next writer."
            throw (New-SmhvError -Code 'WRITE_LOCKED' -Message $message -Details ([ordered]@{ path = $Path; lock_path = $lockPath; age_seconds = $age }))
        }
        [System.Threading.Thread]::Sleep(25)
    }
}

function Write-SmhvFile {
    # Atomic and idempotent: same content -> unchanged; otherwise a temporary file in the same
    # directory (same volume) replaces the target in one rename, so a reader never sees half a file.
    # Conditional (compare-and-swap): expected_sha256 replaces only the file with that hash,
    # create_only creates only a file that is not there; a failed condition answers WRITE_CONFLICT
    # with the hash found. Every write that changes the file compares and replaces while holding
    # '<path>.lock' (Enter-SmhvFileLock), so writers on several cluster nodes cannot interleave; and
    # create_only's rename is File.Move, which refuses to overwrite a file that appeared meanwhile.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'path' -Type String -Required
    $content = Get-SmhvArgument -Arguments $Arguments -Name 'content' -Type String -Required
    $encoding = Get-SmhvEncodingArgument -Arguments $Arguments
    $createDirs = Get-SmhvArgument -Arguments $Arguments -Name 'create_dirs' -Type Boolean -Default $false
    $expected = Get-SmhvArgument -Arguments $Arguments -Name 'expected_sha256' -Type String -Default $null
    $createOnly = Get-SmhvArgument -Arguments $Arguments -Name 'create_only' -Type Boolean -Default $false
    Assert-SmhvAbsolutePath -Path $path -Argument 'path'
    if ($null -ne $expected) {
        if ($expected -notmatch '^[0-9A-Fa-f]{64}$') {
            $message = "Argument 'expected_sha256' must be 64 hexadecimal digits."
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'expected_sha256' })
        }
        if ($createOnly) {
            $message = "Arguments 'expected_sha256' and 'create_only' exclude each other."
            throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'create_only' })
        }
        $expected = $expected.ToLowerInvariant()
    }
    $bytes = ConvertFrom-SmhvContent -Content $content -Encoding $encoding
    $sha256 = Get-SmhvSha256 -Bytes $bytes
    $result = [ordered]@{ path = $path; size = $bytes.Length; sha256 = $sha256; previous_sha256 = $null }
    $directory = [System.IO.Path]::GetDirectoryName($path)
    if ([string]::IsNullOrEmpty($directory) -or [string]::IsNullOrEmpty([System.IO.Path]::GetFileName($path))) {
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message "Argument 'path': '$path' does not name a file." -Details @{ argument = 'path'; path = $path })
    }
    $directoryExists = Test-Path -LiteralPath $directory -PathType Container
    if (-not $directoryExists -and -not $createDirs) {
        $message = "Directory '$directory' does not exist (set create_dirs to create it)."
        throw (New-SmhvError -Code 'PATH_NOT_FOUND' -Message $message -Details @{ path = $path; directory = $directory })
    }
    $current = Get-SmhvFileSha256 -Path $path
    Assert-SmhvWriteCondition -Path $path -Current $current -Expected $expected -CreateOnly $createOnly
    Assert-SmhvFence -Arguments $Arguments
    $result.previous_sha256 = $current
    if ($current -eq $sha256) {
        return New-SmhvOpResult -Result $result
    }
    if ($CheckMode) {
        return New-SmhvOpResult -Result $result -Changed $true
    }
    if (-not $directoryExists) {
        $null = [System.IO.Directory]::CreateDirectory($directory)
    }
    $lock = Enter-SmhvFileLock -Path $path
    $temporary = [System.IO.Path]::Combine($directory, ('.{0}.{1}.tmp' -f [System.IO.Path]::GetFileName($path), [guid]::NewGuid().ToString('N')))
    try {
        # Under the lock: the file may have changed since the first look.
        $current = Get-SmhvFileSha256 -Path $path
        Assert-SmhvWriteCondition -Path $path -Current $current -Expected $expected -CreateOnly $createOnly
        Assert-SmhvFence -Arguments $Arguments
        $result.previous_sha256 = $current
        if ($current -eq $sha256) {
            return New-SmhvOpResult -Result $result
        }
        [System.IO.File]::WriteAllBytes($temporary, $bytes)
        if ($null -ne $current) {
            # [NullString]::Value: PowerShell would pass $null to a string parameter as '', which File.Replace rejects.
            [System.IO.File]::Replace($temporary, $path, [NullString]::Value)
        } else {
            try {
                [System.IO.File]::Move($temporary, $path)
            } catch {
                # A writer that does not take the lock (an older agent) created the file meanwhile.
                if (-not $createOnly -or -not [System.IO.File]::Exists($path)) {
                    throw
                }
                Assert-SmhvWriteCondition -Path $path -Current (Get-SmhvFileSha256 -Path $path) -Expected $expected -CreateOnly $createOnly
            }
        }
    } finally {
        if ([System.IO.File]::Exists($temporary)) {
            [System.IO.File]::Delete($temporary)
        }
        $lock.Dispose()
    }
    New-SmhvOpResult -Result $result -Changed $true
}

function ConvertTo-SmhvNameList {
    # file_list's `names`: the lines joined by LF; with -Compress, that text in UTF-8, gzip-compressed (GZipStream, in
    # System.dll since .NET 2.0, so no Add-Type), in base64.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][AllowEmptyCollection()][string[]]$Lines,
        [bool]$Compress = $false
    )
    $text = [string]::Join("`n", $Lines)
    if (-not $Compress) {
        return $text
    }
    $bytes = [System.Text.Encoding]::UTF8.GetBytes($text)
    $buffer = New-Object -TypeName System.IO.MemoryStream
    $gzip = New-Object -TypeName System.IO.Compression.GZipStream -ArgumentList $buffer, ([System.IO.Compression.CompressionMode]::Compress)
    try {
        $gzip.Write($bytes, 0, $bytes.Length)
    } finally {
        $gzip.Dispose()  # writes the gzip trailer; the MemoryStream keeps its bytes for ToArray()
    }
    [System.Convert]::ToBase64String($buffer.ToArray())
}

function Get-SmhvFileList {
    # format 'entries': one object per entry. 'names' and 'names_gzip': the paths relative to $path, one per line, a
    # directory's ending in '\' (RESULT_SCHEMAS): 10,000 catalog records answer in a few dozen KB instead of 1.8 MB.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $path = Get-SmhvArgument -Arguments $Arguments -Name 'path' -Type String -Required
    $recurse = Get-SmhvArgument -Arguments $Arguments -Name 'recurse' -Type Boolean -Default $false
    $filter = Get-SmhvArgument -Arguments $Arguments -Name 'filter' -Type String -Default '*'
    $format = Get-SmhvArgument -Arguments $Arguments -Name 'format' -Type String -Default 'entries'
    if ($format -cne 'entries' -and $format -cne 'names' -and $format -cne 'names_gzip') {
        $message = "Argument 'format' must be 'entries' or 'names' or 'names_gzip'."
        throw (New-SmhvError -Code 'BAD_REQUEST' -Message $message -Details @{ argument = 'format' })
    }
    Assert-SmhvAbsolutePath -Path $path -Argument 'path'
    $entries = New-SmhvList
    $lines = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $result = [ordered]@{ path = $path; exists = $false; format = $format; entries = $entries; names = $null }
    if (Test-Path -LiteralPath $path -PathType Container) {
        $result.exists = $true
        # Children's FullName starts with the directory's FullName as the provider normalised it, not with $path.
        $prefix = (Get-Item -LiteralPath $path -Force).FullName.TrimEnd('\') + '\'
        $items = @(Get-ChildItem -LiteralPath $path -Filter $filter -Recurse:$recurse -Force)
        # Ordinal order of the upper-cased paths: the same on every host whatever its culture, and in the lab.
        # A foreach statement, not a pipeline: per-item pipeline calls cost seconds on 10,000 items.
        $keys = New-Object -TypeName 'string[]' -ArgumentList $items.Count
        for ($index = 0; $index -lt $items.Count; $index++) {
            $keys[$index] = $items[$index].FullName.ToUpperInvariant()
        }
        [System.Array]::Sort($keys, $items, [System.StringComparer]::Ordinal)
        foreach ($item in $items) {
            $fullName = [string]$item.FullName
            if ($format -ceq 'entries') {
                $size = $null
                if (-not $item.PSIsContainer) {
                    $size = [long]$item.Length
                }
                $entries.Add([ordered]@{ path = $fullName; name = [string]$item.Name; is_directory = [bool]$item.PSIsContainer; size = $size })
                continue
            }
            if (-not $fullName.StartsWith($prefix, [System.StringComparison]::OrdinalIgnoreCase)) {
                $message = "Listing '$path' found '$fullName', which is not below '$prefix'."
                throw (New-SmhvError -Code 'AGENT_ERROR' -Message $message -Details @{ path = $path; entry = $fullName })
            }
            $relative = $fullName.Substring($prefix.Length)
            if ($item.PSIsContainer) {
                $relative += '\'
            }
            $lines.Add($relative)
        }
    }
    if ($format -cne 'entries') {
        $result.names = ConvertTo-SmhvNameList -Lines $lines.ToArray() -Compress ($format -ceq 'names_gzip')
    }
    New-SmhvOpResult -Result $result
}

function Remove-SmhvFile {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)][psobject]$Arguments,
        [bool]$CheckMode
    )
    $paths = Get-SmhvArgument -Arguments $Arguments -Name 'paths' -Type StringList -Required
    $recurse = Get-SmhvArgument -Arguments $Arguments -Name 'recurse' -Type Boolean -Default $false
    Assert-SmhvFence -Arguments $Arguments
    $deleted = New-SmhvList
    $missing = New-SmhvList
    foreach ($path in $paths) {
        Assert-SmhvAbsolutePath -Path $path -Argument 'paths'
        if (-not (Test-Path -LiteralPath $path)) {
            $missing.Add($path)
            continue
        }
        $isDirectory = Test-Path -LiteralPath $path -PathType Container
        if ($isDirectory -and -not $recurse -and @(Get-ChildItem -LiteralPath $path -Force).Count -gt 0) {
            $message = "Directory '$path' is not empty (set recurse to delete it with its content)."
            throw (New-SmhvError -Code 'DIRECTORY_NOT_EMPTY' -Message $message -Details @{ path = $path })
        }
        if (-not $CheckMode) {
            Remove-Item -LiteralPath $path -Recurse:$isDirectory -Force
        }
        $deleted.Add($path)
    }
    New-SmhvOpResult -Result ([ordered]@{ deleted = $deleted; missing = $missing }) -Changed ($deleted.Count -gt 0)
}
