"""smhv-lab: start, inspect and stop a simulated site (DESIGN §6).

    smhv-lab up [--topology FILE] [--state-dir DIR] [--base-port PORT]   starts in the background, prints endpoints
    smhv-lab status --state-dir DIR
    smhv-lab down --state-dir DIR
"""
from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

from . import endpoints as endpoints_file

PID_FILE = "lab.pid"
LOG_FILE = "lab.log"
DEFAULT_STATE_DIR = ".lab"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def _alive(pid: int) -> bool:
    # When `up` ran in this process (the demo does), the lab is our child: reap it, or its zombie
    # would look alive forever.
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _pid(state_dir: Path) -> int | None:
    try:
        pid = int((state_dir / PID_FILE).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _alive(pid) else None


def _summary(endpoints: dict) -> str:
    lines = [f"CA certificate: {endpoints['ca_path']}"]
    for name, o in endpoints["ontap"].items():
        lines.append(f"ONTAP   {name:<10} https://{o['host']}:{o['port']}  site {o['site']}")
    for name, h in endpoints["hosts"].items():
        lines.append(f"Windows {name:<10} http://{h['address']}:{h['http_port']}/wsman  "
                     f"https://{h['address']}:{h['https_port']}/wsman  scope {h['scope']}  site {h['site']}")
    lines.append(f"control {endpoints['control']['url']}")
    return "\n".join(lines)


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    if _pid(state_dir):
        print(f"smhv-lab is already running for {state_dir} (pid {_pid(state_dir)})", file=sys.stderr)
        return 1
    (state_dir / PID_FILE).unlink(missing_ok=True)
    command = [sys.executable, "-m", "smhv_lab.cli", "serve", "--state-dir", str(state_dir)]
    if args.topology:
        command += ["--topology", str(Path(args.topology).resolve())]
    if args.base_port:
        command += ["--base-port", str(args.base_port)]
    with open(state_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True, close_fds=True)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(f"smhv-lab failed to start (exit {process.returncode}); see {state_dir / LOG_FILE}:", file=sys.stderr)
            print((state_dir / LOG_FILE).read_text()[-3000:], file=sys.stderr)
            return 1
        if _pid(state_dir) == process.pid:
            endpoints = endpoints_file.read(state_dir)
            print(_summary(endpoints))
            print(f"endpoints: {state_dir / endpoints_file.ENDPOINTS_FILE}")
            print(f"inventory: {state_dir / endpoints_file.INVENTORY_FILE}")
            return 0
        time.sleep(0.05)
    process.terminate()
    print(f"smhv-lab did not start within {START_TIMEOUT:.0f} s; see {state_dir / LOG_FILE}", file=sys.stderr)
    return 1


def cmd_status(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    pid = _pid(state_dir)
    if pid is None:
        print(f"smhv-lab is not running for {state_dir}")
        return 3
    endpoints = endpoints_file.read(state_dir)
    with urlopen(endpoints["control"]["url"] + "/status", timeout=5) as reply:
        status = json.load(reply)
    print(f"smhv-lab is running (pid {pid})")
    print(_summary(endpoints))
    print("requests served: " + ", ".join(f"{k} {v}" for k, v in status["counters"].items()))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    pid = _pid(state_dir)
    if pid is None:
        print(f"smhv-lab is not running for {state_dir}")
        (state_dir / PID_FILE).unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    # Wait for the process itself, not only its pid file: its ports close as it exits.
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
        print(f"smhv-lab (pid {pid}) did not stop in {STOP_TIMEOUT:.0f} s and was killed; state not saved",
              file=sys.stderr)
        (state_dir / PID_FILE).unlink(missing_ok=True)
        return 1
    print(f"smhv-lab stopped; state kept in {state_dir}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """The background process itself: run the lab until SIGTERM, then save the world and exit."""
    from .runtime import Lab  # imported here so `status`/`down` stay light

    state_dir = Path(args.state_dir)
    lab = Lab(state_dir, Path(args.topology) if args.topology else None, base_port=args.base_port or 0)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lab.start()
    (state_dir / PID_FILE).write_text(f"{os.getpid()}\n")
    print(f"smhv-lab serving (pid {os.getpid()})", flush=True)
    try:
        stop.wait()
    finally:
        # If stopping hangs, the log shows where before `down` gives up and kills the process.
        faulthandler.dump_traceback_later(STOP_TIMEOUT - 3, exit=False)
        lab.stop(save=True)
        faulthandler.cancel_dump_traceback_later()
        (state_dir / PID_FILE).unlink(missing_ok=True)
        print("smhv-lab stopped", flush=True)
    return 0


def _port(text: str) -> int:
    port = int(text)
    if not 1024 <= port <= 65000:
        raise argparse.ArgumentTypeError(f"{port} is not a port from 1024 to 65000")
    return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smhv-lab", description=__doc__.splitlines()[0])
    # `serve` is the background process `up` starts, not a command for users: left out of the list (argparse prints
    # "==SUPPRESS==" for a sub-command whose help is SUPPRESS).
    sub = parser.add_subparsers(dest="command", required=True, metavar="{up,status,down}")
    up = sub.add_parser("up", help="start the lab in the background and print its endpoints")
    up.add_argument("--topology", help="topology YAML (default: the built-in two-site lab)")
    up.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
    up.add_argument("--base-port", type=_port, metavar="PORT",
                    help="fixed ports from PORT on, the same on every up (default: free ports, new on every up): the "
                         "control API, then each ONTAP cluster, then each host's WinRM HTTP and HTTPS, in the topology's "
                         "order (the default lab takes 11)")
    up.set_defaults(func=cmd_up)
    for name, func, text in (("status", cmd_status, "show whether the lab runs and its endpoints"),
                             ("down", cmd_down, "stop the lab, keeping its state")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--state-dir", default=DEFAULT_STATE_DIR)
        p.set_defaults(func=func)
    serve = sub.add_parser("serve")
    serve.add_argument("--state-dir", required=True)
    serve.add_argument("--topology")
    serve.add_argument("--base-port", type=_port)
    serve.set_defaults(func=cmd_serve)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
