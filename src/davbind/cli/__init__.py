"""Command-line interface (click): ``davbind serve`` and the client commands."""
