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
  else if (result instanceof Map) {
    for (const [k, v] of result) {
      collect(k, into);
      collect(v, into);
    }
  } else if (result instanceof Set) for (const r of result) collect(r, into);
  else if (result && typeof result === 'object' && Object.getPrototypeOf(result) === Object.prototype) {
    for (const v of Object.values(result)) collect(v, into);
  }
}

const isAsyncFunction = (fn: unknown): boolean => typeof fn === 'function' && fn.constructor?.name === 'AsyncFunction';
const ASYNC_REFUSED =
  'tensors made after an await would outlive the scope or be disposed by another one, so it cannot track them. ' +
  'Call tidy() on the synchronous parts between awaits, or dispose() and keep() tensors yourself in async code';

/**
 * Runs fn and disposes every tensor created inside it, except those it returns and those passed to
 * keep(). Kept from the returned value, at any depth: a tensor, and the tensors in arrays, plain
 * objects, Maps (keys and values) and Sets; anything else (a class instance) is not searched, so its
 * tensors are disposed unless kept. A tensor kept from a nested tidy belongs to the enclosing one.
 *
 * fn must be synchronous: an async function, or one that returns a Promise, is refused with an error
 * (the scope would have to stay open across awaits, where other code's tensors land in it and its own
 * escape). For a function that returns a Promise the tensors it made before returning are disposed.
 */
export function tidy<T>(fn: () => T): T {
  if (isAsyncFunction(fn)) throw new Error(`tidy(): fn is an async function; ${ASYNC_REFUSED}`);
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
    close(undefined);
    // Nobody can await the refused promise: its rejection (likely from a disposed tensor) is dropped.
    result.catch(() => {});
    throw new Error(`tidy(): fn returned a Promise; ${ASYNC_REFUSED}`);
  }
  close(result);
  return result;
}

/**
 * The number of tensors made and not yet disposed, on every backend: a count that grows step after step
 * in a training loop shows a leak (a tensor made outside tidy() and never disposed).
 */
export function liveTensorCount(): number {
  return liveTensors;
}
