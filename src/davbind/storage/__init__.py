"""The resource/binding model and its backends (docs/architecture.md, the model).

Nothing here imports server, protocol or client code: errors are storage words.
"""
