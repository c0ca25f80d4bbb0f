"""WsgiDAV (PyPI) on cheroot, anonymous, file-system provider; request logging off."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from peers import Server, pip_version


class WsgiDav(Server):
    name = "wsgidav"
    pips = ("wsgidav", "cheroot")
    description = "WsgiDAV on cheroot (defaults), anonymous, -q (no per-request log)"

    @classmethod
    def missing(cls) -> str | None:
        lost = [p for p in cls.pips if pip_version(p) is None]
        return f"not installed: {', '.join(lost)}" if lost else None

    def command(self) -> list[str]:
        exe = Path(sys.executable).with_name("wsgidav")
        binary = str(exe) if exe.exists() else (shutil.which("wsgidav") or "wsgidav")
        return [binary, "--host", "127.0.0.1", "--port", str(self.port),
                "--root", str(self.data_dir), "--auth", "anonymous", "--no-config", "-q"]
