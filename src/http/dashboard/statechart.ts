import type { AnyStateMachine, AnyStateNode } from 'xstate';

/** A point of a chart, in pixels from its top left corner. */
export interface Point {
  readonly x: number;
  readonly y: number;
}

/** A rectangle of a chart. */
export interface Box extends Point {
  readonly width: number;
  readonly height: number;
}

/** One state of a machine, to be drawn as a box; compound states are boxes too. */
export interface GraphNode {
  /** The state node's id, e.g. `subscriber.running.consuming`. */
  readonly id: string;
  readonly label: string;
  readonly compound: boolean;
}

/** A transition between two states; `label` names its events (and guards). */
export interface ChartEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
}

/** A machine's states and transitions, before layout. */
export interface ChartGraph {
  readonly machine: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly ChartEdge[];
}

/** A state placed on the chart. */
export type ChartNode = GraphNode & Box;

/** A transition routed on the chart: a polyline from box to box, its label in a box of its own. */
export interface ChartRoute extends ChartEdge {
  readonly points: readonly Point[];
  readonly labelBox: Box;
}

/** A machine laid out for drawing, in pixels: no label box overlaps another, a state, or another edge. */
export interface Chart {
  readonly machine: string;
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly ChartNode[];
  readonly edges: readonly ChartRoute[];
}

/** The font size of edge labels, and what a character of it takes at most (the page sets the font). */
export const LABEL_FONT_PX = 10;
const LABEL_CHAR_PX = 6.2;
/** The font size of state names. */
export const NODE_FONT_PX = 12;
const NODE_CHAR_PX = 7.4;

/** The box an edge label is given: wide enough for its text in the page's font, with a margin. */
export function labelSize(text: string): { width: number; height: number } {
  return { width: Math.ceil(text.length * LABEL_CHAR_PX) + 8, height: LABEL_FONT_PX + 6 };
}

/** The box of a state: its name with room on both sides, at least 110 px wide. */
export function nodeSize(label: string): { width: number; height: number } {
  return { width: Math.max(110, Math.ceil(label.length * NODE_CHAR_PX) + 24), height: 36 };
}

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

/**
 * A machine's states and transitions, from its definition, for layout: transitions labelled with
 * their events and guards; those declared on the root (taken from any state) start at an
 * `(any state)` box. States come parents first.
 * @example
 * const graph = graphOf(circuitBreakerMachine);
 * graph.nodes.map((n) => n.id); // ['circuitBreaker.*', 'circuitBreaker.CLOSED', …]
 */
export function graphOf(machine: AnyStateMachine): ChartGraph {
  const anyId = `${machine.root.id}.*`;
  const states = statesOf(machine.root);
  const edges = edgesOf(machine, anyId);
  const hasAny = edges.some((e) => e.from === anyId);
  const nodes: GraphNode[] = [
    ...(hasAny ? [{ id: anyId, label: '(any state)', compound: false }] : []),
    ...states.map((s) => ({ id: s.id, label: s.path.join('.'), compound: Object.keys(s.states).length > 0 })),
  ];
  return { machine: machine.id, nodes, edges };
}
