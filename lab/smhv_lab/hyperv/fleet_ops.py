"""The fleet ops over the world (the agent's "Fleet" section): firewall rules, hotfixes, reboots,
SnapDrive/SMHV packages and the SnapDrive-free prerequisites.

Installers and .msu files come from the lab's software share (the topology's `software_share`, a
UNC root and a list of files with what each one installs) or from a host's C: drive, where a file
uploaded from the controller is a JSON document saying the same. installer_run parses the argument
array the way setup.exe (InstallShield: `/s /v"<msiexec options>"`) and msiexec do, so a wrong
switch, a missing password or SMHV before SnapDrive fails here as the real installer would.

A reboot takes the host down for the topology's `reboot_seconds` (default 2) starting a moment after
host_reboot answers; `host_power()` is what each WinRM endpoint asks before it accepts a request.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .context import AgentFailure, OpContext, argument, assert_absolute

INSTALLER_FORMAT = "smhv-lab-installer/1"
MSU_FORMAT = "smhv-lab-msu/1"
BOOT_EPOCH = 1767592800.0  # 2026-01-05T06:00:00Z: when a fresh lab's hosts last booted
REBOOT_GRACE = 1.0  # seconds between host_reboot's answer and the host going down (shutdown /t)
PRODUCT_NAMESPACE = uuid.UUID("0b5b7a39-3f0e-4c55-9a0a-6c1f1ad2c0de")
WUSA_ALREADY_INSTALLED = 2359302  # 0x240006
WUSA_NOT_APPLICABLE = -2145124329  # 0x80240017 as the Int32 Process.ExitCode
MSI_FAILURE = 1603
MSI_ANOTHER_VERSION = 1638
MSI_BAD_COMMAND_LINE = 1639
SMHV_PRODUCT = "NetApp SnapManager for Hyper-V"
SNAPDRIVE_PRODUCT = "NetApp SnapDrive"
MPIO_FEATURE = "Multipath-IO"
# Features a Windows Server offers in the lab (Get-WindowsFeature -Name answers nothing for others).
KNOWN_FEATURES = {"Hyper-V", "Hyper-V-PowerShell", "Multipath-IO", "Failover-Clustering", "RSAT-Clustering-PowerShell",
                  "NET-Framework-Core", "NET-Framework-45-Core"}
RESTART_FEATURES = {"Hyper-V", "Multipath-IO", "Failover-Clustering"}


# -- power ------------------------------------------------------------------------------------------
def _settle(host, now: float) -> None:
    """Apply the passage of time to a host's reboot: down inside the window, booted after it."""
    start, end = getattr(host, "rebooting_from", 0.0), getattr(host, "rebooting_until", 0.0)
    if not end:
        return
    if now >= end:
        host.reachable = True
        host.uptime_boots += 1
        host.last_boot_time = end
        host.reboot_pending = False
        if getattr(host, "pending_ubr", 0) > host.ubr:
            host.ubr = host.pending_ubr
        host.pending_ubr = 0
        host.rebooting_from = host.rebooting_until = 0.0
    elif now >= start:
        host.reachable = False


def host_power(world, name: str) -> tuple[bool, int]:
    """(reachable, boot count) of a host now; the WinRM endpoint refuses requests while it is down and
    forgets its shells when the boot count moves (a reboot ends every remote session)."""
    now = time.time()
    with world.lock:
        for host in world.hosts.values():
            _settle(host, now)
        try:
            host = world.host(name)
        except KeyError:
            return True, 0
        return bool(host.reachable), int(host.uptime_boots)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _last_boot(host) -> str:
    return _iso(getattr(host, "last_boot_time", 0.0) or BOOT_EPOCH)


