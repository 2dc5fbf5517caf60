# Installs a go-disk-guard release archive for the goDiskGuard step on a Windows agent.
# In:  GDG_URL, GDG_SUMS_URL, GDG_ARCHIVE, GDG_DIR, GDG_SHA256 (see install.sh).
# Out: GDG_DIR\go-disk-guard.exe and GDG_DIR\.verified. Exit 2: checksum mismatch (nothing
#      installed); exit 1: any other failure.
# Messages show values with line breaks and other control characters escaped (Shown), and a
# checksum only when it is 64 hex digits: nothing a server sends can add a line to the log.
$ErrorActionPreference = 'Stop'
function Shown([string] $Value) {
    $out = New-Object System.Text.StringBuilder
    foreach ($c in $Value.ToCharArray()) {
        if ($c -eq "`n") { [void]$out.Append('\n') }
        elseif ($c -eq "`r") { [void]$out.Append('\r') }
        elseif ([char]::IsControl($c) -or $c -eq [char]0x2028 -or $c -eq [char]0x2029) {
            [void]$out.Append(('\x{0:x2}' -f [int]$c))
        }
        else { [void]$out.Append($c) }
    }
    return $out.ToString()
}
$ProgressPreference = 'SilentlyContinue'
$tmp = "$($env:GDG_DIR).partial.$PID"
try {
    if (Test-Path $tmp) { Remove-Item -Recurse -Force $tmp }
    New-Item -ItemType Directory -Force -Path $tmp | Out-Null
    $archive = Join-Path $tmp $env:GDG_ARCHIVE
    Invoke-WebRequest -UseBasicParsing -Uri $env:GDG_URL -OutFile $archive
    $expected = $env:GDG_SHA256
    if (-not $expected) {
        $sums = Join-Path $tmp 'SHA256SUMS'
        Invoke-WebRequest -UseBasicParsing -Uri $env:GDG_SUMS_URL -OutFile $sums
        foreach ($line in Get-Content $sums) {
            $parts = $line -split '\s+', 2
            if ($parts.Count -eq 2 -and $parts[1].TrimStart('*') -eq $env:GDG_ARCHIVE) { $expected = $parts[0] }
        }
    }
    if (-not ($expected -match '^[0-9a-fA-F]{64}$')) {
        [Console]::Error.WriteLine("go-disk-guard: no valid SHA-256 for $(Shown $env:GDG_ARCHIVE)")
        exit 2
    }
    $actual = (Get-FileHash -Algorithm SHA256 -Path $archive).Hash.ToLowerInvariant()
    if ($actual -ne $expected.ToLowerInvariant()) {
        [Console]::Error.WriteLine("go-disk-guard: checksum mismatch for $(Shown $env:GDG_ARCHIVE): expected $expected, got $actual")
        exit 2
    }
    Expand-Archive -Path $archive -DestinationPath $tmp -Force
    Remove-Item -Force $archive
    if (-not (Test-Path (Join-Path $tmp 'go-disk-guard.exe'))) { exit 1 }
    New-Item -ItemType File -Path (Join-Path $tmp '.verified') | Out-Null
    New-Item -ItemType Directory -Force -Path (Split-Path -Parent $env:GDG_DIR) | Out-Null
    if (Test-Path $env:GDG_DIR) { Remove-Item -Recurse -Force $env:GDG_DIR }
    Move-Item -Path $tmp -Destination $env:GDG_DIR
    exit 0
} catch {
    [Console]::Error.WriteLine("go-disk-guard: $(Shown "$_")")
    exit 1
} finally {
    if (Test-Path $tmp) { Remove-Item -Recurse -Force $tmp }
}
