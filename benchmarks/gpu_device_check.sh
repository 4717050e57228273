#!/usr/bin/env bash
# GPU detection and slot assignment on a real GPU machine (run by hand there; see docs/runners.md).
# Installs hpo without network (wheels for missing packages under .whl/ if present), then runs
# a group of 4 trials that each ask for 1 GPU at concurrency 3, and checks from the event log and
# the trials' own output that no two running trials ever shared a device.
set -euo pipefail
OUT=${OUT:-/tmp/hpo-gpu-check}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site .
export PYTHONPATH=/tmp/site
hpo() { python3 -m hpo "$@"; }
nvidia-smi -L | tee "$OUT/nvidia-smi.txt"
python3 -c "from hpo.runkit.gpus import detect_gpus; print('detected:', detect_gpus(None))" | tee "$OUT/detected.txt"
work=$(mktemp -d)
cat > "$work/probe.py" <<'PY'
import os, time, hpo
visible = os.environ.get("CUDA_VISIBLE_DEVICES")
try:
    import torch
    n, name = torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-"
    x = torch.ones(1024, 1024, device="cuda") @ torch.ones(1024, 1024, device="cuda")
    ok = float(x[0, 0]) == 1024.0
except Exception as exc:  # report, do not hide
    n, name, ok = -1, repr(exc), False
print(f"trial {hpo.trial_id()} CUDA_VISIBLE_DEVICES={visible} torch_devices={n} name={name} matmul_ok={ok}", flush=True)
time.sleep(3)
hpo.report(visible=float(visible) if visible not in (None, "") else -1.0, devices=float(n), ok=float(ok))
PY
cat > "$work/gpu.yaml" <<'YAML'
name: gpu-check
settings:
  concurrency: 3
  matrix:
    i: {values: [1, 2, 3, 4]}
run:
  cmd: python3 probe.py
  gpus: 1
YAML
cd "$work"
hpo run gpu.yaml --plain 2>&1 | tee "$OUT/run.txt" || true
hpo export gpu-check --format json > "$OUT/export.json"
hpo events gpu-check --json > "$OUT/events.jsonl"
for d in .hpo/groups/*/trials/*/attempt-1; do echo "$d: $(cat $d/stdout.log | head -1)"; done | tee "$OUT/trial-output.txt"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
events = [json.loads(l) for l in open(f"{out}/events.jsonl")]
holding, overlaps = {}, []
for e in events:
    p = e["payload"]
    if e["type"] == "TrialLaunched":
        gpus = tuple(p["handle"].get("gpus", []))
        for other, held in holding.items():
            if set(held) & set(gpus):
                overlaps.append((p["trial_id"], other, gpus))
        holding[p["trial_id"]] = gpus
    elif e["type"] == "TrialFinished":
        holding.pop(p["trial_id"], None)
trials = json.load(open(f"{out}/export.json"))
summary = {"trials": [(t["trial"], t["status"], t["metrics"]) for t in trials], "overlaps": overlaps}
print(json.dumps(summary, indent=1))
json.dump(summary, open(f"{out}/summary.json", "w"), indent=1)
PY
