"""Built-in stopping policies, one per module, each registered by its own entry point of the
same name, so any one can be disabled alone (``HPO_DISABLE_PLUGINS=median``; docs/stopping.md).

Group level: ``early_stopping`` (the seed's list), ``failures``, ``budget``.
Trial level: ``median``, ``truncation``, ``threshold`` (the "diff" rule), ``asha``.
"""
