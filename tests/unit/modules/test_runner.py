"""runner.run_module, the one way every module runs: warnings become module warnings, a diff is returned only
in diff mode, check mode reaches the action untouched, and every error leaves through fail_from_error."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module


class Exited(Exception):
    pass


class FakeModule:
    """What run_module uses of an AnsibleModule; exit_json and fail_json end the run, as the real ones do."""

    def __init__(self, params=None, check_mode=False, diff=False, argument_spec=None):
        self.params = dict(params or {})
        self.argument_spec = argument_spec or {}
        self.check_mode = check_mode
        self._diff = diff
        self.warnings = []
        self.exited = None

    def warn(self, warning):
        self.warnings.append(warning)

    def exit_json(self, **result):
        self.exited = ("exit", result)
        raise Exited()

    def fail_json(self, **result):
        self.exited = ("fail", result)
        raise Exited()


def run(module, action):
    with pytest.raises(Exited):
        run_module(module, action)
    return module.exited


def test_the_action_gets_the_params_and_check_mode_and_its_warnings_become_module_warnings():
    seen = []

    def action(params, check_mode):
        seen.append((params, check_mode))
        return {"changed": False, "actions": ["plan"], "warnings": ["one", "two"]}

    module = FakeModule({"name": "x"}, check_mode=True)
    assert run(module, action) == ("exit", {"changed": False, "actions": ["plan"]})
    assert seen == [({"name": "x"}, True)]
    assert module.warnings == ["one", "two"]


@pytest.mark.parametrize("diff_mode", [False, True])
def test_a_diff_is_returned_only_in_diff_mode(diff_mode):
    diff = {"before": {}, "after": {"description": "new"}}
    outcome = run(FakeModule(diff=diff_mode), lambda params, check_mode: {"changed": True, "diff": dict(diff)})
    assert outcome == ("exit", dict({"changed": True}, **({"diff": diff} if diff_mode else {})))


def test_an_smhv_error_fails_with_its_message_code_and_details():
    def action(params, check_mode):
        raise SmhvError("SCOPE_BUSY", "hv01 is busy.", {"holder": "ctl1"})

    assert run(FakeModule(), action) == ("fail", {"msg": "hv01 is busy.", "error_code": "SCOPE_BUSY", "error_details": {"holder": "ctl1"}})


def test_a_bug_fails_as_internal_error_with_its_traceback():
    def action(params, check_mode):
        raise KeyError("name")

    kind, result = run(FakeModule(), action)
    assert kind == "fail" and result["error_code"] == "INTERNAL_ERROR"
    assert result["msg"].startswith("Unexpected KeyError") and "Traceback" in result["exception"]


def test_an_integer_out_of_range_fails_before_the_action_runs():
    called = []
    module = FakeModule({"lease_ttl": 10}, argument_spec={"lease_ttl": {"type": "int"}})
    kind, result = run(module, lambda params, check_mode: called.append(True))
    assert kind == "fail" and result["error_code"] == "INVALID_ARGUMENT" and result["error_details"]["option"] == "lease_ttl"
    assert not called
