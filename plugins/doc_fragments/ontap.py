# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  storage_systems:
    description:
      - The ONTAP clusters that hold the VMs' LUNs, and their SnapMirror peers. A LUN is found by its
        serial number on whichever cluster has it.
      - Modules use the C(netapp-ontap) library over HTTPS (the ONTAP REST API, ONTAP 9.8 or later).
    type: list
    elements: dict
    required: true
    suboptions:
      hostname:
        description: Cluster management address or name.
        type: str
        required: true
      username:
        description: ONTAP user. It needs the REST role described in the collection's user guide.
        type: str
      password:
        description: Password of O(storage_systems[].username).
        type: str
      port:
        description: HTTPS port (1-65535).
        type: int
        default: 443
      validate_certs:
        description: Check the cluster's certificate. Keep it on; give O(storage_systems[].ca_path) for a private CA.
        type: bool
        default: true
      ca_path:
        description: A PEM bundle of the CAs that signed the cluster's certificate. It must exist on the controller.
        type: path
      cert_filepath:
        description: Client certificate for certificate authentication, instead of a password.
        type: path
      key_filepath:
        description: Private key of O(storage_systems[].cert_filepath).
        type: path
      timeout:
        description: Seconds to wait for an ONTAP job before failing with its UUID (1-86400).
        type: int
        default: 60
requirements:
  - netapp-ontap >= 9.13.1
"""
