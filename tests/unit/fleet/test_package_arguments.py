"""Installer arguments: MSI property quoting, the InstallShield /s /v array, and that the lab reads
them back exactly (so a password with quotes and blanks reaches the installer intact)."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.package import (
    msi_property, setup_arguments, smhv_properties, snapdrive_properties, version_key)
from smhv_lab.hyperv.fleet_ops import msi_tokens

SMHV = {"service_username": "LAB\\svc smhv", "service_password": 'p"a ss;w&rd', "tcp_port": 808, "license_type": "host",
        "license_key": "ABCD-EFGH", "install_dir": "C:\\Program Files\\NetApp\\SMHV", "extra_properties": {}}


def test_msi_property_quotes_and_doubles_quotes():
    assert msi_property("svcusername", 'a "b"') == 'SVCUSERNAME="a ""b"""'
    for bad_name in ("A B", "1X", "X=Y", 'X"'):
        with pytest.raises(SmhvError):
            msi_property(bad_name, "v")
    with pytest.raises(SmhvError):
        msi_property("X", "line\nbreak")


def test_setup_arguments_round_trip_through_msiexec_parsing():
    arguments = setup_arguments(smhv_properties(SMHV), "C:\\Windows\\Temp\\smhv.log", upgrade=True)
    assert arguments[0] == "/s" and arguments[1].startswith("/v/qn ")
    words = msi_tokens(arguments[1][2:])
    properties = dict(w.split("=", 1) for w in words if "=" in w)
    assert properties["SVCUSERNAME"] == "LAB\\svc smhv"
    assert properties["SMHVSRV_PASSWORD"] == properties["SMHVSRV_CONFIRMUSERPASSWORD"] == 'p"a ss;w&rd'
    assert properties["SMHV_LICENSE"] == "ABCD-EFGH"
    assert properties["INSTALLDIR"] == "C:\\Program Files\\NetApp\\SMHV"
    assert properties["SILENT_MODE"] == "1" and properties["REINSTALL"] == "ALL" and properties["REINSTALLMODE"] == "vamus"
    # A password and a license key are on the command line: no verbose log (it would hold their values).
    assert "/qn" in words and words[words.index("/Lewmo") + 1] == "C:\\Windows\\Temp\\smhv.log" and "/L*v" not in words


@pytest.mark.parametrize("name", ["SVCUSERPASSWORD", "SMHV_LICENSE", "MY_API_KEY", "DB_PWD", "vault_token"])
def test_a_secret_property_turns_the_verbose_log_off(name):
    words = msi_tokens(setup_arguments([("SDW_WEBSRV_TCP_PORT", 808), (name, "x")], "C:\\l.log")[1][2:])
    assert "/Lewmo" in words and "/L*v" not in words


def test_without_a_secret_the_log_stays_verbose():
    words = msi_tokens(setup_arguments([("SDW_WEBSRV_TCP_PORT", 808), ("INSTALLDIR", "C:\\x"), ("SMHV_LICENSE", "")], "C:\\l.log")[1][2:])
    assert "/L*v" in words


def test_host_license_needs_a_key_and_storage_license_passes_none():
    with pytest.raises(SmhvError, match="license_key"):
        smhv_properties(dict(SMHV, license_key=None))
    assert "SMHV_LICENSE" not in dict(smhv_properties(dict(SMHV, license_type="storage")))


def test_snapdrive_properties_and_extras():
    props = dict(snapdrive_properties({"service_username": "LAB\\sd", "service_password": "pw", "tcp_port": 808,
                                       "http_port": 4098, "extra_properties": {"TRANSPORT_PRT_PORT": 443}}))
    assert props["SVCUSERPASSWORD"] == props["SVCCONFIRMUSERPASSWORD"] == "pw"
    assert props["SDW_WEBSRV_HTTP_PORT"] == 4098 and props["TRANSPORT_PRT_PORT"] == 443


def test_version_order():
    assert version_key("2.1.4") < version_key("2.1.10") < version_key("2.2")
    assert version_key("7.1.5") == (7, 1, 5)
