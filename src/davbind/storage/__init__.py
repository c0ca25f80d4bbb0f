"""The resource/binding model and its backends (DESIGN.md "The model").

Nothing here imports server, protocol or client code: errors are storage words.
"""
