import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './pack.js';

// docs/API.md is the users' reference: every name the package exports appears there in code format.

/** The names a module exports, read from its `export { … }` lists and `export <declaration>` lines. */
function exportedNames(file: string): string[] {
  const source = readFileSync(join(root, file), 'utf8').replace(/\/\/.*$/gm, '');
  const names = new Set<string>();
  for (const [, list] of source.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const item of list!.split(',')) {
      const name = item
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()!
        .trim();
      if (name) names.add(name);
    }
  }
  const declaration =
    /export\s+(?:declare\s+)?(?:async\s+)?(?:function|const|class|interface|type|let)\s+([A-Za-z_$][\w$]*)/g;
  for (const [, name] of source.matchAll(declaration)) names.add(name!);
  return [...names].sort();
}

const doc = readFileSync(join(root, 'docs/API.md'), 'utf8');
/** Whether `name` appears in code format: `name`, `name(…)`, `name<…>`, `name.member`. */
const documented = (name: string): boolean =>
  new RegExp('`' + name.replace(/\$/g, '\\$') + '[`(<. ]').test(doc);

describe('docs/API.md', () => {
  it.each(['src/index.ts', 'src/nats.ts'])('names every export of %s', (file) => {
    const names = exportedNames(file);
    expect(names.length).toBeGreaterThan(file === 'src/index.ts' ? 150 : 8);
    expect(names.filter((n) => !documented(n))).toEqual([]);
  });

  it('reads every value export of the package root (the parser misses none)', async () => {
    const values = Object.keys(await import('../../src/index.js'));
    const parsed = new Set(exportedNames('src/index.ts'));
    expect(values.filter((v) => !parsed.has(v))).toEqual([]);
  });

  it('speaks to users, not to the people who wrote bulwark', () => {
    expect(doc).not.toMatch(/Keep these names|closing note|\(next\)|acceptance tests/i);
  });
});
