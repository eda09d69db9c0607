import type { AnyStateMachine, AnyStateNode } from 'xstate';

/** One state drawn as a box; compound states are boxes too, placed before their children. */
export interface ChartNode {
  /** The state node's id, e.g. `subscriber.running.consuming`. */
  readonly id: string;
  readonly label: string;
  readonly compound: boolean;
  readonly x: number;
  readonly y: number;
}

/** A transition between two drawn states; `label` names its events (and guards). */
export interface ChartEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
}

/** A machine laid out for drawing: boxes in layers from left to right, in pixels. */
export interface Chart {
  readonly machine: string;
  readonly width: number;
  readonly height: number;
  readonly nodeWidth: number;
  readonly nodeHeight: number;
  readonly nodes: readonly ChartNode[];
  readonly edges: readonly ChartEdge[];
}

const NODE_W = 150;
const NODE_H = 36;
const COL_GAP = 90;
const ROW_GAP = 44;
const PAD = 20;
/** Room above the first row for the labels of edges between top-row states. */
const TOP = 34;

/** `xstate.after.resetTimeout.circuitBreaker.OPEN` reads `after resetTimeout`. */
function eventLabel(event: string): string {
  const after = /^xstate\.after\.([^.]+)\./.exec(event);
  if (after) return `after ${after[1]}`;
  const done = /^xstate\.done\.actor\.(.+)$/.exec(event);
  if (done) return `done ${done[1]}`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(event);
  return error ? `error ${error[1]}` : event;
}

function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return ` [${guard}]`;
  const type = (guard as { type?: unknown } | undefined)?.type;
  return typeof type === 'string' ? ` [${type}]` : '';
}

/** Every state node under the root, parents before children. */
function statesOf(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states).flatMap((child) => [child, ...statesOf(child)]);
}

/** The transitions of `node` (and, for the root, of every state: drawn from an "any state" box). */
function edgesOf(machine: AnyStateMachine, anyId: string): ChartEdge[] {
  const byPair = new Map<string, { from: string; to: string; labels: string[] }>();
  const add = (from: string, to: string, label: string): void => {
    const key = `${from}\u0000${to}`;
    const entry = byPair.get(key) ?? { from, to, labels: [] };
    if (!entry.labels.includes(label)) entry.labels.push(label);
    byPair.set(key, entry);
  };
  for (const node of [machine.root, ...statesOf(machine.root)]) {
    const from = node === machine.root ? anyId : node.id;
    for (const [event, transitions] of node.transitions) {
      for (const t of transitions) {
        for (const target of t.target ?? []) add(from, target.id, eventLabel(event) + guardLabel(t.guard));
      }
    }
    for (const t of node.always ?? []) for (const target of t.target ?? []) add(from, target.id, 'always');
    const initial = node.initial?.target ?? [];
    if (node !== machine.root) for (const target of initial) add(node.id, target.id, 'initial');
  }
  return [...byPair.values()].map((e) => ({ from: e.from, to: e.to, label: e.labels.join(' / ') }));
}

/** Layer of each state: its distance from the initial state, following transitions; the rest go last. */
function layers(
  ids: readonly string[],
  start: readonly string[],
  edges: readonly ChartEdge[],
): Map<string, number> {
  const layer = new Map<string, number>(start.map((id) => [id, 0]));
  const queue = [...start];
  for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
    const here = layer.get(id) ?? 0;
    for (const e of edges) {
      if (e.from !== id || layer.has(e.to)) continue;
      layer.set(e.to, here + 1);
      queue.push(e.to);
    }
  }
  const last = Math.max(0, ...layer.values()) + 1;
  for (const id of ids) if (!layer.has(id)) layer.set(id, last);
  return layer;
}

/**
 * Lays a machine's states out for drawing, from its definition: states in layers by distance from
 * the initial state, transitions labelled with their events and guards. Transitions declared on the
 * root (taken from any state) start at an `(any state)` box.
 * @example
 * const chart = chartOf(circuitBreakerMachine);
 * chart.nodes.map((n) => n.id); // ['circuitBreaker.CLOSED', 'circuitBreaker.OPEN', …]
 */
export function chartOf(machine: AnyStateMachine): Chart {
  const anyId = `${machine.root.id}.*`;
  const states = statesOf(machine.root);
  const edges = edgesOf(machine, anyId);
  const hasAny = edges.some((e) => e.from === anyId);
  const start = (machine.root.initial?.target ?? []).map((t: AnyStateNode) => t.id);
  const ids = [...(hasAny ? [anyId] : []), ...states.map((s) => s.id)];
  // The "(any state)" box comes first: what it leads to (manual overrides) sits in the next column.
  const layer = layers(ids, hasAny ? [anyId] : start, edges);
  const rank = (id: string): number => (layer.get(id) ?? 0) * 2 + (start.includes(id) ? 0 : 1);
  const order = [...ids].sort((a, b) => rank(a) - rank(b));
  const rows = new Map<number, number>();
  const place = (id: string): { x: number; y: number } => {
    const col = layer.get(id) ?? 0;
    const row = rows.get(col) ?? 0;
    rows.set(col, row + 1);
    return { x: PAD + col * (NODE_W + COL_GAP), y: TOP + row * (NODE_H + ROW_GAP) };
  };
  const nodes: ChartNode[] = order.map((id) => {
    const state = states.find((s) => s.id === id);
    const label = state ? state.path.join('.') : '(any state)';
    return { id, label, compound: state ? Object.keys(state.states).length > 0 : false, ...place(id) };
  });
  const width = Math.max(...nodes.map((n) => n.x)) + NODE_W + PAD;
  const height = Math.max(...nodes.map((n) => n.y)) + NODE_H + PAD + ROW_GAP;
  return { machine: machine.id, width, height, nodeWidth: NODE_W, nodeHeight: NODE_H, nodes, edges };
}
