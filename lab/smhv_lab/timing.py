"""How long the lab's slow operations take: per-operation durations in named profiles, kept on the object
that runs them (an ONTAP cluster's jobs, ontap/jobs.py; a Hyper-V host's checkpoints, hyperv/timing.py).

An operation is named `<family>.<verb>` ("snapshot.create", "checkpoint.remove"). Its duration is looked up in
the object's own overrides (the operation, then its family, then "*"), then in the object's profile. A new
profile drops earlier overrides, so "instant" means instant whatever was set before.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timing:
    kind: str  # what the messages call these operations ("job", "Hyper-V")
    profiles: dict[str, dict[str, float]]
    default: str
    profile_attr: str  # where an object keeps its profile name ...
    overrides_attr: str  # ... and its own durations

    def profile(self, owner) -> str:
        return getattr(owner, self.profile_attr, self.default)

    def overrides(self, owner) -> dict[str, float]:
        return getattr(owner, self.overrides_attr, {})

    def duration(self, owner, operation: str) -> float:
        family = operation.split(".", 1)[0]
        for table in (self.overrides(owner), self.profiles[self.profile(owner)]):
            for key in (operation, family, "*"):
                if key in table:
                    return float(table[key])
        return 0.0

    def configure(self, owner, profile: str | None = None, durations: dict[str, float] | None = None) -> dict[str, Any]:
        """Set an object's profile and durations (seconds; an operation, a family or "*")."""
        if profile is not None:
            if profile not in self.profiles:
                raise ValueError(f"unknown {self.kind} profile {profile!r}: choose one of {', '.join(self.profiles)}")
            setattr(owner, self.profile_attr, profile)
            setattr(owner, self.overrides_attr, {})
        for operation, seconds in (durations or {}).items():
            if float(seconds) < 0:
                raise ValueError(f"{self.kind} duration of {operation} must not be negative")
            if not hasattr(owner, self.overrides_attr):
                setattr(owner, self.overrides_attr, {})
            self.overrides(owner)[operation] = float(seconds)
        return self.timing(owner)

    def timing(self, owner) -> dict[str, Any]:
        """The profile, the overrides and every known operation's effective duration."""
        known = set().union(*self.profiles.values(), self.overrides(owner)) - {"*"}
        return {"profile": self.profile(owner), "overrides": dict(self.overrides(owner)),
                "durations": {op: self.duration(owner, op) for op in ["*", *sorted(known)]}}
