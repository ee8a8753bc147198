# -*- coding: utf-8 -*-
# Copyright: (c) 2026, netapp_hyperv.smhv contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshot budget: would the policies on a volume, at steady state, stay under its snapshot limit?

ONTAP refuses a snapshot past the volume's limit (255 on old releases, 1023 from 9.4, 1019 on a
SnapMirror destination: the caller knows which and passes it). The seed's warning: 30 hourly
backups of two snapshots each is 60 snapshots, but "30 days" of hourly backups is 1440 and the
volume fills in five days, after which every backup fails. This check refuses such a policy when it
is created, not on day five.

Per volume:
    used = snapshots that are not ours (taken as they are now)
         + for every policy whose datasets put VMs on the volume:
               retained backups x snapshots per backup (1 for crash and checkpoint, 2 for vss_provider)
         + SnapInfo snapshots (default 30) when the volume holds the SnapInfo LUN
         + the in-flight backup: retention runs after the new backup's snapshots exist, so for a moment
           a volume holds one more backup than retention keeps (the largest snapshots-per-backup)
A keep-by-age retention becomes a count through the schedule: the most runs that fit in any window
of that age (30 days of hourly = 720). Keep-by-age without a schedule has no bound and is refused on any
volume it touches. Unlimited retention has no bound either: unacknowledged it is refused the same way;
acknowledged (smhv_policy's acknowledge_unlimited, issue 22) it counts the snapshots its backups hold on
the volume now, and unlimited_warnings says how many more backups fit before the limit.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime

from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.errors import SmhvError
from ansible_collections.netapp_hyperv.smhv.plugins.module_utils.rules.schedule import iter_runs

SNAPSHOTS_PER_BACKUP = {"crash": 1, "checkpoint": 1, "vss_provider": 2}
DEFAULT_SNAPINFO_COPIES = 30
# Counting stops past the largest ONTAP limit: the exact figure then no longer changes the answer.
_COUNT_CAP = 1024
# The reference start for counting cron runs: a year covers every weekday/month-day alignment but leap days.
_REFERENCE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


@dataclasses.dataclass(frozen=True)
class PolicyLoad:
    """One policy's demand on volumes: its retention, schedule (None for on-demand only) and method."""

    dataset: str
    policy: str
    retention: object  # rules_retention.Retention
    schedule: object | None  # rules_schedule.Schedule
    method: str  # crash | checkpoint | vss_provider
    acknowledged: bool = False  # unlimited retention the user accepted: counted as it stands, and warned about

    @property
    def label(self):
        return "%s/%s" % (self.dataset, self.policy)


@dataclasses.dataclass(frozen=True)
class VolumeUse:
    """A volume and what shares it: `limit` from ONTAP, `foreign` snapshots not ours, the policies on it."""

    name: str
    limit: int
    foreign: int
    policies: tuple
    snapinfo_copies: int = 0  # the SnapInfo snapshots kept, when this volume holds the SnapInfo LUN
    held: dict = dataclasses.field(default_factory=dict)  # policy label -> snapshots its backups hold on the volume now


@dataclasses.dataclass(frozen=True)
class VolumeBudget:
    volume: str
    limit: int
    used: int
    per_policy: dict  # label -> snapshots at steady state (None when unbounded)
    foreign: int
    snapinfo: int
    in_flight: int
    unbounded: tuple  # labels of policies with no bound
    unlimited: tuple = ()  # labels of acknowledged unlimited policies, counted by what they hold now

    @property
    def headroom(self):
        return self.limit - self.used

    @property
    def ok(self):
        return not self.unbounded and self.used <= self.limit

    def as_dict(self):
        return {"volume": self.volume, "limit": self.limit, "used": self.used, "headroom": self.headroom, "per_policy": dict(self.per_policy),
                "foreign": self.foreign, "snapinfo": self.snapinfo, "in_flight": self.in_flight, "unbounded": list(self.unbounded),
                "unlimited": list(self.unlimited)}


def max_runs_within(schedule, age):
    """The most runs of `schedule` in any window of length `age` (capped at 1024), or None without a schedule."""
    if schedule is None:
        return None
    if schedule.min_interval is not None:
        # Fixed frequencies run at most once per interval: 30 days / 1 hour = 720 runs in (now-30d, now].
        return min(_COUNT_CAP, -(-age // schedule.min_interval))
    # Cron: slide a window of `age` over a year of runs and keep the fullest.
    end = _REFERENCE + datetime.timedelta(days=366) + age
    window = collections.deque()
    best = 0
    for when in iter_runs(schedule, _REFERENCE):
        if when > end:
            break
        window.append(when)
        while when - window[0] >= age:
            window.popleft()
        best = max(best, len(window))
        if best >= _COUNT_CAP:
            break
    return best


def retained_backups(load):
    """How many backups of `load` stay at steady state, or None when nothing bounds it."""
    retention = load.retention
    if retention.tag == "unlimited":
        return None
    if retention.count is not None:
        return retention.count
    return max_runs_within(load.schedule, retention.age)


def volume_budget(volume):
    """The VolumeBudget of one VolumeUse."""
    per_policy, unbounded, unlimited = {}, [], []
    in_flight = 0
    for load in volume.policies:
        if load.method not in SNAPSHOTS_PER_BACKUP:
            raise ValueError("unknown backup method %r" % (load.method,))
        per_backup = SNAPSHOTS_PER_BACKUP[load.method]
        in_flight = max(in_flight, per_backup)
        retained = retained_backups(load)
        if retained is None and load.acknowledged and load.retention.tag == "unlimited":
            unlimited.append(load.label)
            per_policy[load.label] = volume.held.get(load.label, 0)
        elif retained is None:
            unbounded.append(load.label)
            per_policy[load.label] = None
        else:
            per_policy[load.label] = retained * per_backup
    used = volume.foreign + volume.snapinfo_copies + in_flight + sum(count for count in per_policy.values() if count is not None)
    return VolumeBudget(volume.name, volume.limit, used, per_policy, volume.foreign, volume.snapinfo_copies, in_flight, tuple(unbounded),
                        tuple(unlimited))


def _explain(budget):
    parts = ["%s %d" % (label, count) for label, count in sorted(budget.per_policy.items()) if count is not None]
    if budget.foreign:
        parts.append("other snapshots %d" % budget.foreign)
    if budget.snapinfo:
        parts.append("SnapInfo copies %d" % budget.snapinfo)
    if budget.in_flight:
        parts.append("the backup being taken %d" % budget.in_flight)
    return " + ".join(parts)


def check_budget(volumes):
    """Budgets of every volume; raise SmhvError(SNAPSHOT_BUDGET_EXCEEDED) naming every volume over its limit."""
    budgets = [volume_budget(volume) for volume in volumes]
    problems = []
    for budget in budgets:
        if budget.unbounded:
            problems.append("volume %s: %s keep%s backups without bound (unlimited retention, or keep-by-age without a schedule); "
                            "give a count or a schedule (for retention unlimited, acknowledge_unlimited: true)"
                            % (budget.volume, ", ".join(budget.unbounded), "s" if len(budget.unbounded) == 1 else ""))
        elif budget.used > budget.limit:
            problems.append("volume %s would hold %d snapshots at steady state (%s), over its limit of %d by %d"
                            % (budget.volume, budget.used, _explain(budget), budget.limit, budget.used - budget.limit))
    if problems:
        raise SmhvError("SNAPSHOT_BUDGET_EXCEEDED", "Snapshot budget exceeded: %s. Backups would start failing once the limit is "
                        "reached; keep fewer backups (a count, or a shorter age), back up less often, or move VMs to other volumes."
                        % "; ".join(problems), {"volumes": [budget.as_dict() for budget in budgets]})
    return budgets


def unlimited_warnings(budgets):
    """One warning per volume (VolumeBudget dicts) that an acknowledged unlimited policy loads: what it holds now, and how
    many more of its backups fit before the volume's limit, after which every backup on the volume fails."""
    warnings = []
    for budget in budgets:
        if not budget.get("unlimited"):
            continue
        room = budget["limit"] - budget["used"]
        held = ", ".join("%s %d" % (label, budget["per_policy"][label]) for label in budget["unlimited"])
        warnings.append("Volume %s: %s keep%s every backup (retention unlimited, acknowledged); their backups hold %s snapshots now. The volume "
                        "takes %d snapshots (ONTAP's limit: 255 before 9.4, 1023 from 9.4, less on a SnapMirror destination); with the other "
                        "policies at steady state there is room for %d more, so after about %d more backups (%s) every backup on the volume "
                        "fails. Delete old backups in time, or give the policy a count or an age."
                        % (budget["volume"], ", ".join(budget["unlimited"]), "s" if len(budget["unlimited"]) == 1 else "", held,
                           budget["limit"], max(room, 0), max(room, 0) // max(budget["in_flight"], 1),
                           "two snapshots each with method vss_provider" if budget["in_flight"] == 2 else "one snapshot each"))
    return warnings
