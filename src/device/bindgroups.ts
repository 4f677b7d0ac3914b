// The eager dispatch path's bind groups, cached (issue 32). createBindGroup was the largest host cost of an
// eager op (about 12-20 us of the 21-33 us per dispatch on Dawn's null backend, more where a driver makes
// descriptor sets), and an eager training step binds the same buffers to the same kernels every step: the
// pool hands out the oldest free buffer of a size class (src/device/pool.ts), so a repeated step gets the
// same buffers for the same ops.
//
// A bind group is kept per (layout, storage buffers in binding order), looked up through a tree of Maps
// keyed by the objects themselves (nothing allocated on a hit). Its uniform block cannot live in the
// per-submit uniform arena, whose offsets move from submit to submit: each group owns a slot of a
// persistent uniform buffer instead, holding that group's last uniform bytes (a CPU mirror of the buffer
// says what they are). A dispatch whose bytes equal a slot's needs no write at all (a step's shapes are
// the same every step). A kernel may run on the same buffers more than once before a submit with other
// uniforms (the stride phases of a convolution's input gradient, two random draws into a buffer freed in
// between): the same buffers then have several versions, each a group with its own slot. A dispatch whose
// bytes match no version rewrites the slot of one that no pending work uses (not used since the last
// submit: the queue write, through the mirror and one writeBuffer of the changed range before the next
// submit, runs after the submitted work that read the old bytes and before the submit that reads the new
// ones), or makes a new version; past MAX_VERSIONS, lookup answers null and the context binds that
// dispatch the old way (a group of its own, its uniforms in the arena).
//
// A group holds its buffers: one the pool destroys drops every group that binds it (forget()). When the
// slots run out the context submits the pending work and the cache starts over (reset()), with a larger
// buffer, up to MAX_BYTES.

export const SLOT_ALIGN = 256;
const FIRST_BYTES = 1 << 18;
const MAX_BYTES = 1 << 24;
/** Groups kept at most (those without uniforms take no slot): past it the cache starts over. */
const MAX_GROUPS = 1 << 16;
/** Versions kept per layout and buffers (past it a dispatch is bound apart, in the context's arena). */
const MAX_VERSIONS = 16;

interface Entry {
  group: GPUBindGroup;
  /** Byte offset of the uniform slot, or -1 without uniforms. */
  slot: number;
  /** Bytes of the uniform block (the binding's size). */
  size: number;
  /** The cache's batch in which pending work last used the group. */
  batch: number;
  buffers: GPUBuffer[];
  node: Node;
}

interface Node {
  kids: Map<object, Node> | null;
  entries: Entry[] | null;
  parent: Node | null;
  key: object | null;
}

const newNode = (parent: Node | null, key: object | null): Node => ({ kids: null, entries: null, parent, key });

export class BindGroupCache {
  /** The uniform buffer whose slots the groups bind, and its CPU mirror. */
  private gpu: GPUBuffer;
  private cpu: Uint8Array<ArrayBuffer>;
  private words: Uint32Array<ArrayBuffer>;
  private used = 0;
  /** The mirror's bytes not yet written to the GPU buffer: [lo, hi). */
  private dirtyLo = Infinity;
  private dirtyHi = 0;
  private root = newNode(null, null);
  /** Per bound buffer, the groups that bind it. */
  private readonly byBuffer = new Map<GPUBuffer, Set<Entry>>();
  /** Bumped at each submit: an entry whose batch is this one is used by pending work. */
  private batch = 0;
  /** Groups cached now. */
  size = 0;
  /** Set when a lookup found no room for a new group: the context submits, reset()s and asks again. */
  full = false;
  /** Lookups answered by a cached group, and groups made (tests and the bench read them). */
  hits = 0;
  misses = 0;

  constructor(private readonly device: GPUDevice) {
    this.cpu = new Uint8Array(FIRST_BYTES);
    this.words = new Uint32Array(this.cpu.buffer);
    this.gpu = this.newBuffer(FIRST_BYTES);
  }

