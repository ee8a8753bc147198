#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_host_info
short_description: Facts of a Hyper-V host or failover cluster and its SMHV registration
version_added: 0.1.0
description:
  - Reports a scope (a standalone host or a failover cluster, detected from the host) without changing anything.
  - Reports the cluster and its nodes with the owner of the core cluster group, and for each host its OS and build,
    features, hotfixes and VSS providers. The Data ONTAP hardware provider is flagged. It also reports the SMHV and
    SnapDrive services, whether the Windows firewall opens ports 808, 4094 and 4095, and the iSCSI initiators.
  - Reports the SnapInfo settings registered by M(netapp_hyperv.smhv.smhv_host). When O(storage_systems) is given, it
    also reports the ONTAP LUN and volume behind the SnapInfo path.
  - A cluster node that does not answer is reported with its error and a warning. The module does not fail because of it.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - A standalone host, a failover cluster name or any node of a cluster.
    required: true
  storage_systems:
    description:
      - Optional here. Without it, RV(snapinfo.lun) is null.
    required: false
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
  - module: netapp_hyperv.smhv.smhv_host
"""

EXAMPLES = r"""
- name: Facts of a cluster (connection set by module_defaults)
  netapp_hyperv.smhv.smhv_host_info:
    hyperv_host: hvclus01
  register: hvclus01

- name: Fail when a node lacks the Data ONTAP VSS provider or SMHV's port is closed
  ansible.builtin.assert:
    that:
      - hvclus01.hosts | rejectattr('netapp_vss_provider') | list | length == 0
      - hvclus01.hosts | map(attribute='ports') | flatten | selectattr('port', '==', 808) | rejectattr('open') | list | length == 0

- name: Where is SnapInfo?
  ansible.builtin.debug:
    msg: "{{ hvclus01.snapinfo.snapinfo_path }} on {{ hvclus01.snapinfo.lun.volume }}"
  when: hvclus01.snapinfo.registered
"""

RETURN = r"""
scope:
  description: The scope and how it was reached; see M(netapp_hyperv.smhv.smhv_host) for every key.
  returned: always
  type: dict
  sample: {"name": "hvclus01", "kind": "cluster", "cluster": "hvclus01", "owner_node": "hv01", "coordinator": "hv01",
           "requested": "hvclus01", "nodes": [{"name": "hv01", "state": "Up", "owner": true}], "csvs": []}
hosts:
  description: Facts of each host of the scope, the coordinating host first. See M(netapp_hyperv.smhv.smhv_host) for every key.
  returned: always
  type: list
  elements: dict
snapinfo:
  description: The registration as the scope's registry key holds it.
  returned: always
  type: dict
  contains:
    registered: {description: Whether the scope is registered., type: bool, returned: always}
    registry_key: {description: The scope's SMHV registry key., type: str, returned: always}
    snapinfo_path: {description: SnapInfo directory (null when not registered)., type: str, returned: always}
    report_path: {description: Report directory (null when not registered)., type: str, returned: always}
    snapinfo_snaps_count: {description: SnapInfo snapshots kept (30 when not set)., type: int, returned: always}
    lun:
      description: The ONTAP LUN and volume behind the SnapInfo path (cluster, svm, volume, path, serial, size, volume_type,
        volume_snapshot_count). Null without O(storage_systems) or when the scope is not registered.
      type: dict
      returned: always
licences:
  description:
    - Per ONTAP cluster of O(storage_systems) that answered, its licence packages (name to state, as ONTAP lists the
      licensed ones) and C(missing), the packages SMHV's work needs that it lacks (SnapRestore, FlexClone, SnapMirror,
      SnapVault, and one of the host's protocols, iSCSI or FCP). Each missing one is also a warning.
    - Registration (M(netapp_hyperv.smhv.smhv_host)) fails with C(LICENSE_MISSING) without SnapRestore, FlexClone or the protocol.
  returned: with O(storage_systems)
  type: dict
  sample: {"cluster1": {"packages": {"snaprestore": "compliant", "iscsi": "compliant"}, "missing": ["flexclone"]}}
actions:
  description: Always empty; the module changes nothing.
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
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import ScopeSession, describe_scope
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient


def run(params, check_mode):
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        storage = StorageClient(params["storage_systems"]) if params["storage_systems"] else None
        return dict(describe_scope(session, storage), changed=False, actions=[])


def main():
    spec = smhv_argument_spec()
    spec["storage_systems"]["required"] = False
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
