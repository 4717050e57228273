"""Expansions pass values rounded to 15 significant digits in groups created from now on; a group
created before keeps numpy's exact floats when it resumes and replays."""

import sys

from hpo.engine.composition import create_group
from hpo.engine.lifecycle import replay_check
from hpo.engine.loop import Engine
from hpo.eventlog import events as ev
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.spec import GroupSpec, parse_spec

SPEC = f"""
settings:
  metric: {{name: alpha, optimization: minimize}}
  matrix:
    alpha: {{logspace: -5:-2:4}}
    drop: {{linspace: 0:0.5:6}}
    step: {{range: 0.1:0.5:0.1}}
    ints: {{range: 1:4}}
  grid_search: {{n_experiments: 4}}
run:
  cmd: {sys.executable} -c "import hpo; hpo.report(alpha=hpo.params()['alpha'])"
"""


def test_new_specs_round_and_record_it():
    spec = parse_spec(SPEC)
    assert spec.matrix["alpha"].values() == [1e-05, 0.0001, 0.001, 0.01]
    assert spec.matrix["drop"].values() == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert spec.matrix["step"].values() == [0.1, 0.2, 0.3, 0.4]  # numpy: 0.30000000000000004
    assert spec.matrix["ints"].values() == [1, 2, 3] and all(type(v) is int for v in spec.matrix["ints"].values())
    data = spec.to_json()
    assert data["matrix"]["alpha"]["digits"] == 15 and data["matrix"]["step"]["digits"] == 15
    again = GroupSpec.from_json(data)
    assert again.to_json() == data and again.matrix["alpha"].values() == [1e-05, 0.0001, 0.001, 0.01]


def _old(data: dict) -> dict:
    """The spec as a group created before rounding recorded it: no ``digits``, numpy's values."""
    for entry in data["matrix"].values():
        entry.pop("digits", None)
        entry.pop("values", None)
    return data


def test_a_group_created_before_rounding_resumes_and_replays_with_its_values(tmp_path):
    with EventStore(tmp_path / "hpo.db") as store:
        new_id = create_group(store, parse_spec(SPEC), name="new", seed=1)
        old_spec = GroupSpec.from_json(_old(parse_spec(SPEC).to_json()))
        assert old_spec.matrix["alpha"].values()[0] == 9.999999999999999e-06
        old_id = create_group(store, old_spec, name="old", seed=1)
        created = store.read(old_id)[0].event
        assert isinstance(created, ev.GroupCreated) and "digits" not in created.spec["matrix"]["alpha"]
        for gid in (new_id, old_id):
            Engine(store, gid, poll_interval=0.01).run()
        new, old = (GroupState.fold(store.read(g)) for g in (new_id, old_id))
        assert new.trials[1].params["alpha"] == 1e-05 and new.trials[1].metrics["alpha"] == 1e-05
        assert old.trials[1].params["alpha"] == 9.999999999999999e-06
        assert old.trials[1].metrics["alpha"] == 9.999999999999999e-06  # what the trial received
        for gid in (new_id, old_id):
            checked, mismatches = replay_check(store, gid)
            assert checked == 4 and mismatches == []
