"""davbind: a WebDAV server, client and test kit where one resource can live at several paths (RFC 5842)."""

__version__ = "0.1.0"
