#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_ping
short_description: Check that the controller reaches the ONTAP clusters and the Hyper-V hosts
version_added: 0.1.0
description:
  - Connects to every cluster in O(storage_systems) over the ONTAP REST API and reads its name and
    version.
  - Runs the collection's agent on O(hyperv_host) over WinRM and reads the host's facts. When the
    scope is a failover cluster, every node is then reached by its own name as well, because backups
    and restores talk to the node that owns each VM.
  - Reports every endpoint even when one fails, then fails with the first failure's error code.
  - Changes nothing, so check mode runs the same probes.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - A standalone host, a failover cluster name or any node of a cluster.
    required: true
attributes:
  check_mode:
    description: Runs the same probes as a real run; the module never changes anything.
    support: full
  diff_mode:
    description: Not supported; nothing changes.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
"""

EXAMPLES = r"""
- name: Check both sides before protecting anything
  netapp_hyperv.smhv.smhv_ping:
    hyperv_host: hvclus01
    winrm:
      username: LAB\smhv-admin
      password: "{{ vault_winrm_password }}"
      ca_path: /etc/pki/winrm-ca.pem
    storage_systems:
      - hostname: cluster-a.lab.local
        username: smhv
        password: "{{ vault_ontap_password }}"
  delegate_to: localhost

- name: The same with the connection set once for the whole play
  hosts: localhost
  module_defaults:
    group/netapp_hyperv.smhv.smhv:
      winrm: "{{ smhv_winrm }}"
      storage_systems: "{{ smhv_storage_systems }}"
      host_addresses: "{{ smhv_host_addresses }}"
  tasks:
    - netapp_hyperv.smhv.smhv_ping:
        hyperv_host: hv03
"""

RETURN = r"""
actions:
  description: What the module did or would do; always empty, the module changes nothing.
  returned: always
  type: list
  elements: str
  sample: []
storage:
  description: One entry per configured storage system.
  returned: always
  type: list
  elements: dict
  contains:
    hostname: {description: The configured address., type: str, returned: always, sample: cluster-a.lab.local}
    port: {description: The HTTPS port., type: int, returned: always, sample: 443}
    ok: {description: Whether the cluster answered., type: bool, returned: always, sample: true}
    cluster: {description: ONTAP cluster name., type: str, returned: when ok, sample: cluster-a}
    uuid: {description: ONTAP cluster UUID., type: str, returned: when ok, sample: 5f3c2e7a-1b2c-4d5e-8f90-a1b2c3d4e5f6}
    version: {description: ONTAP version., type: str, returned: when ok, sample: 9.13.1}
    error_code: {description: Why it failed (a stable code)., type: str, returned: when not ok, sample: STORAGE_AUTH_FAILED}
    msg: {description: What failed and what to do., type: str, returned: when not ok}
    seconds: {description: Time the probe took., type: float, returned: always, sample: 0.042}
hyperv:
  description: The Hyper-V scope and each node reached.
  returned: always
  type: dict
  contains:
    scope: {description: The O(hyperv_host) probed., type: str, returned: always, sample: hvclus01}
    kind: {description: C(standalone) or C(cluster)., type: str, returned: always, sample: cluster}
    cluster: {description: Failover cluster name., type: str, returned: when kind is cluster, sample: hvclus01}
    owner_node: {description: Node owning the core cluster group., type: str, returned: when kind is cluster, sample: hv01}
    nodes:
      description: One entry per host reached (the scope first, then the other cluster nodes).
      type: list
      elements: dict
      returned: always
      contains:
        name: {description: Name used to reach the host., type: str, returned: always, sample: hv02}
        endpoint: {description: The WinRM URL used., type: str, returned: always, sample: "https://hv02:5986/wsman"}
        ok: {description: Whether the agent answered., type: bool, returned: always, sample: true}
        protocol: {description: C(psrp) or C(winrm)., type: str, returned: when ok, sample: psrp}
        computer_name: {description: The host's own name., type: str, returned: when ok, sample: HV02}
        os: {description: Windows edition., type: str, returned: when ok, sample: Microsoft Windows Server 2022 Datacenter}
        build: {description: Windows version with update build revision., type: str, returned: when ok, sample: 10.0.20348.2700}
        error_code: {description: Why it failed (a stable code)., type: str, returned: when not ok, sample: HOST_AUTH_FAILED}
        msg: {description: What failed and what to do., type: str, returned: when not ok}
error_code:
  description: Stable code of the first failure.
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
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.ping import ping


def run(params, check_mode):
    return ping(params["hyperv_host"], params["winrm"], params["host_addresses"], params["storage_systems"])


def main():
    module = AnsibleModule(argument_spec=smhv_argument_spec(), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
