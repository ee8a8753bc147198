# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  hyperv_host:
    description:
      - The Hyper-V scope to work on, a standalone host name or a failover cluster name.
      - For a cluster, the module talks to the node that owns the core cluster group and reaches
        the other nodes as needed.
      - Names are resolved through O(host_addresses) first, then DNS.
    type: str
  winrm:
    description:
      - How to reach Windows hosts over WinRM. The modules run on the controller and use
        C(pypsrp) (PowerShell Remoting, the default) or C(pywinrm) (WinRS).
      - Set it once for every module with C(module_defaults) and the action group
        C(group/netapp_hyperv.smhv.smhv).
    type: dict
    required: true
    suboptions:
      username:
        description: User name, for example C(DOMAIN\\user) or C(user@DOMAIN.COM).
        type: str
      password:
        description: Password of O(winrm.username).
        type: str
      port:
        description: WinRM port (1-65535). Defaults to 5986 with O(winrm.use_ssl), else 5985.
        type: int
      use_ssl:
        description: Use HTTPS. Over HTTP, NTLM, Kerberos and CredSSP still encrypt every message.
        type: bool
        default: true
      validate_certs:
        description: Check the host's certificate. Keep it on; give O(winrm.ca_path) for a private CA.
        type: bool
        default: true
      ca_path:
        description: A PEM bundle of the CAs that signed the hosts' WinRM certificates. It must exist on the controller.
        type: path
      auth:
        description:
          - Authentication. C(negotiate) tries Kerberos then NTLM.
          - C(basic) is refused over HTTP unless O(winrm.allow_basic_over_http) is set, because it
            sends the password in clear.
          - C(certificate) needs O(winrm.cert_pem) and O(winrm.cert_key_pem) and HTTPS.
        type: str
        choices: [negotiate, ntlm, kerberos, credssp, basic, certificate]
        default: negotiate
      protocol:
        description:
          - C(psrp) runs the agent in a PowerShell runspace (pypsrp).
          - C(winrm) runs PowerShell in a WinRS cmd shell and streams the agent over stdin (pywinrm).
        type: str
        choices: [psrp, winrm]
        default: psrp
      cert_pem:
        description: Client certificate for O(winrm.auth=certificate).
        type: path
      cert_key_pem:
        description: Private key of O(winrm.cert_pem).
        type: path
      allow_basic_over_http:
        description: Allow Basic authentication over plain HTTP. Only for isolated test networks.
        type: bool
        default: false
      connection_timeout:
        description: Seconds to wait for a TCP connection (1-86400).
        type: int
        default: 30
      operation_timeout:
        description: WS-Management operation timeout in seconds (1-86400); a long agent operation is polled again after it.
        type: int
        default: 20
      read_timeout:
        description: Seconds to wait for an HTTP answer (1-86400). Must be greater than O(winrm.operation_timeout).
        type: int
        default: 30
      operation_retries:
        description: How many times (0-100) to retry a request that failed because the connection dropped.
        type: int
        default: 3
  host_addresses:
    description:
      - Maps host, node and cluster names to C(address) or C(address:port), for controllers that
        cannot resolve them through DNS (and for the lab).
    type: dict
    default: {}
requirements:
  - pypsrp >= 0.8.1 (O(winrm.protocol=psrp)) or pywinrm >= 0.4.3 (O(winrm.protocol=winrm))
  - pyspnego >= 0.10 (C(negotiate), C(ntlm) and C(kerberos) authentication; C(kerberos) also needs C(pyspnego[kerberos]))
"""
