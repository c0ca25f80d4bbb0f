"""lighttpd with mod_webdav (Debian ``lighttpd`` + ``lighttpd-mod-webdav``), foreground."""

from __future__ import annotations

from peers import RUN_USER, Server, need_binaries

CONF = """\
server.modules = ("mod_webdav")
server.document-root = "{data}"
server.bind = "127.0.0.1"
server.port = {port}
server.username = "{user}"
server.groupname = "{user}"
server.pid-file = "{work}/lighttpd.pid"
server.errorlog = "{work}/error.log"
server.upload-dirs = ("{work}/uploads")
server.max-keep-alive-requests = 1000000
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/octet-stream")
webdav.activate = "enable"
webdav.is-readonly = "disable"
webdav.sqlite-db-name = "{work}/webdav.db"
"""


class Lighttpd(Server):
    name = "lighttpd"
    debs = ("lighttpd", "lighttpd-mod-webdav")
    run_as = RUN_USER
    description = "lighttpd, one process (its default), mod_webdav with SQLite property DB"

    @classmethod
    def missing(cls) -> str | None:
        return need_binaries("lighttpd", "/usr/lib/lighttpd/mod_webdav.so")

    def command(self) -> list[str]:
        (self.workdir / "uploads").mkdir(exist_ok=True)
        conf = self.workdir / "lighttpd.conf"
        conf.write_text(CONF.format(data=self.data_dir, port=self.port, user=RUN_USER,
                                    work=self.workdir))
        return ["lighttpd", "-D", "-f", str(conf)]
