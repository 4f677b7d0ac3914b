// Tensor lifetimes: the tidy() scope stack, keep(), and the live-tensor count. A layer of its own, below
// src/tensor.ts, so that the autograd engine (which opens a scope for the backward walk) needs no import
// of the Tensor class: anything that can be disposed is Scoped.

export abstract class Scoped {
  abstract dispose(): void;
  abstract get isDisposed(): boolean;
}

let liveTensors = 0;
const scopes: Set<Scoped>[] = [];

/** Called by each new tensor: it belongs to the innermost open scope. */
export function track(t: Scoped): void {
  liveTensors++;
  scopes[scopes.length - 1]?.add(t);
}
/** Called by dispose(). */
export function untrack(t: Scoped): void {
  liveTensors--;
  for (const s of scopes) s.delete(t);
}

/** Moves a tensor out of every open tidy scope, so it outlives them. */
export function keep<T extends Scoped>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(result: unknown, into: Set<Scoped>): void {
  if (result instanceof Scoped) into.add(result);
  else if (Array.isArray(result)) for (const r of result) collect(r, into);
  else if (result && typeof result === 'object' && Object.getPrototypeOf(result) === Object.prototype) {
    for (const v of Object.values(result)) collect(v, into);
  }
}

/**
 * Runs fn and disposes every tensor created inside it, except those it returns (a tensor, or arrays and
 * plain objects of tensors) and those passed to keep(). Works with async fn too: the scope closes when
 * the promise settles.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Scoped>();
  scopes.push(scope);
  const close = (result: unknown) => {
    const i = scopes.lastIndexOf(scope);
    if (i >= 0) scopes.splice(i, 1);
    const kept = new Set<Scoped>();
    collect(result, kept);
    for (const t of scope) if (!kept.has(t)) t.dispose();
    const parent = scopes[scopes.length - 1];
    if (parent) for (const t of kept) if (!t.isDisposed) parent.add(t);
  };
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => (close(r), r),
      (e) => {
        close(undefined);
        throw e;
      },
    ) as T;
  }
  close(result);
  return result;
}

export function liveTensorCount(): number {
  return liveTensors;
}
