// The op being run, for allocation failures. The device reports an allocation it cannot make
// asynchronously (an out-of-memory error scope, src/device/pool.ts), after the op that made the buffer
// has returned: to name that op and its output shape then, the Dispatcher (src/graph/apply.ts) notes
// each op here before its backend call (a few field writes per op), and the pool copies the note into
// the buffer's description only when it creates a buffer. A module of its own, below everything, so
// that both the graph layer and the device layer can import it.

export interface AllocationSite {
  /** Increments with every op: which op a buffer, or a dispatch, belongs to. */
  serial: number;
  /** The primitive running now (null between ops) with its params and output shape. */
  prim: string | null;
  params: unknown;
  shape: readonly number[] | null;
  /** The op's name in messages (set once by the Dispatcher: e.g. 'random (normal)', 'add'). */
  nameOf: (prim: string, params: unknown) => string;
  /**
   * While a pool has a buffer awaiting its out-of-memory report, its listener here: the Dispatcher calls
   * each after every op with the storage the op returned (its output).
   */
  watchers: Set<(output: unknown) => void>;
  /**
   * While a pool holds a live buffer whose allocation failed, its check here: the Dispatcher calls each
   * with an op's input storages before the op allocates anything, and a check throws for a failed one.
   */
  checks: Set<(inputs: readonly unknown[]) => void>;
}

export const allocationSite: AllocationSite = {
  serial: 0,
  prim: null,
  params: null,
  shape: null,
  nameOf: (prim) => prim,
  watchers: new Set(),
  checks: new Set(),
};

/** "random (normal) of shape [2, 3]", or '' between ops. */
export function describeSite(site: AllocationSite = allocationSite): string {
  if (!site.prim) return '';
  return `${site.nameOf(site.prim, site.params)}${site.shape ? ` of shape [${site.shape.join(', ')}]` : ''}`;
}
