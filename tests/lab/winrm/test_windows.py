"""The helpers executors use to answer like cmd.exe and powershell.exe."""
from __future__ import annotations

import base64

import pytest
import winrm
from ansible.plugins.shell.powershell import _parse_clixml

from smhv_lab.winrm import windows

SCRIPT = "Get-VM | ConvertTo-Json"
ENCODED = base64.b64encode(SCRIPT.encode("utf-16-le")).decode()


@pytest.mark.parametrize("switch", ["-EncodedCommand", "-encodedcommand", "-enc", "-e", "-ec", "/EncodedCommand"])
def test_encoded_script_accepts_powershell_abbreviations(switch):
    line = f"PowerShell -NoProfile -ExecutionPolicy Unrestricted {switch} {ENCODED}"
    assert windows.encoded_script(line) == SCRIPT


@pytest.mark.parametrize("line", ["powershell -ExecutionPolicy Bypass -File x.ps1", "echo -enc", "cmd /c dir",
                                  "powershell -enc not-base64!"])
def test_encoded_script_is_none_without_an_encoded_command(line):
    assert windows.encoded_script(line) is None


def test_clixml_error_reads_back_through_ansible_and_pywinrm():
    message = "first line\nsecond <line> & tab\there, _x0041_ stays literal"
    stderr = windows.clixml_error(message)

    assert stderr.startswith(b"#< CLIXML\r\n<Objs ")
    assert _parse_clixml(stderr) == (message.replace("\n", "\r\n") + "\r\n").encode()  # one record per line
    assert winrm.Session("localhost", auth=("u", "p"))._clean_error_msg(stderr).startswith(b"first line\nsecond <line>")


def test_clixml_progress_is_not_an_error():
    stderr = windows.clixml_progress("Preparing modules for first use.")
    assert b'<Obj S="progress"' in stderr and b"<AV>Preparing modules for first use.</AV>" in stderr
    assert _parse_clixml(stderr) == b""
