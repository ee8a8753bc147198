"""The fleet playbooks against the lab: hotfix_compliance.yml writes a JSON report and an HTML page that
headless Chromium renders (DOM and screenshot checked); fleet_install.yml prepares every scope and a
second run changes nothing; with install=true the compliance playbook brings hvdr01 up to date."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lab_fixture import REPO_ROOT, ansible_env

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--hide-scrollbars"]
INSTALL_VARS = {
    "smhv_install_snapdrive_installer": "\\\\fs01.lab.local\\software\\SnapDrive\\SnapDrive7.1.5_x64.exe",
    "smhv_install_smhv_installer": "\\\\fs01.lab.local\\software\\SMHV\\SMHV-2.1.4-x64.exe",
    "smhv_install_service_username": "LAB\\svc-smhv",
    "smhv_install_service_password": "Lab pass \"1\"",
    "smhv_install_reboot": "if_required",
    "smhv_install_reboot_timeout": 120,
}


def playbook(lab, tmp_path, name, extra=None):
    args = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.inventory), str(REPO_ROOT / "playbooks" / name)]
    if extra:
        args += ["-e", json.dumps(extra)]
    run = subprocess.run(args, env=ansible_env(tmp_path, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false"), capture_output=True, check=False,
                         text=True, timeout=600)
    assert run.returncode == 0, f"{name} failed:\n{run.stdout[-8000:]}\n{run.stderr[-3000:]}"
    return run.stdout


def recap_changed(output):
    return {host: int(changed) for host, changed in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.MULTILINE)}


def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: `make test` installs it (APT_PACKAGES), or apt-get install chromium")
    return found


class Dom(HTMLParser):
    """Enough of the rendered DOM to check: elements by id, host sections, table rows, chart bars."""

    def __init__(self):
        super().__init__()
        self.ids, self.sections, self.rows, self.bars, self._text_target = {}, {}, [], {}, None
        self._section = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "data-host" in attrs:
            self._section = attrs["data-host"]
            self.sections[self._section] = attrs
        if tag == "tr" and "data-item" in attrs:
            self.rows.append((self._section, attrs["data-item"], attrs.get("class")))
        if tag == "g" and "data-host" in attrs:
            self.bars[attrs["data-host"]] = attrs
        if "id" in attrs:
            self._text_target = attrs["id"]
            self.ids[attrs["id"]] = ""

    def handle_data(self, data):
        if self._text_target:
            self.ids[self._text_target] += data.strip()

    def handle_endtag(self, tag):
        self._text_target = None


def render(html_file, tmp_path):
    profile = tmp_path / "chromium-profile"
    base = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run([*base, "--dump-dom", html_file.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
    shot = tmp_path / "report.png"
    subprocess.run([*base, "--window-size=1200,1400", f"--screenshot={shot}", html_file.as_uri()], capture_output=True,
                   timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000  # a blank page is ~5 kB
    parsed = Dom()
    parsed.feed(dom.stdout)
    return parsed


def test_hotfix_compliance_report(lab, tmp_path):
    lab.reset()
    report_dir = tmp_path / "reports"
    playbook(lab, tmp_path, "hotfix_compliance.yml", {"hotfix_compliance_dir": str(report_dir)})
    data = json.loads((report_dir / "hotfix_compliance.json").read_text())
    assert data["summary"] == {"scopes": 3, "scopes_not_reached": [], "hosts": 4, "compliant": 3, "not_compliant": 1,
                               "missing_items": 1, "pending_reboot_items": 0}
    hosts = {h["name"]: h for scope in data["scopes"] for h in scope["hosts"]}
    assert sorted(hosts) == ["hv01", "hv02", "hv03", "hvdr01"]
    assert hosts["hvdr01"]["missing"] == ["build"] and hosts["hvdr01"]["build"] == "10.0.20348.2113"
    assert hosts["hvdr01"]["requirements"][0]["kb"] == "KB5034770"
    assert hosts["hv03"]["requirements"][0]["minimum"] == "10.0.17763.5458" and hosts["hv03"]["compliant"]

    dom = render(report_dir / "hotfix_compliance.html", tmp_path)
    assert (dom.ids["summary-hosts"], dom.ids["summary-compliant"], dom.ids["summary-not-compliant"],
            dom.ids["summary-missing"]) == ("4", "3", "1", "1")
    assert {name: attrs["data-compliant"] for name, attrs in dom.sections.items()} == {
        "hv01": "true", "hv02": "true", "hv03": "true", "hvdr01": "false"}
    assert [(host, cls) for host, _item, cls in dom.rows if cls != "ok"] == [("hvdr01", "missing")]
    assert "summary-chart" in dom.ids and dom.bars["hvdr01"]["data-missing"] == "1" and dom.bars["hv01"]["data-ok"] == "1"


def test_fleet_install_then_compliance_with_install(lab, tmp_path):
    lab.reset()
    first = playbook(lab, tmp_path, "fleet_install.yml", INSTALL_VARS)
    assert recap_changed(first) == {"hv03": 3, "hvclus01": 2, "hvdr01": 2}, first[-3000:]
    state = lab.state()["hosts"]
    assert state["hv02"]["firewall_rules"]["NetApp SnapManager for Hyper-V (Net.Tcp)"]["local_ports"] == ["808"]
    assert all(len(state[h]["firewall_rules"]) == 3 for h in ("hv01", "hv02", "hv03", "hvdr01"))
    second = playbook(lab, tmp_path, "fleet_install.yml", INSTALL_VARS)
    assert set(recap_changed(second).values()) == {0}, second[-3000:]

    report_dir = tmp_path / "after"
    playbook(lab, tmp_path, "hotfix_compliance.yml", {
        "hotfix_compliance_dir": str(report_dir), "smhv_hotfix_install": True, "smhv_hotfix_reboot": "if_required",
        "smhv_hotfix_source": "\\\\fs01.lab.local\\software\\Hotfixes", "smhv_hotfix_reboot_timeout": 120})
    data = json.loads((report_dir / "hotfix_compliance.json").read_text())
    assert data["summary"]["compliant"] == 4 and data["summary"]["missing_items"] == 0
    assert lab.state()["hosts"]["hvdr01"]["build"] == "10.0.20348.2322"
    dom = render(report_dir / "hotfix_compliance.html", tmp_path)
    assert dom.ids["summary-missing"] == "0" and all(row[2] == "ok" for row in dom.rows)
