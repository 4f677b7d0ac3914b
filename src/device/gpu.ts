// Acquires a GPUDevice: navigator.gpu in the browser, Dawn (npm `webgpu`) in Node. In Node a real GPU
// adapter is preferred; when the Vulkan loader finds none, the SwiftShader ICD from Debian's chromium
// package is used instead, and one line says which adapter is in use.

/** Which adapter init() takes in Node: 'auto' (a real GPU if there is one, else SwiftShader), 'gpu' or 'swiftshader'. */
export type AdapterChoice = 'auto' | 'gpu' | 'swiftshader';

export interface AcquireOptions {
  /** 'auto' (default): a real GPU if there is one, else SwiftShader. Env: WGPU_ADAPTER. */
  adapter?: AdapterChoice;
  /**
   * Extra Dawn options for create(), e.g. 'enable-dawn-features=disable_robustness'. Env: WGPU_DAWN_FLAGS.
   * Timestamp quantization is turned off unless they name `timestamp_quantization` (exactTimestamps).
   */
  dawnFlags?: string[];
  /** Print the adapter line (default true in Node). */
  quiet?: boolean;
}

export interface Acquired {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  description: string;
  isSoftware: boolean;
  /** Drops the reference to Dawn's instance so that Node can exit. */
  release(): void;
}

export const SWIFTSHADER_ICD_CANDIDATES = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
];

export function describeAdapter(adapter: GPUAdapter): { description: string; isSoftware: boolean } {
  const i = adapter.info;
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s) => s && s.length);
  const text = parts.join(' / ') || 'unknown adapter';
  const isSoftware =
    /swiftshader|llvmpipe|lavapipe|software/i.test(text) ||
    (i as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return { description: text, isSoftware };
}

// Dawn's instance must stay referenced for the whole process (if it is collected, the next submit
// crashes), so it lives here until release().
const keepAlive: GPU[] = [];

function requiredLimits(adapter: GPUAdapter): Record<string, number> {
  // Ask for the adapter's real limits rather than WebGPU's defaults (e.g. 128 MiB storage bindings).
  const wanted = [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupSizeZ',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBuffersPerShaderStage',
  ] as const;
  const out: Record<string, number> = {};
  for (const k of wanted) out[k] = adapter.limits[k];
  return out;
}

async function openDevice(gpu: GPU, adapter: GPUAdapter, release: () => void): Promise<Acquired> {
  const features: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({
    label: 'wgpu-gen device',
    requiredFeatures: features,
    requiredLimits: requiredLimits(adapter),
  });
  const { description, isSoftware } = describeAdapter(adapter);
  return { gpu, adapter, device, description, isSoftware, release };
}

/**
 * Whether the Vulkan loader would find a driver: an ICD manifest in its search path (the Khronos
 * loader's LoaderInterfaceArchitecture.md, "Linux ICD Discovery": VK_DRIVER_FILES / VK_ICD_FILENAMES, or
 * vulkan/icd.d under XDG_CONFIG_DIRS, /etc, XDG_DATA_DIRS and /usr/local/share, /usr/share).
 */
function hasVulkanDriver(env: NodeJS.ProcessEnv, fs: typeof import('node:fs')): boolean {
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || env.VK_ADD_DRIVER_FILES) return true;
  const dirs = [
    ...(env.XDG_CONFIG_DIRS ?? '/etc/xdg').split(':'),
    '/etc',
    ...(env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':'),
    '/usr/local/share',
    '/usr/share',
    ...(env.HOME ? [`${env.HOME}/.local/share`] : []),
  ];
  return dirs.some((d) => {
    try {
      return fs.readdirSync(`${d}/vulkan/icd.d`).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  });
}

/**
 * Dawn's flags with its timestamp_quantization toggle off, unless they name it. Dawn rounds timestamp
 * queries down to 65.536 us (a browser's defence against timing attacks; measured: every SwiftShader
 * timing a multiple of 0.065536 ms), so a GPU kernel of a few microseconds would time as 0 in
 * profile() and in the tuner's trials. A Node process is no page to defend.
 */
export function exactTimestamps(flags: readonly string[]): string[] {
  if (flags.some((f) => f.includes('timestamp_quantization'))) return [...flags];
  const i = flags.findIndex((f) => f.startsWith('disable-dawn-features='));
  if (i < 0) return [...flags, 'disable-dawn-features=timestamp_quantization'];
  return flags.map((f, k) => (k === i ? `${f},timestamp_quantization` : f));
}

