"""Registers the built-in stopping policies (entry point ``stoppers`` in the ``hpo`` group)."""

from __future__ import annotations

from typing import Callable

from hpo.contracts.hookspecs import hookimpl

from .asha import Asha
from .budget import Budget
from .early_stopping import EarlyStopping
from .failures import Failures
from .median import Median
from .threshold import Threshold
from .truncation import Truncation

BUILTIN_STOPPERS = (EarlyStopping, Failures, Budget, Median, Truncation, Threshold, Asha)


@hookimpl
def hpo_register_stoppers(register: Callable[[type], None]) -> None:
    for cls in BUILTIN_STOPPERS:
        register(cls)
