"""The agent's static checks (DESIGN §3): it parses, calls only real commands with real parameters,
never builds code from text, and its ops return what RESULT_SCHEMAS documents.

The PowerShell checked is what agent/*.ps1 build now (test_agent_build checks that script.py holds the
same), and every problem names its file and line: 'agent/files.ps1:87: ...'.
"""
from __future__ import annotations

import re

import pytest

from unit.agent import pscheck

AGENT = pscheck.load_agent()
BUILT = pscheck.build_from_sources()
CATALOG = pscheck.Catalog(pscheck.load_catalog())
SCRIPTS = {"agent": BUILT.AGENT_SCRIPT, "bootstrap": BUILT.BOOTSTRAP_SCRIPT}
SOURCE_OF = {"agent": BUILT.source_of, "bootstrap": "agent/bootstrap.ps1:{}".format}


def in_files(name, problems):
    return pscheck.locate(problems, SOURCE_OF[name])


@pytest.mark.parametrize("name", SCRIPTS)
def test_parses_without_errors(name):
    assert in_files(name, pscheck.syntax_errors(SCRIPTS[name])) == []


def test_agent_commands_and_parameters_exist():
    assert in_files("agent", pscheck.check_commands(BUILT.AGENT_SCRIPT, CATALOG)) == []


def test_bootstrap_commands_and_parameters_exist():
    # `& $agent -Request ...` is the bootstrap's one dynamic call: it runs the agent.
    assert in_files("bootstrap", pscheck.check_commands(BUILT.BOOTSTRAP_SCRIPT, CATALOG, allow_dynamic=1)) == []


def test_agent_builds_no_code_from_text():
    assert in_files("agent", pscheck.check_forbidden(BUILT.AGENT_SCRIPT)) == []


def test_bootstrap_creates_exactly_one_script_block():
    assert in_files("bootstrap", pscheck.check_forbidden(BUILT.BOOTSTRAP_SCRIPT, allow_scriptblock_create=1)) == []
    assert len(pscheck.check_forbidden(BUILT.BOOTSTRAP_SCRIPT)) == 1


def test_agent_functions_use_approved_verbs_and_prefix():
    assert in_files("agent", pscheck.check_function_names(BUILT.AGENT_SCRIPT)) == []


def test_agent_header_and_preferences():
    lines = BUILT.AGENT_SCRIPT.splitlines()
    assert lines[0] == "param([Parameter(Mandatory)][string]$Request)"
    head = "\n".join(lines[:6])
    for setting in ("$ErrorActionPreference = 'Stop'", "Set-StrictMode -Version 3", "$ProgressPreference = 'SilentlyContinue'"):
        assert setting in head


def test_dispatcher_covers_exactly_the_documented_ops():
    table = pscheck.op_functions(BUILT.AGENT_SCRIPT)
    assert tuple(table) == AGENT.OPS
    defined = pscheck.functions(BUILT.AGENT_SCRIPT)
    for op, function in table.items():
        assert function.lower() in defined, f"{op} dispatches to undefined {function}"
        assert {"arguments", "checkmode"} <= defined[function.lower()].parameters


def _schema_keys(spec):
    if isinstance(spec, AGENT.Nullable):
        return _schema_keys(spec.spec)
    if isinstance(spec, dict):
        keys = set(spec)
        for value in spec.values():
            keys |= _schema_keys(value)
        return keys
    if isinstance(spec, list):
        return _schema_keys(spec[0])
    return set()


@pytest.mark.parametrize("op", AGENT.OPS)
def test_op_builds_every_documented_result_key(op):
    function = pscheck.op_functions(BUILT.AGENT_SCRIPT)[op]
    built = pscheck.hash_keys_reachable(BUILT.AGENT_SCRIPT, function)
    assert _schema_keys(AGENT.RESULT_SCHEMAS[op]) - built == set()


def test_constants_the_lab_shares_match_the_script():
    # The lab implements the same ops from these constants; they must be what the PowerShell uses.
    script = BUILT.AGENT_SCRIPT
    assert "@(" + ", ".join("'%s'" % s for s in AGENT.HOST_SERVICES) + ")" in script
    assert "@(" + ", ".join(str(p) for p in AGENT.DEFAULT_FIREWALL_PORTS) + ")" in script
    assert "'%s'" % AGENT.NETAPP_VSS_PROVIDER_ID in script
    for root in AGENT.SMHV_REGISTRY_ROOTS:
        assert "'%s'" % root in script
    jobs = re.search(r"function Get-SmhvCheckpointJobLimit \{.*?param\(\)\s+(\d+)\s+\}", script, re.DOTALL)
    assert jobs is not None and int(jobs.group(1)) == AGENT.CHECKPOINT_JOBS
