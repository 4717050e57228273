"""Built-in stopping policies, one per module, registered by ``builtin`` (docs/stopping.md).

Group level: ``early_stopping`` (the seed's list), ``failures``, ``budget``.
Trial level: ``median``, ``truncation``, ``threshold`` (the "diff" rule), ``asha``.
"""
