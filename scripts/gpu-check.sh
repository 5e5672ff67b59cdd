#!/usr/bin/env bash
# The GPU check of the CUDA build, run on a device machine in two calls while it stays warm (each
# call carries at most 64 MiB; scripts/cuda-build.sh prepares .gpu/ here):
#   1. carry .gpu/bin, .gpu/data, .gpu/model.a;  run `scripts/gpu-check.sh tests`
#      the library's CUDA tests: the frozen projection through cuBLAS, and a bf16 decoder on the
#      GPU against the f32 one on the CPU (loss, every adapter's gradient, 20 training steps).
#   2. carry .gpu/model.b;                        run `scripts/gpu-check.sh train`
#      the three stages on the default model on cuda:0 with the export in .gpu/data, and a run
#      too large for the GPU, which must be refused before it starts.
# Logs and metrics go to $OUT; the exit status is non-zero when a check failed.
# GPU_CHECK_DEVICE and GPU_CHECK_STEPS (default cuda:0 and 20) let the train part be tried
# elsewhere first, e.g. on the CPU with the driver stub on LD_LIBRARY_PATH.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
failed=0
fail() {
  echo "FAILED: $*" >&2
  failed=1
}
# CUDA's libraries (cuBLAS, cuRAND, NVRTC, the runtime) come with the image's PyTorch as pip packages.
libs=$(python3 -c 'import glob, site
print(":".join(d for sp in site.getsitepackages() for d in sorted(glob.glob(sp + "/nvidia/*/lib"))))')
export LD_LIBRARY_PATH=$libs:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv
# The binaries: unpacked from .gpu/bin when this call carries them, else those a previous call on
# this machine unpacked.
bin=/tmp/gpu-bin
if compgen -G ".gpu/bin/*.xz" > /dev/null; then
  rm -rf "$bin" && mkdir -p "$bin"
  python3 - "$bin" .gpu/bin/*.xz <<'PY' || exit 1
import lzma, os, shutil, sys
for packed in sys.argv[2:]:
    out = os.path.join(sys.argv[1], os.path.basename(packed)[: -len(".xz")])
    with lzma.open(packed) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.chmod(out, 0o755)
PY
elif [ ! -x "$bin/logreasoner" ]; then
  echo "no binaries: carry .gpu/bin (scripts/cuda-build.sh makes it)" >&2
  exit 1
fi
# A library the binaries need and the machine lacks would fail every step below: say so once.
if ldd "$bin/logreasoner" "$bin/lib-tests" | grep "not found"; then
  echo "missing libraries (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)" >&2
  exit 1
fi
case "${1:-}" in
tests)
  "$bin/lib-tests" cuda --test-threads 1 2>&1 | tee "$out/tests.log" || fail "the CUDA tests"
  ;;
train)
  # The model: reassembled when this call carries its second part (into a temporary name, so an
  # interrupted copy is never taken for the model), else the one a previous call reassembled.
  model=/tmp/model.gguf
  if [ -f .gpu/model.b ]; then
    cat .gpu/model.a .gpu/model.b > "$model.part" && mv "$model.part" "$model" || exit 1
  elif [ ! -f "$model" ]; then
    echo "no model: carry .gpu/model.a, then .gpu/model.b" >&2
    exit 1
  fi
  lr=("$bin/logreasoner" --data-dir /tmp/lr --model "$model"
    --device "${GPU_CHECK_DEVICE:-cuda:0}")
  steps=${GPU_CHECK_STEPS:-20}
  common=(--batch 2 --max-len 512 --checkpoint-every 5 --threads 4)
  d=.gpu/data
  rm -rf /tmp/lr
  stage() {
    local name=$1 start=$SECONDS
    shift
    "${lr[@]}" train --stage "$name" "$@" "${common[@]}" > "$out/$name.out" 2>&1 ||
      fail "the $name stage"
    tail -n 8 "$out/$name.out"
    echo "$name: $((SECONDS - start)) s wall"
  }
  for name in thought stepwise; do
    stage "$name" --data "$d/sft_$name.jsonl" --eval-data "$d/sft_${name}_dev.jsonl" \
      --steps "$steps" --lr 3e-4 --eval-every 5
  done
  stage dpo --data "$d/dpo.jsonl" --steps $((steps / 2))
  "${lr[@]}" runs list 2>&1
  for f in /tmp/lr/runs/*/metrics.jsonl; do
    cp "$f" "$out/$(basename "$(dirname "$f")").metrics.jsonl"
  done
  echo "--- a run too large for the GPU must be refused before it starts:"
  said=$("${lr[@]}" train --stage thought --data "$d/sft_thought.jsonl" --steps 1 \
    --batch 100000 --max-len 2048 2>&1)
  echo "$said" | tail -n 2
  grep -q "needs about" <<< "$said" || fail "the oversized run was not refused"
  nvidia-smi --query-gpu=memory.used --format=csv
  ;;
*)
  echo "usage: $0 tests|train" >&2
  exit 2
  ;;
esac
exit "$failed"
