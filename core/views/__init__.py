"""Everything a person sees of a group, computed from the event log alone.

``source`` opens the log read-only and folds a group up to any point (``--as-of``);
``planning`` asks the searcher what it plans; ``snapshot`` derives progress, running trials, the
best trial, failures and hyperband rungs; ``dashboard``/``live``/``lines`` draw the live view;
``follow`` tails the log for ``hpo watch``; ``leaderboard``, ``summary``, ``status`` and
``tables`` back the read-only commands; ``series`` holds the data of every plot, drawn by
``termplot`` in the terminal and by ``svg``/``report`` in a self-contained HTML file.
"""
