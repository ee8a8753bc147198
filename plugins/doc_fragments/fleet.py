# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # For the fleet modules, which talk only to Windows hosts but are in the action group whose
    # module_defaults also set storage_systems: they accept it (same spec, secrets no_log) and ignore it.
    DOCUMENTATION = r"""
options:
  storage_systems:
    description:
      - Not used by this module, which talks only to Windows hosts. Accepted, with the same suboptions as the
        other modules of the collection, so that C(module_defaults) for C(group/netapp_hyperv.smhv.smhv) apply.
    type: list
    elements: dict
    suboptions:
      hostname:
        description: Cluster management address or name.
        type: str
        required: true
      username:
        description: ONTAP user.
        type: str
      password:
        description: Password of O(storage_systems[].username).
        type: str
      port:
        description: HTTPS port (1-65535).
        type: int
        default: 443
      validate_certs:
        description: Check the cluster's certificate.
        type: bool
        default: true
      ca_path:
        description: A PEM bundle of the CAs that signed the cluster's certificate. It must exist on the controller.
        type: path
      cert_filepath:
        description: Client certificate.
        type: path
      key_filepath:
        description: Private key of O(storage_systems[].cert_filepath).
        type: path
      timeout:
        description: Seconds to wait for an ONTAP job (1-86400).
        type: int
        default: 60
"""
