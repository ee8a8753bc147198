#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smhv_package
short_description: Install, upgrade or remove SnapDrive for Windows and SnapManager for Hyper-V on a scope
version_added: 0.1.0
description:
  - Installs SnapDrive for Windows, then SnapManager for Hyper-V (SMHV), on every node of O(hyperv_host),
    in that order and at the same version on every node of a cluster, as NetApp's installation guide asks.
  - Runs the InstallShield installers silently (C(setup.exe /s /v"/qn SILENT_MODE=1 ...")) with the service
    account, the SMHV license (host-based) or none (storage-system licensing) and the web service ports.
  - Upgrades a node whose installed version is older than the installer (C(REINSTALLMODE=vamus REINSTALL=ALL));
    refuses a downgrade.
  - With O(state=absent), removes SMHV (and SnapDrive when O(snapdrive) is given) with C(msiexec /x) and the
    product code, so the installer is not needed.
  - Refuses, before changing anything, a scope with a node outside an Active Directory domain or on a
    Windows release SMHV 2.x does not support (it supports 2008 R2 SP1, 2012, 2012 R2, 2016 and 2019). On
    newer hosts use the SnapDrive-free method (M(netapp_hyperv.smhv.smhv_prerequisites)).
author: netapp_hyperv.smhv contributors (@netapp-hyperv)
extends_documentation_fragment:
  - netapp_hyperv.smhv.hyperv
  - netapp_hyperv.smhv.fleet
options:
  hyperv_host:
    required: true
  state:
    description: V(present) installs or upgrades; V(absent) uninstalls.
    type: str
    choices: [present, absent]
    default: present
  installer_source:
    description:
      - V(remote), the installer paths are read by each node (a share, or a local path on the nodes).
      - V(controller), they are files on the controller, copied to O(staging_dir) on each node first (in one
        request each; skipped where the same file is already there).
    type: str
    choices: [remote, controller]
    default: remote
  staging_dir:
    description: Where controller installers are copied on the nodes.
    type: str
    default: C:\Windows\Temp\netapp_hyperv.smhv
  log_dir:
    description:
      - Folder on the nodes for the Windows Installer logs.
      - Windows Installer writes the command line and every property's value into a verbose log, so an install that
        passes a secret (the service passwords, a license key, an O(smhv.extra_properties) or O(snapdrive.extra_properties)
        entry named like C(PASSWORD), C(KEY), C(LICENSE), C(SECRET), C(TOKEN) or C(PWD)) logs errors and warnings only
        (C(/Lewmo)); other installs and uninstalls log verbosely (C(/L*v)).
    type: str
    default: C:\Windows\Temp
  snapdrive:
    description:
      - SnapDrive for Windows. Needed with O(state=present) on nodes without SnapDrive; with O(state=absent),
        give it to remove SnapDrive after SMHV.
    type: dict
    suboptions:
      installer: {description: Path of C(SnapDrive<version>_x64.exe); required with O(state=present)., type: str}
      version: {description: Expected installer version (checked; required in check mode with O(installer_source=controller))., type: str}
      service_username: {description: Domain account the SnapDrive service runs as (C(DOMAIN\\user))., type: str}
      service_password: {description: Its password., type: str}
      tcp_port: {description: Net.Tcp port (C(SDW_WEBSRV_TCP_PORT))., type: int, default: 808}
      http_port: {description: HTTP web service port (C(SDW_WEBSRV_HTTP_PORT))., type: int, default: 4094}
      extra_properties:
        description: More installer properties, for example C(TRANSPORT_SETTING_ENABLE), C(PREFERRED_STORAGE_SYSTEM_NAME).
        type: dict
        default: {}
  smhv:
    description: SnapManager for Hyper-V. Needed with O(state=present).
    type: dict
    suboptions:
      installer: {description: Path of C(SMHV-<version>-x64.exe); required with O(state=present)., type: str}
      version: {description: Expected installer version (checked; required in check mode with O(installer_source=controller))., type: str}
      service_username: {description: Domain account the SMHV service runs as (a local administrator on every node)., type: str}
      service_password: {description: Its password., type: str}
      license_type:
        description: V(host), a license key per host (C(SMHV_LICENSE)); V(storage), the license is on the storage systems.
        type: str
        choices: [host, storage]
        default: storage
      license_key: {description: The host-based license key., type: str}
      install_dir: {description: Installation folder (C(INSTALLDIR))., type: str}
      tcp_port: {description: Net.Tcp port (C(SMHV_WEBSRV_TCP_PORT)); the same on every node of a cluster., type: int, default: 808}
      extra_properties: {description: More installer properties., type: dict, default: {}}
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
    delegation, CredSSP, or a share the computer accounts can read); otherwise use O(installer_source=controller).
  - M(ansible.windows.win_package) installs one package on one host; this module adds the SMHV order,
    version and platform rules across a cluster.