def host_boot_info(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    pending = bool(getattr(ctx.host, "reboot_pending", False))
    return {"last_boot_time": _last_boot(ctx.host), "reboot_pending": pending,
            "reasons": ["component_based_servicing"] if pending else []}, False


def host_reboot(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    argument(args, "reason", "String", "netapp_hyperv.smhv")
    result = {"last_boot_time": _last_boot(ctx.host), "scheduled": not ctx.check_mode}
    if not ctx.check_mode:
        now = time.time()
        seconds = float(ctx.world.settings.get("reboot_seconds", 2.0))
        ctx.host.rebooting_from = now + REBOOT_GRACE
        ctx.host.rebooting_until = now + REBOOT_GRACE + seconds
    return result, not ctx.check_mode


# -- files: the software share and the host's C: drive ------------------------------------------------
def _share_files(world) -> dict[str, dict[str, Any]]:
    share = world.settings.get("software_share") or {}
    root = share.get("root", "").rstrip("\\")
    return {f"{root}\\{item['path']}".lower(): dict(item, full_path=f"{root}\\{item['path']}")
            for item in share.get("files", [])}


def _read_package(ctx: OpContext, path: str) -> dict[str, Any] | None:
    """What an installer or .msu at `path` is (its version resource, in the lab a JSON document)."""
    if path.startswith("\\\\"):
        return _share_files(ctx.world).get(path.lower())
    try:
        data = ctx.host.read_file(ctx.world, path)
    except (FileNotFoundError, ValueError):
        return None
    try:
        document = json.loads(data)
    except ValueError:
        return {"product": None, "version": None}  # a file, but no version resource Windows can read
    if not isinstance(document, dict) or document.get("format") not in (INSTALLER_FORMAT, MSU_FORMAT):
        return {"product": None, "version": None}
    return document


def _folder_files(ctx: OpContext, folder: str) -> list[tuple[str, dict[str, Any]]] | None:
    """(full path, metadata) of the files directly in `folder`, or None if it is not a folder."""
    prefix = folder.rstrip("\\").lower() + "\\"
    if folder.startswith("\\\\"):
        files = _share_files(ctx.world)
        found = [(item["full_path"], item) for key, item in files.items()
                 if key.startswith(prefix) and "\\" not in key[len(prefix):]]
        return found if found or any(k.startswith(prefix) for k in files) else None
    try:
        tree, inner, _ = ctx.host.resolve(ctx.world, folder)
    except (FileNotFoundError, ValueError):
        return None
    if inner and not tree.is_dir(inner):
        return None
    found = []
    for name in tree.listing(inner):
        if "\\" in name.strip("\\"):
            continue
        full = folder.rstrip("\\") + "\\" + name.strip("\\")
        found.append((full, _read_package(ctx, full) or {}))
    return found


# -- firewall -----------------------------------------------------------------------------------------
def _rule_record(display_name: str, rule: dict[str, Any]) -> dict[str, Any]:
    local = rule.get("local_ports", rule.get("port", []))
    return {"name": rule.get("name", display_name), "display_name": display_name,
            "description": rule.get("description", ""), "enabled": bool(rule.get("enabled", True)),
            "direction": rule.get("direction", "Inbound"), "action": rule.get("action", "Allow"),
            "profile": rule.get("profile", "Any"), "protocol": str(rule.get("protocol", "TCP")).upper(),
            "local_ports": [str(p) for p in (local if isinstance(local, (list, tuple)) else [local])]}


def _find_rule(host, name: str) -> tuple[str, dict[str, Any]] | None:
    for display_name, rule in host.firewall_rules.items():
        if rule.get("name", display_name).lower() == name.lower():
            return display_name, rule
    return None


def _profiles(text: str) -> list[str]:
    return sorted(part.strip() for part in text.split(","))


def firewall_rule_ensure(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    name = argument(args, "name", "String", required=True)
    state = argument(args, "state", "String", "present")
    display_name = argument(args, "display_name", "String", name)
    description = argument(args, "description", "String", "")
    profile = argument(args, "profile", "String", "Any")
    ports = [str(p) for p in argument(args, "ports", "IntegerList", [])]
    if state not in ("present", "absent"):
        raise AgentFailure("BAD_REQUEST", "Argument 'state' must be 'present' or 'absent'.", {"argument": "state"})
    if state == "present" and not ports:
        raise AgentFailure("BAD_REQUEST", "Argument 'ports' must list at least one port.", {"argument": "ports"})
    found = _find_rule(ctx.host, name)
    before = _rule_record(*found) if found else None
    wanted = {"name": name, "display_name": display_name, "description": description, "enabled": True,
              "direction": "Inbound", "action": "Allow", "profile": profile, "protocol": "TCP", "local_ports": ports}
    if state == "absent":
        changed = before is not None
    else:
        changed = before is None or any(
            (sorted(before[k]) != sorted(v)) if k == "local_ports" else
            (_profiles(before[k]) != _profiles(v)) if k == "profile" else before[k] != v
            for k, v in wanted.items())
    after = before
    if changed and not ctx.check_mode:
        if found:
            del ctx.host.firewall_rules[found[0]]
        if state == "present":
            ctx.host.firewall_rules[display_name] = {k: v for k, v in wanted.items() if k != "display_name"}
            after = _rule_record(display_name, ctx.host.firewall_rules[display_name])
        else:
            after = None
    return {"name": name, "before": before, "after": after}, changed


# -- hotfixes -----------------------------------------------------------------------------------------
def hotfix_install(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    kb = argument(args, "kb", "String", required=True)
    source = argument(args, "source", "String", required=True)
    assert_absolute(source, "source")
    if not (kb.startswith("KB") and kb[2:].isdigit() and 6 <= len(kb) - 2 <= 8):
        raise AgentFailure("BAD_REQUEST", f"Argument 'kb': '{kb}' is not a KB id like KB2770917.", {"argument": "kb"})
    result = {"kb": kb, "file": None, "outcome": "", "exit_code": None, "reboot_required": False}
    host = ctx.host
    if any(h.upper() == kb for h in host.hotfixes):
        result["outcome"] = "already_installed"
        return result, False
    pattern = kb.lower()
    candidates = sorted((path for path, _ in _folder_files(ctx, source) or []
                         if pattern in path.rpartition("\\")[2].lower() and path.lower().endswith(".msu")),
                        key=lambda p: p.rpartition("\\")[2].lower())
    if not candidates:
        raise AgentFailure("HOTFIX_FILE_NOT_FOUND", f"No .msu file for {kb} in {source} (looked for *{kb}*.msu).",
                           {"kb": kb, "source": source})
    result["file"] = candidates[0]
    if ctx.check_mode:
        result["outcome"] = "would_install"
        return result, True
    package = _read_package(ctx, candidates[0]) or {}
    if package.get("build") not in (None, host.build):
        result.update(exit_code=WUSA_NOT_APPLICABLE, outcome="not_applicable")
        return result, False
    host.hotfixes.add(kb)
    if package.get("ubr") and int(package["ubr"]) > host.ubr:
        host.pending_ubr = max(host.pending_ubr, int(package["ubr"]))  # the new build runs after the restart
    host.reboot_pending = True
    result.update(exit_code=3010, outcome="installed", reboot_required=True)
    return result, True


# -- packages -----------------------------------------------------------------------------------------
def _product_code(name: str, record: dict[str, Any]) -> str:
    return record.get("product_code") or "{%s}" % str(uuid.uuid5(PRODUCT_NAMESPACE, name)).upper()


def package_info(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    prefixes = argument(args, "products", "StringList", [])
    paths = argument(args, "installers", "StringList", [])
    installed = []
    for name in sorted(ctx.host.installed_software, key=lambda n: _product_code(n, ctx.host.installed_software[n])):
        record = ctx.host.installed_software[name]
        if any(name.lower().startswith(p.lower()) for p in prefixes):
            installed.append({"name": name, "version": str(record.get("version", "")),
                              "product_code": _product_code(name, record),
                              "publisher": record.get("publisher", "NetApp, Inc.")})
    installers = []
    for path in paths:
        assert_absolute(path, "installers")
        package = _read_package(ctx, path)
        installers.append({"path": path, "exists": package is not None,
                           "product_name": (package or {}).get("product"),
                           "product_version": (package or {}).get("version")})
    return {"installed": installed, "installers": installers}, False


def msi_tokens(command_line: str) -> list[str]:
    """msiexec's command-line words: blanks separate them, a quoted part may hold blanks and "" is a quote."""
    tokens, current, quoted, index, started = [], [], False, 0, False
    while index < len(command_line):
        char = command_line[index]
        if char == '"':
            if quoted and command_line[index + 1:index + 2] == '"':
                current.append('"')
                index += 1
            else:
                quoted = not quoted
            started = True
        elif char.isspace() and not quoted:
            if started:
                tokens.append("".join(current))
                current, started = [], False
        else:
            current.append(char)
            started = True
        index += 1
    if quoted:
        raise ValueError("unbalanced quote in the msiexec options")
    if started:
        tokens.append("".join(current))
    return tokens


def _msi_options(words: list[str]) -> tuple[set[str], dict[str, str], str | None]:
    """(switches, PROPERTIES, log file) of msiexec words."""
    switches, properties, log = set(), {}, None
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("/"):
            switches.add(word.lower())
            if word.lower().startswith("/l") and index + 1 < len(words):
                log = words[index + 1]
                index += 1
        elif "=" in word:
            key, _, value = word.partition("=")
            properties[key.upper()] = value
        else:
            raise ValueError(f"unexpected msiexec word {word!r}")
        index += 1
    return switches, properties, log


def _install_failure(code: int, path: str) -> tuple[dict[str, Any], bool]:
    raise AgentFailure("INSTALLER_FAILED", f"The installer {path} failed with exit code {code}; see its log on the host.",
                       {"path": path, "exit_code": code})


def _account_ok(account: str, host) -> bool:
    domain, sep, user = account.partition("\\")
    return bool(sep and user and domain) and domain.lower() != host.name.lower() and domain != "."


def _install(ctx: OpContext, path: str, package: dict[str, Any], properties: dict[str, str],
             switches: set[str]) -> tuple[dict[str, Any], bool]:
    host, product, version = ctx.host, package["product"], str(package["version"])
    if "/qn" not in switches or properties.get("SILENT_MODE") != "1":
        raise AgentFailure("PROCESS_TIMEOUT", f"{path} did not finish within 3600 seconds; it is still running on the "
                           "host.", {"path": path, "timeout": 3600})  # the wizard waits for a user
    current = host.installed_software.get(product)
    upgrade = properties.get("REINSTALL") == "ALL" and properties.get("REINSTALLMODE", "").lower() == "vamus"
    if current is not None and not upgrade:
        return _install_failure(MSI_ANOTHER_VERSION, path)
    if product == SMHV_PRODUCT:
        if SNAPDRIVE_PRODUCT not in host.installed_software:
            return _install_failure(MSI_FAILURE, path)  # SMHV's installer requires SnapDrive first
        account, password = properties.get("SVCUSERNAME", ""), properties.get("SMHVSRV_PASSWORD", "")
        if not _account_ok(account, host) or not password or password != properties.get("SMHVSRV_CONFIRMUSERPASSWORD"):
            return _install_failure(MSI_FAILURE, path)
        license_key = properties.get("SMHV_LICENSE", "")
        record = {"version": version, "publisher": "NetApp, Inc.", "service_account": account,
                  "license": "host" if license_key else "storage", "license_key": license_key,
                  "port": int(properties.get("SMHV_WEBSRV_TCP_PORT", "808"))}
        host.services["OnCommandHyperV"] = {"display_name": "SnapManager for Hyper-V Web Server", "status": "Running",
                                            "start_type": "Automatic"}
    elif product == SNAPDRIVE_PRODUCT:
        account, password = properties.get("SVCUSERNAME", ""), properties.get("SVCUSERPASSWORD", "")
        if not _account_ok(account, host) or not password or password != properties.get("SVCCONFIRMUSERPASSWORD"):
            return _install_failure(MSI_FAILURE, path)
        record = {"version": version, "publisher": "NetApp, Inc.", "service_account": account,
                  "port": int(properties.get("SDW_WEBSRV_TCP_PORT", "808")),
                  "http_port": int(properties.get("SDW_WEBSRV_HTTP_PORT", "4094")),
                  "https_port": int(properties.get("SDW_WEBSRV_HTTPS_PORT", "4095"))}
        host.services["SWSvc"] = {"display_name": "SnapDrive", "status": "Running", "start_type": "Automatic"}
        if not any(p["id"] == ctx.agent.NETAPP_VSS_PROVIDER_ID for p in host.vss_providers):
            host.vss_providers.append({"name": "Data ONTAP VSS Hardware Provider", "id": ctx.agent.NETAPP_VSS_PROVIDER_ID,
                                       "type": "Hardware", "version": version})
    else:
        record = {"version": version, "publisher": package.get("publisher", "")}
    if current is not None:
        record["product_code"] = current.get("product_code")
    record = {k: v for k, v in record.items() if v is not None}
    host.installed_software[product] = record
    return {"path": path, "exit_code": 0, "reboot_required": False}, True


def _uninstall(ctx: OpContext, path: str, product_code: str) -> tuple[dict[str, Any], bool]:
    host = ctx.host
    name = next((n for n, r in host.installed_software.items() if _product_code(n, r).lower() == product_code.lower()),
                None)
    if name is None:
        return _install_failure(1605, path)  # ERROR_UNKNOWN_PRODUCT
    if name == SNAPDRIVE_PRODUCT and SMHV_PRODUCT in host.installed_software:
        return _install_failure(MSI_FAILURE, path)  # SMHV depends on SnapDrive: remove SMHV first
    del host.installed_software[name]
    if name == SMHV_PRODUCT:
        host.services.pop("OnCommandHyperV", None)
    if name == SNAPDRIVE_PRODUCT:
        host.services.pop("SWSvc", None)
        host.vss_providers[:] = [p for p in host.vss_providers if p["id"] != ctx.agent.NETAPP_VSS_PROVIDER_ID]
    return {"path": path, "exit_code": 0, "reboot_required": False}, True


def installer_run(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    path = argument(args, "path", "String", required=True)
    words = argument(args, "arguments", "StringList", [])
    package = None
    if path != "msiexec.exe":
        assert_absolute(path, "path")
        package = _read_package(ctx, path)
        if package is None:
            raise AgentFailure("FILE_NOT_FOUND", f"Installer {path} does not exist or is not readable from this host.",
                               {"path": path})
    if ctx.check_mode:
        return {"path": path, "exit_code": None, "reboot_required": False}, True
    try:
        if package is None:  # msiexec.exe /x {product code} /qn ...
            switches, _, _ = _msi_options([w for w in words if w.lower() != "/x" and not w.startswith("{")])
            codes = [w for w in words if w.startswith("{")]
            if "/x" not in [w.lower() for w in words] or len(codes) != 1 or "/qn" not in switches:
                return _install_failure(MSI_BAD_COMMAND_LINE, path)
            return _uninstall(ctx, path, codes[0])
        if not package.get("product"):
            return _install_failure(193, path)  # ERROR_BAD_EXE_FORMAT: not an installer
        if path.lower().endswith(".msi"):
            switches, properties, log = _msi_options(list(words))
        else:  # InstallShield setup.exe: /s and one /v"<msiexec options>"
            passed = [w for w in words if w.lower().startswith("/v")]
            if "/s" not in [w.lower() for w in words] or len(passed) != 1:
                return _install_failure(MSI_BAD_COMMAND_LINE, path)
            switches, properties, log = _msi_options(msi_tokens(passed[0][2:]))
            if "/x" in [w.lower() for w in words]:
                record = ctx.host.installed_software.get(package["product"])
                if record is None:
                    return _install_failure(1605, path)
                return _uninstall(ctx, path, _product_code(package["product"], record))
    except ValueError:
        return _install_failure(MSI_BAD_COMMAND_LINE, path)
    try:
        return _install(ctx, path, package, properties, switches)
    finally:
        _write_msi_log(ctx, log, switches, properties, words)


def _write_msi_log(ctx: OpContext, log: str | None, switches: set[str], properties: dict[str, str], words: list[str]) -> None:
    """What Windows Installer writes to the /L log: with v the command line, with p (or *) every property's
    final value (the packages list none in MsiHiddenProperties); errors and the outcome at any level."""
    if not log:
        return
    mode = next((s[2:] for s in switches if s.startswith("/l")), "")
    lines = ["=== Verbose logging started ===" if "v" in mode else "=== Logging started ==="]
    if "v" in mode:
        lines.append("MSI (c): Command Line: " + " ".join(words))
        lines += [f"MSI (s): PROPERTY CHANGE: Adding {name} property. Its value is '{value}'." for name, value in properties.items()]
    if "p" in mode or "*" in mode:
        lines += [f"Property(S): {name} = {value}" for name, value in properties.items()]
    lines.append("=== Logging stopped ===")
    ctx.host.write_file(ctx.world, log.strip('"'), "\r\n".join(lines).encode("utf-8"))


# -- prerequisites ------------------------------------------------------------------------------------
def prerequisites_ensure(ctx: OpContext, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    host = ctx.host
    names = argument(args, "features", "StringList", [])
    vendor = argument(args, "mpio_vendor_id", "String", "")
    product = argument(args, "mpio_product_id", "String", "")
    service_names = argument(args, "services", "StringList", [])
    for name in names:
        if name not in KNOWN_FEATURES:
            raise AgentFailure("BAD_REQUEST", f"Windows feature '{name}' does not exist on this host.", {"feature": name})
    for name in service_names:
        if name not in host.services:
            raise AgentFailure("SERVICE_NOT_FOUND", f"Service '{name}' is not installed on this host.", {"service": name})
    changed, restart = False, False
    features = [{"name": n, "installed_before": n in host.features, "installed": n in host.features} for n in names]
    missing = [f["name"] for f in features if not f["installed"]]
    if missing:
        changed = True
        if not ctx.check_mode:
            host.features.update(missing)
            restart = any(n in RESTART_FEATURES for n in missing)
            for record in features:
                record["installed"] = True
    mpio = None
    if vendor:
        claims = getattr(host, "mpio_hardware", None)
        if claims is None:
            claims = host.mpio_hardware = []
        claimed = MPIO_FEATURE in host.features and (vendor, product) in [tuple(c) for c in claims]
        mpio = {"vendor_id": vendor, "product_id": product, "claimed_before": claimed, "claimed": claimed}
        if not claimed:
            changed = True
            if not ctx.check_mode:
                claims.append([vendor, product])
                mpio["claimed"] = restart = True
    services = []
    for name in service_names:
        service = host.services[name]
        record = {"name": name, "start_type_before": service.get("start_type", "Automatic"),
                  "status_before": service.get("status", "Running")}
        record.update(start_type=record["start_type_before"], status=record["status_before"])
        if record["start_type_before"] != "Automatic" or record["status_before"] != "Running":
            changed = True
            if not ctx.check_mode:
                service.update(start_type="Automatic", status="Running")
                record.update(start_type="Automatic", status="Running")
        services.append(record)
    if restart:
        host.reboot_pending = True
    return {"features": features, "mpio": mpio, "services": services, "restart_needed": restart}, changed


OPS = {
    "firewall_rule_ensure": firewall_rule_ensure,
    "host_boot_info": host_boot_info,
    "host_reboot": host_reboot,
    "hotfix_install": hotfix_install,
    "package_info": package_info,
    "installer_run": installer_run,
    "prerequisites_ensure": prerequisites_ensure,
}
