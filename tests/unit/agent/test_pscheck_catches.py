"""The static checks can fail: each kind of mistake in a snippet is reported."""
from __future__ import annotations

from unit.agent import pscheck

CATALOG = pscheck.Catalog(pscheck.load_catalog())


def test_syntax_error_is_reported():
    assert pscheck.syntax_errors("function Get-SmhvX {\n    if ($a {\n}\n")


def test_unknown_cmdlet_is_reported():
    problems = pscheck.check_commands("Get-VM\nGet-SmhvNotDefined -Name x\nRemove-EverythingNow\n", CATALOG)
    assert len(problems) == 2
    assert "Get-SmhvNotDefined" in problems[0] and "line 2" in problems[0]
    assert "Remove-EverythingNow" in problems[1]


def test_aliases_are_reported():
    problems = pscheck.check_commands("Get-VM | ? { $_ } | % { $_ }\nls C:\\\n", CATALOG)
    assert len(problems) == 3


def test_unknown_parameter_is_reported():
    problems = pscheck.check_commands("Get-VM -Nmae 'x'\nGet-Disk -SerialNumber 'x'\n", CATALOG)
    assert problems == ["line 1: cmdlet Get-VM has no parameter -Nmae"]


def test_parameter_aliases_pass_and_abbreviations_do_not():
    assert pscheck.check_commands("Get-VM -VMName 'x' -ErrorAction Stop\n", CATALOG) == []
    assert pscheck.check_commands("Get-VM -Na 'x'\n", CATALOG) == ["line 1: cmdlet Get-VM has no parameter -Na"]


def test_function_parameters_are_checked():
    script = ("function Get-SmhvX {\n    [CmdletBinding()]\n    param(\n        [string]$Name\n    )\n    $Name\n}\n"
              "Get-SmhvX -Name a -Verbose\nGet-SmhvX -Nmae a\n")
    assert pscheck.check_commands(script, CATALOG) == ["line 9: function Get-SmhvX has no parameter -Nmae"]


def test_splat_keys_are_checked():
    good = "function Get-SmhvX {\n    param(\n        [string]$A\n    )\n    $s = @{ Name = 'x' }\n    $s.ErrorAction = 'Stop'\n    Get-VM @s\n}\n"
    assert pscheck.check_commands(good, CATALOG) == []
    bad = good.replace("$s.ErrorAction", "$s['Colour']")
    assert pscheck.check_commands(bad, CATALOG) == ["line 7: cmdlet Get-VM has no parameter 'colour' (splatted from @s)"]
    opaque = "function Get-SmhvX {\n    param(\n        $s\n    )\n    Get-VM @s\n}\n"
    assert "not a hashtable literal" in pscheck.check_commands(opaque, CATALOG)[0]


def test_dynamic_invocation_is_reported():
    assert pscheck.check_commands("& $command -Name x\n", CATALOG)
    assert pscheck.check_commands("& $command -Name x\n", CATALOG, allow_dynamic=1) == []


def test_code_from_text_is_reported():
    snippets = [
        "Invoke-Expression $Request\n",
        "iex $Request\n",
        "$block = [scriptblock]::Create($name)\n",
        "$block = [System.Management.Automation.ScriptBlock]::Create($name)\n",
        "$ExecutionContext.InvokeCommand.InvokeScript($name)\n",
        "[powershell]::Create().AddScript($name).Invoke()\n",
        "Add-Type -TypeDefinition $source\n",
        "Write-Host $name\n",
    ]
    for snippet in snippets:
        assert pscheck.check_forbidden(snippet), snippet


def test_cmdlets_newer_than_server_2016_are_reported():
    # Get-VMHardDiskDrive exists on 2016; a cmdlet whose catalog versions start later is refused.
    catalog = pscheck.Catalog({"common_parameters": [], "cmdlets": {
        "Get-Future": {"module": "Hyper-V", "versions": ["WindowsServer2025"], "parameters": [], "aliases": {}}}})
    assert "Windows Server 2016+" in pscheck.check_commands("Get-Future\n", catalog)[0]


def test_unapproved_verbs_are_reported():
    script = "function Fetch-SmhvThing {\n    param()\n    1\n}\nfunction Get-Thing {\n    param()\n    1\n}\n"
    problems = pscheck.check_function_names(script)
    assert any("'Fetch' is not an approved verb" in p for p in problems)
    assert any("Smhv noun prefix" in p for p in problems)


def test_problems_name_their_file_and_line():
    problems = ["line 8: unknown command 'x'", "line 9: not mapped", "no line here"]
    located = pscheck.locate(problems, {8: "agent/core.ps1:2"}.get)
    assert located == ["agent/core.ps1:2: unknown command 'x'", "line 9: not mapped", "no line here"]
