"""Pre- and post-scripts: a .cmd or .bat script runs through cmd.exe, which interprets & | < > ^ ( ) and
quotes and expands %NAME% even inside quotes, so the controller refuses such arguments before anything
runs (and the agent refuses them again, with the same character class)."""
from __future__ import annotations

import datetime
import re

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import agent

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup import plan as backup_plan
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.backup.plan import BackupOptions, Script, runs_in_cmd, script_variables
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.policies import build_policy

BAD = ["a&calc", "a|b", "a>b", "a<b", "a^b", "%PATH%", "!X!", 'a"b', "a(b)", "a)b", "line\nbreak", "cr\rx", "nul\x00"]


@pytest.mark.parametrize("path", ["C:\\s\\post.cmd", "C:\\s\\post.bat", "C:\\s\\POST.Cmd", "C:\\s\\post.cmd.", "C:\\s\\post.bat . ",
                                  "\\\\fs\\share\\post.cmd"])
@pytest.mark.parametrize("bad", BAD)
def test_a_cmd_script_argument_cmd_exe_would_interpret_is_refused(path, bad):
    with pytest.raises(SmhvError) as caught:
        Script.from_option({"path": path, "arguments": ["$VMSnapshot", bad]})
    error = caught.value
    assert error.code == "INVALID_ARGUMENT"
    assert error.message.startswith("Script %s: argument 2 %r has " % (path, bad))
    assert "cmd.exe" in error.message and "expands %NAME% even inside quotes" in error.message and ".ps1" in error.message
    assert error.details["argument"] == 2 and error.details["value"] == bad


@pytest.mark.parametrize("path", ["C:\\s\\post.ps1", "C:\\s\\tool.exe", "C:\\s\\cmd.ps1"])
def test_other_scripts_get_any_argument_as_data(path):
    script = Script.from_option({"path": path, "arguments": BAD})
    assert script.arguments == tuple(BAD)


def test_plain_arguments_still_reach_a_cmd_script_with_the_variables_replaced():
    script = Script.from_option({"path": "C:\\s\\post.cmd", "arguments": ["$VMSnapshot", "-label", "two words", "C:\\x\\y.txt", "a=b,c;d"]})
    variables = script_variables("web_01-02-2026_03.04.05", datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
                                 "smhv_snapinfo_x")
    assert script.arguments_for(variables) == ["web_01-02-2026_03.04.05", "-label", "two words", "C:\\x\\y.txt", "a=b,c;d"]


def test_a_value_substituted_into_a_cmd_script_argument_is_checked_too():
    script = Script.from_option({"path": "C:\\s\\post.cmd", "arguments": ["$SnapInfoSnapshot"]})
    with pytest.raises(SmhvError) as caught:
        script.arguments_for({"VMSnapshot": "v", "SnapInfoName": "n", "SnapInfoSnapshot": "x&y"})
    assert caught.value.code == "INVALID_ARGUMENT" and caught.value.details["value"] == "x&y"


def test_a_cmd_script_path_with_percent_or_quote_is_refused():
    for path in ("C:\\s\\100%.cmd", "C:\\s\\!x.bat", 'C:\\s\\a".cmd'):
        with pytest.raises(SmhvError) as caught:
            Script.from_option({"path": path})
        assert caught.value.code == "INVALID_ARGUMENT" and caught.value.message.startswith("Script path %s has" % path)
    assert Script.from_option({"path": "C:\\Program Files (x86)\\s\\post.cmd"}).path.endswith("post.cmd")


def test_runs_in_cmd():
    assert runs_in_cmd("C:\\a.CMD") and runs_in_cmd("C:\\a.bat.. ") and not runs_in_cmd("C:\\a.cmd.ps1") and not runs_in_cmd("C:\\cmd")


@pytest.mark.parametrize("timeout", [-1, 86401, 10 ** 30])
def test_a_script_timeout_out_of_range_is_refused(timeout):
    with pytest.raises(SmhvError) as caught:
        Script.from_option({"path": "C:\\s\\post.ps1", "timeout": timeout})
    assert caught.value.code == "INVALID_ARGUMENT" and "between 1 and 86400 seconds" in caught.value.message


def test_on_demand_options_and_policies_refuse_before_anything_runs():
    with pytest.raises(SmhvError, match="argument 1 'a&b'"):
        BackupOptions.on_demand("crash", pre_script={"path": "C:\\s\\pre.bat", "arguments": ["a&b"]})
    with pytest.raises(SmhvError, match="argument 1 '%TEMP%'"):
        build_policy("web", "nightly", {"frequency": "daily"}, {"tag": "daily", "count": 7},
                     post_script={"path": "C:\\s\\post.cmd", "arguments": ["%TEMP%"]})
    policy = build_policy("web", "nightly", {"frequency": "daily"}, {"tag": "daily", "count": 7},
                          post_script={"path": "C:\\s\\post.ps1", "arguments": ["%TEMP%&x"]})
    assert policy.post_script["arguments"] == ["%TEMP%&x"]


def _agent_function(name):
    match = re.search(r"^function %s \{\n(.*?)^\}" % name, agent.AGENT_SCRIPT, re.S | re.M)
    assert match, name
    return match.group(1)


def test_the_agent_refuses_the_same_characters_before_it_starts_anything():
    guard = _agent_function("Assert-SmhvCmdSafeScript")
    patterns = re.findall(r"-(?:not)?match '([^']*)'", guard)
    assert patterns == ["\\.(cmd|bat)$", backup_plan._CMD_UNSAFE_IN_PATH.pattern, backup_plan._CMD_UNSAFE.pattern]
    assert "TrimEnd('. '.ToCharArray())" in guard
    body = _agent_function("Invoke-SmhvScript")
    assert body.index("Assert-SmhvCmdSafeScript -Path $path") < body.index("Test-Path") < body.index("Start-SmhvCapturedProcess")


def test_the_lab_mirrors_the_agent_guard():
    from smhv_lab.hyperv import backup_ops
    assert backup_ops._CMD_UNSAFE.pattern == backup_plan._CMD_UNSAFE.pattern
    assert backup_ops._CMD_UNSAFE_IN_PATH.pattern == backup_plan._CMD_UNSAFE_IN_PATH.pattern
