"""davbind: a WebDAV server, client and test kit.

One resource can live at several paths (RFC 5842 bindings).
"""

__version__ = "0.1.0"
