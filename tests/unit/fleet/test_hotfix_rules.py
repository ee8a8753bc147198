"""Hotfix requirements as data: Table 1 per release, minimum builds for cumulative-update releases,
the statuses a node report gives, and the options that change them."""
from __future__ import annotations

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.hotfix import evaluate, normalize_kb, requirements
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.fleet.hotfix_data import MINIMUM_BUILDS, REQUIRED_KBS


def facts(version, ubr=0, hotfixes=(), caption="Microsoft Windows Server"):
    return {"computer_name": "HV", "os": {"caption": caption, "version": version, "build": int(version.split(".")[2]),
                                          "ubr": ubr}, "hotfixes": list(hotfixes)}


def test_table_1_is_the_seeds_table():
    assert REQUIRED_KBS["6.2.9200"]["kbs"] == ["KB2770917", "KB2779768", "KB2795944", "KB2811660", "KB2822241",
                                               "KB2836988", "KB2845533", "KB2851998", "KB2870270"]
    assert len(REQUIRED_KBS["6.1.7600"]["kbs"]) == 9 and "KB978157" in REQUIRED_KBS["6.1.7600"]["kbs"]
    # The seed's "Windows Server 2008 SP1" row holds 2008 R2 SP1 hotfixes (build 7601).
    assert {"KB2263829", "KB2637197"} <= set(REQUIRED_KBS["6.1.7601"]["kbs"])
    assert all(kb.startswith("KB") for table in REQUIRED_KBS.values() for kb in table["kbs"])


def test_every_cumulative_update_release_has_a_minimum_build_with_its_update_and_source():
    assert set(MINIMUM_BUILDS) == {"6.3.9600", "10.0.14393", "10.0.17763", "10.0.20348", "10.0.26100"}
    for entry in MINIMUM_BUILDS.values():
        assert entry["ubr"] > 0 and entry["kb"].startswith("KB") and entry["source"]
    assert not set(MINIMUM_BUILDS) & set(REQUIRED_KBS)


def test_2012_host_missing_two_table_1_hotfixes():
    installed = [kb for kb in REQUIRED_KBS["6.2.9200"]["kbs"] if kb not in ("KB2795944", "KB2870270")]
    report = evaluate("hv12", facts("6.2.9200", 17000, installed))
    assert report["release"] == "Windows Server 2012"
    assert report["missing"] == ["KB2795944", "KB2870270"]
    assert not report["compliant"]
    assert [item["kind"] for item in report["requirements"]] == ["kb"] * 9  # no build check on a hotfix-serviced release


def test_hotfix_ids_compare_case_insensitively():
    report = evaluate("hv12", facts("6.2.9200", 0, [kb.lower() for kb in REQUIRED_KBS["6.2.9200"]["kbs"]]))
    assert report["compliant"] and report["missing"] == []


@pytest.mark.parametrize("ubr, hotfixes, status", [
    (2322, [], "ok"),
    (2700, [], "ok"),
    (2321, [], "missing"),
    (2113, ["KB5034770"], "pending_reboot"),  # installed, the new build runs after the restart
])
def test_build_check_on_2022(ubr, hotfixes, status):
    report = evaluate("hv", facts("10.0.20348", ubr, hotfixes))
    (item,) = report["requirements"]
    assert (item["id"], item["kb"], item["minimum"], item["status"]) == ("build", "KB5034770", "10.0.20348.2322", status)
    assert report["compliant"] == (status == "ok")
    assert report["pending_reboot"] == (["build"] if status == "pending_reboot" else [])


def test_unknown_release_is_never_compliant():
    report = evaluate("old", facts("6.0.6002"))
    assert report["known_release"] is False and report["compliant"] is False
    assert report["release"] == "Windows Server 2008 SP2"


def test_options_extra_exclude_and_minimum_build_override():
    need = requirements("6.1.7601", extra_kbs=["4012212", "KB2263829"], exclude_kbs=["kb2263829"])
    kbs = [kb for kb, _source in need["kbs"]]
    assert "KB2263829" not in kbs and kbs[-1] == "KB4012212"
    override = requirements("10.0.17763", minimum_builds={"10.0.17763": {"ubr": "6000", "kb": "KB5039217"}})
    assert override["build"]["ubr"] == 6000 and override["build"]["kb"] == "KB5039217"
    assert override["build"]["source"] == "minimum_builds option"
    report = evaluate("hv03", facts("10.0.17763", 5936), minimum_builds={"10.0.17763": {"ubr": 6000}})
    assert report["missing"] == ["build"]


@pytest.mark.parametrize("bad", ["KB12", "2770917; rm", "KBabc", ""])
def test_kb_ids_are_validated(bad):
    with pytest.raises(SmhvError) as error:
        normalize_kb(bad)
    assert error.value.code == "INVALID_ARGUMENT"


def test_minimum_builds_override_needs_ubr():
    with pytest.raises(SmhvError):
        requirements("10.0.20348", minimum_builds={"10.0.20348": {"kb": "KB1234567"}})
