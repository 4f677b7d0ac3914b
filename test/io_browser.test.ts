// Saving and loading in the browser (src/io/browser.ts), in Vitest's browser mode (Chromium): a model's
// checkpoint through IndexedDB and back (weights and optimizer state, or the weights alone), a Blob read
// as a file, a download offered as a link, and the errors of a missing key. Runs in the Chromium config
// only (IndexedDB and the DOM are the browser's).
import { describe, expect, it, vi } from 'vitest';
import { init, nn, tensor, tidy, type Tensor } from '../src/index.ts';
import {
  checkpointTensors,
  deleteFromIndexedDB,
  downloadBytes,
  encodeSafetensors,
  listIndexedDB,
  loadFromIndexedDB,
  readSafetensorsFile,
  restoreCheckpoint,
  saveToIndexedDB,
} from '../src/io/index.ts';

async function trainedModel() {
  await init({ backend: 'cpu' });
  const m = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 1));
  const opt = new nn.Adam(m.parameters(), { lr: 0.1 });
  const x = tensor([1, 2, 3, -1, 0, 2], [2, 3]);
  for (let i = 0; i < 3; i++) {
    tidy(() => {
      const l = m.call(x).square().mean();
      opt.zeroGrad();
      l.backward();
      opt.step();
    });
  }
  return { m, opt };
}

const values = (ts: Tensor[]) => Promise.all(ts.map(async (t) => Array.from(await t.toArray())));

describe('browser io', () => {
  it('a checkpoint through IndexedDB and back: weights and Adam moments, or the weights alone', async () => {
    const { m, opt } = await trainedModel();
    const full = await checkpointTensors(m, [opt]);
    await saveToIndexedDB('test-full', encodeSafetensors(full.tensors, full.metadata));
    const weights = await checkpointTensors(m);
    await saveToIndexedDB('test-weights', encodeSafetensors(weights.tensors, weights.metadata));
    expect(await listIndexedDB()).toEqual(expect.arrayContaining(['test-full', 'test-weights']));
    // The weights-only file holds no optimizer state.
    const w = await loadFromIndexedDB('test-weights');
    expect([...w.tensors.keys()].some((k) => k.startsWith('optim.'))).toBe(false);
    expect([...(await loadFromIndexedDB('test-full')).tensors.keys()].some((k) => k.startsWith('optim.'))).toBe(true);
    // Into a fresh model and optimizer: the same parameters and moments.
    const fresh = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 1));
    const freshOpt = new nn.Adam(fresh.parameters(), { lr: 0.1 });
    await restoreCheckpoint(await loadFromIndexedDB('test-full'), fresh, [freshOpt]);
    expect(await values(fresh.parameters())).toEqual(await values(m.parameters()));
    expect(await values(freshOpt.stateTensors().flat())).toEqual(await values(opt.stateTensors().flat()));
    await deleteFromIndexedDB('test-full');
    await deleteFromIndexedDB('test-weights');
    await expect(loadFromIndexedDB('test-full')).rejects.toThrow(/no checkpoint is stored under 'test-full'/);
  });

  it('a Blob reads as a safetensors file (errors name it); a download is offered as a link', async () => {
    const { m } = await trainedModel();
    const ck = await checkpointTensors(m);
    const bytes = encodeSafetensors(ck.tensors, ck.metadata);
    const back = await readSafetensorsFile(new File([bytes as Uint8Array<ArrayBuffer>], 'w.safetensors'));
    expect([...back.tensors.keys()]).toEqual([...ck.tensors.keys()]);
    await expect(readSafetensorsFile(new File([new Uint8Array([1, 2, 3])], 'bad.safetensors'))).rejects.toThrow(
      /bad\.safetensors/,
    );
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      expect(this.download).toBe('model.safetensors');
      expect(this.href).toMatch(/^blob:/);
    });
    downloadBytes(bytes, 'model.safetensors');
    expect(click).toHaveBeenCalledTimes(1);
    click.mockRestore();
    expect(document.querySelectorAll('a[download]').length).toBe(0);
  });
});
