"""nginx with the WebDAV module and dav-ext (PROPFIND, OPTIONS), Debian packages."""

from __future__ import annotations

from peers import RUN_USER, Server, need_binaries

MODULE = "/usr/lib/nginx/modules/ngx_http_dav_ext_module.so"

CONF = """\
daemon off;
master_process on;
worker_processes 2;
user {user};
pid {work}/nginx.pid;
error_log {work}/error.log warn;
load_module {module};

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_max_body_size 0;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    types {{
        text/plain txt;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;

    server {{
        listen 127.0.0.1:{port};
        root {data};
        location / {{
            dav_methods PUT DELETE MKCOL COPY MOVE;
            dav_ext_methods PROPFIND OPTIONS;
            create_full_put_path on;
            dav_access user:rw group:rw all:r;
        }}
    }}
}}
"""


class Nginx(Server):
    name = "nginx"
    debs = ("nginx", "libnginx-mod-http-dav-ext")
    run_as = RUN_USER
    description = "nginx, 2 workers, dav + dav_ext (PROPFIND OPTIONS), sendfile, no access log"

    @classmethod
    def missing(cls) -> str | None:
        return need_binaries("nginx", MODULE)

    def command(self) -> list[str]:
        (self.workdir / "tmp").mkdir(exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(CONF.format(user=RUN_USER, work=self.workdir, module=MODULE,
                                    port=self.port, data=self.data_dir))
        return ["nginx", "-c", str(conf), "-p", str(self.workdir) + "/"]
