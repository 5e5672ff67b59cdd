#!/usr/bin/env bash
# Builds the CUDA binaries for a GPU check (scripts/gpu-check.sh) on a machine with neither a GPU
# nor a CUDA install, and gathers what the check carries into .gpu/ (ignored by git):
#   .gpu/bin/    logreasoner and the library's test binary, built with `--features cuda`, xz'd
#   .gpu/data/   a small training export (the JSONL files of the folder given as $1)
#   .gpu/model.a, .gpu/model.b   the default GGUF in two parts: a device call carries at most
#                64 MiB, so the first call takes the binaries and model.a, the second model.b
# nvcc comes from PyPI at CUDA 13.0, the version of the device machines' driver (580): PTX from a
# newer nvcc is refused by an older driver. Kernels are built for sm_90 (H100, H200). cuBLAS,
# cuRAND and NVRTC are linked against their PyPI wheels, the driver against a stub made here; the
# device machine has the real ones.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pip_dir=${CUDA_PIP_DIR:-/opt/cu130}
cuda=$pip_dir/toolkit/nvidia/cu13
libs=$pip_dir/libs/nvidia/cu13/lib
link=$pip_dir/link
if [ ! -x "$cuda/bin/nvcc" ]; then
  python3 -m pip install -q --target "$pip_dir/toolkit" "nvidia-cuda-nvcc==13.0.*" \
    "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-crt==13.0.*" "nvidia-nvvm==13.0.*" \
    "nvidia-cuda-cccl==13.0.*"
fi
if [ ! -e "$libs/libcublas.so.13" ]; then
  python3 -m pip install -q --no-deps --target "$pip_dir/libs" "nvidia-cublas==13.0.*" \
    "nvidia-curand==10.*" "nvidia-cuda-nvrtc==13.0.*"
fi
mkdir -p "$link"
# candle-kernels links `-lcudart` and cudarc `-lcublas` and the rest; the wheels ship only
# versioned libraries.
ln -sf "$cuda/lib/libcudart.so.13" "$link/libcudart.so"
for l in cublas.so.13 cublasLt.so.13 curand.so.10 nvrtc.so.13; do
  ln -sf "$libs/lib$l" "$link/lib${l%.so.*}.so"
done
export PATH=$cuda/bin:$PATH LIBRARY_PATH=$link
export CUDA_HOME=$cuda CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90} CUDARC_CUDA_VERSION=13000
build=(--locked --release --features cuda --target-dir target/cuda)
# The driver's stub: every driver function cudarc calls, as an empty one in a library with the
# driver's soname. The build fails at the link without it; it is never loaded on the device.
# Made afresh each time from the cudarc this build uses (the library builds without it).
cargo build "${build[@]}" --lib
nm -u target/cuda/release/deps/libcudarc-*.rlib |
  awk '$1 == "U" && $2 ~ /^cu[A-Z]/ {print "void " $2 "(void) {}"}' | sort -u > "$link/cuda-stub.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$link/libcuda.so" "$link/cuda-stub.c"
cargo build "${build[@]}" --bin logreasoner
tests=$(cargo test "${build[@]}" --lib --no-run --message-format=json |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "logreasoner" \
            and "lib" in m["target"]["kind"]:
        print(m["executable"])')
rm -rf .gpu && mkdir -p .gpu/bin .gpu/data
strip -o .gpu/bin/logreasoner target/cuda/release/logreasoner
strip -o .gpu/bin/lib-tests "$tests"
xz -T2 -9 .gpu/bin/*
if [ -n "${1:-}" ]; then cp "$1"/*.jsonl .gpu/data/; fi
model=target/test-model/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -f "$model" ]; then
  # The second call carries model.b alone: up to 60 MB of the model; the rest goes with the
  # binaries in the first.
  size=$(stat -c %s "$model")
  second=$((size < 60000000 ? size : 60000000))
  head -c $((size - second)) "$model" > .gpu/model.a
  tail -c "$second" "$model" > .gpu/model.b
fi
du -sh .gpu/* .gpu/bin/*
# What the first call carries, with the tracked tree (about 3 MB), must stay under 64 MiB.
first=$(du -cb .gpu/bin .gpu/data .gpu/model.a | tail -n 1 | cut -f1)
if [ "$first" -gt $((60 * 1024 * 1024)) ]; then
  echo "warning: the first call would carry $((first >> 20)) MiB; move bytes from model.a to model.b" >&2
fi