  private newBuffer(size: number): GPUBuffer {
    return this.device.createBuffer({
      label: 'bind-group uniforms',
      size,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /**
   * The group binding `buffers` (bindings 0..n-1) and, when `uniforms` is given, its uniform block (binding
   * n) to `layout`, made if needed; marked as used by pending work. Null when there is no room for a new
   * group (`full` is set: the caller submits, reset()s and asks again) or when pending work uses the group
   * with other uniform bytes (the caller binds this dispatch apart). `check` runs (and may throw) before a
   * group is made.
   */
  lookup<S extends { buffers: GPUBuffer[]; uniforms?: ArrayBuffer }>(
    layout: GPUBindGroupLayout,
    spec: S,
    check: (spec: S) => void,
  ): GPUBindGroup | null {
    const { buffers, uniforms } = spec;
    let node = this.root;
    node = this.child(node, layout);
    for (let i = 0; i < buffers.length; i++) node = this.child(node, buffers[i]);
    const size = uniforms ? uniforms.byteLength : 0;
    // The node's versions: groups over the same buffers whose slots hold different uniform bytes (a
    // kernel run on the same buffers more than once before a submit, with other uniforms: each stride
    // phase of a convolution's input gradient, two random draws into a buffer freed in between).
    const versions = node.entries;
    let src: Uint32Array | null = null;
    let free: Entry | null = null;
    if (versions) {
      if (size) src = new Uint32Array(uniforms!, 0, size >> 2);
      for (let v = 0; v < versions.length; v++) {
        const e = versions[v];
        if (e.size !== size) continue;
        let same = true;
        if (src) {
          const at = e.slot >> 2;
          for (let i = 0; i < src.length; i++) {
            if (this.words[at + i] !== src[i]) {
              same = false;
              break;
            }
          }
        }
        if (same) {
          e.batch = this.batch;
          this.hits++;
          return e.group;
        }
        if (!free && e.batch !== this.batch) free = e;
      }
      if (free) {
        // No pending work reads this version's slot: its bytes are rewritten before the next submit.
        this.words.set(src!, free.slot >> 2);
        this.dirty(free.slot, size);
        free.batch = this.batch;
        this.hits++;
        return free.group;
      }
      if (versions.length >= MAX_VERSIONS) return null;
    }
    // A new group.
    check(spec);
    let slot = -1;
    if (this.size >= MAX_GROUPS) {
      this.full = true;
      return null;
    }
    if (size) {
      const need = Math.ceil(size / SLOT_ALIGN) * SLOT_ALIGN;
      if (this.used + need > this.cpu.byteLength) {
        this.full = true;
        return null;
      }
      slot = this.used;
      this.used += need;
      this.cpu.set(new Uint8Array(uniforms!, 0, size), slot);
      this.dirty(slot, size);
    }
    const entries: GPUBindGroupEntry[] = [];
    for (let i = 0; i < buffers.length; i++) entries.push({ binding: i, resource: { buffer: buffers[i] } });
    if (size) entries.push({ binding: buffers.length, resource: { buffer: this.gpu, offset: slot, size } });
    const group = this.device.createBindGroup({ label: 'eager', layout, entries });
    const entry: Entry = { group, slot, size, batch: this.batch, buffers: buffers.slice(), node };
    (node.entries ??= []).push(entry);
    this.size++;
    for (const b of entry.buffers) {
      let set = this.byBuffer.get(b);
      if (!set) this.byBuffer.set(b, (set = new Set()));
      set.add(entry);
    }
    this.misses++;
    return group;
  }

  private child(node: Node, key: object): Node {
    let kids = node.kids;
    if (!kids) node.kids = kids = new Map();
    let next = kids.get(key);
    if (!next) kids.set(key, (next = newNode(node, key)));
    return next;
  }

  private dirty(at: number, size: number): void {
    if (at < this.dirtyLo) this.dirtyLo = at;
    if (at + size > this.dirtyHi) this.dirtyHi = at + size;
  }

  /** Before a submit: writes the changed uniform bytes, and starts a new batch. */
  upload(queue: GPUQueue): void {
    if (this.dirtyHi > 0) {
      const lo = this.dirtyLo & ~3,
        hi = Math.ceil(this.dirtyHi / 4) * 4;
      queue.writeBuffer(this.gpu, lo, this.cpu, lo, hi - lo);
      this.dirtyLo = Infinity;
      this.dirtyHi = 0;
    }
    this.batch++;
  }

  /**
   * Forgets every group, after the pending work was submitted (its groups and slots are not touched
   * again); the next uniform buffer is twice as large while under MAX_BYTES.
   */
  reset(): void {
    this.root = newNode(null, null);
    this.byBuffer.clear();
    this.size = 0;
    this.full = false;
    this.used = 0;
    this.dirtyLo = Infinity;
    this.dirtyHi = 0;
    const size = Math.min(this.cpu.byteLength * 2, MAX_BYTES);
    this.gpu.destroy();
    this.gpu = this.newBuffer(size);
    if (size !== this.cpu.byteLength) {
      this.cpu = new Uint8Array(size);
      this.words = new Uint32Array(this.cpu.buffer);
    }
  }

  /** A buffer about to be destroyed: the groups that bind it go. */
  forget(buf: GPUBuffer): void {
    const set = this.byBuffer.get(buf);
    if (!set) return;
    for (const e of set) this.drop(e);
  }

  private drop(e: Entry): void {
    const versions = e.node.entries;
    const at = versions ? versions.indexOf(e) : -1;
    if (at < 0) return;
    versions!.splice(at, 1);
    this.size--;
    for (const b of e.buffers) {
      const set = this.byBuffer.get(b);
      if (set) {
        set.delete(e);
        if (!set.size) this.byBuffer.delete(b);
      }
    }
    let node: Node | null = e.node;
    // Prune the branch that led only to this group (it keys on the buffers' objects).
    while (node && node.parent && !node.entries?.length && !node.kids?.size) {
      node.parent.kids!.delete(node.key!);
      node = node.parent;
    }
  }

  destroy(): void {
    this.gpu.destroy();
  }
}