async function acquireNode(opts: AcquireOptions): Promise<Acquired> {
  const env = process.env;
  const choice = (opts.adapter ?? (env.WGPU_ADAPTER as AdapterChoice | undefined) ?? 'auto') as AdapterChoice;
  if (!['auto', 'gpu', 'swiftshader'].includes(choice)) {
    throw new Error(`unknown adapter choice '${choice}' (WGPU_ADAPTER): use auto, gpu or swiftshader`);
  }
  env.XDG_RUNTIME_DIR ??= '/tmp';
  const flags = exactTimestamps(
    opts.dawnFlags ?? (env.WGPU_DAWN_FLAGS ? env.WGPU_DAWN_FLAGS.split(/\s+/).filter(Boolean) : []),
  );
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import(/* @vite-ignore */ 'webgpu');
  } catch (e) {
    throw new Error(
      `WebGPU in Node needs Dawn, the npm package 'webgpu' (an optional peer dependency): run npm i webgpu (${(e as Error).message})`,
      { cause: e },
    );
  }
  Object.assign(globalThis, webgpu.globals);
  const fs = await import(/* @vite-ignore */ 'node:fs');

  const tryOnce = async (): Promise<{ gpu: GPU; adapter: GPUAdapter } | null> => {
    const gpu = webgpu.create(flags) as GPU;
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return null;
    keepAlive.push(gpu);
    return { gpu, adapter };
  };

  let found: { gpu: GPU; adapter: GPUAdapter } | null = null;
  let fellBack = false;
  // On Linux, Dawn reaches GPUs through Vulkan drivers, each declared by a manifest in the loader's
  // directories: with none there (a machine without a GPU driver), asking would only print the loader's
  // "vkCreateInstance: Found no drivers!" warning on every run, so the fallback comes first.
  if (choice !== 'swiftshader' && (choice === 'gpu' || process.platform !== 'linux' || hasVulkanDriver(env, fs))) {
    found = await tryOnce();
  }
  if (!found && choice !== 'gpu') {
    const icd = SWIFTSHADER_ICD_CANDIDATES.find((p) => fs.existsSync(p));
    if (!icd) {
      throw new Error(
        'no WebGPU adapter: no GPU Vulkan driver was found and SwiftShader is not installed. ' +
          'Run `bash scripts/setup.sh` (as root: apt-get install -y libvulkan1 chromium).',
      );
    }
    env.VK_ICD_FILENAMES = icd;
    env.VK_DRIVER_FILES = icd;
    found = await tryOnce();
    fellBack = true;
  }
  if (!found) {
    throw new Error(
      choice === 'gpu'
        ? 'no GPU adapter found (WGPU_ADAPTER=gpu): is a Vulkan driver installed (vulkaninfo)?'
        : 'no WebGPU adapter even with SwiftShader: is libvulkan1 installed? Run `bash scripts/setup.sh`.',
    );
  }
  const gpu = found.gpu;
  const release = () => {
    const i = keepAlive.indexOf(gpu);
    if (i >= 0) keepAlive.splice(i, 1);
  };
  const acq = await openDevice(gpu, found.adapter, release);
  if (!opts.quiet) {
    const why = fellBack ? ' (no GPU driver found: software fallback)' : '';
    console.log(`[wgpu-gen] adapter: ${acq.description}${acq.isSoftware ? ' [software]' : ''}${why}`);
  }
  return acq;
}

/**
 * The page's device. An adapter can expire before requestDevice succeeds (WebGPU spec, "adapter ... may
 * become invalid"; Chromium rejects with "A valid external Instance reference no longer exists" when its
 * GPU process restarted, as it did once under load in the browser tests): then a fresh adapter is asked
 * for, once, as the spec advises. A null adapter is asked for again too, once, after a moment: Chromium
 * answered null to the first page opened after its launch in a CI run (SwiftShader, 2 cores), and gave
 * adapters to every page after it.
 */
export async function acquireBrowser(
  gpu: GPU | undefined = (globalThis.navigator as Navigator | undefined)?.gpu,
): Promise<Acquired> {
  if (!gpu) {
    throw new Error(
      'WebGPU is not available in this browser (navigator.gpu is undefined): use a recent Chrome or Edge, ' +
        'or Firefox/Safari with WebGPU enabled, over https or localhost.',
    );
  }
  for (let attempt = 0; ; attempt++) {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      if (attempt > 0)
        throw new Error('WebGPU is present but no adapter was returned (asked twice: GPU blocklisted or disabled?)');
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      return await openDevice(gpu, adapter, () => {});
    } catch (e) {
      if (attempt > 0) throw e;
    }
  }
}

/**
 * The platform the package was built for (scripts/build.mjs defines it per export condition, so the
 * browser build drops the Node code, `webgpu` and `node:` imports included); from the repository, detected.
 */
declare const __WGPU_PLATFORM__: 'node' | 'browser' | undefined;

export function acquireDevice(opts: AcquireOptions = {}): Promise<Acquired> {
  const inNode =
    typeof __WGPU_PLATFORM__ !== 'undefined'
      ? __WGPU_PLATFORM__ === 'node'
      : typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';
  return inNode ? acquireNode(opts) : acquireBrowser();
}
