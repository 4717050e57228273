#!/usr/bin/env bash
# Real-GPU checks of GPU slots, for a machine with an NVIDIA GPU: the full tests when hpo's
# dependencies are installed there, else a standalone check of hpo.runkit.gpus (stdlib only) with the
# CUDA driver counting the devices a trial sees. Output also goes to $OUT/log.txt.
set -u
OUT=${OUT:-/tmp/hpo-gpu-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
nvidia-smi -L; nvidia-smi --query-gpu=index --format=csv,noheader
PY=$(command -v python3 || command -v python); echo "python: $PY $($PY --version 2>&1)"
if $PY -c "import pydantic, pluggy, numpy, scipy, sklearn, yaml, sqlite_utils, rich, click, pytest" 2>/dev/null; then
  echo "deps: present"
  $PY -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -2
  $PY -m pytest -q -p no:cacheprovider tests/runners/test_gpu_device.py tests/runners/test_gpus.py 2>&1 | tail -15
else
  echo "deps: missing ($($PY -c 'import pydantic' 2>&1 | tail -1)); standalone check of hpo.runkit.gpus"
  $PY - <<'PYEOF'
import os, subprocess, sys, types
pkg = types.ModuleType("hpo"); pkg.__path__ = ["core"]; sys.modules["hpo"] = pkg
from hpo.runkit.gpus import GpuPool, detect_gpus, visible_devices_env
os.environ.pop("HPO_GPUS", None); os.environ.pop("CUDA_VISIBLE_DEVICES", None)
devs = detect_gpus(); print("detected:", devs)
listed = [l for l in subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.splitlines() if l.startswith("GPU ")]
print("nvidia-smi -L count:", len(listed), "match:", len(listed) == len(devs))
COUNT = ("import ctypes\ntry:\n c = ctypes.CDLL('libcuda.so.1')\nexcept OSError as e:\n print('no libcuda', e); raise SystemExit\n"
         "n = ctypes.c_int(0); rc = c.cuInit(0); rc = rc or c.cuDeviceGetCount(ctypes.byref(n)); print(n.value if rc == 0 else 0, rc)")
pool = GpuPool(devs)
for key, n in (("a", 1), ("b", 0)):
    held = pool.acquire(key, n)
    env = {**os.environ, **visible_devices_env(held)}
    out = subprocess.run([sys.executable, "-c", COUNT], env=env, capture_output=True, text=True)
    print(f"trial {key} holds {held}: CUDA sees (count, rc) =", out.stdout.strip(), out.stderr.strip()[-200:])
print("second 1-GPU trial fits while a holds one:", pool.fits(1), "(expected", len(devs) > 1, ")")
PYEOF
fi
