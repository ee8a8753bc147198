"""Names: what a user sees for a bad name, and SMHV's backup / snapshot / SnapInfo formats both ways."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules import names as rules_names
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

UTC = datetime.timezone.utc
WHEN = datetime.datetime(2026, 3, 14, 9, 5, 7, tzinfo=UTC)


def test_bad_characters_are_named_in_the_error():
    with pytest.raises(SmhvError) as caught:
        rules_names.validate_name("dataset", "prod db!")
    assert caught.value.code == "INVALID_ARGUMENT"
    assert "' ', '!'" in caught.value.message and "letters, digits, '_' and '-'" in caught.value.message
    assert caught.value.details["bad_characters"] == [" ", "!"]


@pytest.mark.parametrize("name, fragment", [("", "empty"), ("x" * 41, "41 characters"), ("con", "Windows device name"),
                                            ("LPT1", "Windows device name"), ("a~b", "'~'"), ("a.b", "'.'")])
def test_other_bad_names(name, fragment):
    with pytest.raises(SmhvError) as caught:
        rules_names.validate_name("policy", name)
    assert fragment in caught.value.message


def test_good_names_pass_unchanged():
    assert rules_names.validate_name("dataset", "SQL_prod-01") == "SQL_prod-01"


def test_backup_name_is_smhv_format_in_utc():
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    assert rules_names.backup_name("ds_1", WHEN) == "ds_1_03-14-2026_09.05.07"
    assert rules_names.backup_name("ds_1", WHEN.astimezone(berlin)) == "ds_1_03-14-2026_09.05.07"


def test_backup_name_needs_an_aware_time():
    with pytest.raises(ValueError):
        rules_names.backup_name("ds", datetime.datetime(2026, 3, 14))


def test_backup_name_parses_back_even_with_underscores_in_the_dataset():
    assert rules_names.parse_backup_name("DR_Dataset_Secondary_01-22-2010_18.21.33") == (
        "DR_Dataset_Secondary", datetime.datetime(2010, 1, 22, 18, 21, 33, tzinfo=UTC))
    assert rules_names.parse_backup_name(rules_names.backup_name("a-b_c", WHEN)) == ("a-b_c", WHEN)


@pytest.mark.parametrize("name", ["ds_2026-03-14_09.05.07", "ds_02-30-2026_09.05.07", "_03-14-2026_09.05.07", "hourly.0", "ds_03-14-2026_09.05"])
def test_non_backup_names_parse_to_none(name):
    assert rules_names.parse_backup_name(name) is None


def test_snapshot_names_per_method():
    assert rules_names.snapshot_names("ds_03-14-2026_09.05.07", "checkpoint") == ("ds_03-14-2026_09.05.07",)
    assert rules_names.snapshot_names("ds_03-14-2026_09.05.07", "crash") == ("ds_03-14-2026_09.05.07",)
    assert rules_names.snapshot_names("ds_03-14-2026_09.05.07", "vss_provider") == ("ds_03-14-2026_09.05.07", "ds_03-14-2026_09.05.07_backup")
    with pytest.raises(ValueError):
        rules_names.snapshot_names("x", "diskshadow")


def test_snapshot_maps_back_to_its_backup():
    assert rules_names.backup_of_snapshot("ds_03-14-2026_09.05.07_backup") == "ds_03-14-2026_09.05.07"
    assert rules_names.backup_of_snapshot("ds_03-14-2026_09.05.07") == "ds_03-14-2026_09.05.07"
    assert rules_names.backup_of_snapshot("hourly.2026-03-14_0905") is None
    assert rules_names.backup_of_snapshot("weekly_backup") is None


def test_snapinfo_snapshot_name_uses_the_backup_stamp_and_short_lower_host():
    name = rules_names.snapinfo_snapshot_name("HV-Node1.corp.example.com", WHEN)
    assert name == "smhv_snapinfo_hv-node1_03-14-2026_09.05.07"
    assert rules_names.parse_snapinfo_snapshot_name(name) == ("hv-node1", WHEN)
    assert rules_names.parse_snapinfo_snapshot_name("ds_03-14-2026_09.05.07") is None
