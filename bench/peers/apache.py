"""Apache httpd with mod_dav and mod_dav_fs (Debian ``apache2``), event MPM, foreground."""

from __future__ import annotations

from peers import RUN_USER, Server, need_binaries

MODULES = "/usr/lib/apache2/modules"

# Debian's default event-MPM sizing; keep-alive without a per-connection request cap.
CONF = """\
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {work}/apache2.pid
DefaultRuntimeDir {work}/run
ErrorLog {work}/error.log
LogLevel warn
User {user}
Group {user}

LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule mime_module {modules}/mod_mime.so
LoadModule dav_module {modules}/mod_dav.so
LoadModule dav_fs_module {modules}/mod_dav_fs.so

StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 25
MaxRequestWorkers 150
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
EnableSendfile On
LimitRequestBody 0
TypesConfig /etc/mime.types

DavLockDB {work}/lock/DavLock
DocumentRoot {data}
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory {data}>
    Dav On
    Options None
    AllowOverride None
    Require all granted
</Directory>
"""


class Apache(Server):
    name = "apache"
    debs = ("apache2",)
    run_as = RUN_USER
    description = "Apache httpd, event MPM (Debian sizing), mod_dav + mod_dav_fs, no access log"

    @classmethod
    def missing(cls) -> str | None:
        return need_binaries("/usr/sbin/apache2", f"{MODULES}/mod_dav_fs.so")

    def command(self) -> list[str]:
        for sub in ("run", "lock"):
            (self.workdir / sub).mkdir(exist_ok=True)
        conf = self.workdir / "apache2.conf"
        conf.write_text(CONF.format(port=self.port, work=self.workdir, user=RUN_USER,
                                    modules=MODULES, data=self.data_dir))
        return ["/usr/sbin/apache2", "-f", str(conf), "-DFOREGROUND"]

    def env(self) -> dict[str, str]:
        return {**super().env(), "LANG": "C"}
