#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_firewall_ports
short_description: Open the SMHV and SnapDrive ports in Windows Firewall on every node of a scope
version_added: 0.1.0
description:
  - Ensures one inbound TCP allow rule per port on every node of O(hyperv_host) (a standalone host, or
    every node of a failover cluster), 808 for SnapManager for Hyper-V and SnapDrive (Net.Tcp), 4094
    for SnapDrive's HTTP and 4095 for its HTTPS web service.
  - Rules are found by a fixed rule Name (C(NetApp-SMHV-NetTcp), C(NetApp-SnapDrive-HTTP),
    C(NetApp-SnapDrive-HTTPS)), so a rule whose port, profile, state or display name drifted is
    corrected in place rather than duplicated.
  - On a cluster the port must be the same on every node. Every node is read before anything is
    changed; RV(drift) lists each rule whose ports differ between nodes, and the run makes them equal.
  - Other rules that happen to cover the same ports are left alone.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.fleet
options:
  hyperv_host:
    required: true
  state:
    description:
      - V(present) creates or corrects the rules, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  smhv_port:
    description:
      - TCP port of the SMHV (and SnapDrive) Net.Tcp web service, C(SMHV_WEBSRV_TCP_PORT) at install time.
      - V(0) manages no rule for it (with O(state=absent), leaves it in place).
    type: int
    default: 808
  snapdrive_http_port:
    description:
      - TCP port of SnapDrive's HTTP web service (C(SDW_WEBSRV_HTTP_PORT)). V(0) for no rule.
    type: int
    default: 4094
  snapdrive_https_port:
    description:
      - TCP port of SnapDrive's HTTPS web service. V(0) for no rule.
    type: int
    default: 4095
  profile:
    description:
      - Firewall profiles the rules apply to. V(Any) alone, or any of V(Domain), V(Private), V(Public).
    type: list
    elements: str
    choices: [Domain, Private, Public, Any]
    default: [Domain]
attributes:
  check_mode:
    description: Reads every node and returns the same RV(actions) a real run would take, changing nothing.
    support: full
  diff_mode:
    description: Not supported; RV(actions) lists the changes.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
  - With M(community.windows.win_firewall_rule) you manage a rule on one host at a time; this module
    adds the cluster view (same port on every node, drift report) and the SMHV defaults.
seealso:
  - module: community.windows.win_firewall_rule
  - module: netapp_hyperv.smhv.smhv_package
"""

EXAMPLES = r"""
- name: Open 808, 4094 and 4095 on every node of the cluster, domain profile
  netapp_hyperv.smhv.smhv_firewall_ports:
    hyperv_host: hvclus01
    winrm: "{{ smhv_winrm }}"
  delegate_to: localhost

- name: SMHV installed with SMHV_WEBSRV_TCP_PORT=8808, SnapDrive over HTTPS only
  netapp_hyperv.smhv.smhv_firewall_ports:
    hyperv_host: hv03
    winrm: "{{ smhv_winrm }}"
    smhv_port: 8808
    snapdrive_http_port: 0
    profile: [Domain, Private]
  delegate_to: localhost
"""

RETURN = r"""
actions:
  description: What the module did (or would do in check mode), one entry per node and rule.
  returned: always
  type: list
  elements: str
  sample: ["hv02: update rule NetApp-SMHV-NetTcp: TCP 809 -> TCP 808, enabled, Domain"]
scope:
  description: The O(hyperv_host) worked on.
  returned: always
  type: str
  sample: hvclus01
kind:
  description: V(standalone) or V(cluster).
  returned: always
  type: str
  sample: cluster
drift:
  description: Rules whose ports differed between cluster nodes before the run (null for a node without the rule).
  returned: always
  type: list
  elements: dict
  sample: [{"rule": "NetApp-SMHV-NetTcp", "ports_by_node": {"hv01": ["808"], "hv02": ["809"]}}]
nodes:
  description: Per node, each rule's ports before and after.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Node name., type: str, returned: always, sample: hv02}
    rules:
      description: One entry per rule.
      type: list
      elements: dict
      returned: always
      sample: [{"name": "NetApp-SMHV-NetTcp", "display_name": "NetApp SnapManager for Hyper-V (Net.Tcp)",
                "state": "present", "ports_before": ["809"], "ports": ["808"], "changed": true}]
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

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import hyperv_argument_spec, storage_system_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.firewall import PROFILES, ensure_firewall_ports
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module


def run(params, check_mode):
    ports = {"smhv": params["smhv_port"] or None, "snapdrive_http": params["snapdrive_http_port"] or None,
             "snapdrive_https": params["snapdrive_https_port"] or None}
    return ensure_firewall_ports(params["hyperv_host"], params["winrm"], params["host_addresses"], ports, params["profile"],
                                 params["state"], check_mode)


def main():
    spec = hyperv_argument_spec()
    spec.update(storage_systems=dict(type="list", elements="dict", options=storage_system_spec()))
    spec.update(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        smhv_port=dict(type="int", default=808),
        snapdrive_http_port=dict(type="int", default=4094),
        snapdrive_https_port=dict(type="int", default=4095),
        profile=dict(type="list", elements="str", choices=list(PROFILES), default=["Domain"]),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
