// The model views' DOM, built in the training worker and shown in the page. A Web Worker has no
// document, yet the adapters (adapters.ts) build their views as elements: figures, canvases, captions,
// buttons, with data-* attributes that the browser tests read. So in the worker `createElement` makes
// stand-ins (RemoteElement, RemoteCanvas over an OffscreenCanvas) whose every change is recorded as a
// Patch, and the page (RemotePanel) replays the patches on real elements; the page forwards the events
// the worker listens for (clicks, pointer moves, with the element's size) back to the stand-ins. Canvas
// pixels travel as ImageData read once per flush from each canvas drawn since the last one (a flush
// runs one macrotask after the first change: drawing is synchronous, so a canvas is never sent half
// drawn by one draw call). This is the whole protocol: nothing of the page's DOM is reachable from the
// worker, and the page runs no device work.

/** Element properties a patch may set. */
export interface ElementProps {
  id?: string;
  className?: string;
  textContent?: string;
  title?: string;
  disabled?: boolean;
  width?: number;
  height?: number;
}

export type Patch =
  | { op: 'create'; rid: string; tag: string; props: ElementProps }
  | { op: 'append'; parent: string; child: string | { text: string } }
  | { op: 'set'; rid: string; props: ElementProps }
  | { op: 'data'; rid: string; key: string; value: string }
  | { op: 'style'; rid: string; key: string; value: string }
  | { op: 'listen'; rid: string; type: string }
  | { op: 'pixels'; rid: string; image: ImageData };

/** An event the page forwards to a stand-in (offsets in CSS pixels, and the element's CSS size then). */
export interface RemoteEvent {
  rid: string;
  type: string;
  offsetX: number;
  offsetY: number;
  clientWidth: number;
  clientHeight: number;
}

// ---- the worker's side ----

let sink: ((patches: Patch[]) => void) | null = null;
let queue: Patch[] = [];
const dirty = new Set<RemoteCanvas>();
let scheduled = false;
let nextRid = 0;
const elements = new Map<string, RemoteElement>();

/** Where the worker's patches go (its postMessage); set once, before any element is made. */
export function setPatchSink(fn: (patches: Patch[]) => void): void {
  sink = fn;
}

function record(p: Patch): void {
  queue.push(p);
  schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setTimeout(flush, 0);
}

/** Sends every change since the last flush (also called directly before a reply that the page awaits). */
export function flush(): void {
  scheduled = false;
  for (const c of dirty) queue.push({ op: 'pixels', rid: c.rid, image: c.pixels() });
  dirty.clear();
  if (!queue.length) return;
  const out = queue;
  queue = [];
  if (!sink) throw new Error('internal: remote views have no patch sink (setPatchSink first)');
  sink(out);
}

type Listener = (ev: { type: string; offsetX: number; offsetY: number }) => void;

/** A stand-in for an element of the page. */
export class RemoteElement {
  readonly rid: string;
  /** The element's CSS size in the page, as of the last event forwarded from it. */
  clientWidth = 0;
  clientHeight = 0;
  readonly dataset: Record<string, string>;
  readonly style: Record<string, string>;
  private props: ElementProps;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(
    readonly tagName: string,
    props: ElementProps,
  ) {
    this.rid = `r${nextRid++}`;
    this.props = { ...props };
    elements.set(this.rid, this);
    record({ op: 'create', rid: this.rid, tag: tagName, props });
    const mirror = (op: 'data' | 'style') =>
      new Proxy({} as Record<string, string>, {
        set: (target, key, value) => {
          if (typeof key !== 'string') return false;
          target[key] = String(value);
          record({ op, rid: this.rid, key, value: String(value) });
          return true;
        },
      });
    this.dataset = mirror('data');
    this.style = mirror('style');
  }

  protected setProp<K extends keyof ElementProps>(key: K, value: ElementProps[K]): void {
    this.props[key] = value;
    record({ op: 'set', rid: this.rid, props: { [key]: value } });
  }

  get id(): string {
    return this.props.id ?? '';
  }
  get textContent(): string {
    return this.props.textContent ?? '';
  }
  set textContent(v: string) {
    this.setProp('textContent', v);
  }
  get disabled(): boolean {
    return this.props.disabled ?? false;
  }
  set disabled(v: boolean) {
    this.setProp('disabled', v);
  }

  append(...kids: (RemoteElement | string)[]): void {
    for (const k of kids)
      record({ op: 'append', parent: this.rid, child: typeof k === 'string' ? { text: k } : k.rid });
  }

  addEventListener(type: string, fn: Listener): void {
    const list = this.listeners.get(type) ?? [];
    if (!list.length) record({ op: 'listen', rid: this.rid, type });
    list.push(fn);
    this.listeners.set(type, list);
  }

  /** Runs the listeners of a forwarded event. */
  dispatch(ev: RemoteEvent): void {
    this.clientWidth = ev.clientWidth;
    this.clientHeight = ev.clientHeight;
    for (const fn of this.listeners.get(ev.type) ?? []) fn(ev);
  }
}

