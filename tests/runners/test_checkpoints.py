"""The runner kit's checkpoint transfer (``hpo.runkit.checkpoints``): a folder packed as a tar
stream, unpacked in place of the engine's folder, with a size limit either way; and what the
engine records of it (real files, a real engine and SQLite log)."""

import io
import sys
import tarfile

import pytest

from hpo.contracts.runner import Exited, Launch
from hpo.engine.loop import Engine
from hpo.plugins.runners.local import LocalRunner
from hpo.runkit.checkpoints import (CheckpointTooLarge, CheckpointTransferFailed, Transfer, fetched,
                                    pack, relocate, unpack, write_tar)

from ..engine.conftest import store, workdir  # noqa: F401  (fixtures)
from ..engine.test_engine import make
from ..engine.test_retries import events, spec


def tree(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_travels_whole_and_replaces_the_one_it_lands_on(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "model.bin").write_bytes(b"\x00\x01" * 5000)
    (src / "sub" / "step").write_text("7")
    dst = tmp_path / "engine" / "checkpoints"
    dst.mkdir(parents=True)
    (dst / "stale").write_text("deleted by the trial")
    data = pack(src)
    assert unpack(data, dst) == len(data)
    assert tree(dst) == tree(src)  # what the trial deleted is gone here too
    assert [p.name for p in dst.parent.iterdir()] == ["checkpoints"]  # no temporary folder left


def test_an_empty_archive_makes_no_folder_where_there_was_none(tmp_path):
    data = pack(tmp_path / "missing")
    unpack(data, tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()


def test_a_folder_over_the_limit_is_refused_before_it_is_sent(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big").write_bytes(b"x" * 10_000)
    sink = io.BytesIO()
    with pytest.raises(CheckpointTooLarge, match="checkpoint_limit of 5000 bytes"):
        write_tar(tmp_path / "src", sink, limit=5000)
    assert sink.getvalue() == b""


def test_an_archive_over_the_limit_leaves_the_folder_as_it_was(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big").write_bytes(b"x" * 10_000)
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "kept").write_text("parent")
    with pytest.raises(CheckpointTooLarge, match="on host-a"):
        unpack(pack(tmp_path / "src"), dst, limit=5000, where="on host-a")
    assert tree(dst) == {"kept": b"parent"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst", "src"]


def archive(name: str, kind=tarfile.REGTYPE, target: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.size = kind, target, 0 if target else 2
        tar.addfile(info, None if target else io.BytesIO(b"hi"))
    return buffer.getvalue()


@pytest.mark.parametrize("data", [archive("../escape"), archive("link", tarfile.SYMTYPE, "/etc/passwd")])
def test_an_archive_reaching_out_of_the_folder_is_refused(tmp_path, data):
    dst = tmp_path / "a" / "dst"
    with pytest.raises(CheckpointTransferFailed, match="could not be unpacked"):
        unpack(data, dst)
    assert not (tmp_path / "a" / "escape").exists() and not dst.exists()


def test_an_absolute_name_lands_inside_the_folder(tmp_path):
    unpack(archive("/abs/escape"), tmp_path / "dst")
    assert tree(tmp_path / "dst") == {"abs/escape": b"hi"}


def test_a_truncated_archive_is_refused(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_bytes(b"y" * 4000)
    with pytest.raises(CheckpointTransferFailed):
        unpack(pack(tmp_path / "src")[:1500], tmp_path / "dst")
    assert not (tmp_path / "dst").exists()


def test_relocate_points_the_variable_and_the_command_at_the_copy(tmp_path):
    here = str(tmp_path / "trials" / "1" / "checkpoints")
    launch = Launch("g", 2, 1, f"train --ckpt {here} --resume", {"HPO_CHECKPOINT_DIR": here}, tmp_path, tmp_path)
    moved = relocate(launch, "/remote/runs/g/2-1/checkpoints")
    assert moved.env["HPO_CHECKPOINT_DIR"] == "/remote/runs/g/2-1/checkpoints"
    assert moved.command == "train --ckpt /remote/runs/g/2-1/checkpoints --resume"
    plain = Launch("g", 2, 1, "true", {}, tmp_path, tmp_path)
    assert relocate(plain, "/x") is plain


def test_what_fetching_did_is_in_the_exit():
    ok = Exited(1, 1, "succeeded", 0)
    assert fetched(ok, Transfer(10240, 0.01234)).details == {"checkpoint_fetched": {"bytes": 10240, "seconds": 0.012}}
    broke = fetched(ok, error=CheckpointTransferFailed("the connection dropped"))
    assert (broke.status, broke.lost) == ("failed", True) and "could not be fetched back" in broke.reason
    big = fetched(ok, error=CheckpointTooLarge("too big"))
    assert (big.status, big.lost) == ("failed", False)
    stopped = fetched(Exited(1, 1, "stopped", reason="stopped by median"), error=OSError("gone"))
    assert (stopped.status, stopped.lost) == ("stopped", False) and stopped.reason.startswith("stopped by median; ")


class Measures(LocalRunner):
    """A local runner that says what it measured when an attempt ended, and refuses trial 3's
    checkpoint as too large."""

    def start(self, launch):
        if launch.trial_id == 3:
            raise CheckpointTooLarge("its checkpoint folder is over checkpoint_limit")
        return super().start(launch)

    def poll(self):
        return [fetched(m, Transfer(512, 0.5)) if isinstance(m, Exited) else m for m in super().poll()]


def test_the_engine_records_what_the_runner_measured_and_fails_an_oversized_start_once(store, workdir):
    gid = make(store, workdir, spec(f"{sys.executable} -c \"import hpo; hpo.report(loss={{{{ x }}}})\""))
    state = Engine(store, gid, poll_interval=0.01, runner=Measures(LocalRunner.parse_config({}, "runner"))).run()
    finished = {e.trial_id: e for e in events(store, gid, "TrialFinished")}
    assert finished[1].details == finished[2].details == {"checkpoint_fetched": {"bytes": 512, "seconds": 0.5}}
    assert state.trials[3].status == "failed" and state.trials[3].attempts == 1  # not retried
    assert "checkpoint_limit" in state.trials[3].reason
    assert events(store, gid, "TrialRetried") == []