seealso:
  - module: ansible.windows.win_package
  - module: netapp_hyperv.smhv.smhv_prerequisites
"""

EXAMPLES = r"""
- name: SnapDrive 7.1.5 then SMHV 2.1.4 on every node of a 2019 cluster, storage-system licensing
  netapp_hyperv.smhv.smhv_package:
    hyperv_host: hvclus19
    winrm: "{{ smhv_winrm }}"
    snapdrive:
      installer: \\fs01.example.com\software\SnapDrive\SnapDrive7.1.5_x64.exe
      service_username: EXAMPLE\svc-snapdrive
      service_password: "{{ vault_snapdrive_password }}"
    smhv:
      installer: \\fs01.example.com\software\SMHV\SMHV-2.1.4-x64.exe
      service_username: EXAMPLE\svc-smhv
      service_password: "{{ vault_smhv_password }}"
  delegate_to: localhost

- name: Remove SMHV, keep SnapDrive
  netapp_hyperv.smhv.smhv_package:
    hyperv_host: hv03
    winrm: "{{ smhv_winrm }}"
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
actions:
  description: Installs, upgrades and removals done (or that would be, in check mode), per node.
  returned: always
  type: list
  elements: str
  sample: ["hv03: install NetApp SnapManager for Hyper-V 2.1.4"]
scope:
  description: The O(hyperv_host) worked on.
  returned: always
  type: str
  sample: hv03
kind:
  description: V(standalone) or V(cluster).
  returned: always
  type: str
  sample: standalone
nodes:
  description: Per node, its Windows release and the NetApp product versions before and after.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "hv03", "os": "Windows Server 2019", "build": "10.0.17763.5936", "domain": "lab.local",
            "versions_before": {"NetApp SnapDrive": "7.1.5"},
            "versions": {"NetApp SnapDrive": "7.1.5", "NetApp SnapManager for Hyper-V": "2.1.4"}}]
error_code:
  description: V(HOST_NOT_SUPPORTED) when a node is outside a domain or on an unsupported Windows release.
  returned: failure
  type: str
  sample: HOST_NOT_SUPPORTED
error_details:
  description: On failure, what the message says as data (names, paths, numbers); its keys depend on RV(error_code), empty when there is nothing to add.
  returned: failure
  type: dict
  sample: {}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.argspec import hyperv_argument_spec, storage_system_spec
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.package import ensure_packages
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.runner import run_module


def run(params, check_mode):
    return ensure_packages(params["hyperv_host"], params["winrm"], params["host_addresses"], params["state"], params["snapdrive"],
                           params["smhv"], params["installer_source"], params["staging_dir"], params["log_dir"], check_mode)


def main():
    spec = hyperv_argument_spec()
    spec.update(storage_systems=dict(type="list", elements="dict", options=storage_system_spec()))
    product = dict(
        installer=dict(type="str"),
        version=dict(type="str"),
        service_username=dict(type="str"),
        service_password=dict(type="str", no_log=True),
        tcp_port=dict(type="int", default=808),
        extra_properties=dict(type="dict", default={}),
    )
    snapdrive = dict(product, http_port=dict(type="int", default=4094))
    smhv = dict(product, license_type=dict(type="str", choices=["host", "storage"], default="storage"),
                license_key=dict(type="str", no_log=True), install_dir=dict(type="str"))
    spec.update(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        installer_source=dict(type="str", choices=["remote", "controller"], default="remote"),
        staging_dir=dict(type="str", default="C:\\Windows\\Temp\\netapp_hyperv.smhv"),
        log_dir=dict(type="str", default="C:\\Windows\\Temp"),
        snapdrive=dict(type="dict", options=snapdrive),
        smhv=dict(type="dict", options=smhv),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_if=[("state", "present", ["smhv"])])
    p = module.params
    if p["state"] == "present":
        for name in ("snapdrive", "smhv"):
            if p[name] and not (p[name]["installer"] and p[name]["service_username"] and p[name]["service_password"]):
                module.fail_json(msg="%s.installer, %s.service_username and %s.service_password are required with state=present."
                                 % (name, name, name), error_code="INVALID_ARGUMENT", error_details={"option": name})
    run_module(module, run)


if __name__ == "__main__":
    main()
