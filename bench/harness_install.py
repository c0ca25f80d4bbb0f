"""``--install``: bring in whatever the selected servers and the measuring tools lack.

Debian packages through apt-get (``apt-get update`` first), Python distributions through
pip into the running interpreter. Only what is missing is installed. On a host that runs
systemd, Debian starts nginx/Apache/lighttpd services on port 80 after installing them;
the harness never uses those, it starts its own instances from generated configurations.
"""

from __future__ import annotations

import os
import subprocess
import sys

from peers import Server, deb_version, pip_version

TOOL_DEBS = ("wrk", "curl")
HARNESS_PIPS = ("httpx", "psutil")


def install(classes: list[type[Server]]) -> None:
    debs = sorted({d for c in classes for d in c.debs} | set(TOOL_DEBS))
    pips = sorted({p for c in classes for p in c.pips} | set(HARNESS_PIPS))
    lost_debs = [d for d in debs if deb_version(d) is None]
    lost_pips = [p for p in pips if pip_version(p) is None]
    if lost_debs:
        print(f"installing Debian packages: {' '.join(lost_debs)}", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", *lost_debs], check=True, env=env)
    if lost_pips:
        print(f"installing from PyPI: {' '.join(lost_pips)}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", *lost_pips], check=True)
    if not lost_debs and not lost_pips:
        print("everything needed is installed", file=sys.stderr)
