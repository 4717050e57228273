"""The POSIX shell the SSH runner sends to a host, and the parsing of what comes back.

Every script travels on the SSH channel's stdin to ``sh -s``, so the remote command line is
always just ``sh -s`` whatever the user's login shell, and nothing we send (params, environment
values, secrets) shows up in the remote process list. Each value is quoted exactly once, with
:func:`shlex.quote`, for the ``sh`` that reads the script; the trial command itself reaches the
wrapper as one argument and is evaluated there once, like the local runner does.

An attempt's files live in its remote run folder: ``stdout.log``, ``stderr.log``, ``pid``
(``PID START_TICKS BOOT_ID``; the wrapper is the leader of its own session, so the pid is also
the process group to signal) and ``exit_code`` (written by the wrapper when the command ends).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

MAX_CHUNK = 1 << 20  # stdout bytes fetched per attempt and poll
STDERR_TAIL = 4000
BEGIN = b"@@hpo-begin\n"

# $1: the command, $2: the run folder. Records its own pid (it leads a new session) and the
# command's exit status; the subshell keeps `exit` in the command from skipping the bookkeeping.
# The wrapper outlives a SIGTERM sent to the group (a caught signal is reset to the default in
# the subshell), so a stopped command still gets its status (143) recorded.
WRAPPER = (
    "trap : TERM; "
    '( s=$(cat /proc/$$/stat 2>/dev/null); s=${s##*") "}; set -- $s; '
    'b=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null); echo "$$ ${20:--} ${b:--}" ) > "$2/pid.tmp" '
    '&& mv "$2/pid.tmp" "$2/pid"; '
    '( eval "$1" ); rc=$?; echo $rc > "$2/exit_code.tmp" && mv "$2/exit_code.tmp" "$2/exit_code"; '
    "exit $rc"
)

# alive PID TICKS BOOT: the recorded process still runs (same boot, same start time, no zombie);
# "-" for an unknown TICKS or BOOT skips that check
_ALIVE = r"""
alive() {
  [ "${1:-0}" -gt 0 ] 2>/dev/null || return 1
  if [ "${3:--}" != - ] && [ -r /proc/sys/kernel/random/boot_id ]; then
    [ "$(cat /proc/sys/kernel/random/boot_id)" = "$3" ] || return 1
  fi
  if [ -r /proc/self/stat ]; then
    _t=$2
    _s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    _s=${_s##*") "}
    set -- $_s
    [ "$1" = Z ] && return 1
    [ "${_t:--}" = - ] || [ "${20}" = "$_t" ]
  else
    kill -0 "$1" 2>/dev/null
  fi
}
"""

_POLL = r"""
p() {
  _k=$1 _d=$2 _o=$3 _sig=$4
  set -- $(cat "$_d/pid" 2>/dev/null)
  _pid=${1:-0} _ticks=${2:--} _boot=${3:--}
  if [ "$_sig" != - ] && [ "$_pid" -gt 0 ]; then kill -s "$_sig" -- "-$_pid" 2>/dev/null; fi
  _ec=-
  [ -f "$_d/exit_code" ] && _ec=$(cat "$_d/exit_code")
  _st=run
  if [ -n "$_ec" ] && [ "$_ec" != - ]; then _st=exit
  elif ! alive "$_pid" "$_ticks" "$_boot"; then _st=gone; [ -f "$_d/exit_code" ] && _ec=$(cat "$_d/exit_code") && _st=exit; fi
  [ -z "$_ec" ] && _ec=-
  _size=$(wc -c < "$_d/stdout.log" 2>/dev/null || echo 0); _size=$((_size + 0))
  _n=$((_size - _o)); [ "$_n" -lt 0 ] && _n=0; [ "$_n" -gt MAX_CHUNK ] && _n=MAX_CHUNK
  printf '@@hpo %s %s %s %s %s\n' "$_k" "$_st" "$_ec" "$_size" "$_n"
  [ "$_n" -gt 0 ] && tail -c +$((_o + 1)) "$_d/stdout.log" | head -c "$_n"
  if [ "$_st" != run ]; then
    [ "$_pid" -gt 0 ] && kill -s KILL -- "-$_pid" 2>/dev/null
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


def parse_started(out: bytes) -> tuple[str, int, int | None, str]:
    """(run folder, pid, start ticks, boot id) from a launch script's output."""
    for line in out.decode("utf-8", "replace").splitlines():
        if line.startswith("@@hpo-started "):
            parts = line.split()
            ticks = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
            return parts[1], int(parts[2]), ticks, parts[4] if len(parts) > 4 else ""
    raise ValueError(f"unexpected answer from the launch script: {out[-500:]!r}")


@dataclass(frozen=True)
class PollEntry:
    key: str  # "TRIAL-ATTEMPT"
    rundir: str
    offset: int  # stdout bytes already fetched
    signal: str | None = None  # TERM / KILL to send to the process group first


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
    lines = ["echo @@hpo-begin", _exports(env), _ALIVE, _POLL]
    for e in entries:
        lines.append(f"p {q(e.key)} {q(e.rundir)} {int(e.offset)} {q(e.signal or '-')}")
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


def check_script(rundir: str) -> str:
    """For reattach: prints ``@@hpo-check alive|exited|lost``."""
    return (
        _ALIVE
        + f"d={q(rundir)}\n"
        'if [ -f "$d/exit_code" ]; then echo @@hpo-check exited; exit 0; fi\n'
        'set -- $(cat "$d/pid" 2>/dev/null); p=${1:-0}\n'
        'if alive "$p" "${2:--}" "${3:--}"; then echo @@hpo-check alive; else '
        '[ "$p" -gt 0 ] && kill -s KILL -- "-$p" 2>/dev/null; echo @@hpo-check lost; fi\n'
    )


def kill_script(rundirs: list[str], remove: bool) -> str:
    """Kill the process group recorded in each run folder (and remove the folder)."""
    body = []
    for d in rundirs:
        body.append(f"d={q(d)}; set -- $(cat \"$d/pid\" 2>/dev/null); "
                    '[ "${1:-0}" -gt 0 ] && kill -s KILL -- "-$1" 2>/dev/null')
        if remove:
            body.append('rm -rf -- "$d"')
    return "\n".join(body) + "\ntrue\n"


GPU_QUERY = """\
if [ -n "${HPO_GPUS+x}" ]; then echo "@@hpo-gpus env"; echo "$HPO_GPUS"
elif command -v nvidia-smi >/dev/null 2>&1; then
  echo "@@hpo-gpus nvidia-smi"; nvidia-smi --query-gpu=index --format=csv,noheader || echo "@@hpo-gpus-failed $?"
else echo "@@hpo-gpus none"; fi
"""


def gpu_query_script(env: Mapping[str, str] = {}) -> str:
    return _exports(env) + GPU_QUERY
