# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How every module runs: its arguments checked, its action called, the result handed to Ansible.

A module's main() builds its AnsibleModule and calls `run_module(module, run)`; `run(params, check_mode)`
returns the result dict, and this module turns it into exit_json or fail_json, so every module reports
warnings, diffs and failures the same way.
"""

from __future__ import annotations

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import out_of_range_ints
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError, fail_from_error


def check_int_options(argument_spec, params):
    """Refuse an integer option outside its range (argspec.INT_RANGES) before anything runs."""
    wrong = out_of_range_ints(argument_spec, params)
    if wrong:
        name, value, low, high = wrong[0]
        raise SmhvError("INVALID_ARGUMENT", "%s is %d; it must be between %d and %d." % (name, value, low, high),
                        {"option": name, "value": value, "min": low, "max": high,
                         "out_of_range": [{"option": o, "value": v, "min": lo, "max": hi} for o, v, lo, hi in wrong]})


def _exit_arguments(module, result):
    """The result as exit_json takes it: its `warnings` become module warnings (exit_json deprecates the
    key since ansible-core 2.19), and its `diff` stays only when the user asked for diff mode."""
    for warning in result.pop("warnings", []):
        module.warn(warning)
    diff = result.pop("diff", None)
    if module._diff and diff is not None:  # pylint: disable=protected-access
        result["diff"] = diff
    return result


def run_module(module, action):
    """Check the integer options' ranges, call action(params, check_mode) -> result dict and exit_json with
    it; any error, an SmhvError or a bug, goes through errors.fail_from_error (msg, error_code, error_details).
    Check mode is the action's to honour: the engines plan in it and change nothing."""
    try:
        check_int_options(module.argument_spec, module.params)
        result = _exit_arguments(module, action(module.params, module.check_mode))
    except Exception as error:  # pylint: disable=broad-except
        fail_from_error(module, error)
    module.exit_json(**result)
