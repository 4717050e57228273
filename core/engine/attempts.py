"""Where and how a trial attempt runs: its folders, its command line and its environment.

The engine asks for a :class:`~hpo.contracts.runner.Launch` and hands it to the runner; everything here
is derived from the spec, the group and the trial's state, so a resumed engine builds exactly
the same launch again, except the values of ``run.env``'s references to the engine's environment
(``{from_env: NAME}``), read at each launch and never recorded.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any, Callable

from hpo.contracts.runner import Launch
from hpo.runkit.markers import attempt_token
from hpo.spec import GroupSpec
from hpo.spec.secrets import is_secret_name, mask_cut, resolve
from hpo.spec.template import TemplateError, render
from hpo.eventlog.state import GroupState, TrialState
from hpo.trial import (ATTEMPT_TOKEN_ENV, CHECKPOINT_DIR_ENV, GROUP_ID_ENV, PARAMS_ENV, TRIAL_DIR_ENV,
                       TRIAL_ID_ENV)


class LaunchPlanner:
    """Builds launches for one group. Trial folders live beside the database.

    ``continues`` is the searcher's :meth:`~hpo.contracts.searcher.Searcher.continues`: the
    trial whose checkpoint folder a trial continues, from its meta (None: its own folder).
    """

    def __init__(self, spec: GroupSpec, state: GroupState, db_folder: Path,
                 continues: Callable[[dict[str, Any]], int | None] = lambda meta: None):
        self.spec, self.state, self.continues = spec, state, continues
        self.root = db_folder.resolve() / "groups" / state.group_id / "trials"
        self.workdir = self._workdir()
        # the values masked in what the engine records: literal secrets of run.env, and every
        # value a reference resolves to (a missing variable fails here, before anything runs)
        self.secrets = {v for k, v in spec.run.env.items() if isinstance(v, str) and is_secret_name(k)}
        self._env()

    def _env(self) -> dict[str, str]:
        """``run.env`` with its references to the engine's environment resolved now."""
        env = resolve(self.spec.run.env, os.environ)
        self.secrets.update(v for k, v in env.items() if not isinstance(self.spec.run.env[k], str))
        return env

    def mask(self, text: str) -> str:
        """``text`` without the secret values of ``run.env``, nor the parts of one a cut of the
        trial's output left (see :mod:`hpo.spec.secrets`)."""
        return mask_cut(text, self.secrets)

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
        """A trial's checkpoint folder: its own, or that of the trial it continues (followed back
        to the first trial of the chain; a loop ends where it closes)."""
        trials, seen = self.state.trials, set()
        while (earlier := self.continues(tr.meta)) in trials and tr.trial_id not in seen:
            seen.add(tr.trial_id)
            tr = trials[earlier]
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
            **self._env(),
            # last: the marker that finds what the attempt leaves running is the engine's alone
            ATTEMPT_TOKEN_ENV: attempt_token(group_id, tr.trial_id, attempt),
        }
        try:
            command = render(spec.run.cmd, {**values, **builtins})
        except TemplateError as exc:  # a value the expression cannot take: this trial fails, saying why
            command = f"echo {shlex.quote(f'hpo: {exc}')} >&2; exit 2"
        return Launch(
            group_id=group_id, trial_id=tr.trial_id, attempt=attempt, command=command, env=env,
            trial_dir=trial_dir, workdir=self.workdir, timeout=spec.run.timeout, gpus=spec.run.gpus,
        )
