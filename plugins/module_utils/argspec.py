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

# The allowed range of every integer option, by its path in the argument spec (suboptions joined by
# dots, list positions dropped). A value outside it fails before the module does anything, naming the
# option and the range, instead of overflowing a socket timeout, a timedelta or a URL deep inside.
# An integer option not listed gets DEFAULT_INT_RANGE: what PowerShell's and .NET's [int] hold.
PORT_RANGE = (1, 65535)
DAY = 86400
DEFAULT_INT_RANGE = (0, 2 ** 31 - 1)
INT_RANGES = {
    "winrm.port": PORT_RANGE,
    "winrm.connection_timeout": (1, DAY),
    "winrm.operation_timeout": (1, DAY),
    "winrm.read_timeout": (1, DAY),
    "winrm.operation_retries": (0, 100),
    "storage_systems.port": PORT_RANGE,
    "storage_systems.timeout": (1, DAY),
    # smhv_backup
    "lease_wait": (0, DAY),
    "lease_ttl": (60, DAY),
    "pre_script.timeout": (1, DAY),
    "post_script.timeout": (1, DAY),
    # smhv_backup and smhv_policy: a backup keeps a snapshot per volume, and ONTAP keeps at most 1023.
    "retention.count": (1, 1023),
    "schedule.minute": (0, 59),
    "schedule.day_of_month": (1, 31),
    # smhv_host and smhv_snapinfo (host_registration.MAX_SNAPS_COUNT)
    "snapinfo_snaps_count": (1, 1000),
    "retention": (1, 1000),
    "min_interval": (0, 366 * DAY),
    # fleet modules
    "reboot_timeout": (1, DAY),
    # smhv_firewall_ports: 0 manages no rule for that port (its documented choice).
    "smhv_port": (0, 65535),
    "snapdrive_http_port": (0, 65535),
    "snapdrive_https_port": (0, 65535),
    "smhv.tcp_port": PORT_RANGE,
    "snapdrive.tcp_port": PORT_RANGE,
    "snapdrive.http_port": PORT_RANGE,
}


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


def int_range(path):
    """(lowest, highest) allowed for the integer option at `path` ("storage_systems.timeout")."""
    return INT_RANGES.get(path, DEFAULT_INT_RANGE)


def out_of_range_ints(argument_spec, params, prefix="", shown=""):
    """Every integer option in `params` (validated by AnsibleModule against `argument_spec`) outside its
    range, as (shown name such as "storage_systems[1].port", value, lowest, highest), in spec order."""
    found = []
    for name, option in argument_spec.items():
        value = (params or {}).get(name)
        if value is None:
            continue
        path, label = prefix + name, shown + name
        kind = option.get("type", "str")
        if kind == "int" and not isinstance(value, bool) and isinstance(value, int):
            low, high = int_range(path)
            if not low <= value <= high:
                found.append((label, value, low, high))
        elif option.get("options") and kind == "dict" and isinstance(value, dict):
            found.extend(out_of_range_ints(option["options"], value, path + ".", label + "."))
        elif option.get("options") and kind == "list" and isinstance(value, list):
            for index, element in enumerate(value):
                if isinstance(element, dict):
                    found.extend(out_of_range_ints(option["options"], element, path + ".", "%s[%d]." % (label, index)))
    return found
