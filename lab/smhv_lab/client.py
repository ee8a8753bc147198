"""A running lab as its users see it: endpoints, inventory, and the control API (tests, demo)."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.request import Request, urlopen

from . import endpoints as endpoints_file


class LabHandle:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self.endpoints = endpoints_file.read(self.state_dir)
        self.inventory = self.state_dir / endpoints_file.INVENTORY_FILE
        self.control_url = self.endpoints["control"]["url"]

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = Request(self.control_url + path, data=data, method=method,
                          headers={"Content-Type": "application/json"})
        with urlopen(request, timeout=30) as reply:
            return json.load(reply)

    def state(self) -> dict:
        return self.control("GET", "/state")

    def reset(self) -> None:
        self.control("POST", "/reset")
