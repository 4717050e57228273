"""``hpo whatif``: re-run a stopping policy offline over a group's logged metrics."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from hpo.cli.common import console, db_option, handle_errors, load_state, open_store, print_json
from hpo.errors import SpecError
from hpo.contracts.registry import default_registry
from hpo.spec.metric import MetricSpec
from hpo.engine.stop_view import trial_curves
from hpo.views.whatif import simulate


@click.command()
@click.argument("group")
@db_option
@click.option("--stopper", required=True, help="The stopping policy to try (see `hpo plugins`).")
@click.option("--set", "sets", multiple=True, help="A policy option: key=value (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def whatif(group: str, db: Path | None, stopper: str, sets: tuple[str, ...], as_json: bool) -> None:
    """What would a stopping policy have done to GROUP? Resource saved, best trial kept or not.

    Nothing is written: the policy runs over the logged metric streams, step by step.

    \b
    Example:
      hpo whatif quickstart --stopper median --set min_steps=5 --set min_trials=3
    """
    state = load_state(open_store(db), group)
    options = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SpecError(f"expected key=value, got {item!r}", "--set")
        options[key] = yaml.safe_load(raw)
    reg = default_registry().get("stopper", stopper)
    config = reg.cls.parse_config(options, "--set")
    metric = MetricSpec(**state.metric) if state.metric else None
    if metric is None and "metric" not in options:
        raise SpecError("the group has no metric; pass --set metric=NAME", "--set")
    if metric is None:
        metric = MetricSpec(name=options["metric"], optimization=options.get("optimization", "maximize"))
    policy = reg.cls(config, metric)
    result = simulate(policy, trial_curves(state), metric, state.created_at or 0.0)
    if as_json:
        print_json(result.to_json())
    else:
        console().print(result.render())
