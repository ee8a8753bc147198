"""Every integer option of every module is range-checked before the module does anything: a huge
number (10**30 overflowed timedelta, socket timeouts and URLs into "this is a bug" tracebacks) fails
with INVALID_ARGUMENT naming the option and its range."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils import argspec as common
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import out_of_range_ints
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import check_int_options

MODULES_DIR = Path(__file__).resolve().parents[3] / "plugins" / "modules"
MODULES = sorted(path.stem for path in MODULES_DIR.glob("smhv_*.py"))
HUGE = 10 ** 30
# What a module needs beyond its required options for AnsibleModule to accept the arguments.
EXTRA = {"smhv_package": {"state": "absent"}, "smhv_host": {"state": "absent"}, "smhv_policy": {"retention": {"tag": "daily", "count": 7}}}


class Spec(Exception):
    pass


def import_module(name):
    return importlib.import_module("ansible_collections.netapp_hyperv.smhv.plugins.modules." + name)


def argument_spec(module):
    """The module's argument spec, caught as main() builds its AnsibleModule."""
    class Recorder:
        def __init__(self, argument_spec, **_kwargs):
            raise Spec(argument_spec)
    original = module.AnsibleModule
    module.AnsibleModule = Recorder
    try:
        module.main()
    except Spec as caught:
        return caught.args[0]
    finally:
        module.AnsibleModule = original
    raise AssertionError("main() built no AnsibleModule")


def filler(option):
    kind = option.get("type", "str")
    if option.get("choices"):
        return option["choices"][0]
    if kind == "dict":
        return required_args(option.get("options") or {})
    if kind == "list":
        return [required_args(option["options"])] if option.get("options") else ["x"]
    return {"int": 1, "bool": False}.get(kind, "x")


def required_args(spec):
    return {name: filler(option) for name, option in spec.items() if option.get("required")}


def int_options(spec, path=()):
    """Paths (tuples of names) of every int option, inside dicts and lists of dicts too."""
    for name, option in spec.items():
        if option.get("type") == "int":
            yield path + (name,)
        elif option.get("options"):
            yield from int_options(option["options"], path + (name,))


def with_value(args, spec, path, value):
    """A copy of `args` with the option at `path` set to `value` (creating the dicts and lists around it)."""
    args = dict(args)
    name, option = path[0], spec[path[0]]
    if len(path) == 1:
        args[name] = value
        return args
    if option.get("type") == "list":
        element = (args.get(name) or [required_args(option["options"])])[0]
        args[name] = [with_value(element, option["options"], path[1:], value)]
    else:
        inner = args.get(name) or required_args(option["options"])
        args[name] = with_value(inner, option["options"], path[1:], value)
    return args


def shown_name(spec, path):
    """How the error names the option: list positions shown ("storage_systems[0].port")."""
    parts = []
    for name in path:
        option = spec[name]
        parts.append(name + ("[0]" if option.get("type") == "list" and option.get("options") else ""))
        spec = option.get("options") or {}
    return ".".join(parts)


def run_main(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


CASES = []
for module_name in MODULES:
    for option_path in int_options(argument_spec(import_module(module_name))):
        CASES.append(pytest.param(module_name, option_path, id="%s:%s" % (module_name, ".".join(option_path))))


def test_every_module_has_int_options_to_check():
    assert len(CASES) >= 25
    assert {case.values[0] for case in CASES} >= {"smhv_backup", "smhv_ping", "smhv_package", "smhv_snapinfo", "smhv_policy"}


@pytest.mark.parametrize("module_name, option_path", CASES)
def test_huge_integer_is_refused_naming_the_option_and_range(module_name, option_path, capsys):
    module = import_module(module_name)
    spec = argument_spec(module)
    args = dict(required_args(spec), winrm={}, **EXTRA.get(module_name, {}))
    if "storage_systems" in spec:
        args["storage_systems"] = [{"hostname": "cluster-a"}]
    result = run_main(module, with_value(args, spec, option_path, HUGE), capsys)
    low, high = common.int_range(".".join(option_path))
    shown = shown_name(spec, option_path)
    assert result["failed"] is True and result["error_code"] == "INVALID_ARGUMENT", result
    assert result["msg"] == "%s is %d; it must be between %d and %d." % (shown, HUGE, low, high)
    assert result["error_details"]["option"] == shown and result["error_details"]["max"] == high
    assert "exception" not in result


def test_the_ranges_the_issue_found():
    """lease_ttl (a timedelta), winrm.port (a URL) and the WinRM timeouts (socket timeouts) overflowed."""
    for path, bounds in (("lease_ttl", (60, 86400)), ("winrm.port", (1, 65535)), ("winrm.read_timeout", (1, 86400)),
                         ("storage_systems.timeout", (1, 86400)), ("pre_script.timeout", (1, 86400)), ("retention.count", (1, 1023))):
        assert common.int_range(path) == bounds
    assert common.int_range("some_new_count") == (0, 2 ** 31 - 1)


def test_every_out_of_range_value_is_listed_with_list_positions():
    spec = {"storage_systems": {"type": "list", "elements": "dict", "options": common.storage_system_spec()},
            "lease_ttl": {"type": "int"}, "name": {"type": "str"}}
    params = {"storage_systems": [{"hostname": "a", "port": 443, "timeout": 60}, {"hostname": "b", "port": 0, "timeout": 60}],
              "lease_ttl": 59, "name": "5"}
    assert out_of_range_ints(spec, params) == [("storage_systems[1].port", 0, 1, 65535), ("lease_ttl", 59, 60, 86400)]
    with pytest.raises(SmhvError) as raised:
        check_int_options(spec, params)
    assert raised.value.code == "INVALID_ARGUMENT" and raised.value.details["option"] == "storage_systems[1].port"
    assert [entry["option"] for entry in raised.value.details["out_of_range"]] == ["storage_systems[1].port", "lease_ttl"]
    check_int_options(spec, {"storage_systems": [{"hostname": "a", "port": 65535, "timeout": 86400}], "lease_ttl": 60, "name": None})
