#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_snapinfo_info
short_description: List a scope's SnapInfo snapshots and the mirrors of its SnapInfo volume
version_added: 0.1.0
description:
  - Lists the SnapInfo snapshots (C(smhv_snapinfo_<scope>_<MM-DD-YYYY_HH.MM.SS>)) of a scope's SnapInfo volume, oldest
    first, with the SnapInfo LUN, its volume and the SnapMirror and SnapVault relationships whose source is that volume.
  - Changes nothing.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The scope, a standalone host, a failover cluster name or any node of a cluster.
    required: true
  source_scope:
    description:
      - Whose SnapInfo snapshots to list. The default is the scope itself. At a DR site, name the primary scope.
    type: str
  snapinfo_path:
    description:
      - The SnapInfo directory, when the scope is not registered. By default, the registered path is used.
    type: str
attributes:
  check_mode:
    description: Validates and plans as a real run, and returns the same RV(actions), without changing anything.
    support: full
  diff_mode:
    description: Not supported; RV(actions) says what changes.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
seealso:
  - module: netapp_hyperv.smhv.smhv_snapinfo
"""

EXAMPLES = r"""
- name: SnapInfo snapshots of a cluster (connection set by module_defaults)
  netapp_hyperv.smhv.smhv_snapinfo_info:
    hyperv_host: hvclus01
  register: snapinfo

- name: Fail when the newest SnapInfo snapshot is older than a day
  ansible.builtin.assert:
    that:
      - snapinfo.snapshots | length > 0
      - (now(utc=true) - (snapinfo.snapshots[-1].time | to_datetime('%Y-%m-%dT%H:%M:%S%z'))).total_seconds() < 86400
"""

RETURN = r"""
snapinfo:
  description: The SnapInfo path, retention count, LUN and volume (see M(netapp_hyperv.smhv.smhv_snapinfo)).
  returned: always
  type: dict
snapshots:
  description: The scope's SnapInfo snapshots, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Snapshot name., type: str, returned: always, sample: smhv_snapinfo_hv03_03-14-2026_09.00.00}
    time: {description: "The time in the name, in UTC (ISO 8601).", type: str, returned: always, sample: "2026-03-14T09:00:00+00:00"}
    create_time: {description: ONTAP's create time., type: str, returned: always}
    volume: {description: "svm:volume", type: str, returned: always, sample: "svm_hv:vol_snapinfo"}
    cluster: {description: ONTAP cluster., type: str, returned: always, sample: cluster-a}
    snapmirror_label: {description: SnapMirror label., type: str, returned: always}
    busy: {description: Whether ONTAP reports owners that keep the snapshot from being deleted., type: bool, returned: always}
snapmirror:
  description: Relationships whose source is the SnapInfo volume (source, destination, destination_cluster, state, healthy,
    lag_time).
  returned: always
  type: list
  elements: dict
actions:
  description: Always empty.
  returned: always
  type: list
  elements: str
  sample: []
error_code:
  description:
    - On failure, the error's stable code; the user guide's troubleshooting table says what each means and what to do.
    - Absent when Ansible refuses the task's options before the module runs.
  returned: failure
  type: str
  sample: HOST_UNREACHABLE
error_details:
  description: On failure, what the message says as data (names, paths, numbers); its keys depend on RV(error_code), empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.snapinfo import list_snapshots


def run(params, check_mode):
    storage = StorageClient(params["storage_systems"])
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        return list_snapshots(session, storage, params["snapinfo_path"], params["source_scope"])


def main():
    spec = smhv_argument_spec()
    spec.update(source_scope=dict(type="str"), snapinfo_path=dict(type="str"))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
