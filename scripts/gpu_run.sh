#!/usr/bin/env bash
# One run on a lent GPU machine, prepared so that a session's few minutes of device time go to
# measuring: the device tool, carry [".gpu"] (made by scripts/gpu_pack.sh), command
#   bash scripts/gpu_run.sh
# It unpacks .gpu/ (node, node_modules, the Vulkan loader), points the loader at the NVIDIA driver,
# and requires a real GPU (WGPU_ADAPTER=gpu: never a silent SwiftShader run). Then, each under its own
# time limit so that whatever finished comes back under $OUT:
#   adapter.txt      nvidia-smi and the runtime's adapter (src/cli/smoke.ts: kernels against the CPU)
#   tests.log        the Node test files but those below that need what the device lacks, in parallel
#   bench.log, bench.json   bench/run.ts --quick (kernels, convolutions, compiled steps, the floor)
# Limits (seconds): GPU_TEST_S (200) and GPU_BENCH_S (220); with the machine's start, about 10 of the
# 15 minutes a session has. It exits with the first failing step's status (124: out of time).
# GPU_RUN_DRY=1 runs one test file and one bench case on whatever adapter there is, with this
# machine's node and node_modules (nothing unpacked): for trying the script where it is written.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
dry=${GPU_RUN_DRY:-0}
if [ "$dry" != 1 ]; then
  for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  mkdir -p /tmp/gpu-bin && xz -dc .gpu/node.xz >/tmp/gpu-bin/node && chmod +x /tmp/gpu-bin/node
  export PATH=/tmp/gpu-bin:$PATH
  # A marker, so that a node_modules half written by an interrupted run is not taken for whole.
  if [ ! -f node_modules/.gpu-unpacked ]; then
    rm -rf node_modules && xz -dc .gpu/node_modules.tar.xz | tar -xf - && : >node_modules/.gpu-unpacked
  fi
  export WGPU_ADAPTER=${WGPU_ADAPTER:-gpu}
fi
export PATH=$PWD/node_modules/.bin:$PATH XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} NO_COLOR=1
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; fi

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  timeout -k 10 60 tsx src/cli/smoke.ts
} >"$OUT/adapter.txt" 2>&1
echo "adapter: $(grep -m1 '^backend:' "$OUT/adapter.txt" || echo none)"
# No adapter: the rest would only fail, so the device time is kept for a fix and a rerun.
grep -q '^backend: webgpu' "$OUT/adapter.txt" || {
  tail -20 "$OUT/adapter.txt"
  exit 1
}

# Left out: what needs PyTorch (interop, quality_twin*), Chromium and playwright (browser, package,
# vite_example, and the browser-only io_browser and onnx_browser), the ONNX runtimes (onnx),
# Fashion-MNIST's files (data), and the docs and build checks, which run the type checker and typedoc
# (api_docs, docs, examples, bundle_size): none of those is in the pack or on the machine.
skip=' interop quality_twin quality_twin_models browser package vite_example onnx onnx_browser io_browser data api_docs docs examples bundle_size '
files=()
for f in test/*.test.ts; do
  name=${f##*/}
  case $skip in *" ${name%.test.ts} "*) ;; *) files+=("$f") ;; esac
done
if [ "$dry" = 1 ]; then files=(test/kernels.test.ts); fi
echo "tests: ${#files[@]} files"
# timeout signals its whole process group: vitest's workers and the CLIs they spawn stop with it.
timeout -k 10 "${GPU_TEST_S:-200}" vitest run --fileParallelism --reporter=default "${files[@]}" >"$OUT/tests.log" 2>&1
tests=$?
echo "tests: exit $tests; $(grep -E '^ *(Test Files|Tests) ' "$OUT/tests.log" | tr -s ' ' | tr '\n' ' ')"

bench=(--quick)
if [ "$dry" = 1 ]; then bench+=(--only=add); fi
rm -f bench/results.json
timeout -k 10 "${GPU_BENCH_S:-220}" tsx bench/run.ts "${bench[@]}" >"$OUT/bench.log" 2>&1
benched=$?
echo "bench: exit $benched"
if [ -f bench/results.json ]; then cp bench/results.json "$OUT/bench.json"; fi
tail -40 "$OUT/bench.log"
[ "$tests" = 0 ] || exit "$tests"
exit "$benched"