/**
 * A canvas drawn in the worker: an OffscreenCanvas, whose pixels go to the page's canvas of the same
 * size at the next flush after getContext was called (every draw helper calls it).
 */
export class RemoteCanvas extends RemoteElement {
  private readonly canvas: OffscreenCanvas;
  constructor(props: ElementProps) {
    super('canvas', props);
    this.canvas = new OffscreenCanvas(props.width ?? 300, props.height ?? 150);
  }
  get width(): number {
    return this.canvas.width;
  }
  set width(v: number) {
    this.canvas.width = v;
    this.setProp('width', v);
  }
  get height(): number {
    return this.canvas.height;
  }
  set height(v: number) {
    this.canvas.height = v;
    this.setProp('height', v);
  }
  /**
   * The OffscreenCanvas's 2D context, typed as the page's: the draw helpers use only what both have
   * (paths, fills, text, image data).
   */
  getContext(_id: '2d'): CanvasRenderingContext2D {
    dirty.add(this);
    schedule();
    return this.canvas.getContext('2d') as unknown as CanvasRenderingContext2D;
  }
  pixels(): ImageData {
    const g = this.canvas.getContext('2d')!;
    return g.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }
}

/** The worker's createElement: a stand-in that the page mirrors. */
export function createElement<K extends string>(
  tag: K,
  props: ElementProps = {},
): K extends 'canvas' ? RemoteCanvas : RemoteElement {
  return (tag === 'canvas' ? new RemoteCanvas(props) : new RemoteElement(tag, props)) as K extends 'canvas'
    ? RemoteCanvas
    : RemoteElement;
}

/** Delivers an event the page forwarded (ignored when its element is gone: a view of a disposed model). */
export function dispatchRemote(ev: RemoteEvent): void {
  elements.get(ev.rid)?.dispatch(ev);
}

/** The id counter now: the stand-ins made after this call are remoteSince(mark). */
export function remoteMark(): number {
  return nextRid;
}
export function remoteSince(mark: number): string[] {
  return Array.from({ length: nextRid - mark }, (_, i) => `r${mark + i}`);
}

/** Forgets the stand-ins of a panel that is no longer shown (events for them are dropped from then on). */
export function forgetRemote(rids: Iterable<string>): void {
  for (const r of rids) elements.delete(r);
}

// ---- the page's side ----

/** Replays a worker's patches on real elements and forwards the events it listens for. */
export class RemotePanel {
  private readonly els = new Map<string, HTMLElement>();
  constructor(private readonly forward: (ev: RemoteEvent) => void) {}

  /** The element of a stand-in (a panel's root, to put into the page). */
  element(rid: string): HTMLElement {
    const e = this.els.get(rid);
    if (!e) throw new Error(`internal: the worker made no element ${rid}`);
    return e;
  }

  /** Drops the elements under (and including) root from the map, when its panel is replaced. */
  release(root: HTMLElement): void {
    for (const e of [root, ...Array.from(root.querySelectorAll<HTMLElement>('[data-rid]'))])
      this.els.delete(e.dataset.rid!);
  }

  apply(patches: Patch[]): void {
    for (const p of patches) {
      switch (p.op) {
        case 'create': {
          const e = document.createElement(p.tag);
          e.dataset.rid = p.rid;
          this.els.set(p.rid, e);
          setProps(e, p.props);
          break;
        }
        case 'append': {
          const parent = this.els.get(p.parent);
          if (!parent) break;
          if (typeof p.child === 'string') {
            const c = this.els.get(p.child);
            if (c) parent.append(c);
          } else {
            parent.append(p.child.text);
          }
          break;
        }
        case 'set': {
          const e = this.els.get(p.rid);
          if (e) setProps(e, p.props);
          break;
        }
        case 'data': {
          const e = this.els.get(p.rid);
          if (e) e.dataset[p.key] = p.value;
          break;
        }
        case 'style': {
          const e = this.els.get(p.rid);
          if (e)
            e.style.setProperty(
              p.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
              p.value,
            );
          break;
        }
        case 'listen': {
          const e = this.els.get(p.rid);
          e?.addEventListener(p.type, (ev) => {
            const pe = ev as MouseEvent;
            this.forward({
              rid: p.rid,
              type: p.type,
              offsetX: pe.offsetX ?? 0,
              offsetY: pe.offsetY ?? 0,
              clientWidth: e.clientWidth,
              clientHeight: e.clientHeight,
            });
          });
          break;
        }
        case 'pixels': {
          const c = this.els.get(p.rid) as HTMLCanvasElement | undefined;
          if (!c) break;
          if (c.width !== p.image.width || c.height !== p.image.height)
            [c.width, c.height] = [p.image.width, p.image.height];
          c.getContext('2d')!.putImageData(p.image, 0, 0);
          break;
        }
      }
    }
  }
}

function setProps(e: HTMLElement, props: ElementProps): void {
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined) continue;
    (e as unknown as Record<string, unknown>)[k] = v;
  }
}
