"""The POSIX shell the SSH runner sends to a host, and the parsing of what comes back.

Every script travels on the SSH channel's stdin to ``sh -s``, so the remote command line is
always just ``sh -s`` whatever the user's login shell, and nothing we send (params, environment
values, secrets) shows up in the remote process list. Each value is quoted exactly once, with
:func:`shlex.quote`, for the ``sh`` that reads the script; the trial command itself reaches the
wrapper as one argument and is evaluated there once, like the local runner does.

An attempt's files live in its remote run folder: ``stdout.log``, ``stderr.log``, ``pid``
(``PID START BOOT``; the wrapper is the leader of its own session, so the pid is also the process
group to signal) and ``exit_code`` (written by the wrapper when the command ends).

A pid names the trial only while the process holding it started when the trial did, in the same
boot (:data:`IDENTITY`): START is the start time in clock ticks after boot from ``/proc`` on
Linux, and ``ps -o lstart`` elsewhere (macOS, the BSDs); BOOT is Linux's boot id, or the boot
time ``sysctl kern.boottime`` reports. A zombie is not running, and no signal is ever sent to a
pid that now names another process, as the kit's :class:`hpo.runkit.procs.ProcessRecord` does
on the engine's machine. The record that decides is the one the runner took at launch
(:class:`Record`), not the pid file alone: a pid file that no longer says what it said then, or
that holds no start time, is not trusted with a signal, and the scripts say what they did not do.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

from hpo.runkit.process import SUBSHELL

MAX_CHUNK = 1 << 20  # stdout bytes fetched per attempt and poll
STDERR_TAIL = 4000
BEGIN = b"@@hpo-begin\n"

PROCFS = "/proc"

# _facts PID: "STATE START" of the process PID (fails when there is none). _boot: this boot.
# _ident PID START BOOT: running, zombie, gone (no such process), or other (the pid names another
# process now, or the record is from another boot); "-" for START or BOOT skips that check.
# _which DIR [PID START BOOT]: the attempt in run folder DIR, by the record taken at launch (else
# its pid file's); sets _pid _start _bt, _state (as _ident) and _why: empty when a signal may go
# to its group, else why not: "changed" (the pid file no longer says what was recorded),
# "unrecorded" (no start time: a reused pid could not be told apart) or "other".
# _signal SIG: signal the group _which found, if _why allows; prints signalled, gone or _why.
IDENTITY = r"""
_facts() {
  if [ -r PROCFS/self/stat ]; then
    _f=$(cat "PROCFS/$1/stat" 2>/dev/null) || return 1
    [ -n "$_f" ] || return 1
    _f=${_f##*") "}
    set -- $_f
    echo "$1 ${20}"
  else
    _f=$(ps -o stat= -o lstart= -p "$1" 2>/dev/null) || return 1
    set -- $_f
    [ $# -gt 1 ] || return 1
    _z=$1
    shift
    echo "$_z $(printf %s "$@")"
  fi
}
_boot() {
  _b=$(cat PROCFS/sys/kernel/random/boot_id 2>/dev/null) || _b=
  [ -n "$_b" ] || _b=$(sysctl -n kern.boottime 2>/dev/null | tr -d ' ,{}=')
  echo "${_b:--}"
}
_ident() {
  [ "${1:-0}" -gt 0 ] 2>/dev/null || { echo gone; return 0; }
  if [ "${3:--}" != - ] && [ "$(_boot)" != "$3" ]; then echo other; return 0; fi
  _f=$(_facts "$1") || { echo gone; return 0; }
  if [ "${2:--}" != - ] && [ "${_f#* }" != "$2" ]; then echo other; return 0; fi
  case $_f in Z*) echo zombie ;; *) echo running ;; esac
}
_which() {
  _wd=$1
  shift
  _pf=$(cat "$_wd/pid" 2>/dev/null) || _pf=
  _why=
  if [ $# -gt 0 ]; then
    _pid=$1 _start=$2 _bt=$3
    set -- $_pf
    [ -z "$_pf" ] || [ "${1:-0} ${2:--} ${3:--}" = "$_pid $_start $_bt" ] || _why=changed
  else
    set -- $_pf
    _pid=${1:-0} _start=${2:--} _bt=${3:--}
  fi
  if [ -z "$_why" ] && [ "$_start" = - ] && [ "$_pid" -gt 0 ] 2>/dev/null; then _why=unrecorded; fi
  _state=$(_ident "$_pid" "$_start" "$_bt")
  [ -n "$_why" ] || [ "$_state" != other ] || _why=other
  return 0
}
_signal() {
  if [ -n "$_why" ]; then echo "$_why"; return 0; fi
  if [ "$_pid" -gt 0 ] 2>/dev/null && kill -s "$1" -- "-$_pid" 2>/dev/null; then echo signalled; else echo gone; fi
  return 0
}
"""


def identity(procfs: str = PROCFS) -> str:
    """The shell functions of :data:`IDENTITY`, reading process facts from ``procfs``."""
    return IDENTITY.replace("PROCFS", procfs)


# $1: the command, $2: the run folder. Records its own pid with its start time and boot (it
# leads a new session) and the command's exit status; the subshell keeps `exit` in the command
# from skipping the bookkeeping. The wrapper outlives a SIGTERM sent to the group, and so does
# the subshell until the program it runs has ended (as in the local wrapper,
# :data:`hpo.runkit.process.SUBSHELL`), so a stopped command has its grace period and its own
# status recorded.
WRAPPER = (
    "trap : TERM; " + identity() +
    '( _f=$(_facts $$) || _f="? -"; echo "$$ ${_f#* } $(_boot)" ) > "$2/pid.tmp" '
    '&& mv "$2/pid.tmp" "$2/pid"; '
    + SUBSHELL + '; rc=$?; echo $rc > "$2/exit_code.tmp" && mv "$2/exit_code.tmp" "$2/exit_code"; '
    "exit $rc"
)

_POLL = r"""
p() {
  _k=$1 _d=$2 _o=$3 _sig=$4
  shift 4
  _which "$_d" "$@"
  [ "$_sig" = - ] || _signal "$_sig" >/dev/null
  _ec=-
  [ -f "$_d/exit_code" ] && _ec=$(cat "$_d/exit_code")
  _st=run
  if [ -n "$_ec" ] && [ "$_ec" != - ]; then _st=exit
  elif [ "$_why" = changed ] || [ "$(_ident "$_pid" "$_start" "$_bt")" != running ]; then
    _st=gone; [ -f "$_d/exit_code" ] && _ec=$(cat "$_d/exit_code") && _st=exit
  fi
  [ -z "$_ec" ] && _ec=-
  _size=$(wc -c < "$_d/stdout.log" 2>/dev/null || echo 0); _size=$((_size + 0))
  _n=$((_size - _o)); [ "$_n" -lt 0 ] && _n=0; [ "$_n" -gt MAX_CHUNK ] && _n=MAX_CHUNK
  printf '@@hpo %s %s %s %s %s\n' "$_k" "$_st" "$_ec" "$_size" "$_n"
  [ "$_n" -gt 0 ] && tail -c +$((_o + 1)) "$_d/stdout.log" | head -c "$_n"
  if [ "$_st" != run ]; then
    _signal KILL >/dev/null
    _e=$(tail -c STDERR_TAIL "$_d/stderr.log" 2>/dev/null | wc -c); _e=$((_e + 0))
    printf '@@hpo-err %s %s\n' "$_k" "$_e"
    [ "$_e" -gt 0 ] && tail -c STDERR_TAIL "$_d/stderr.log"
  fi
  return 0
}
""".replace("MAX_CHUNK", str(MAX_CHUNK)).replace("STDERR_TAIL", str(STDERR_TAIL))

_HEADER = re.compile(rb"@@hpo (\S+) (run|exit|gone) (\S+) (\d+) (\d+)\n")
_ERR = re.compile(rb"@@hpo-err (\S+) (\d+)\n")


def q(value: object) -> str:
    return shlex.quote(str(value))


def _exports(env: Mapping[str, str]) -> str:
    return "".join(f"export {name}={q(value)}\n" for name, value in env.items())


def launch_script(rundir: str, workdir: str | None, env: Mapping[str, str], command: str,
                  path_prepend: str | None = None, wait: float = 10.0) -> str:
    """Start ``command`` detached from the SSH session; prints ``@@hpo-started DIR PID TICKS BOOT``."""
    cd = (
        f"cd {q(workdir)} 2>/dev/null || {{ printf 'hpo: cannot change to the workdir %s on this "
        f"host (set the workdir option of this host)\\n' {q(workdir)} >&2; exit 97; }}\n"
        if workdir else ""
    )
    tries = int(wait / 0.05)
    return (
        "set -u\n"
        f"R={q(rundir)}\n"
        '_um=$(umask); umask 077; mkdir -p "$R" || exit 96; umask "$_um"\n'
        'R=$(cd "$R" && pwd) || exit 96\n'
        'rm -f "$R/pid" "$R/pid.tmp" "$R/exit_code" "$R/exit_code.tmp" "$R/stdout.log" "$R/stderr.log"\n'
        + _exports(env)
        + (f'export PATH={q(path_prepend)}:"$PATH"\n' if path_prepend else "")
        + cd +
        f"setsid /bin/sh -c {q(WRAPPER)} hpo-trial {q(command)} \"$R\" "
        '</dev/null >"$R/stdout.log" 2>"$R/stderr.log" &\n'
        f"i=0; while [ ! -s \"$R/pid\" ] && [ $i -lt {tries} ]; do sleep 0.05 2>/dev/null || sleep 1; i=$((i + 1)); done\n"
        'if [ ! -s "$R/pid" ]; then echo "hpo: the trial did not start (is setsid installed?)" >&2; '
        'cat "$R/stderr.log" >&2; exit 95; fi\n'
        'echo "@@hpo-started $R $(cat "$R/pid")"\n'
    )


def parse_started(out: bytes) -> tuple[str, int, int | str | None, str]:
    """(run folder, pid, start, boot) from a launch script's output (start: clock ticks after
    boot, or ``ps``'s start time where the host has no ``/proc``; None when unknown)."""
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("@@hpo-started "):
            parts = line.split() + ["-", "-"]
            start = None if parts[3] in ("-", "?") else int(parts[3]) if parts[3].isdigit() else parts[3]
            return parts[1], int(parts[2]), start, "" if parts[4] == "-" else parts[4]
    raise ValueError(f"unexpected answer from the launch script: {out[-500:]!r}")


@dataclass(frozen=True)
class Record:
    """The remote process an attempt's wrapper is, as recorded at launch: ``PID START BOOT``."""

    pid: int
    start: int | str | None = None  # clock ticks after boot, or ps's start time; None: unknown
    boot: str = ""

    @classmethod
    def of(cls, handle: dict) -> Record | None:
        """The record in a handle (``start`` or, in handles of earlier versions, ``ticks``)."""
        pid = int(handle.get("pid") or 0)
        if pid <= 0:
            return None
        start = handle.get("start", handle.get("ticks"))
        return cls(pid, None if start in (None, "-", "?", "None") else start, str(handle.get("boot") or ""))

    def args(self) -> str:
        """The record as ``_which`` takes it, quoted for the shell."""
        return f"{int(self.pid)} {q(self.start if self.start is not None else '-')} {q(self.boot or '-')}"


def _record_args(record: Record | None) -> str:
    return record.args() if record is not None else ""


@dataclass(frozen=True)
class PollEntry:
    key: str  # "TRIAL-ATTEMPT"
    rundir: str
    offset: int  # stdout bytes already fetched
    signal: str | None = None  # TERM / KILL to send to the process group first
    record: Record | None = None  # None: the pid file's record (an attempt adopted without one)


@dataclass
class PollResult:
    key: str
    state: str  # run | exit | gone
    exit_code: int | str | None  # int, or None when no status file, or text when unreadable
    size: int
    data: bytes
    stderr_tail: bytes = b""

    @property
    def finished(self) -> bool:
        return self.state != "run"


def poll_script(entries: list[PollEntry], env: Mapping[str, str] = {}, trash: list[str] = ()) -> str:
    lines = ["echo @@hpo-begin", _exports(env), identity(), _POLL]
    for e in entries:
        lines.append(f"p {q(e.key)} {q(e.rundir)} {int(e.offset)} {q(e.signal or '-')} {_record_args(e.record)}")
    for d in trash:
        lines.append(f"rm -rf -- {q(d)}")
    return "\n".join(lines) + "\n"


def parse_poll(out: bytes) -> dict[str, PollResult]:
    start = out.find(BEGIN)
    if start < 0:
        raise ValueError(f"unexpected answer from the poll script: {out[-500:]!r}")
    pos, results = start + len(BEGIN), {}
    while pos < len(out):
        m = _HEADER.match(out, pos)
        if m is None:
            raise ValueError(f"unexpected poll output at byte {pos}: {out[pos:pos + 200]!r}")
        key, state, ec, size, n = m.group(1).decode(), m.group(2).decode(), m.group(3), int(m.group(4)), int(m.group(5))
        pos = m.end()
        data = out[pos:pos + n]
        pos += n
        code: int | str | None = None
        if ec != b"-":
            try:
                code = int(ec)
            except ValueError:
                code = f"unreadable exit status {ec[:50]!r}"
        res = PollResult(key, state, code, size, data)
        if state != "run":
            e = _ERR.match(out, pos)
            if e is None:
                raise ValueError(f"unexpected poll output at byte {pos}: {out[pos:pos + 200]!r}")
            pos = e.end()
            res.stderr_tail = out[pos:pos + int(e.group(2))]
            pos += int(e.group(2))
        results[key] = res
    return results


def check_script(rundir: str, record: Record | None = None) -> str:
    """For reattach: prints ``@@hpo-check alive|exited``, or ``@@hpo-check lost OUTCOME`` after
    killing what is left of a lost attempt (OUTCOME as :func:`kill_script`'s). The process is the
    one the log recorded, else the one the run folder's pid file names with its start time."""
    return (
        identity()
        + f"d={q(rundir)}\n"
        'if [ -f "$d/exit_code" ]; then echo @@hpo-check exited; exit 0; fi\n'
        f'_which "$d" {_record_args(record)}\n'
        'if [ "$_state" = running ] && [ "$_why" != changed ]; then echo @@hpo-check alive; else '
        'echo "@@hpo-check lost $(_signal KILL)"; fi\n'
    )


def launched_script(rundir: str, wait: float = 2.0) -> str:
    """After a launch whose connection dropped: did the trial start? Prints
    ``@@hpo-launched none`` (no run folder, or no pid file in it after ``wait`` seconds: the
    folder is removed), else ``@@hpo-launched STATE DIR PID START BOOT``, STATE ``exited`` or
    what ``_ident`` says of the process the wrapper recorded."""
    tries = int(wait / 0.05)
    return (
        identity()
        + f"R={q(rundir)}\n"
        'if [ ! -d "$R" ]; then echo "@@hpo-launched none"; exit 0; fi\n'
        f'i=0; while [ ! -s "$R/pid" ] && [ $i -lt {tries} ]; do sleep 0.05 2>/dev/null || sleep 1; i=$((i + 1)); done\n'
        'if [ ! -s "$R/pid" ]; then rm -rf -- "$R"; echo "@@hpo-launched none"; exit 0; fi\n'
        'R=$(cd "$R" && pwd)\n'
        'set -- $(cat "$R/pid")\n'
        'if [ -f "$R/exit_code" ]; then _st=exited; else _st=$(_ident "$@"); fi\n'
        'echo "@@hpo-launched $_st $R $*"\n'
    )


def parse_launched(out: bytes) -> tuple[str, str, Record] | None:
    """(state, run folder, record) from :func:`launched_script`; None when nothing started."""
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("@@hpo-launched "):
            parts = line.split()
            if parts[1] == "none" or len(parts) < 4:
                return None
            _, pid, start, boot = parse_started(f"@@hpo-started {' '.join(parts[2:])}".encode())
            return parts[1], parts[2], Record(pid, start, boot)
    raise ValueError(f"unexpected answer from the launch check: {out[-500:]!r}")


KILL_OUTCOMES = {
    "signalled": "killed",
    "gone": "nothing was left running",
    "other": "nothing was signalled, as its pid now belongs to another process (its start time "
             "differs from the one recorded at launch)",
    "changed": "nothing was signalled, as its pid file no longer holds the pid and start time "
               "recorded at launch",
    "unrecorded": "nothing was signalled, as no start time was recorded with its pid, so the "
                  "process could not be told apart from one that reuses the pid",
}
KEEP_FOLDER = ("changed", "unrecorded")  # what may still run: its folder is left for a person to see


def kill_script(targets: list[tuple[str, Record | None]], remove: bool) -> str:
    """Kill the process group of each attempt (run folder, record taken at launch or None for the
    pid file's own) and remove its folder; prints ``@@hpo-kill OUTCOME DIR`` for each, OUTCOME
    a key of :data:`KILL_OUTCOMES`. Nothing is signalled on the pid file's word alone."""
    body = [identity()]
    for d, record in targets:
        body.append(f'd={q(d)}; _which "$d" {_record_args(record)}; _o=$(_signal KILL); '
                    'echo "@@hpo-kill $_o $d"')
        if remove:
            body.append(f'case $_o in {"|".join(KEEP_FOLDER)}) ;; *) rm -rf -- "$d" ;; esac')
    return "\n".join(body) + "\ntrue\n"


def parse_killed(out: bytes) -> dict[str, str]:
    """{run folder: outcome} from a kill script's output."""
    found = {}
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("@@hpo-kill "):
            _, outcome, folder = line.split(" ", 2)
            found[folder] = outcome
    return found


GPU_QUERY = """\
if [ -n "${HPO_GPUS+x}" ]; then echo "@@hpo-gpus env"; echo "$HPO_GPUS"
elif command -v nvidia-smi >/dev/null 2>&1; then
  echo "@@hpo-gpus nvidia-smi"; nvidia-smi --query-gpu=index --format=csv,noheader || echo "@@hpo-gpus-failed $?"
else echo "@@hpo-gpus none"; fi
"""


def gpu_query_script(env: Mapping[str, str] = {}) -> str:
    return _exports(env) + GPU_QUERY
