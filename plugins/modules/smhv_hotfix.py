#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_hotfix
short_description: Report and install the Windows updates SMHV hosts need, with controlled reboots
version_added: 0.1.0
description:
  - Checks every node of O(hyperv_host) against the hotfixes SMHV requires, as data.
  - For Windows Server 2012, 2008 R2 and 2008 R2 SP1, the KBs of Table 1 of NetApp's SMHV best
    practices (TR-4004), checked against the installed hotfixes (C(Get-HotFix)).
  - For Windows Server 2012 R2, 2016, 2019, 2022 and 2025, whose fixes ship in cumulative updates that
    C(Get-HotFix) does not list once superseded, a minimum build (version and update build revision,
    UBR) with the update that reaches it. The baseline is the collection's (one cumulative update of
    February 2024; November 2024 for 2025); change it with O(minimum_builds).
  - With O(install=true), installs each missing update's C(.msu) from O(source) with
    C(wusa.exe /quiet /norestart) and, with O(reboot=if_required), restarts the nodes that need it one
    at a time, waiting for each to come back (and to rejoin its cluster) before the next.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.fleet
options:
  hyperv_host:
    required: true
  install:
    description: Install the missing updates from O(source). When false the module only reports.
    type: bool
    default: false
  source:
    description:
      - Folder holding the C(.msu) files, typically a share (C(\\\\fs01\\updates\\hyperv)). A KB's file is
        found by name (C(*kb2770917*.msu)).
      - The folder is read by each node; see the notes about shares and WinRM.
    type: str
  reboot:
    description:
      - V(never) leaves restarts to you and reports them as warnings and as C(pending_reboot) items.
      - V(if_required) restarts a node after its installs when Windows asks for it, one node at a time.
    type: str
    choices: [never, if_required]
    default: never
  reboot_timeout:
    description: Seconds to wait for a restarted node to answer again and rejoin its cluster.
    type: int
    default: 1800
  extra_kbs:
    description: More KBs every node must have (site policy), checked like Table 1's.
    type: list
    elements: str
    default: []
  exclude_kbs:
    description: KBs not to require (for example KB2263829, which refuses to install on some platforms).
    type: list
    elements: str
    default: []
  minimum_builds:
    description:
      - Overrides of the minimum builds, keyed by Windows version (C(10.0.20348)); each a dict with
        C(ubr) and optionally C(kb) (the update that reaches it) and C(title).
    type: dict
    default: {}
attributes:
  check_mode:
    description: Reads every node and returns the same RV(actions) a real run would take, changing nothing.
    support: full
  diff_mode:
    description: Not supported; RV(actions) lists the changes.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
  - Reading a share from a WinRM session needs credentials that can reach the file server (Kerberos with
    delegation, CredSSP, or a share the computer accounts can read), because NTLM cannot pass them on.
  - M(ansible.windows.win_hotfix) installs one C(.msu) on one host and M(ansible.windows.win_updates) installs
    what Windows Update or WSUS offers; this module decides which KBs a Hyper-V host needs and orders restarts
    across a cluster.
seealso:
  - module: ansible.windows.win_hotfix
  - module: ansible.windows.win_updates
  - module: ansible.windows.win_reboot
"""

EXAMPLES = r"""
- name: Report compliance of a cluster
  netapp_hyperv.smhv.smhv_hotfix:
    hyperv_host: hvclus01
    winrm: "{{ smhv_winrm }}"
  delegate_to: localhost
  register: compliance

- name: Bring a DR host up to date from the update share, restarting it if needed
  netapp_hyperv.smhv.smhv_hotfix:
    hyperv_host: hvdr01
    winrm: "{{ smhv_winrm }}"
    install: true
    source: \\fs01.example.com\updates\hyperv
    reboot: if_required
  delegate_to: localhost
"""

RETURN = r"""
actions:
  description: Updates installed and restarts done (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: ["hvdr01: install KB5034770 from \\\\fs01\\updates\\windows10.0-kb5034770-x64.msu", "hvdr01: restart and wait for it to come back"]
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
compliant:
  description: Whether every node has every required item (after the run).
  returned: always
  type: bool
  sample: false
summary:
  description: Counts over the nodes.
  returned: always
  type: dict
  sample: {"hosts": 2, "compliant": 1, "missing": 1, "pending_reboot": 0}
hosts:
  description: One report per node.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Node name., type: str, returned: always, sample: hvdr01}
    computer_name: {description: The host's own name., type: str, returned: always, sample: HVDR01}
    release: {description: Windows release., type: str, returned: always, sample: Windows Server 2022}
    os: {description: Windows edition., type: str, returned: always, sample: Microsoft Windows Server 2022 Datacenter}
    build: {description: Version and UBR., type: str, returned: always, sample: 10.0.20348.2113}
    known_release: {description: Whether the module has data for this release., type: bool, returned: always, sample: true}
    compliant: {description: No item missing or waiting for a restart., type: bool, returned: always, sample: false}
    missing: {description: Ids of the missing items (a KB or C(build))., type: list, elements: str, returned: always, sample: [build]}
    pending_reboot: {description: Items installed but waiting for a restart., type: list, elements: str, returned: always, sample: []}
    requirements:
      description: Every requirement with its status (V(ok), V(missing), V(pending_reboot)) and where it comes from.
      type: list
      elements: dict
      returned: always
      sample: [{"id": "build", "kind": "build", "kb": "KB5034770", "minimum": "10.0.20348.2322", "status": "missing",
                "title": "Build 10.0.20348.2322 or later (KB5034770, 2024-02 cumulative update)",
                "source": "Microsoft support: Windows Server 2022 update history (the cumulative update's KB article)"}]
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
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.hotfix import ensure_hotfixes
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module


def run(params, check_mode):
    return ensure_hotfixes(params["hyperv_host"], params["winrm"], params["host_addresses"], params["install"], params["source"],
                           params["reboot"], params["reboot_timeout"], params["extra_kbs"], params["exclude_kbs"],
                           params["minimum_builds"], check_mode)


def main():
    spec = hyperv_argument_spec()
    spec.update(storage_systems=dict(type="list", elements="dict", options=storage_system_spec()))
    spec.update(
        install=dict(type="bool", default=False),
        source=dict(type="str"),
        reboot=dict(type="str", choices=["never", "if_required"], default="never"),
        reboot_timeout=dict(type="int", default=1800),
        extra_kbs=dict(type="list", elements="str", default=[]),
        exclude_kbs=dict(type="list", elements="str", default=[]),
        minimum_builds=dict(type="dict", default={}),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_if=[("install", True, ["source"])])
    run_module(module, run)


if __name__ == "__main__":
    main()
