// `npm run bench`: runs every section in one process, prints it, and rewrites BENCHMARKS.md.
// `npm run bench -- core nats` runs only the named sections (BENCHMARKS.md keeps the others).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { BenchSection } from './types.js';

const sections: Record<string, () => Promise<BenchSection>> = {
  core: async () => (await import('./core.bench.js')).runCoreBench(),
  queue: async () => (await import('./queue.bench.js')).runQueueBench(),
  breaker: async () => (await import('./breaker.bench.js')).runBreakerBench(),
  nats: async () => (await import('./nats.bench.js')).runNatsBench(),
  cluster: async () => (await import('./cluster.bench.js')).runClusterBench(),
  supervisor: async () => (await import('./supervisor.bench.js')).runSupervisorBench(),
  scale: async () => (await import('./scale.bench.js')).runScaleBench(),
  policy: async () => (await import('./policy.bench.js')).runPolicyBench(),
  rpc: async () => (await import('./rpc.bench.js')).runRpcBench(),
  patterns: async () => (await import('./patterns.bench.js')).runPatternsBench(),
  idempotency: async () => (await import('./idempotency.bench.js')).runIdempotencyBench(),
  gateway: async () => (await import('./gateway.bench.js')).runGatewayBench(),
  'delayed-jobs': async () => (await import('./delayed-jobs.bench.js')).runDelayedJobsBench(),
  'queue-features': async () => (await import('./queue-features.bench.js')).runQueueFeaturesBench(),
};

const FILE = new URL('../BENCHMARKS.md', import.meta.url);
const MARK = (name: string) => [`<!-- bench:${name}:start -->`, `<!-- bench:${name}:end -->`] as const;

/** When and on what a section ran: sections are re-run one at a time, on machines that differ. */
function stamp(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const memory = `${Math.round(totalmem() / 2 ** 30)} GiB`;
  return `_Run ${new Date().toISOString()} — Node ${process.version}, ${cpus().length} × ${cpu}, ${memory}._`;
}

function render(name: string, s: BenchSection): string {
  const [start, end] = MARK(name);
  const notes = s.notes.map((n) => `- ${n}`);
  return [start, `## ${s.title}`, '', stamp(), '', s.table, '', ...notes, end].join('\n');
}

function header(): string {
  return [
    '# Benchmarks',
    '',
    'Written by `npm run bench`. Every figure is measured in one run against a peer or a hand-written',
    'baseline on the same machine, so ratios are comparable even where absolute numbers move. Each',
    'section says when and on what it ran: absolute figures of two sections may come from different',
    'machines.',
  ].join('\n');
}

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(sections);
let doc = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '';
for (const name of names) {
  const run = sections[name];
  if (!run) throw new Error(`unknown bench section "${name}" (have: ${Object.keys(sections).join(', ')})`);
  console.log(`\n# ${name}`);
  const section = await run();
  console.log(section.table);
  const block = render(name, section);
  const [start, end] = MARK(name);
  const at = doc.indexOf(start);
  // A new section goes before the hand-written design measurements, which stay last.
  const design = doc.indexOf('\n## Design measurements');
  const insert = (d: string): string =>
    design >= 0 ? `${d.slice(0, design)}\n\n${block}\n${d.slice(design)}` : `${d}\n\n${block}`;
  doc = at >= 0 ? doc.slice(0, at) + block + doc.slice(doc.indexOf(end) + end.length) : insert(doc);
}
doc = header() + doc.slice(doc.indexOf('\n\n<!--') >= 0 ? doc.indexOf('\n\n<!--') : doc.length);
writeFileSync(FILE, doc.trimEnd() + '\n');
console.log(`\nwrote ${FILE.pathname}`);
