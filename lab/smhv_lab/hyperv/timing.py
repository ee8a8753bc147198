"""How long a Hyper-V host takes to make and merge checkpoints, and how many it runs at once.

A checkpoint op (backup_ops.py) spends each VM's `checkpoint.create` or `checkpoint.remove` time before its
change lands, as the agent's Checkpoint-VM -AsJob and Remove-VMSnapshot -AsJob jobs do, CHECKPOINT_JOBS of them
side by side (agent/checkpoint_jobs.ps1; AgentExecutor._run_jobs); each job's time is spent outside the world's
lock, holding one of the host's `concurrency` slots, so other hosts and other calls go on meanwhile and a host
never runs more checkpoint operations at once than it may: the agent's other jobs wait for a slot.

Durations use the lab's one timing model (smhv_lab.timing, as ONTAP's jobs do): an operation, then its
family ("checkpoint"), then "*", in the host's own overrides, then in its profile. Profiles:

- "realistic": estimates (no public measurement of production checkpoint or merge times is known; see
  docs/lab.md, "Hyper-V timing"). `checkpoint.create` 5 s: a production checkpoint asks the guest for a VSS
  snapshot (writers prepare, freeze, flush, thaw) and puts an .avhdx on every disk; VSS lets a guest stay
  frozen 10 s at most, and a Hyper-V book gives "a few seconds" for a running VM's checkpoint.
  `checkpoint.remove` 3 s: a backup's checkpoint lives for seconds to a minute, so its .avhdx holds little to
  merge back. `concurrency` 4 per host: an estimate, Hyper-V documents no limit for checkpoint jobs.
- "instant" (the lab's default, and the fidelity suites'): every checkpoint at once, no limit. A backup of
  a cluster's running VMs costs seconds per VM in the realistic profile, which would multiply the time of
  every suite that backs up.
"""
from __future__ import annotations

import collections
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from ..timing import Timing

REALISTIC = {"*": 0.0, "checkpoint.create": 5.0, "checkpoint.remove": 3.0}
PROFILES = {"realistic": REALISTIC, "instant": {"*": 0.0}}
CONCURRENCY = {"realistic": 4, "instant": 0}  # 0: no limit
DEFAULT_PROFILE = "instant"
TIMING = Timing("Hyper-V", PROFILES, DEFAULT_PROFILE, profile_attr="timing_profile", overrides_attr="timing_durations")


def duration(host, operation: str) -> float:
    return TIMING.duration(host, operation)


def concurrency(host) -> int:
    """How many checkpoint operations the host runs at once (0: any number)."""
    own = getattr(host, "checkpoint_concurrency", None)
    return CONCURRENCY[TIMING.profile(host)] if own is None else own


def configure(host, profile: str | None = None, durations: dict[str, float] | None = None,
              concurrency: int | None = None) -> dict[str, Any]:
    """Set a host's profile, durations (seconds: "checkpoint.create", "checkpoint.remove", "checkpoint" or "*")
    and concurrency; a new profile drops earlier durations and concurrency. The topology and the control API
    call this."""
    if profile is not None:
        host.checkpoint_concurrency = None
    TIMING.configure(host, profile, durations)
    if concurrency is not None:
        if int(concurrency) < 0:
            raise ValueError("concurrency must be 0 (no limit) or more")
        host.checkpoint_concurrency = int(concurrency)
    return timing(host)


def configure_world(world, settings: dict[str, Any]) -> dict[str, Any]:
    """The control API's POST /hyperv-timing: {host?, profile?, durations?, concurrency?}; no host means every one."""
    name = settings.get("host")
    if name is not None and name not in world.hosts:
        raise ValueError(f"no Hyper-V host named {name!r}")
    for host in [world.hosts[name]] if name else world.hosts.values():
        configure(host, settings.get("profile"), settings.get("durations"), settings.get("concurrency"))
    return {host.name: timing(host) for host in world.hosts.values()}


def timing(host) -> dict[str, Any]:
    return {**TIMING.timing(host), "concurrency": concurrency(host)}


class HostSlots:
    """Each host's running checkpoint operations, at most its concurrency at once; others wait their turn."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: collections.Counter[str] = collections.Counter()

    @contextmanager
    def held(self, host: str, limit: int) -> Iterator[None]:
        with self._changed:
            while limit and self._running[host] >= limit:
                self._changed.wait()
            self._running[host] += 1
        try:
            yield
        finally:
            with self._changed:
                self._running[host] -= 1
                self._changed.notify_all()
