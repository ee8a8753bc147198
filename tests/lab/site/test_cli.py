"""`smhv-lab up/status/down` as a user runs it: fast start, endpoints and inventory written, state
kept across down/up, and nothing left behind."""
from __future__ import annotations

import json
import os
import socket
import time

import yaml

from lab_fixture import lab_command, running_lab


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _ports(endpoints: dict) -> list[int]:
    ports = [o["port"] for o in endpoints["ontap"].values()]
    for host in endpoints["hosts"].values():
        ports += [host["http_port"], host["https_port"]]
    ports.append(int(endpoints["control"]["url"].rsplit(":", 1)[1]))
    return ports


def test_up_writes_endpoints_and_inventory_then_down_leaves_nothing(tmp_path):
    state = tmp_path / "state"
    started = time.monotonic()
    up = lab_command("up", "--state-dir", str(state))
    elapsed = time.monotonic() - started
    assert up.returncode == 0, up.stderr
    try:
        assert elapsed < 5, f"smhv-lab up took {elapsed:.1f} s"
        endpoints = json.loads((state / "endpoints.json").read_text())
        assert set(endpoints["ontap"]) == {"cluster-a", "cluster-b"}
        assert set(endpoints["hosts"]) == {"hv01", "hv02", "hv03", "hvdr01"}
        assert endpoints["scopes"]["hvclus01"] == {"kind": "cluster", "nodes": ["hv01", "hv02"], "site": "a"}
        assert endpoints["scopes"]["hv03"]["kind"] == "standalone"
        assert (state / "tls" / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert oct((state / "endpoints.json").stat().st_mode & 0o777) == "0o600"  # it holds passwords
        inventory = yaml.safe_load((state / "inventory.yml").read_text())
        variables = inventory["all"]["vars"]
        assert {s["port"] for s in variables["smhv_storage_systems"]} == {o["port"] for o in endpoints["ontap"].values()}
        assert all(s["validate_certs"] and s["ca_path"] == endpoints["ca_path"] for s in variables["smhv_storage_systems"])
        assert variables["smhv_winrm"]["validate_certs"] is True
        assert variables["smhv_host_addresses"]["hvclus01"] == variables["smhv_host_addresses"]["hv01"]
        assert set(inventory["all"]["children"]["site_a"]["hosts"]) == {"hvclus01", "hv03"}
        assert set(inventory["all"]["children"]["site_b"]["hosts"]) == {"hvdr01"}
        status = lab_command("status", "--state-dir", str(state))
        assert status.returncode == 0 and "is running" in status.stdout
        pid = int((state / "lab.pid").read_text())
        assert all(_listening(port) for port in _ports(endpoints))
    finally:
        down = lab_command("down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert not (state / "lab.pid").exists()
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "the lab process is still running after down"
    assert not any(_listening(port) for port in _ports(endpoints)), "a lab port is still listening after down"
    assert lab_command("status", "--state-dir", str(state)).returncode == 3


def test_state_survives_down_and_up(tmp_path):
    state = tmp_path / "state"
    with running_lab(state) as lab:
        lab.control("POST", "/guest-data", {"vm": "vm-file01", "path": "C:\\notes\\kept.txt", "data": "still here"})
    with running_lab(state) as lab:
        answer = lab.control("GET", "/guest-data?vm=vm-file01&path=C:%5Cnotes%5Ckept.txt")
    assert answer["data"] == "still here" and answer["complete"] is True


def test_second_up_on_a_running_state_dir_is_refused(tmp_path):
    state = tmp_path / "state"
    with running_lab(state):
        again = lab_command("up", "--state-dir", str(state))
        assert again.returncode == 1
        assert "already running" in again.stderr
