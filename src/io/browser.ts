// Saving and loading in the browser (tfjs's 'downloads://' and 'indexeddb://' in spirit): a download of
// safetensors bytes as a file, reading a picked or dropped file, a file picker, and a small IndexedDB
// store of named checkpoints that survives reloads. Bytes are safetensors (src/io/safetensors.ts), so a
// file saved here loads in the CLI and in PyTorch's `safetensors`, and back.

import { decodeSafetensors, type SafetensorsContents } from './safetensors.ts';

/** Offers `bytes` as a file download named `fileName` (an object URL on a clicked link, revoked after). */
export function downloadBytes(bytes: Uint8Array, fileName: string, type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A safetensors file (a File from an input or a drop, or any Blob) decoded; errors name the file. */
export async function readSafetensorsFile(
  file: Blob,
  name = (file as File).name ?? 'file',
): Promise<SafetensorsContents> {
  return decodeSafetensors(new Uint8Array(await file.arrayBuffer()), name);
}

/** Asks the user for a file (a hidden file input; must run from a click); null when nothing was chosen. */
export function pickFile(accept = '.safetensors'): Promise<File | null> {
  return new Promise((resolve) => {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = accept;
    input.addEventListener('change', () => resolve(input.files?.[0] ?? null), { once: true });
    input.addEventListener('cancel', () => resolve(null), { once: true });
    input.click();
  });
}

const DB = 'wgpu-gen';
const STORE = 'checkpoints';

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    if (typeof indexedDB === 'undefined')
      return reject(new Error('IndexedDB is not available here (a browser page is needed)'));
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`IndexedDB: could not open '${DB}': ${req.error?.message}`));
  });
}

async function inStore<T>(
  mode: IDBTransactionMode,
  what: string,
  op: (s: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = op(tx.objectStore(STORE));
      // Resolved when the transaction commits, so a saved checkpoint is on disk when the promise is.
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () =>
        reject(new Error(`IndexedDB: ${what} failed: ${tx.error?.message ?? req.error?.message}`));
    });
  } finally {
    db.close();
  }
}

/** Stores safetensors bytes under `key` (one transaction: the old value stays if it fails). */
export function saveToIndexedDB(key: string, bytes: Uint8Array): Promise<void> {
  return inStore('readwrite', `saving '${key}'`, (s) => s.put(bytes.slice(), key)).then(() => undefined);
}

/** The bytes stored under `key`, decoded; an error naming the key when there are none. */
export async function loadFromIndexedDB(key: string): Promise<SafetensorsContents> {
  const v = await inStore<unknown>('readonly', `loading '${key}'`, (s) => s.get(key));
  if (!(v instanceof Uint8Array))
    throw new Error(
      `IndexedDB: no checkpoint is stored under '${key}' (saved ones: ${(await listIndexedDB()).join(', ') || 'none'})`,
    );
  return decodeSafetensors(v, `indexeddb://${key}`);
}

/** The keys of the stored checkpoints. */
export async function listIndexedDB(): Promise<string[]> {
  return (await inStore('readonly', 'listing', (s) => s.getAllKeys())).map(String);
}

/** Removes the checkpoint stored under `key` (nothing if there is none). */
export function deleteFromIndexedDB(key: string): Promise<void> {
  return inStore('readwrite', `deleting '${key}'`, (s) => s.delete(key)).then(() => undefined);
}
