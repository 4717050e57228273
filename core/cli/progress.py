"""What ``hpo run``/``hpo resume`` show while the engine works: the live dashboard on a
terminal, plain lines (one per trial event) in logs and pipes. The views live in
:mod:`hpo.views`; this module keeps the names the CLI imports.
"""

from __future__ import annotations

from hpo.views.lines import LineProgress, print_end
from hpo.views.live import LiveView, progress_view

__all__ = ["LineProgress", "LiveView", "print_end", "progress_view"]
