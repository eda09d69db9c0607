import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import { afterAll, describe, expect, it } from 'vitest';
import { folderCycles, type ImportGraph } from './folder-cycles.js';

// The rules of ARCHITECTURE.md, checked on the real source and shown to catch each kind of break.

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const config = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs')) as {
  forbidden: IForbiddenRuleType[];
  options: Record<string, unknown>;
};

/** Cruises `dirs` under `baseDir` with bulwark's rules, type-only imports included. */
async function check(baseDir: string, dirs: string[]): Promise<ICruiseResult> {
  const { tsConfig: _tsConfig, ...options } = config.options;
  const result = await cruise(dirs, {
    ...options,
    baseDir,
    ruleSet: { forbidden: config.forbidden },
    validate: true,
  });
  return result.output as ICruiseResult;
}

/** The import graph between source files, entry points left out (they import everything by design). */
function graphOf(result: ICruiseResult): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const m of result.modules) {
    if (!m.source.startsWith('src/') || /^src\/(index|nats)\.ts$/.test(m.source)) continue;
    graph.set(
      m.source,
      m.dependencies.filter((d) => d.resolved.startsWith('src/')).map((d) => d.resolved),
    );
  }
  return graph;
}

function violations(result: ICruiseResult): string[] {
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
}

describe('the source keeps the architecture', () => {
  it('breaks no import rule: no file cycle, NATS only in transport/nats, pure machines, no upward import', async () => {
    const result = await check(root, ['src']);
    expect(result.modules.length).toBeGreaterThan(100);
    expect(violations(result)).toEqual([]);
  });

  it('has no import cycle between folders', async () => {
    expect(folderCycles(graphOf(await check(root, ['src'])))).toEqual([]);
  });

  it('spells NATS header names and imports the NATS client only under transport/nats', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
        const rel = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(rel);
        else if (
          !rel.startsWith('src/transport/nats/') &&
          /Nats-Msg-Id|@nats-io/.test(readFileSync(join(root, rel), 'utf8'))
        )
          offenders.push(rel);
      }
    };
    walk('src');
    expect(offenders).toEqual([]);
  });
});

describe('the rules catch what they forbid', () => {
  const tree = mkdtempSync(join(tmpdir(), 'bulwark-arch-'));
  afterAll(() => rmSync(tree, { recursive: true, force: true }));
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'), 'dir');
  const files: Record<string, string> = {
    // a file cycle
    'src/queue/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
    'src/queue/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    // a cycle of type-only imports
    'src/queue/c.ts': "import type { D } from './d.js';\nexport interface C {\n  d?: D;\n}\n",
    'src/queue/d.ts': "import type { C } from './c.js';\nexport interface D {\n  c?: C;\n}\n",
    // NATS outside transport/nats
    'src/actors/talks-nats.ts': "import { nuid } from '@nats-io/transport-node';\nexport const id = nuid;\n",
    // a machine doing I/O
    'src/machines/impure.machine.ts':
      "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
    // an upward import: the transport contract reaching into the runtime
    'src/transport/transport.ts': "import { run } from '../runtime/run.js';\nexport const t = run;\n",
    'src/runtime/run.ts': 'export const run = 1;\n',
    // a folder cycle made of files that do not form a file cycle
    'src/health/x.ts': "import { y } from '../metrics/y.js';\nexport const x = y;\n",
    'src/metrics/y.ts': "import { z } from '../health/z.js';\nexport const y = z;\n",
    'src/health/z.ts': 'export const z = 1;\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(tree, dirname(path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }

  it('reports each broken rule by name', async () => {
    const found = violations(await check(tree, ['src']));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^no-circular: src\/queue\/a\.ts/),
        expect.stringMatching(/^no-circular: src\/queue\/c\.ts/),
        expect.stringMatching(/^nats-only-in-transport-nats: src\/actors\/talks-nats\.ts/),
        expect.stringMatching(/^machines-are-pure: src\/machines\/impure\.machine\.ts/),
        expect.stringMatching(
          /^no-upward-from-transport-contract: src\/transport\/transport\.ts -> src\/runtime\/run\.ts/,
        ),
      ]),
    );
  });

  it('reports a cycle between folders', async () => {
    expect(folderCycles(graphOf(await check(tree, ['src'])))).toContainEqual(['src/health', 'src/metrics']);
  });
});
