#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_dataset
short_description: Create, change or delete an SMHV dataset (a group of VMs protected together)
version_added: 0.1.0
description:
  - A dataset groups virtual machines that are backed up together by its policies
    (M(netapp_hyperv.smhv.smhv_policy)). A VM may belong to several datasets, and a dataset may hold
    VMs of several scopes (standalone hosts or failover clusters).
  - Members are given by VM name or GUID with their scope; names are resolved to GUIDs, which are what
    is stored, so renaming a VM does not drop it. Each scope's VM inventory is read once (one agent call
    per host), not once per VM.
  - The definition is written to the SnapInfo catalog of every scope that has members in it, with
    compare-and-swap, so any member scope answers for the dataset and two runs at once cannot lose a change.
    A scope left without members loses its copy (and its copies of the policies); its backups stay.
  - "Refuses, naming every VM, file and fix: a VM with a file (configuration, VHD, checkpoint) not on an
    ONTAP LUN (C(NOT_ON_ONTAP)); dedicated and clustered VMs of one cluster in one dataset
    (C(DATASET_MIXES_CLUSTERED)); VMs on SMB shares with VMs on LUNs (C(DATASET_MIXES_SMB_SAN)); a VM on a
    CSV whose LUN is MBR-partitioned (C(MBR_LUN_ON_CSV)); names other than letters, digits, C(_) and C(-)
    (C(INVALID_ARGUMENT))."
  - Warns about pass-through disks and virtual Fibre Channel adapters (their LUNs are never in a backup), and about
    VMs on one CSV split over datasets whose schedules collide (one of the two backups would fail).
  - When the members of a dataset with policies change, the snapshot budget of its volumes is checked
    again, as M(netapp_hyperv.smhv.smhv_policy) does.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - The scope whose catalog is read first (a standalone host, a failover cluster or one of its nodes),
        and the scope of members that do not name one.
    required: true
  name:
    description:
      - The dataset's name, at most 40 characters of C(A-Z a-z 0-9 _ -). Compared without case, as on the
        SnapInfo LUN; the case it was created with is kept.
    type: str
    required: true
  state:
    description: Whether the dataset exists.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Free text. Unchanged when omitted.
    type: str
  members:
    description:
      - The dataset's VMs, all of them (VMs not listed are removed). Required to create a dataset; when
        omitted, the members stay as they are.
    type: list
    elements: dict
    suboptions:
      vm:
        description:
          - The VM's name (exact, without case) or its GUID.
          - A name (or a O(members[].scope)) that starts or ends with a blank is refused with C(INVALID_ARGUMENT), not trimmed;
            name such a VM by its GUID.
        type: str
        required: true
      scope:
        description: The VM's scope (host, cluster, or a cluster node's name); default O(hyperv_host).
        type: str
attributes:
  check_mode:
    description: Can run in check mode.
    support: full
    details: Plans the same actions and changes nothing.
  diff_mode:
    description: Can show a diff.
    support: full
    details: Shows the dataset definition before and after.
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
  - Every member scope must be registered with M(netapp_hyperv.smhv.smhv_host).
  - Disks that a guest connects with its own iSCSI initiator are invisible to the host, so this module
    cannot warn about them; like pass-through disks, backups never include them.
seealso:
  - module: netapp_hyperv.smhv.smhv_policy
  - module: netapp_hyperv.smhv.smhv_backup_info
"""

EXAMPLES = r"""
- name: The web tier of cluster hvclus01, by name
  netapp_hyperv.smhv.smhv_dataset:
    hyperv_host: hvclus01
    name: web
    description: Front ends
    members:
      - vm: vm-web01
      - vm: vm-web02
  delegate_to: localhost

- name: One dataset across a cluster and a standalone host, a member by GUID
  netapp_hyperv.smhv.smhv_dataset:
    hyperv_host: hvclus01
    name: sql
    members:
      - vm: vm-db01
      - vm: 6c1d7f1e-33a5-5a2e-9b8e-2f3c4d5e6f70
        scope: hv03
  delegate_to: localhost

- name: Delete it (its backups stay and still restore)
  netapp_hyperv.smhv.smhv_dataset:
    hyperv_host: hvclus01
    name: sql
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
actions:
  description: What the module did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create dataset web in scope hvclus01 with vm-web01 (1f0c...), vm-web02 (2a9e...)"]
dataset:
  description: The dataset as stored (null after O(state=absent)).
  returned: always
  type: dict
  contains:
    name: {description: The name as stored., type: str, returned: always, sample: web}
    description: {description: The description., type: str, returned: always, sample: Front ends}
    scopes: {description: The scopes holding a copy (those with members)., type: list, elements: str, returned: always, sample: [hvclus01]}
    members:
      description: One entry per member VM.
      type: list
      elements: dict
      returned: always
      contains:
        vm_id: {description: The VM's GUID (lower case)., type: str, returned: always, sample: 1f0c9a4e-2b7d-5c1e-8f3a-4b5c6d7e8f90}
        name: {description: The VM's name., type: str, returned: always, sample: vm-web01}
        scope: {description: The VM's scope., type: str, returned: always, sample: hvclus01}
        found: {description: Whether the VM is in its scope now., type: bool, returned: always, sample: true}
        host: {description: The host running it., type: str, returned: when found, sample: hv01}
        state: {description: Its Hyper-V state., type: str, returned: when found, sample: Running}
        clustered: {description: Whether it is a clustered (highly available) VM., type: bool, returned: when found, sample: true}
    policies: {description: The dataset's policy names., type: list, elements: str, returned: always, sample: [hourly]}
    created: {description: When the dataset was created (UTC)., type: str, returned: always, sample: "2026-03-14T09:00:00+00:00"}
    updated: {description: When it last changed (UTC)., type: str, returned: always, sample: "2026-03-14T09:00:00+00:00"}
snapshot_budget:
  description: Per volume, the snapshot budget with the dataset's policies, when its members changed and it has policies.
  returned: when members of a dataset with policies changed
  type: list
  elements: dict
  sample: [{volume: "cluster-a:svm_hv:vol_csv1", limit: 1023, used: 106, headroom: 917, per_policy: {web/hourly: 72},
            foreign: 2, snapinfo: 0, in_flight: 1, unbounded: []}]
error_code:
  description: Stable code of the failure (for example C(NOT_ON_ONTAP), C(DATASET_MIXES_CLUSTERED), C(VM_NOT_FOUND)).
  returned: failure
  type: str
  sample: NOT_ON_ONTAP
error_details:
  description: Structured details of the failure; for a rule, C(problems) lists each with its VM and path.
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.datasets import ensure_dataset
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.engines.protection.scopes import Scopes
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module


def run(params, check_mode):
    with Scopes(params["winrm"], params["host_addresses"]) as scopes:
        return ensure_dataset(scopes, StorageClient(params["storage_systems"]), params["hyperv_host"], params["name"],
                              params["description"], params["members"], params["state"], check_mode)


def main():
    spec = smhv_argument_spec()
    spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", default="present", choices=["present", "absent"]),
        description=dict(type="str"),
        members=dict(type="list", elements="dict", options=dict(vm=dict(type="str", required=True), scope=dict(type="str"))),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
