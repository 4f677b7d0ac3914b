// The runtime in a real browser: Vite builds demo/ (same src/ and shaders/), a preview server serves it
// on 127.0.0.1, and Debian's headless Chromium (playwright-core, never a browser download) runs the
// kernels on its WebGPU and compares them with the CPU reference.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import { build, preview, type PreviewServer } from 'vite';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu', '--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', '--use-angle=vulkan', '--enable-features=Vulkan,VulkanFromANGLE',
];

let server: PreviewServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync('/usr/bin/chromium')) throw new Error('Debian chromium is missing: run bash scripts/setup.sh');
  await build({ configFile: 'vite.config.ts', logLevel: 'warn' });
  server = await preview({ configFile: 'vite.config.ts', preview: { port: 0, host: '127.0.0.1', strictPort: false }, logLevel: 'warn' });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => server?.httpServer.close(() => r()));
});

describe('in headless Chromium', () => {
  it('loads the shaders through Vite and runs kernels on WebGPU matching the cpu reference', async () => {
    const url = server.resolvedUrls!.local[0];
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset.done, undefined, { timeout: 120_000 });
    const status = await page.textContent('#status');
    const out = (await page.textContent('#out')) ?? '';
    expect(await page.evaluate(() => document.body.dataset.done), `${status}\n${out}\n${errors.join('\n')}`).toBe('ok');
    expect(status).toMatch(/WebGPU adapter:/);
    for (const m of out.matchAll(/max \|webgpu - cpu\| = ([\d.e+-]+)/g)) expect(Number(m[1])).toBeLessThan(1e-3);
    expect(out).toMatch(/matmul_\w+\s+3\s/);
    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/browser-smoke.png' });
  });
});
