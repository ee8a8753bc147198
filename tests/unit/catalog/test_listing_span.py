"""Time-bounded listings ask the repository only for the names stamped around the span (span_wildcard), and that
wildcard never drops a backup inside the span."""
from __future__ import annotations

import datetime
import random

import pytest

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog import Catalog
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.listing import backup_file_name, span_wildcard
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.store import LAYOUT
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.catalog.repository import MemoryRepository, wildcard
from unit.catalog.factory import SCOPE, T0, make_backup, save_in_order

UTC = datetime.timezone.utc


@pytest.mark.parametrize("since, until, expected", [
    ((2026, 1, 21), (2026, 1, 28), "*_01-2?-2026*"),
    ((2026, 1, 28), (2026, 2, 4), "*_0?-??-2026*"),
    ((2026, 3, 14, 9), (2026, 3, 14, 9, 59, 59), "*_03-14-2026_09*"),
    ((2026, 3, 14, 9, 5), (2026, 3, 14, 9, 5), "*_03-14-2026_09.05.00*"),
    ((2025, 12, 30), (2026, 1, 2), "*_??-??-202*"),
    ((1999, 12, 30), (2026, 1, 2), None),
    ((2026, 1, 2), (2026, 1, 1), None),
])
def test_span_wildcard(since, until, expected):
    assert span_wildcard(datetime.datetime(*since, tzinfo=UTC), datetime.datetime(*until, tzinfo=UTC)) == expected


def test_span_wildcard_needs_both_ends():
    assert span_wildcard(T0, None) is None and span_wildcard(None, T0) is None


def test_span_wildcard_fits_every_backup_in_the_span():
    """Random spans from a second to years, in other time zones too: every stamp inside fits; the ends are inclusive."""
    rng = random.Random(6)
    zone = datetime.timezone(datetime.timedelta(hours=-7))
    for _attempt in range(2000):
        since = datetime.datetime(2020, 1, 1, tzinfo=UTC) + datetime.timedelta(seconds=rng.randrange(10 ** 8))
        until = since + datetime.timedelta(seconds=rng.choice([0, 1, 59, 3600, 86399, 86400 * 9, 86400 * 40, 86400 * 400, 10 ** 9]) * rng.random())
        if rng.random() < 0.3:
            since, until = since.astimezone(zone), until.astimezone(zone)
        pattern = span_wildcard(since, until)
        fits = wildcard(pattern).fullmatch if pattern else (lambda name: True)
        for when in (since, until, since + (until - since) * rng.random()):
            record = make_backup("ds_1-x", when.replace(microsecond=0))
            if since <= record.time <= until:
                assert fits(backup_file_name(record)), (since, until, pattern)


def test_a_bounded_listing_asks_for_the_span_only():
    repository = MemoryRepository()
    catalog = Catalog(repository)
    catalog.initialize(SCOPE)
    save_in_order(catalog, [make_backup("prod", T0 + datetime.timedelta(hours=hour)) for hour in range(24 * 40)])
    asked = []
    listing = repository.list

    def spy(directory, recurse=False, prefix="", match=None):
        entries = listing(directory, recurse, prefix, match)
        asked.append((match, len(entries)))
        return entries

    repository.list = spy
    since, until = T0 + datetime.timedelta(days=3), T0 + datetime.timedelta(days=9, hours=5)
    found = catalog.list_backups(since=since, until=until)
    assert [s.time for s in found] == [since + datetime.timedelta(hours=h) for h in range(6 * 24 + 6)]
    # March 17 09:00 to March 23 14:00: days 1x and 2x differ in their tens, so the host lists March (from T0, March 14 09:00).
    assert asked == [("*_03-??-2026*", 24 * 18 - 9)]
    assert catalog.list_backups(dataset="prod", since=since, until=until) == found
    assert catalog.list_backups() == catalog.list_backups(since=T0, until=T0 + datetime.timedelta(days=40))
    assert [match for match, _count in asked[-2:]] == [None, "*_0?-??-2026*"]
    assert len(repository.list(LAYOUT + "/backups", recurse=True, match="*_03-1?-2026_09*")) == 6
