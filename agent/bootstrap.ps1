$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$lines = foreach ($line in $input) {
    if ($line -eq "`0`0`0`0") {
        break
    }
    $line
}
$payload = ConvertFrom-Json -InputObject ($lines -join "`n")
$agent = [scriptblock]::Create($payload.script)
& $agent -Request $payload.request
