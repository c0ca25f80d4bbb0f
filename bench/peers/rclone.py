"""rclone serve webdav on a local directory (Debian ``rclone``), default VFS settings."""

from __future__ import annotations

from peers import Server, need_binaries


class Rclone(Server):
    name = "rclone"
    debs = ("rclone",)
    description = "rclone serve webdav, local directory, default VFS (no cache mode)"

    @classmethod
    def missing(cls) -> str | None:
        return need_binaries("rclone")

    def command(self) -> list[str]:
        conf = self.workdir / "rclone.conf"
        conf.touch()
        return ["rclone", "serve", "webdav", str(self.data_dir),
                "--addr", f"127.0.0.1:{self.port}", "--config", str(conf)]
