#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_host
short_description: Register a Hyper-V host or failover cluster with its SnapInfo and report paths
version_added: 0.1.0
description:
  - Registers a I(scope), a standalone Hyper-V host or a failover cluster (detected from the host), as SnapManager for
    Hyper-V's Hosts Management Wizard did, so that its VMs can be protected.
  - The registration lives on the hosts, not on the controller. The values C(snapinfo_path), C(report_path) and
    C(snapinfo_snaps_count) are written to the key where SMHV kept them,
    C(HKLM\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\<host>) on a standalone host and
    C(HKLM\\Cluster\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\<cluster>) on a cluster. For a cluster, the key is
    written on every node, as SMHV's guide says. A scope record is also written to the SnapInfo repository,
    C(<snapinfo_path>\\smhv\\v1\\scope.json).
  - The SnapInfo path must be on an ONTAP LUN found on one of O(storage_systems). For a cluster it must be on a disk that
    every node sees (a shared cluster disk or a CSV). SMB shares are refused, because SnapInfo is protected by snapshots
    of its LUN.
  - The report path must not be on a cluster shared volume, as SMHV requires.
  - Every cluster of O(storage_systems) that answers must have the SnapRestore and FlexClone licences and the licence of
    one of the host's SAN protocols (iSCSI or FCP, from its initiators), as the SMHV guide requires; otherwise the module
    fails with C(LICENSE_MISSING), naming each missing licence, its cluster and what it blocks. The licences are read
    once per cluster (C(GET /api/cluster/licensing/licenses)).
  - Warns when the SnapInfo LUN's volume also holds VM files. NetApp recommends a volume of its own for SnapInfo.
  - With O(state=absent), the registry key is deleted. The SnapInfo repository is kept, because it holds the backup
    catalog. Registering again with the same SnapInfo path finds every backup again (without O(create_snapinfo)).
  - Returns the scope's facts, the same facts that M(netapp_hyperv.smhv.smhv_host_info) returns.
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.ontap
options:
  hyperv_host:
    description:
      - A standalone host, a failover cluster name or any node of a cluster. A node registers its whole cluster.
    required: true
  state:
    description:
      - V(present) registers the scope or updates its settings. V(absent) removes the registration.
    type: str
    choices: [present, absent]
    default: present
  snapinfo_path:
    description:
      - Directory of the SnapInfo repository, for example C(S:\\) or C(C:\\ClusterStorage\\Volume3\\SnapInfo).
      - It must hold a SnapInfo repository (C(smhv\\v1\\scope.json)), unless O(create_snapinfo) is set, so that a misspelt
        path fails instead of pointing the scope at a new, empty catalog.
      - If the path changes, files are not moved, as with SMHV. Copy the old C(smhv) directory first.
      - Required with O(state=present).
    type: str
  create_snapinfo:
    description:
      - Create the SnapInfo repository (and the directory) when O(snapinfo_path) holds none, as a first registration does.
      - When false, a path without a repository fails with C(INVALID_ARGUMENT) naming the path and this option, and
        nothing is changed. A path that holds a repository is used as it is, whatever this option says.
    type: bool
    default: false
  report_path:
    description:
      - Directory for reports. It must not be on a CSV.
      - Required with O(state=present).
    type: str
  snapinfo_snaps_count:
    description:
      - How many SnapInfo snapshots M(netapp_hyperv.smhv.smhv_snapinfo) keeps (SMHV's C(snapinfo_snaps_count)).
    type: int
    default: 30
attributes:
  check_mode:
    description: Validates and plans as a real run, and returns the same RV(actions), without changing anything.
    support: full
  diff_mode:
    description: Not supported; RV(actions) says what changes.
    support: none
notes:
  - Runs on the controller, in a play on C(localhost) or with C(delegate_to=localhost).
  - In check mode, the paths are validated as in a real run and RV(actions) lists the same changes.
seealso:
  - module: netapp_hyperv.smhv.smhv_host_info
  - module: netapp_hyperv.smhv.smhv_snapinfo
"""

EXAMPLES = r"""
- name: Register a failover cluster for the first time, SnapInfo on a shared disk (the repository is created)
  netapp_hyperv.smhv.smhv_host:
    hyperv_host: hvclus01
    snapinfo_path: 'S:\'
    report_path: 'C:\SMHV\Reports'
    create_snapinfo: true
    winrm:
      username: LAB\smhv-admin
      password: "{{ vault_winrm_password }}"
      ca_path: /etc/pki/winrm-ca.pem
    storage_systems:
      - hostname: cluster-a.lab.local
        username: smhv
        password: "{{ vault_ontap_password }}"
  delegate_to: localhost

- name: Keep 60 SnapInfo snapshots of a registered standalone host (connection set by module_defaults)
  netapp_hyperv.smhv.smhv_host:
    hyperv_host: hv03
    snapinfo_path: 'S:\SnapInfo'
    report_path: 'C:\SMHV\Reports'
    snapinfo_snaps_count: 60
  register: hv03

- name: Say which ports are closed
  ansible.builtin.debug:
    msg: "{{ hv03.hosts[0].ports | rejectattr('open') | map(attribute='port') | list }}"

- name: Remove the registration (the SnapInfo repository stays)
  netapp_hyperv.smhv.smhv_host:
    hyperv_host: hv03
    state: absent
"""

RETURN = r"""
actions:
  description: What the module did, or would do in check mode, in order.
  returned: always
  type: list
  elements: str
  sample: ["create the SnapInfo repository in S:\\ with scope record S:\\smhv\\v1\\scope.json",
           "set report_path, snapinfo_path, snapinfo_snaps_count in registry key
           HKLM:\\SOFTWARE\\NetApp\\SnapManager for Hyper-V\\Server\\hv03"]
scope:
  description: The scope and how it was reached.
  returned: always
  type: dict
  contains:
    name: {description: "Scope name: the cluster name, or the host's name in lower case.", type: str, returned: always, sample: hvclus01}
    kind: {description: C(standalone) or C(cluster)., type: str, returned: always, sample: cluster}
    requested: {description: The O(hyperv_host) given., type: str, returned: always, sample: hvclus01}
    cluster: {description: The failover cluster name., type: str, returned: always, sample: hvclus01}
    owner_node: {description: Node that owns the core cluster group; null for a standalone host., type: str, returned: always, sample: hv01}
    coordinator: {description: The host the module worked through., type: str, returned: always, sample: hv01}
    nodes:
      description: The cluster nodes (or the standalone host), with their state and which one is the owner.
      type: list
      elements: dict
      returned: always
      sample: [{"name": "hv01", "state": "Up", "owner": true}, {"name": "hv02", "state": "Up", "owner": false}]
    csvs:
      description: The cluster shared volumes (name, path, owner_node, state).
      type: list
      elements: dict
      returned: always
hosts:
  description: Facts of each host of the scope, the coordinating host first.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Name used to reach the host., type: str, returned: always, sample: hv01}
    reachable: {description: Whether the host answered. The other keys are missing when it did not., type: bool, returned: always}
    computer_name: {description: The host's own name., type: str, returned: when reachable, sample: HV01}
    domain: {description: Active Directory domain or workgroup., type: str, returned: when reachable, sample: lab.local}
    os:
      description: Windows edition, version, build and update build revision.
      type: dict
      returned: when reachable
      sample: {"caption": "Microsoft Windows Server 2022 Datacenter", "version": "10.0.20348", "build": 20348, "ubr": 2700,
               "full_version": "10.0.20348.2700"}
    powershell_version: {description: Windows PowerShell version., type: str, returned: when reachable, sample: 5.1.20348.2700}
    features: {description: Installed Windows features., type: list, elements: str, returned: when reachable, sample: [Hyper-V]}
    hotfixes: {description: Installed hotfixes., type: list, elements: str, returned: when reachable, sample: [KB5031364]}
    vss_providers:
      description: Registered VSS providers (id, name, type, version).
      type: list
      elements: dict
      returned: when reachable
    netapp_vss_provider: {description: Whether the Data ONTAP VSS hardware provider is registered., type: bool, returned: when reachable}
    services:
      description: SMHV (C(OnCommandHyperV)), SnapDrive (C(SWSvc)), C(vmms), C(ClusSvc), C(MSiSCSI) and C(VSS), by name, with
        C(installed), C(display_name), C(status) and C(start_type).
      type: dict
      returned: when reachable
      sample: {"SWSvc": {"installed": true, "display_name": "SnapDrive", "status": "Running", "start_type": "Automatic"}}
    ports:
      description: SMHV's port 808 and SnapDrive's 4094 and 4095. C(open) means an enabled inbound Allow rule of the Windows
        firewall covers the port. C(rules) lists every TCP rule that covers it.
      type: list
      elements: dict
      returned: when reachable
      sample: [{"port": 808, "open": true, "rules": ["SMHV/SnapDrive"]}]
    initiator_ports: {description: iSCSI and FC initiator ports., type: list, elements: dict, returned: when reachable}
    error_code: {description: Why the host did not answer., type: str, returned: when not reachable}
    msg: {description: What failed., type: str, returned: when not reachable}
snapinfo:
  description: The SnapInfo settings after the run.
  returned: always
  type: dict
  contains:
    registered: {description: Whether the scope is registered., type: bool, returned: always}
    registry_key: {description: The scope's SMHV registry key., type: str, returned: always}
    snapinfo_path: {description: SnapInfo directory., type: str, returned: always, sample: 'S:\'}
    report_path: {description: Report directory., type: str, returned: always, sample: 'C:\SMHV\Reports'}
    snapinfo_snaps_count: {description: SnapInfo snapshots kept., type: int, returned: always, sample: 30}
    scope_record: {description: The scope record in the SnapInfo repository., type: str, returned: with O(state=present),
                   sample: 'S:\smhv\v1\scope.json'}
    lun:
      description: The ONTAP LUN under the SnapInfo path (cluster, svm, volume, path, serial, size).
      type: dict
      returned: with O(state=present)
    volume_shared_with_vms:
      description: VMs with files on the SnapInfo LUN's volume. The module warns when the list is not empty.
      type: list
      elements: str
      returned: with O(state=present)
error_code:
  description: Stable code of the failure, for example C(NOT_ON_ONTAP), C(PATH_NOT_ALLOWED) or C(HOST_UNREACHABLE).
  returned: failure
  type: str
  sample: PATH_NOT_ALLOWED
error_details:
  description: On failure, what the message says as data (names, paths, numbers); its keys depend on RV(error_code), empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import smhv_argument_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.scopes import DEFAULT_SNAPS_COUNT, ScopeSession, gather_hosts, register, unregister
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.ontap.client import StorageClient


def run(params, check_mode):
    with ScopeSession(params["hyperv_host"], params["winrm"], params["host_addresses"]) as session:
        if params["state"] == "present":
            result = register(session, StorageClient(params["storage_systems"]), params["snapinfo_path"], params["report_path"],
                              params["snapinfo_snaps_count"], check_mode, create_snapinfo=params["create_snapinfo"])
        else:
            result = unregister(session, check_mode)
        hosts, warnings = gather_hosts(session)
        result.update(scope=session.describe(), hosts=hosts, warnings=result["warnings"] + warnings)
        return result


def main():
    spec = smhv_argument_spec()
    spec.update(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        snapinfo_path=dict(type="str"),
        report_path=dict(type="str"),
        snapinfo_snaps_count=dict(type="int", default=DEFAULT_SNAPS_COUNT),
        create_snapinfo=dict(type="bool", default=False),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True,
                           required_if=[("state", "present", ("snapinfo_path", "report_path"))])
    run_module(module, run)


if __name__ == "__main__":
    main()
