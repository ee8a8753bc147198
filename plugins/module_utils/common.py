# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by every module: the Hyper-V side and the storage side (DESIGN §8).

Each spec matches a doc fragment of the same name (plugins/doc_fragments/hyperv.py, ontap.py); a
test keeps the two in step.
"""

from __future__ import annotations

WINRM_AUTH_CHOICES = ["negotiate", "ntlm", "kerberos", "credssp", "basic", "certificate"]
WINRM_PROTOCOL_CHOICES = ["psrp", "winrm"]


def winrm_options_spec():
    return dict(
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        port=dict(type="int"),
        use_ssl=dict(type="bool", default=True),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        auth=dict(type="str", default="negotiate", choices=WINRM_AUTH_CHOICES),
        protocol=dict(type="str", default="psrp", choices=WINRM_PROTOCOL_CHOICES),
        cert_pem=dict(type="path"),
        cert_key_pem=dict(type="path", no_log=False),
        allow_basic_over_http=dict(type="bool", default=False),
        connection_timeout=dict(type="int", default=30),
        operation_timeout=dict(type="int", default=20),
        read_timeout=dict(type="int", default=30),
        operation_retries=dict(type="int", default=3),
    )


def hyperv_argument_spec(host_required=True):
    """Options that reach a Hyper-V host or failover cluster over WinRM."""
    return dict(
        hyperv_host=dict(type="str", required=host_required),
        winrm=dict(type="dict", required=True, options=winrm_options_spec()),
        host_addresses=dict(type="dict", default={}),
    )


def storage_system_spec():
    return dict(
        hostname=dict(type="str", required=True),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        port=dict(type="int", default=443),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        cert_filepath=dict(type="path"),
        key_filepath=dict(type="path", no_log=False),
        timeout=dict(type="int", default=60),
    )


def storage_argument_spec():
    """Options that reach the ONTAP clusters holding the VMs' LUNs (and their SnapMirror peers)."""
    return dict(
        storage_systems=dict(type="list", elements="dict", required=True, options=storage_system_spec()),
    )


def smhv_argument_spec(host_required=True):
    """Both sides together: what almost every module takes."""
    spec = hyperv_argument_spec(host_required)
    spec.update(storage_argument_spec())
    return spec
