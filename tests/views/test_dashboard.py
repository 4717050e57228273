"""The live view's picture, rendered through rich's recording console."""

from hpo.eventlog.state import GroupState
from hpo.views.dashboard import dashboard
from hpo.engine.plans import Plan, plan_of
from hpo.views.overview import progress_record, overview
from hpo.views.source import ReadOnlyStore

from .conftest import recorder


def render(renderable, width=100) -> str:
    console = recorder(width)
    console.print(renderable)
    return console.export_text()


def fold(db, gid, until_seq=None) -> GroupState:
    with ReadOnlyStore(db) as store:
        return GroupState.fold(store.read(gid, until_seq=until_seq))


def test_finished_grid_group_shows_progress_best_and_failures(logged):
    state = fold(logged["db"], logged["grid"])
    snap = overview(state, plan_of(state))
    text = render(dashboard(snap))
    assert "grid (" + logged["grid"] + ") · grid · loss ↓ · succeeded" in text
    assert "4/4 trials  100%" in text
    assert "3 succeeded · 1 failed" in text
    assert "best    trial 2  loss 0.333333  lr=0.3 opt=sgd" in text
    assert "failures (1)" in text and "trial 4: exited with code 3" in text
    assert "boom: bad learning rate" in text  # the last line of its output
    assert "running" not in text.split("failures")[0].split("best")[1]  # nothing runs any more


def test_a_point_in_the_middle_shows_running_trials_with_their_metrics(logged):
    with ReadOnlyStore(logged["db"]) as store:
        events = store.read(logged["grid"])
    # the moment the second trial reported its second step
    cut = next(s.seq for s in events if s.type == "MetricReported" and s.event.trial_id == 2
               and s.event.step == 2)
    state = fold(logged["db"], logged["grid"], cut)
    snap = overview(state, plan_of(state), now=state.last_ts)
    assert 2 in [t.trial_id for t in snap.running]
    text = render(dashboard(snap))
    assert "· running" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("│") and " 2 " in line
               and "lr=0.3" in line)
    assert row.strip("│ ").split()[:4] == ["2", "2", "0.5", "0.85"]  # trial, step, loss, acc
    assert progress_record(snap)["planned"] == 4


def test_unknown_plan_shows_a_count_without_a_total(logged):
    state = fold(logged["db"], logged["grid"])
    text = render(dashboard(overview(state, Plan())))
    assert "4 trials" in text and "/4" not in text.split("\n")[1]


def test_hyperband_shows_brackets_and_rungs(logged):
    state = fold(logged["db"], logged["hb"])
    plan = plan_of(state)
    assert plan.planned == 6 and [b["bracket"] for b in plan.brackets] == [1, 0]
    snap = overview(state, plan)
    text = render(dashboard(snap))
    newest = state.trials[max(state.trials)].meta  # "now" is the rung of the newest trial
    assert (f"hyperband  last: bracket {newest['bracket']} · rung {newest['rung']} · "
            f"num_steps={newest['resource']}") in text
    rows = {line.split()[1]: line for line in text.splitlines() if line.strip("│ ").startswith(("1 ", "0 "))}
    assert "3/3 @1" in rows["1"] and "1/1 @3" in rows["1"]
    assert "2/2 @3" in rows["0"]


def test_the_dashboard_fits_narrow_terminals(logged):
    state = fold(logged["db"], logged["hb"])
    text = render(dashboard(overview(state, plan_of(state))), width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
