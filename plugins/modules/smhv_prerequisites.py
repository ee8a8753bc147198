#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_prerequisites
short_description: Prepare Hyper-V hosts for the SnapDrive-free method (PowerShell modules, MPIO, iSCSI)
version_added: 0.1.0
description:
  - Ensures on every node of O(hyperv_host) what the collection needs when no SnapDrive is installed
    (Windows Server 2016 and later; also usable beside SnapDrive).
  - The Windows features C(Hyper-V-PowerShell) and C(Multipath-IO), plus C(RSAT-Clustering-PowerShell) on
    failover cluster nodes (or the features in O(features)).
  - The Microsoft DSM claim for ONTAP LUNs (C(New-MSDSMSupportedHW -VendorId NETAPP -ProductId "LUN C-Mode")).
  - The iSCSI initiator service C(MSiSCSI) starting automatically and running.
  - Multipath-IO and the claim take effect after a restart; O(reboot=if_required) restarts the nodes that
    need it one at a time and waits for each.
  - Also reports per node whether SnapManager for Hyper-V 2.x supports the host (RV(smhv_supported)), which
    roles use to choose between the SnapDrive and the SnapDrive-free method.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.fleet
options:
  hyperv_host:
    required: true
  features:
    description: Windows features to install instead of the default set.
    type: list
    elements: str
  mpio_claim:
    description: Claim NetApp ONTAP LUNs for the Microsoft DSM.
    type: bool
    default: true
  iscsi:
    description: Set the C(MSiSCSI) service to start automatically and start it.
    type: bool
    default: true
  reboot:
    description: V(never) reports needed restarts as warnings; V(if_required) restarts nodes one at a time.
    type: str
    choices: [never, if_required]
    default: never
  reboot_timeout:
    description: Seconds to wait for a restarted node to answer again and rejoin its cluster.
    type: int
    default: 1800
attributes:
  check_mode:
    description: Reads every node and returns the same RV(actions) a real run would take, changing nothing.
    support: full
  diff_mode:
    description: Not supported; RV(actions) lists the changes.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
  - The same result can be reached host by host with M(ansible.windows.win_feature),
    M(ansible.windows.win_service) and M(ansible.windows.win_powershell); this module does it per scope.
seealso:
  - module: ansible.windows.win_feature
  - module: ansible.windows.win_service
  - module: netapp_hyperv.smhv.smhv_package
"""

EXAMPLES = r"""
- name: SnapDrive-free prerequisites on a cluster, restarting nodes one at a time if MPIO needs it
  netapp_hyperv.smhv.smhv_prerequisites:
    hyperv_host: hvclus01
    winrm: "{{ smhv_winrm }}"
    reboot: if_required
  delegate_to: localhost
"""

RETURN = r"""
actions:
  description: What the module did (or would do in check mode), per node.
  returned: always
  type: list
  elements: str
  sample: ["hvdr01: install Windows feature Multipath-IO", "hvdr01: start service MSiSCSI"]
scope:
  description: The O(hyperv_host) worked on.
  returned: always
  type: str
  sample: hvdr01
kind:
  description: V(standalone) or V(cluster).
  returned: always
  type: str
  sample: standalone
smhv_supported:
  description: Every node is a domain member on a Windows release SnapManager for Hyper-V 2.x supports.
  returned: always
  type: bool
  sample: false
nodes:
  description: Per node, the features, MPIO claim and services before and after, and its release.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hvdr01", "os": "Windows Server 2022", "build": "10.0.20348.2700", "smhv_supported": false,
            "part_of_domain": true, "restart_needed": true,
            "features": [{"name": "Multipath-IO", "installed_before": false, "installed": true}],
            "mpio": {"vendor_id": "NETAPP", "product_id": "LUN C-Mode", "claimed_before": false, "claimed": true},
            "services": [{"name": "MSiSCSI", "start_type_before": "Manual", "status_before": "Stopped",
                          "start_type": "Automatic", "status": "Running"}]}]
timings:
  description: Seconds each restarted node took to come back.
  returned: when a node was restarted
  type: dict
  sample: {"reboot_seconds": {"hvdr01": 64.2}}
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
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.prereq import ensure_prerequisites
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module


def run(params, check_mode):
    return ensure_prerequisites(params["hyperv_host"], params["winrm"], params["host_addresses"], params["features"],
                                params["mpio_claim"], params["iscsi"], params["reboot"], params["reboot_timeout"], check_mode)


def main():
    spec = hyperv_argument_spec()
    spec.update(storage_systems=dict(type="list", elements="dict", options=storage_system_spec()))
    spec.update(
        features=dict(type="list", elements="str"),
        mpio_claim=dict(type="bool", default=True),
        iscsi=dict(type="bool", default=True),
        reboot=dict(type="str", choices=["never", "if_required"], default="never"),
        reboot_timeout=dict(type="int", default=1800),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
