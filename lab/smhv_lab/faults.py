"""Fault injection and latency shared by every simulated endpoint.

Servers ask `faults.hit(target, **attrs)` once per request (ONTAP: method and path; WinRM: action,
shell and command ids; agent: op and host). A rule fires on the Nth request that matches it, once
unless `times` says more, so a test can fail exactly one step of a multi-step operation.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

TARGETS = ("ontap", "winrm", "agent")
KINDS = {
    # ONTAP REST: an HTTP error with an ONTAP error body, a job that fails, a delay, a dropped connection.
    "ontap": ("http_error", "job_failure", "delay", "drop"),
    # WinRM transport: a WSMan fault, an operation timeout fault, a delay, a dropped connection.
    "winrm": ("wsman_fault", "timeout", "delay", "drop", "http_error"),
    # The agent: an error answer in the agent's JSON contract, or a delay before the op runs.
    "agent": ("agent_error", "delay", "timeout", "drop"),
}


@dataclass
class FaultRule:
    target: str
    kind: str
    match: dict[str, str] = field(default_factory=dict)  # attr -> regex (full match, case-insensitive)
    nth: int = 1  # fire on the Nth matching request ...
    times: int = 1  # ... and on this many matching requests after it (0 = forever)
    params: dict[str, Any] = field(default_factory=dict)
    seen: int = 0
    fired: int = 0
    id: int = 0

    def matches(self, attrs: dict[str, Any]) -> bool:
        for key, pattern in self.match.items():
            value = attrs.get(key)
            if value is None or not re.fullmatch(pattern, str(value), re.IGNORECASE | re.DOTALL):
                return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.target, "kind": self.kind, "match": self.match, "nth": self.nth,
                "times": self.times, "params": self.params, "seen": self.seen, "fired": self.fired}


class FaultRegistry:
    """Thread-safe list of fault rules plus a fixed latency per target."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self.latency: dict[str, float] = {t: 0.0 for t in TARGETS}
        self.counters: dict[str, int] = {t: 0 for t in TARGETS}

    def add(self, target: str, kind: str, match: dict[str, str] | None = None, nth: int = 1, times: int = 1,
            params: dict[str, Any] | None = None) -> FaultRule:
        if target not in TARGETS:
            raise ValueError(f"unknown fault target {target!r}; expected one of {', '.join(TARGETS)}")
        if kind not in KINDS[target]:
            raise ValueError(f"unknown {target} fault kind {kind!r}; expected one of {', '.join(KINDS[target])}")
        if nth < 1 or times < 0:
            raise ValueError("nth must be >= 1 and times >= 0")
        for pattern in (match or {}).values():
            re.compile(pattern)
        with self._lock:
            rule = FaultRule(target, kind, dict(match or {}), nth, times, dict(params or {}), id=self._next_id)
            self._next_id += 1
            self._rules.append(rule)
            return rule

    def set_latency(self, target: str, seconds: float) -> None:
        if target not in TARGETS:
            raise ValueError(f"unknown latency target {target!r}")
        self.latency[target] = max(0.0, float(seconds))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.latency = {t: 0.0 for t in TARGETS}
            self.counters = {t: 0 for t in TARGETS}

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self._rules]

    def hit(self, target: str, **attrs: Any) -> FaultRule | None:
        """Count one request, sleep the target's latency, and return the rule that fires, if any."""
        with self._lock:
            self.counters[target] = self.counters.get(target, 0) + 1
            fired = None
            for rule in self._rules:
                if rule.target != target or not rule.matches(attrs):
                    continue
                rule.seen += 1
                exhausted = rule.times and rule.fired >= rule.times
                if fired is None and rule.seen >= rule.nth and not exhausted:
                    rule.fired += 1
                    fired = rule
            delay = self.latency.get(target, 0.0)
        if delay:
            time.sleep(delay)
        if fired is not None and fired.kind == "delay":
            time.sleep(float(fired.params.get("seconds", 1.0)))
        return fired
