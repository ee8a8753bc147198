"""The Python side of the agent contract: requests, the WinRS payload, and reading answers."""
from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.winhost.sessions import encoded_bootstrap, winrs_stdin
from unit.agent import pscheck

AGENT = pscheck.load_agent()


def test_encode_request_is_ascii_json():
    text = AGENT.encode_request("vm_inventory", {"names": ["vm-\u00e9\u4e2d", "a'; Remove-VM *; '"]}, check_mode=True)
    assert text.isascii()
    assert json.loads(text) == {"op": "vm_inventory", "args": {"names": ["vm-\u00e9\u4e2d", "a'; Remove-VM *; '"]},
                                "check_mode": True}


def test_encode_request_refuses_unknown_ops_and_bad_args():
    with pytest.raises(ValueError, match="unknown agent op"):
        AGENT.encode_request("format_c", {}, False)
    with pytest.raises(ValueError, match="must be a dict"):
        AGENT.encode_request("host_facts", ["x"], False)


def test_bootstrap_fits_the_command_line():
    encoded = encoded_bootstrap()
    assert base64.b64decode(encoded).decode("utf-16-le") == AGENT.BOOTSTRAP_SCRIPT
    command_line = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand " + encoded
    assert len(command_line) < 2000  # cmd.exe's limit is 8191


def test_winrs_stdin_is_one_json_line_and_the_sentinel():
    request = AGENT.encode_request("host_facts", {}, False)
    data = winrs_stdin(request)
    assert data.endswith(AGENT.STDIN_SENTINEL) and data.count(b"\n") == 2
    payload = json.loads(data[: -len(AGENT.STDIN_SENTINEL)])
    assert payload == {"script": AGENT.AGENT_SCRIPT, "request": request}


def test_decode_response_tolerates_noise():
    answer = {"ok": True, "changed": False, "result": {"a": 1}, "warnings": []}
    text = "\r\n\r\n#< CLIXML\r\n<Objs Version=\"1.1.0.1\"></Objs>\r\n" + json.dumps(answer) + "\r\n\r\n"
    assert AGENT.decode_response(text) == answer
    assert AGENT.decode_response(text.encode()) == answer


def test_decode_response_fills_error_details():
    answer = AGENT.decode_response('{"ok":false,"error":{"code":"VM_NOT_FOUND","message":"no vm"}}')
    assert answer["error"] == {"code": "VM_NOT_FOUND", "message": "no vm", "details": {}}


def test_decode_response_names_the_file_and_line_of_an_unexpected_error():
    # ConvertTo-SmhvErrorResponse reports PowerShell's ScriptLineNumber: a line of AGENT_SCRIPT.
    line = AGENT.AGENT_SCRIPT.splitlines().index("function Get-SmhvFileList {") + 1
    text = json.dumps({"ok": False, "error": {"code": "AGENT_ERROR", "message": "Cannot index into a null array.", "details": {
        "op": "file_list", "exception_type": "System.Management.Automation.RuntimeException", "line": line + 1, "command": "$x[0]"}}})
    error = AGENT.decode_response(text)["error"]
    function_line = (pscheck.REPO / "agent" / "files.ps1").read_text(encoding="utf-8").splitlines().index("function Get-SmhvFileList {") + 1
    where = "agent/files.ps1:%d" % (function_line + 1)
    assert error["details"]["source"] == where and error["details"]["line"] == line + 1
    assert error["message"] == where + ": Cannot index into a null array."


def test_decode_response_leaves_other_errors_and_unknown_lines_alone():
    for code, line in (("VM_NOT_FOUND", 10), ("AGENT_ERROR", None), ("AGENT_ERROR", 10 ** 6), ("AGENT_ERROR", True)):
        text = json.dumps({"ok": False, "error": {"code": code, "message": "m", "details": {"line": line}}})
        assert AGENT.decode_response(text)["error"] == {"code": code, "message": "m", "details": {"line": line}}


@pytest.mark.parametrize("text, message", [
    ("", "no JSON document"),
    ("The term 'x' is not recognized", "no JSON document"),
    ('{"ok": true, "changed": false', "malformed JSON"),
    ('{"ok":true,"changed":false,"result":{},"warnings":[]}\n{"ok":true,"changed":false,"result":{},"warnings":[]}', "2 JSON documents"),
    ('{"ok":true,"result":{}}', "breaks the contract"),
    ('{"ok":false,"error":"boom"}', "no error code"),
    ('{"ok":"yes"}', "ok='yes'"),
])
def test_decode_response_rejects_bad_answers(text, message):
    with pytest.raises(ValueError, match=message):
        AGENT.decode_response(text)


def test_validate_result_reports_shape_problems():
    good = {"path": "J:\\a", "size": 1, "sha256": "ab", "previous_sha256": None}
    assert AGENT.validate_result("file_write", good) == []
    assert AGENT.validate_result("file_write", dict(good, previous_sha256="cd")) == []
    problems = AGENT.validate_result("file_write", {"path": "J:\\a", "size": True, "extra": 1})
    assert "file_write: missing key 'sha256'" in problems
    assert "file_write: unexpected key 'extra'" in problems
    assert "file_write.size: expected int, got True" in problems
