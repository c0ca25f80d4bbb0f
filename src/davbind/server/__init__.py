"""Thin ASGI glue: dispatch by method, one error mapping, a handler module per method family."""
