#!/usr/bin/env bash
# The GPU check of the CUDA build, run on a device machine in two calls while it stays warm (each
# call carries at most 64 MiB; scripts/cuda-build.sh prepares .gpu/ here):
#   1. carry .gpu/bin, .gpu/data, .gpu/model.a;  run `scripts/gpu-check.sh tests`
#      the library's CUDA tests: the frozen projection through cuBLAS, and a bf16 decoder on the
#      GPU against the f32 one on the CPU (loss, every adapter's gradient, 20 training steps).
#   2. carry .gpu/model.b;                        run `scripts/gpu-check.sh train`
#      the three stages on the default model on cuda:0 with the export in .gpu/data, and a run
#      too large for the GPU, which must be refused before it starts.
# Logs and metrics go to $OUT. GPU_CHECK_DEVICE and GPU_CHECK_STEPS (default cuda:0 and 20) let
# the train part be tried elsewhere first, e.g. on the CPU with the driver stub on
# LD_LIBRARY_PATH.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
# CUDA's libraries (cuBLAS, cuRAND, NVRTC, the runtime) come with the image's PyTorch as pip packages.
libs=$(python3 -c 'import glob, site
print(":".join(d for sp in site.getsitepackages() for d in sorted(glob.glob(sp + "/nvidia/*/lib"))))')
export LD_LIBRARY_PATH=$libs:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
# The binaries, unpacked once per machine (a second call on the same machine finds them).
bin=/tmp/gpu-bin
if [ ! -x "$bin/logreasoner" ]; then
  mkdir -p "$bin"
  python3 - "$bin" .gpu/bin/*.xz <<'PY' || exit 1
import lzma, os, shutil, sys
for packed in sys.argv[2:]:
    out = os.path.join(sys.argv[1], os.path.basename(packed)[: -len(".xz")])
    with lzma.open(packed) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.chmod(out, 0o755)
PY
fi
# A library the binaries need and the machine lacks would fail every step below: say so once.
if ldd "$bin/logreasoner" "$bin/lib-tests" | grep "not found"; then
  echo "missing libraries (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)" >&2
  exit 1
fi
case "${1:-}" in
tests)
  "$bin/lib-tests" cuda --test-threads 1 2>&1 | tee "$out/tests.log"
  ;;
train)
  if [ ! -f /tmp/model.gguf ]; then cat .gpu/model.a .gpu/model.b > /tmp/model.gguf || exit 1; fi
  lr=("$bin/logreasoner" --data-dir /tmp/lr --model /tmp/model.gguf
    --device "${GPU_CHECK_DEVICE:-cuda:0}")
  steps=${GPU_CHECK_STEPS:-20}
  common=(--batch 2 --max-len 512 --checkpoint-every 5 --threads 4)
  d=.gpu/data
  for stage in thought stepwise; do
    start=$SECONDS
    "${lr[@]}" train --stage "$stage" --data "$d/sft_$stage.jsonl" \
      --eval-data "$d/sft_${stage}_dev.jsonl" --steps "$steps" --lr 3e-4 --eval-every 5 \
      "${common[@]}" 2>&1 | tail -n 15
    echo "$stage: $((SECONDS - start)) s wall"
  done
  start=$SECONDS
  "${lr[@]}" train --stage dpo --data "$d/dpo.jsonl" --steps $((steps / 2)) "${common[@]}" 2>&1 |
    tail -n 15
  echo "dpo: $((SECONDS - start)) s wall"
  "${lr[@]}" runs list 2>&1
  for f in /tmp/lr/runs/*/metrics.jsonl; do
    cp "$f" "$out/$(basename "$(dirname "$f")").metrics.jsonl"
  done
  cat /tmp/lr/runs/*/train.log > "$out/train.log" 2>/dev/null
  echo "--- a run too large for the GPU:"
  "${lr[@]}" train --stage thought --data "$d/sft_thought.jsonl" --steps 1 --batch 100000 \
    --max-len 2048 2>&1 | tail -n 3
  nvidia-smi --query-gpu=memory.used --format=csv
  ;;
*)
  echo "usage: $0 tests|train" >&2
  exit 2
  ;;
esac
