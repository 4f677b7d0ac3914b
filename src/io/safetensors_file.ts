// safetensors files on disk (Node): atomic writes (temporary file beside the target, then a rename; the
// temporary file is removed on any failure, and those of dead processes by removeOrphanTemps), reads with
// errors that name the file, and file-system errors in words that say what to do.

import { closeSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type NamedArray, type SafetensorsContents } from './safetensors.ts';
import { lossCurveSvg, type Series } from './plot.ts';

/**
 * Writes a whole file atomically: a temporary file beside the target, flushed to the disk (fsync), then
 * a rename, then the directory flushed too, so that after a power loss the path holds the old file or
 * the new one, never an empty or partial one (a rename is durable only once its directory is; ext4's
 * auto_da_alloc covers some of this, other file systems none). On failure the temporary file goes.
 * Synchronous, so a signal (handled between event-loop turns) never lands mid-write; a hard kill's
 * leftover is removed by removeOrphanTemps at the next start.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(fsErrorMessage(e, path), { cause: e });
  }
  syncDirectory(dirname(path));
}

/** fsync of a directory (its entries: a rename in it). Some platforms cannot open one (Windows): skipped. */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // EINVAL or EISDIR where directories cannot be flushed: the rename stands either way.
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `tensors` and `metadata` as a safetensors file (Node), atomically: the path holds the old file
 * or the new one, never a partial one (see writeFileAtomic).
 *
 * @throws Error in words (a missing directory, no space, no permission) when the file cannot be written.
 * @example
 * ```ts
 * import { checkpointTensors, saveSafetensors } from 'wgpu-gen/io';
 * const { tensors, metadata } = await checkpointTensors(model, [opt]);   // weights and optimizer state
 * saveSafetensors('model.safetensors', tensors, { ...metadata, epoch: '5' });
 * ```
 */
export function saveSafetensors(
  path: string,
  tensors: Map<string, NamedArray>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Whether a process of this id exists (EPERM: it exists, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files (`*.tmp-PID`) that writers which died mid-write left in `dir`; returns their
 * names. Those of live processes are left alone: they may be writing now.
 */
export function removeOrphanTemps(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const pid = Number(/\.tmp-(\d+)$/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !processAlive(pid)) {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

/**
 * A file-system error as one line naming the file and saying what to do: a full disk, a read-only
 * directory or file system, a directory where the file should be; others keep Node's message.
 */
export function fsErrorMessage(e: unknown, path: string, action: 'write' | 'create' | 'remove' = 'write'): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const dir = dirname(path);
  const cannot = `cannot ${action} ${path}`;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `${cannot}: no space left on the device (${code}); free some space or write elsewhere (--out DIR)`;
    case 'EACCES':
    case 'EPERM':
      return `${cannot}: ${dir} is read-only for this user (${code}); make it writable or write elsewhere (--out DIR)`;
    case 'EROFS':
      return `${cannot}: ${dir} is on a read-only file system (EROFS); write elsewhere (--out DIR)`;
    case 'EISDIR':
      return `${cannot}: it is a directory (EISDIR); remove it or write elsewhere (--out DIR)`;
    default:
      return `${cannot}: ${(e as Error)?.message ?? e}`;
  }
}

/**
 * Reads a safetensors file (Node): its tensors by name as float32 values (F16, BF16 converted; I32,
 * I64 as int32) and its metadata, every header field validated and the checksums verified.
 *
 * @throws Error naming the file when it cannot be read, is not a valid safetensors file, or a tensor's
 * checksum does not match.
 * @example
 * ```ts
 * import { loadSafetensors, restoreCheckpoint } from 'wgpu-gen/io';
 * const ckpt = loadSafetensors('runs/vae/checkpoint.safetensors');
 * await restoreCheckpoint(ckpt, model, [opt]);   // strict: every key and shape
 * ```
 */
export function loadSafetensors(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read checkpoint ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeSafetensors(bytes, path);
}

/** Loss curves (lossCurveSvg) as an SVG file, written atomically. */
export function writeLossCurves(path: string, title: string, series: Series[]): void {
  writeFileAtomic(path, lossCurveSvg(title, series));
}
