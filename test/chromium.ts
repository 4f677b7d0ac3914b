// Debian's Chromium (package `chromium`, installed by scripts/setup.sh), shared by the two kinds of
// browser tests: the end-to-end demo test (playwright-core from Node) and the kernel suites in Vitest's
// browser mode. Never a downloaded browser: the executable is /usr/bin/chromium.

export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * WebGPU on (it is behind a flag on Linux), Vulkan through ANGLE so that it runs on SwiftShader when
 * there is no GPU, and no background network traffic of any kind (the tests run offline).
 */
export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--use-angle=vulkan',
  '--enable-features=Vulkan,VulkanFromANGLE',
];
