"""scripts/build_agent.py: plugins/module_utils/agent/script.py is what agent/*.ps1 build, and its line map is right."""
from __future__ import annotations

import re

import pytest

from unit.agent import pscheck

BUILD = pscheck.load_build()
AGENT = pscheck.load_agent()


def test_script_py_is_up_to_date_with_the_ps1_files():
    # Fails after a change to agent/*.ps1 without `make agent` (or a hand edit of script.py); the message says which.
    assert BUILD.check() == []


def test_every_line_maps_to_the_same_text_in_its_file():
    files = {}
    script = AGENT.AGENT_SCRIPT.replace(AGENT.AGENT_SHA, BUILD.SHA_PLACEHOLDER)
    for number, text in enumerate(script.splitlines(), 1):
        path, line = AGENT.source_of(number).rsplit(":", 1)
        if path not in files:
            files[path] = (pscheck.REPO / path).read_text(encoding="utf-8").splitlines()
        assert files[path][int(line) - 1] == text, (number, path, line)
    ps1 = {"agent/" + path.name for path in (pscheck.REPO / "agent").glob("*.ps1")}
    assert set(files) == ps1 - {"agent/bootstrap.ps1"}


def test_source_of_names_a_function_where_it_is_written():
    line = AGENT.AGENT_SCRIPT.splitlines().index("function Invoke-SmhvOperation {") + 1
    core = (pscheck.REPO / "agent" / "core.ps1").read_text(encoding="utf-8").splitlines()
    assert AGENT.source_of(line) == "agent/core.ps1:%d" % (core.index("function Invoke-SmhvOperation {") + 1)
    assert AGENT.source_of(1) == "agent/main.ps1:1"
    last = AGENT.AGENT_SCRIPT.count("\n")
    assert re.fullmatch(r"agent/main\.ps1:\d+", AGENT.source_of(last))
    for outside in (0, -1, last + 1, None, "12", True):
        assert AGENT.source_of(outside) is None


def test_the_sha_rule_is_unchanged():
    # The first 16 hex digits of the SHA-256 of the text with the placeholder, then put in its place.
    assembly = BUILD.assemble()
    assert AGENT.AGENT_SHA == BUILD.agent_sha(assembly.script)
    assert AGENT.AGENT_SCRIPT == assembly.script.replace("@@AGENT_SHA@@", AGENT.AGENT_SHA)
    assert AGENT.BOOTSTRAP_SCRIPT == assembly.bootstrap


@pytest.fixture
def agent_dir(tmp_path, monkeypatch):
    """A copy of agent/ the build reads instead."""
    for path in (pscheck.REPO / "agent").glob("*.ps1"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(BUILD, "AGENT_DIR", tmp_path)
    return tmp_path


def test_a_changed_ps1_file_is_named(agent_dir):
    files = agent_dir / "files.ps1"
    files.write_text(files.read_text(encoding="utf-8").replace("function Get-SmhvFileList {", "function Get-SmhvFileList {\n    # new"),
                     encoding="utf-8")
    problems = BUILD.check()
    assert len(problems) == 1 and "script.py is out of date" in problems[0] and "(changed: agent/files.ps1)" in problems[0]


def test_crlf_line_ends_build_the_same_agent(agent_dir):
    before = BUILD.generate()
    for path in agent_dir.glob("*.ps1"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert BUILD.generate() == before


@pytest.mark.parametrize("change, message", [
    (lambda d: (d / "extra.ps1").write_text("function Get-SmhvExtra {\n}\n", encoding="utf-8"),
     "main.ps1 does not dot-source extra.ps1"),
    (lambda d: (d / "registry.ps1").unlink(), "agent/registry.ps1: no such file"),
    (lambda d: (d / "core.ps1").write_text("# caf\u00e9\n", encoding="utf-8"), "agent/core.ps1:1: not ASCII"),
    (lambda d: (d / "main.ps1").write_text((d / "main.ps1").read_text(encoding="utf-8").replace(
        '. "$PSScriptRoot\\core.ps1"', ". $PSScriptRoot/core.ps1"), encoding="utf-8"), "main.ps1:7: dot-source a file"),
    (lambda d: (d / "backup.ps1").write_text('. "$PSScriptRoot\\core.ps1"\n', encoding="utf-8"),
     "agent/backup.ps1:1: only main.ps1 dot-sources files"),
])
def test_a_broken_agent_directory_is_refused(agent_dir, change, message):
    change(agent_dir)
    with pytest.raises(BUILD.BuildError, match=re.escape(message)):
        BUILD.generate()


def test_a_static_check_names_the_ps1_file_and_line(agent_dir):
    files = agent_dir / "files.ps1"
    lines = files.read_text(encoding="utf-8").splitlines()
    at = len(lines) - 1  # in the file's last function, before its closing brace
    lines.insert(at, "    Get-SmhvNothing")
    files.write_text("\n".join(lines) + "\n", encoding="utf-8")
    built = BUILD.load(BUILD.generate())
    catalog = pscheck.Catalog(pscheck.load_catalog())
    problems = pscheck.locate(pscheck.check_commands(built.AGENT_SCRIPT, catalog), built.source_of)
    assert problems == ["agent/files.ps1:%d: unknown command 'Get-SmhvNothing': neither defined in the script nor a cmdlet "
                        "in the catalog (aliases are not allowed)" % (at + 1)]


def test_no_line_of_the_generated_script_is_longer_than_sanity_allows():
    # ansible-test's pep8 refuses lines over 160 characters in script.py, which carries the .ps1 lines as they are.
    long_lines = [AGENT.source_of(number) for number, line in enumerate(AGENT.AGENT_SCRIPT.splitlines(), start=1) if len(line) > 160]
    assert not long_lines, "shorten these agent lines to 160 characters or fewer: %s" % ", ".join(long_lines)
