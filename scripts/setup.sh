#!/usr/bin/env bash
# Installs the system packages the runtime needs on Debian, only when they are missing:
#   libvulkan1  the Vulkan loader that Dawn (npm `webgpu`) opens
#   chromium    ships SwiftShader's Vulkan driver, the fallback when there is no GPU driver,
#               and the headless browser of the browser tests
#   dataset-fashion-mnist  Fashion-MNIST's IDX files under /usr/share/datasets/fashion-mnist
#   python3-torch  PyTorch (CPU) for the interop test (test/interop.test.ts runs python/wgpu_gen.py)
# As root with apt it installs them; otherwise it prints the exact command and fails.
set -euo pipefail
need=()
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || need+=(libvulkan1)
if [ ! -f /usr/lib/chromium/vk_swiftshader_icd.json ] && [ "${WGPU_SKIP_SWIFTSHADER:-0}" != 1 ]; then
  need+=(chromium)
fi
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || [ -n "${FASHION_MNIST_DIR:-}" ] || need+=(dataset-fashion-mnist)
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch)
[ ${#need[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${need[*]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[setup] installing ${need[*]} (missing)" >&2
  export DEBIAN_FRONTEND=noninteractive
  $cmd >/tmp/wgpu-gen-setup.log 2>&1 || { apt-get update >>/tmp/wgpu-gen-setup.log 2>&1 && $cmd >>/tmp/wgpu-gen-setup.log 2>&1; } || {
    echo "[setup] failed, see /tmp/wgpu-gen-setup.log" >&2; exit 1; }
else
  echo "[setup] missing system packages: ${need[*]}. Run as root:  sudo $cmd" >&2
  exit 1
fi
