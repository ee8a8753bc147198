# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SnapDrive for Windows and SnapManager for Hyper-V on every node of a scope (seed §6.1, smhv_package).

Order and rules from the seed and the SMHV installation guide: SnapDrive first on every node, then
SMHV at the same version on every node; only on domain members, only on Windows releases SMHV 2.x
supports. Installers are InstallShield setup.exe files run silently (`/s /v"/qn SILENT_MODE=1 ..."`);
uninstall goes through msiexec with the product code Programs and Features lists, so the installer
is not needed to remove a product. Arguments travel to the agent as an array; the MSI properties inside
the /v argument are quoted the way msiexec reads them (PROP="value", a quote doubled).
"""

from __future__ import annotations

import base64
import hashlib
import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.common import RELEASES, Scope

SNAPDRIVE = "NetApp SnapDrive"
SMHV = "NetApp SnapManager for Hyper-V"
# SMHV 2.1.x hosts: 2008 R2 SP1, 2012, 2012 R2, 2016, 2019 (hyperv-domain.md §4).
SUPPORTED_VERSIONS = ("6.1.7601", "6.2.9200", "6.3.9600", "10.0.14393", "10.0.17763")
_PROPERTY_NAME = re.compile(r"^[A-Z_][A-Z0-9_.]*$")
# Windows Installer writes the command line and every property's value into a verbose (v) log and its
# terminal-properties dump (p), unless the package lists them in MsiHiddenProperties, which a command line
# cannot set. When a secret travels as a property (service passwords, a license key, an extra property
# named like one), the log keeps errors, warnings and fatal exits only, with no property value in it.
VERBOSE_LOG = "/L*v"
SECRET_SAFE_LOG = "/Lewmo"
_SECRET_PROPERTY = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|LICENSE|KEY", re.IGNORECASE)


def secret_property(name):
    return bool(_SECRET_PROPERTY.search(str(name)))


def version_key(text):
    return tuple(int(part) for part in re.findall(r"\d+", text or ""))


def msi_property(name, value):
    """NAME="value" as msiexec reads it: the value quoted, a quote inside doubled."""
    name = str(name).upper()
    if not _PROPERTY_NAME.match(name):
        raise SmhvError("INVALID_ARGUMENT", "%r is not an MSI property name (letters, digits, _ and .)." % (name,))
    value = str(value)
    if "\n" in value or "\r" in value or "\0" in value:
        raise SmhvError("INVALID_ARGUMENT", "The value of MSI property %s holds a line break or NUL." % name)
    return '%s="%s"' % (name, value.replace('"', '""'))


def setup_arguments(properties, log_path, upgrade=False):
    """The argument array for an InstallShield setup.exe: /s and one /v with msiexec's options; a verbose
    log only when no property holds a secret (SECRET_SAFE_LOG otherwise)."""
    mode = SECRET_SAFE_LOG if any(secret_property(name) and str(value) for name, value in properties) else VERBOSE_LOG
    words = ["/qn", msi_property("SILENT_MODE", "1"), mode, '"%s"' % log_path.replace('"', '')]
    for name, value in properties:
        words.append(msi_property(name, value))
    if upgrade:
        words += [msi_property("REINSTALLMODE", "vamus"), msi_property("REINSTALL", "ALL")]
    words.append(msi_property("MSIRESTARTMANAGERCONTROL", "Disable"))
    return ["/s", "/v" + " ".join(words)]


def snapdrive_properties(options):
    props = [("SVCUSERNAME", options["service_username"]), ("SVCUSERPASSWORD", options["service_password"]),
             ("SVCCONFIRMUSERPASSWORD", options["service_password"]), ("SDW_WEBSRV_TCP_PORT", options["tcp_port"]),
             ("SDW_WEBSRV_HTTP_PORT", options["http_port"])]
    return props + sorted((options.get("extra_properties") or {}).items())


def smhv_properties(options):
    props = [("SVCUSERNAME", options["service_username"]), ("SMHVSRV_PASSWORD", options["service_password"]),
             ("SMHVSRV_CONFIRMUSERPASSWORD", options["service_password"]), ("SMHV_WEBSRV_TCP_PORT", options["tcp_port"])]
    if options["license_type"] == "host":
        if not options.get("license_key"):
            raise SmhvError("INVALID_ARGUMENT", "smhv.license_type=host needs smhv.license_key (the SMHV host license); "
                            "use license_type=storage when the license is on the storage systems.")
        props.append(("SMHV_LICENSE", options["license_key"]))
    if options.get("install_dir"):
        props.append(("INSTALLDIR", options["install_dir"]))
    return props + sorted((options.get("extra_properties") or {}).items())


def check_hosts(scope):
    """Refuse the whole scope, before changing anything, if a node is not a domain member or runs a
    Windows release SMHV does not support."""
    problems = []
    for node in scope.nodes:
        facts = scope.facts[node]
        version = facts["os"]["version"]
        if not facts["part_of_domain"]:
            problems.append("%s is not in an Active Directory domain (it is in workgroup %s): SMHV and SnapDrive install only "
                            "on domain members, with a domain service account" % (node, facts["domain"]))
        if version not in SUPPORTED_VERSIONS:
            problems.append("%s runs %s (%s), a release SnapManager for Hyper-V does not support" % (node, facts["os"]["caption"], version))
    domains = set(scope.facts[n]["domain"].lower() for n in scope.nodes if scope.facts[n]["part_of_domain"])
    if len(domains) > 1:
        problems.append("the nodes are in different domains (%s); SMHV cannot be installed on a host of another domain"
                        % ", ".join(sorted(domains)))
    if problems:
        hint = ""
        if any("does not support" in p for p in problems):
            hint = (" SMHV 2.1 runs on %s. On newer hosts use the SnapDrive-free method: the smhv_prerequisites module and "
                    "this collection's checkpoint-based backups." % ", ".join(RELEASES[v] for v in SUPPORTED_VERSIONS))
        raise SmhvError("HOST_NOT_SUPPORTED", "Cannot install SnapDrive/SMHV on %s: %s.%s" % (scope.name, "; ".join(problems), hint),
                        {"scope": scope.name, "problems": problems})


def _service_account(options, product):
    account = options["service_username"]
    if "\\" not in account and "@" not in account:
        raise SmhvError("INVALID_ARGUMENT", "%s service account %r must be a domain account (DOMAIN\\user or user@domain), "
                        "a local administrator on every node." % (product, account))


def _stage(scope, product, path, source, staging_dir, check_mode):
    """The path each node runs the installer from: the share path as given, or the controller file
    copied to staging_dir on every node (skipped where the same bytes are already there)."""
    if source == "remote":
        return path
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise SmhvError("INVALID_ARGUMENT", "Cannot read the %s installer %s on the controller: %s" % (product, path, error))
    name = re.split(r"[\\/]", path)[-1]
    target = staging_dir.rstrip("\\") + "\\" + name
    digest = hashlib.sha256(data).hexdigest()
    present = scope.call_all("file_read", {n: {"paths": [target], "missing_ok": True, "encoding": "base64"} for n in scope.nodes})
    todo = [n for n in scope.nodes if present[n].result["files"][0]["sha256"] != digest]
    if todo and not check_mode:
        content = base64.b64encode(data).decode("ascii")
        scope.call_all("file_write", {n: {"path": target, "content": content, "encoding": "base64", "create_dirs": True}
                                      for n in todo}, nodes=todo)
    return target


def ensure_packages(scope_name, winrm_options, host_addresses, state, snapdrive, smhv, source, staging_dir, log_dir,
                    check_mode):
    actions, warnings = [], []
    products = [(SNAPDRIVE, snapdrive), (SMHV, smhv)]
    with Scope(scope_name, winrm_options, host_addresses) as scope:
        info = scope.call_all("package_info", {n: {"products": [SNAPDRIVE, SMHV]} for n in scope.nodes})
        installed = dict((n, dict((p["name"], p) for p in info[n].result["installed"])) for n in scope.nodes)
        before = dict((n, dict((name, rec["version"]) for name, rec in installed[n].items())) for n in scope.nodes)
        if state == "present":
            check_hosts(scope)
            for product, options in products:
                if options is None:
                    continue
                _service_account(options, product)
                path = _stage(scope, product, options["installer"], source, staging_dir, check_mode)
                if check_mode and source == "controller":
                    version = _controller_version(options)
                else:
                    version = _installer_version(scope, product, path)
                args = _plan_install(scope, product, options, path, version, installed, log_dir, actions)
                if args:
                    replies = scope.call_all("installer_run", args, check_mode, nodes=list(args))
                    if any(r.result["reboot_required"] for r in replies.values()):
                        warnings.append("%s asks for a restart on %s." % (product, ", ".join(sorted(
                            n for n, r in replies.items() if r.result["reboot_required"]))))
                    for node in args:
                        installed[node][product] = {"name": product, "version": version,
                                                    "product_code": installed[node].get(product, {}).get("product_code", "")}
        else:
            for product, options in reversed(products):
                if options is None and product == SNAPDRIVE:
                    continue  # SnapDrive stays unless asked for: other software may need it
                todo = dict((n, installed[n][product]) for n in scope.nodes if product in installed[n])
                for node, record in todo.items():
                    actions.append("%s: uninstall %s %s" % (node, product, record["version"]))
                if todo:
                    log = log_dir.rstrip("\\") + "\\%s-uninstall.log" % product.replace(" ", "")
                    scope.call_all("installer_run", dict(
                        (n, {"path": "msiexec.exe", "arguments": ["/x", r["product_code"], "/qn", "/norestart", "/L*v", log]})
                        for n, r in todo.items()), check_mode, nodes=list(todo))
                    for node in todo:
                        installed[node].pop(product, None)
        nodes = []
        for node in scope.nodes:
            nodes.append({"name": node, "os": scope.node_os(node)["release"], "build": scope.node_os(node)["build"],
                          "domain": scope.facts[node]["domain"], "versions_before": before[node],
                          "versions": dict((name, rec["version"]) for name, rec in installed[node].items())})
        return {"changed": bool(actions), "actions": actions, "warnings": warnings, "scope": scope_name, "kind": scope.kind,
                "nodes": nodes}


def _controller_version(options):
    version = options.get("version")
    if not version:
        raise SmhvError("INVALID_ARGUMENT", "In check mode with installer_source=controller the installer is not copied "
                        "to the hosts, so its version cannot be read there; set the product's version option.")
    return version


def _installer_version(scope, product, path):
    """The installer's ProductVersion, read by every node (each must reach the share), all equal."""
    answers = scope.call_all("package_info", {n: {"installers": [path]} for n in scope.nodes})
    versions = {}
    for node in scope.nodes:
        record = answers[node].result["installers"][0]
        if not record["exists"]:
            raise SmhvError("FILE_NOT_FOUND", "Node %s cannot read the %s installer %s. A share must be readable by the "
                            "connecting account from the node (over WinRM, NTLM cannot pass credentials on to a share: use "
                            "Kerberos with delegation or CredSSP, a share the computer accounts can read, or "
                            "installer_source=controller)." % (node, product, path), {"node": node, "path": path})
        versions[node] = record["product_version"] or ""
    if len(set(versions.values())) != 1 or not versions[scope.nodes[0]]:
        raise SmhvError("INVALID_ARGUMENT", "The %s installer %s reports versions %s; expected one version readable on every "
                        "node." % (product, path, versions), {"versions": versions})
    return versions[scope.nodes[0]]


