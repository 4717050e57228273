"""Where and how a trial attempt runs: its folders, its command line and its environment.

The engine asks for a :class:`~hpo.contracts.runner.Launch` and hands it to the runner; everything here
is derived from the spec, the group and the trial's state, so a resumed engine builds exactly
the same launch again.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from hpo.contracts.runner import Launch
from hpo.spec import GroupSpec
from hpo.spec.template import TemplateError, render
from hpo.eventlog.state import GroupState, TrialState
from hpo.trial import CHECKPOINT_DIR_ENV, GROUP_ID_ENV, PARAMS_ENV, TRIAL_DIR_ENV, TRIAL_ID_ENV


class LaunchPlanner:
    """Builds launches for one group. Trial folders live beside the database."""

    def __init__(self, spec: GroupSpec, state: GroupState, db_folder: Path):
        self.spec, self.state = spec, state
        self.root = db_folder.resolve() / "groups" / state.group_id / "trials"
        self.workdir = self._workdir()

    def _workdir(self) -> Path:
        """``run.workdir`` relative to the spec file, else the spec file's folder."""
        source = self.state.source_path
        if self.spec.run.workdir:
            base = Path(source).parent if source else Path.cwd()
            return (base / self.spec.run.workdir).resolve()
        return Path(source).parent.resolve() if source else Path.cwd()

    def trial_root(self, trial_id: int) -> Path:
        return self.root / str(trial_id)

    def checkpoint_dir(self, tr: TrialState) -> Path:
        """A trial's checkpoint folder; a hyperband trial promoted with ``resume`` uses its parent's."""
        trials, seen = self.state.trials, set()
        while tr.meta.get("resume") and tr.meta.get("parent") in trials and tr.trial_id not in seen:
            seen.add(tr.trial_id)
            tr = trials[tr.meta["parent"]]
        return self.trial_root(tr.trial_id) / "checkpoints"

    def launch(self, tr: TrialState, attempt: int) -> Launch:
        spec, group_id = self.spec, self.state.group_id
        trial_dir = self.trial_root(tr.trial_id) / f"attempt-{attempt}"
        ckpt = self.checkpoint_dir(tr)
        values = {**spec.declarations, **tr.params}
        builtins = {"trial_id": tr.trial_id, "group_id": group_id,
                    "trial_dir": str(trial_dir), "checkpoint_dir": str(ckpt)}
        env = {
            PARAMS_ENV: json.dumps(values), TRIAL_ID_ENV: str(tr.trial_id), GROUP_ID_ENV: group_id,
            TRIAL_DIR_ENV: str(trial_dir), CHECKPOINT_DIR_ENV: str(ckpt), "HPO_ATTEMPT": str(attempt),
            **spec.run.env,
        }
        try:
            command = render(spec.run.cmd, {**values, **builtins})
        except TemplateError as exc:  # a value the expression cannot take: this trial fails, saying why
            command = f"echo {shlex.quote(f'hpo: {exc}')} >&2; exit 2"
        return Launch(
            group_id=group_id, trial_id=tr.trial_id, attempt=attempt, command=command, env=env,
            trial_dir=trial_dir, workdir=self.workdir, timeout=spec.run.timeout, gpus=spec.run.gpus,
        )
