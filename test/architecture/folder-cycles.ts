/** Imports between source files: each file and the files it imports. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** A file's folder; a file directly under `src/` is a unit of its own (`src/errors.ts`). */
function folderOf(file: string): string {
  const slash = file.lastIndexOf('/');
  return file.indexOf('/') === slash ? file : file.slice(0, slash);
}

/**
 * The cycles between folders: groups of two or more folders that import each other, directly or
 * through others (Tarjan's strongly connected components), each sorted, the list sorted.
 */
export function folderCycles(graph: ImportGraph): string[][] {
  const edges = new Map<string, Set<string>>();
  for (const [from, targets] of graph) {
    const f = folderOf(from);
    const out = edges.get(f) ?? new Set<string>();
    edges.set(f, out);
    for (const t of targets) if (folderOf(t) !== f) out.add(folderOf(t));
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}