def _plan_install(scope, product, options, path, version, installed, log_dir, actions):
    """{node: installer_run args} for the nodes that need this product installed or upgraded."""
    plan = {}
    if options.get("version") and version_key(options["version"]) != version_key(version):
        raise SmhvError("INVALID_ARGUMENT", "The %s installer %s is version %s, not the version %s asked for."
                        % (product, path, version, options["version"]))
    properties = snapdrive_properties(options) if product == SNAPDRIVE else smhv_properties(options)
    log = log_dir.rstrip("\\") + "\\%s-%s.log" % (product.replace(" ", ""), version)
    for node in scope.nodes:
        current = installed[node].get(product)
        if current is None:
            if product == SMHV and SNAPDRIVE not in installed[node]:
                raise SmhvError("INVALID_ARGUMENT", "%s has no SnapDrive for Windows, which SMHV needs first; give the "
                                "snapdrive option so both are installed in order." % node, {"node": node})
            actions.append("%s: install %s %s" % (node, product, version))
            plan[node] = {"path": path, "arguments": setup_arguments(properties, log)}
        elif version_key(current["version"]) < version_key(version):
            actions.append("%s: upgrade %s %s -> %s" % (node, product, current["version"], version))
            plan[node] = {"path": path, "arguments": setup_arguments(properties, log, upgrade=True)}
        elif version_key(current["version"]) > version_key(version):
            raise SmhvError("INVALID_ARGUMENT", "%s has %s %s, newer than the installer's %s; a downgrade is not done. Point "
                            "the installer option at %s %s or later so every node runs the same version."
                            % (node, product, current["version"], version, product, current["version"]),
                            {"node": node, "installed": current["version"], "installer": version})
    return plan
