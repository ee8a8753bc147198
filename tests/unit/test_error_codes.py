"""Every error code a user can meet is listed, once, in ERROR_CODES: the codes engines raise and the codes
the agent answers with (HostClient passes those through unchanged). Playbooks branch on these codes."""
from __future__ import annotations

import ast
from pathlib import Path

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.agent import AGENT_ERROR_CODES
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import ERROR_CODES

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"


def raised_codes():
    """(file, code) for every SmhvError("<CODE>", ...) with a literal code in plugins/."""
    for path in sorted(PLUGINS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "SmhvError" \
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                yield path.relative_to(PLUGINS).as_posix(), node.args[0].value


def test_the_scan_finds_raised_codes():
    assert len(set(code for _path, code in raised_codes())) > 30


def test_every_raised_code_is_listed():
    missing = sorted(set("%s: %s" % pair for pair in raised_codes() if pair[1] not in ERROR_CODES))
    assert missing == []


def test_every_agent_code_is_listed():
    assert sorted(set(AGENT_ERROR_CODES) - set(ERROR_CODES)) == []


def test_codes_are_upper_case_constants_with_a_description():
    for code, text in ERROR_CODES.items():
        assert code.isupper() and code.replace("_", "").isalpha(), code
        assert text.endswith(".") and len(text) > 15, code
