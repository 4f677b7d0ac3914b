#!/usr/bin/env bash
# One run on a lent GPU machine, prepared so that a session's few minutes of device time go to
# measuring: the device tool, carry [".gpu"] (made by scripts/gpu_pack.sh), command
#   bash scripts/gpu_run.sh
# It unpacks .gpu/ (node, node_modules, the Vulkan loader), points the loader at the NVIDIA driver,
# and requires a real GPU (WGPU_ADAPTER=gpu: never a silent SwiftShader run). Then, each under its own
# time limit so that whatever finished comes back under $OUT:
#   adapter.txt      nvidia-smi and the runtime's adapter (src/cli/smoke.ts: kernels against the CPU)
#   tests.log        the Node test files that need neither Chromium, PyTorch, Fashion-MNIST, the ONNX
#                    runtime nor the type checker (the device has none of them), files in parallel
#   bench.log, bench.json   npm run bench --quick (kernels, convolutions, compiled steps, the floor)
# Limits (seconds): GPU_TEST_S (200) and GPU_BENCH_S (220): with the start, about 8 of the 15
# minutes a session has, leaving room for one rerun. GPU_RUN_DRY=1 runs one test file and one bench
# case, for trying this script here (on SwiftShader, with WGPU_ADAPTER unset).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
if [ -d .gpu ]; then
  for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  mkdir -p /tmp/gpu-bin && xz -dc .gpu/node.xz >/tmp/gpu-bin/node && chmod +x /tmp/gpu-bin/node
  export PATH=/tmp/gpu-bin:$PATH
  [ -d node_modules ] || xz -dc .gpu/node_modules.tar.xz | tar -xf -
fi
export PATH=$PWD/node_modules/.bin:$PATH XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} NO_COLOR=1
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; fi
[ "${GPU_RUN_DRY:-0}" = 1 ] || export WGPU_ADAPTER=${WGPU_ADAPTER:-gpu}

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  timeout 60 tsx src/cli/smoke.ts
} >"$OUT/adapter.txt" 2>&1
echo "adapter: $(grep -m1 '^backend:' "$OUT/adapter.txt" || echo none)"
# No adapter: the rest would only fail, so the device time is kept for a fix and a rerun.
grep -q '^backend: webgpu' "$OUT/adapter.txt" || { tail -20 "$OUT/adapter.txt"; exit 1; }

# The test files that need only node_modules and an adapter: not those that use what the device lacks,
# nor the docs and build checks, which run the type checker and typedoc (left out of the pack).
needs_more='python3|/usr/bin/python|chromium|playwright|fashion|onnxruntime'
files=()
for f in test/*.test.ts; do
  case $(basename "$f" .test.ts) in api_docs | docs | examples | bundle_size) continue ;; esac
  grep -qiE "$needs_more" "$f" || files+=("$f")
done
if [ "${GPU_RUN_DRY:-0}" = 1 ]; then files=(test/kernels.test.ts); fi
echo "tests: ${#files[@]} files"
timeout "${GPU_TEST_S:-200}" vitest run --fileParallelism --reporter=default "${files[@]}" >"$OUT/tests.log" 2>&1
echo "tests: exit $? (124: out of time); $(grep -E '^ *(Test Files|Tests) ' "$OUT/tests.log" | tr -s ' ' | tr '\n' ' ')"

bench=(--quick)
if [ "${GPU_RUN_DRY:-0}" = 1 ]; then bench+=(--only=add); fi
timeout "${GPU_BENCH_S:-220}" tsx bench/run.ts "${bench[@]}" >"$OUT/bench.log" 2>&1
echo "bench: exit $? (124: out of time)"
[ -f bench/results.json ] && cp bench/results.json "$OUT/bench.json"
tail -40 "$OUT/bench.log"
