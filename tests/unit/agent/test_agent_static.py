"""The agent's static checks (DESIGN §3): it parses, calls only real commands with real parameters,
never builds code from text, and its ops return what RESULT_SCHEMAS documents."""
from __future__ import annotations

import pytest

from unit.agent import pscheck

AGENT = pscheck.load_agent()
CATALOG = pscheck.Catalog(pscheck.load_catalog())
SCRIPTS = {"agent": AGENT.AGENT_SCRIPT, "bootstrap": AGENT.BOOTSTRAP_SCRIPT}


@pytest.mark.parametrize("name", SCRIPTS)
def test_parses_without_errors(name):
    assert pscheck.syntax_errors(SCRIPTS[name]) == []


def test_agent_commands_and_parameters_exist():
    assert pscheck.check_commands(AGENT.AGENT_SCRIPT, CATALOG) == []


def test_bootstrap_commands_and_parameters_exist():
    # `& $agent -Request ...` is the bootstrap's one dynamic call: it runs the agent.
    assert pscheck.check_commands(AGENT.BOOTSTRAP_SCRIPT, CATALOG, allow_dynamic=1) == []


def test_agent_builds_no_code_from_text():
    assert pscheck.check_forbidden(AGENT.AGENT_SCRIPT) == []


def test_bootstrap_creates_exactly_one_script_block():
    assert pscheck.check_forbidden(AGENT.BOOTSTRAP_SCRIPT, allow_scriptblock_create=1) == []
    assert len(pscheck.check_forbidden(AGENT.BOOTSTRAP_SCRIPT)) == 1


def test_agent_functions_use_approved_verbs_and_prefix():
    assert pscheck.check_function_names(AGENT.AGENT_SCRIPT) == []


def test_agent_header_and_preferences():
    lines = AGENT.AGENT_SCRIPT.splitlines()
    assert lines[0] == "param([Parameter(Mandatory)][string]$Request)"
    head = "\n".join(lines[:6])
    for setting in ("$ErrorActionPreference = 'Stop'", "Set-StrictMode -Version 3", "$ProgressPreference = 'SilentlyContinue'"):
        assert setting in head


def test_dispatcher_covers_exactly_the_documented_ops():
    table = pscheck.op_functions(AGENT.AGENT_SCRIPT)
    assert tuple(table) == AGENT.OPS
    defined = pscheck.functions(AGENT.AGENT_SCRIPT)
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
    function = pscheck.op_functions(AGENT.AGENT_SCRIPT)[op]
    built = pscheck.hash_keys_reachable(AGENT.AGENT_SCRIPT, function)
    assert _schema_keys(AGENT.RESULT_SCHEMAS[op]) - built == set()


def test_constants_the_lab_shares_match_the_script():
    # The lab implements the same ops from these constants; they must be what the PowerShell uses.
    script = AGENT.AGENT_SCRIPT
    assert "@(" + ", ".join("'%s'" % s for s in AGENT.HOST_SERVICES) + ")" in script
    assert "@(" + ", ".join(str(p) for p in AGENT.DEFAULT_FIREWALL_PORTS) + ")" in script
    assert "'%s'" % AGENT.NETAPP_VSS_PROVIDER_ID in script
    for root in AGENT.SMHV_REGISTRY_ROOTS:
        assert "'%s'" % root in script
