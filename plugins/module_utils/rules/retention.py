# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retention: which backups of a dataset a policy's retention deletes, as a plan with reasons.

Rules (DESIGN §5 step 4, the seed's "Retention Policies"):
- Only backups of the given dataset carrying the policy's retention tag (hourly, daily, weekly,
  monthly) are considered; other tags belong to other policies. `unlimited` never deletes.
- Good backups (status ok) are kept by count (the newest N) or by age (strictly younger than the
  age: a backup exactly 30 days old has expired, so 30 days of hourly backups is 720, not 721).
- The newest good backup of the dataset and tag is never deleted, even when every backup is older
  than the age (backups stopped for a while): the seed asks that at least one verified backup stays.
- Failed attempts are never counted against good backups, so failures cannot push good backups
  out. They keep their record (and whatever partial snapshot cleanup left) under the same window,
  counted among failed attempts only: the newest N failed attempts, or those younger than the age.
  That keeps recent failures visible in reports for as long as the backups they missed would have been.
- A backup to delete whose snapshot is busy (a clone, a mount, a SnapMirror base) is not deleted
  but reported in `skipped_busy` with the reason; the next run retries it. Nothing else is deleted
  in its place.
- Every list is ordered oldest first (ties by name), so plans are reproducible and deletion starts
  with the oldest backup.
"""

from __future__ import annotations

import dataclasses
import datetime
import re

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError

RETENTION_TAGS = ("hourly", "daily", "weekly", "monthly", "unlimited")
STATUSES = ("ok", "failed")
_AGE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text):
    """A retention age such as '30d', '12h', '4w' or '90m' -> timedelta: a positive whole number of minutes, hours,
    days or weeks (the one rule for a policy's retention and an on-demand backup's)."""
    match = _AGE.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise SmhvError("INVALID_ARGUMENT", "Retention age %r must be a positive number with a unit: m (minutes), h, d or w, such as "
                        "'30d'." % (text,), {"age": text})
    return datetime.timedelta(seconds=int(match.group(1)) * _AGE_UNITS[match.group(2)])


@dataclasses.dataclass(frozen=True)
class Retention:
    """A policy's retention: its tag and either `count` (keep the newest N) or `age` (keep younger than)."""

    tag: str
    count: int | None = None
    age: datetime.timedelta | None = None

    def __post_init__(self):
        if self.tag not in RETENTION_TAGS:
            raise SmhvError("INVALID_ARGUMENT", "Retention tag must be one of %s, got %r." % (", ".join(RETENTION_TAGS), self.tag),
                            {"tag": self.tag})
        if self.tag == "unlimited":
            if self.count is not None or self.age is not None:
                raise SmhvError("INVALID_ARGUMENT", "Retention 'unlimited' keeps every backup; do not give a count or an age with it.",
                                {"tag": self.tag})
            return
        if (self.count is None) == (self.age is None):
            raise SmhvError("INVALID_ARGUMENT", "Retention %r needs exactly one of count (keep the newest N backups) or age (delete "
                            "backups older than it)." % self.tag, {"tag": self.tag})
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1):
            raise SmhvError("INVALID_ARGUMENT", "Retention count must be at least 1 (the last good backup is always kept), got %r."
                            % (self.count,), {"count": self.count})
        if self.age is not None and (not isinstance(self.age, datetime.timedelta) or self.age <= datetime.timedelta(0)):
            raise SmhvError("INVALID_ARGUMENT", "Retention age must be a positive duration, got %r." % (self.age,), {"age": str(self.age)})

    def describe(self):
        if self.tag == "unlimited":
            return "unlimited"
        if self.count is not None:
            return "the newest %d %s" % (self.count, self.tag)
        return "%s younger than %s" % (self.tag, self.age)


@dataclasses.dataclass(frozen=True)
class RetentionCandidate:
    """What retention needs to know of one backup; `busy` and its reason come from ONTAP."""

    name: str
    dataset: str
    time: datetime.datetime
    tag: str
    status: str
    busy: bool = False
    busy_reason: str = ""


@dataclasses.dataclass(frozen=True)
class Decision:
    backup: RetentionCandidate
    reason: str


@dataclasses.dataclass(frozen=True)
class RetentionPlan:
    """delete: act on these; keep: left alone; skipped_busy: due for deletion but busy, retry later."""

    delete: tuple
    keep: tuple
    skipped_busy: tuple

    @property
    def delete_names(self):
        return [decision.backup.name for decision in self.delete]

    def as_dict(self):
        def rows(decisions):
            return [{"name": d.backup.name, "time": d.backup.time.isoformat(), "status": d.backup.status, "reason": d.reason}
                    for d in decisions]
        return {"delete": rows(self.delete), "keep": rows(self.keep), "skipped_busy": rows(self.skipped_busy)}


def _order(decisions):
    return tuple(sorted(decisions, key=lambda d: (d.backup.time, d.backup.name)))


def _window(retention, backups, now, label):
    """Split backups (newest first) into (kept with reason, expired with reason) by the retention window."""
    kept, expired = [], []
    for position, backup in enumerate(backups):
        if retention.count is not None:
            if position < retention.count:
                kept.append(Decision(backup, "among the newest %d %s %s" % (retention.count, label, retention.tag)))
            else:
                expired.append(Decision(backup, "beyond the newest %d %s %s" % (retention.count, label, retention.tag)))
        elif now - backup.time < retention.age:
            kept.append(Decision(backup, "younger than %s" % retention.age))
        else:
            expired.append(Decision(backup, "%s old, retention keeps %s younger than %s" % (now - backup.time, label, retention.age)))
    return kept, expired


def plan_retention(dataset, retention, backups, now):
    """The RetentionPlan for `dataset` under `retention` at `now` (aware); `backups` may hold any dataset and tag."""
    if now.utcoffset() is None:
        raise ValueError("now must be a time zone aware datetime")
    mine = [backup for backup in backups if backup.dataset == dataset and backup.tag == retention.tag]
    if retention.tag == "unlimited":
        return RetentionPlan(delete=(), keep=_order(Decision(b, "retention is unlimited") for b in mine), skipped_busy=())
    newest_first = sorted(mine, key=lambda b: (b.time, b.name), reverse=True)
    good = [b for b in newest_first if b.status == "ok"]
    failed = [b for b in newest_first if b.status != "ok"]

    keep, expired = [], []
    if good:
        # The last good backup is kept whatever the window says; the window then applies to the rest,
        # so a count of N still means N good backups.
        keep.append(Decision(good[0], "the newest good %s backup is always kept" % retention.tag))
        kept, gone = _window(retention, good, now, "good")
        keep.extend(d for d in kept if d.backup is not good[0])
        expired.extend(d for d in gone if d.backup is not good[0])
    kept, gone = _window(retention, failed, now, "failed")
    keep.extend(kept)
    expired.extend(gone)

    delete = [d for d in expired if not d.backup.busy]
    skipped = [Decision(d.backup, "%s; snapshot busy: %s" % (d.reason, d.backup.busy_reason or "in use"))
               for d in expired if d.backup.busy]
    return RetentionPlan(delete=_order(delete), keep=_order(keep), skipped_busy=_order(skipped))
