"""`smhv-lab up --base-port`: the same ports on every up, in the documented order, and a clear refusal when one is
taken; `smhv-lab --help` lists the user's commands only; the inventory names what fleet_install.yml needs from the
lab's software share."""
from __future__ import annotations

import json
import random
import socket

import yaml

from lab_fixture import lab_command, running_lab
from smhv_lab import cli

PORTS_OF_THE_DEFAULT_LAB = 11  # the control API, 2 ONTAP clusters, 4 hosts with WinRM over HTTP and HTTPS


def free_range(count: int) -> int:
    """A first port from which `count` ports in a row are free now."""
    for _attempt in range(50):
        first = random.randrange(20000, 60000)
        probes = []
        try:
            for port in range(first, first + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError(f"no {count} free ports in a row")


def ports_in_order(endpoints: dict) -> list[int]:
    ports = [int(endpoints["control"]["url"].rsplit(":", 1)[1])]
    ports += [cluster["port"] for cluster in endpoints["ontap"].values()]
    for host in endpoints["hosts"].values():
        ports += [host["http_port"], host["https_port"]]
    return ports


def test_fixed_ports_stay_the_same_across_down_and_up(tmp_path):
    first = free_range(PORTS_OF_THE_DEFAULT_LAB)
    state = tmp_path / "state"
    seen = []
    for _round in range(2):
        up = lab_command("up", "--state-dir", str(state), "--base-port", str(first))
        assert up.returncode == 0, up.stderr
        try:
            seen.append(ports_in_order(json.loads((state / "endpoints.json").read_text())))
        finally:
            assert lab_command("down", "--state-dir", str(state)).returncode == 0
    assert seen[0] == seen[1] == list(range(first, first + PORTS_OF_THE_DEFAULT_LAB))


def test_a_taken_fixed_port_is_refused_with_the_range_it_needs(tmp_path):
    first = free_range(PORTS_OF_THE_DEFAULT_LAB)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first + 3))
        taken.listen()
        up = lab_command("up", "--state-dir", str(tmp_path / "state"), "--base-port", str(first))
    assert up.returncode == 1
    assert f"the lab needs ports {first}-{first + PORTS_OF_THE_DEFAULT_LAB - 1}" in up.stderr, up.stderr


def test_free_ports_without_the_option_and_the_fleet_variables_in_the_inventory(tmp_path):
    with running_lab(tmp_path / "state") as lab:
        ports = ports_in_order(lab.endpoints)
        variables = yaml.safe_load(lab.inventory.read_text())["all"]["vars"]
    assert len(set(ports)) == PORTS_OF_THE_DEFAULT_LAB
    share = "\\\\fs01.lab.local\\software\\"
    assert variables["smhv_install_snapdrive_installer"] == share + "SnapDrive\\SnapDrive7.1.5_x64.exe"
    assert variables["smhv_install_smhv_installer"] == share + "SMHV\\SMHV-2.1.4-x64.exe"
    assert variables["smhv_hotfix_source"] == share + "Hotfixes"
    assert (variables["smhv_install_service_username"], variables["smhv_install_service_password"]) == (
        variables["smhv_winrm"]["username"], variables["smhv_winrm"]["password"])


def test_help_lists_only_the_commands_a_user_runs(capsys):
    try:
        cli.main(["--help"])
    except SystemExit:
        pass
    shown = capsys.readouterr().out
    assert "==SUPPRESS==" not in shown and "serve" not in shown
    assert all(command in shown for command in ("up", "status", "down"))
