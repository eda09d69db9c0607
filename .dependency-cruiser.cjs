// The import rules of bulwark's source (see ARCHITECTURE.md). `npm test` checks them through
// test/architecture/imports.test.ts; `npx depcruise src` prints the same verdict.

/**
 * The layers, lowest first. A file may import its own layer and the layers below it, never one
 * above: that keeps every arrow pointing one way and the picture of the parts easy to see.
 */
const LAYERS = [
  {
    name: 'core',
    path: '^src/(errors|env|logging)\\.ts$|^src/(time|retry|events)/|^src/tracing/(context|log-fields|otel)\\.ts$',
  },
  { name: 'machines', path: '^src/machines/' },
  { name: 'transport contract', path: '^src/transport/[^/]+\\.ts$' },
  { name: 'actor hosting', path: '^src/actors/' },
  { name: 'policies and queues', path: '^src/(breaker|queue|policy)/|^src/tracing/spans\\.ts$' },
  { name: 'request reply', path: '^src/rpc/' },
  { name: 'transports', path: '^src/transport/(memory|nats)/' },
  { name: 'health and metrics', path: '^src/(health|metrics)/' },
  { name: 'http', path: '^src/http/' },
  { name: 'runtime', path: '^src/runtime/' },
  { name: 'entry points', path: '^src/(cli/|index\\.ts$|nats\\.ts$)' },
];

const upward = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).map((l) => `(${l.path})`);
  if (above.length === 0) return [];
  return [
    {
      name: `no-upward-from-${layer.name.replace(/ /g, '-')}`,
      comment: `${layer.name} must not import a layer above it (${LAYERS.slice(i + 1)
        .map((l) => l.name)
        .join(', ')})`,
      severity: 'error',
      from: { path: layer.path },
      to: { path: above.join('|') },
    },
  ];
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycle between files (type-only imports included)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'nats-only-in-transport-nats',
      comment: 'only src/transport/nats talks to NATS: everything else goes through the Transport contract',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/transport/nats/' },
      to: { path: 'node_modules/@nats-io/' },
    },
    {
      name: 'machines-are-pure',
      comment: 'machines are plain statecharts: xstate, errors and retry schedules, nothing that does I/O',
      severity: 'error',
      from: { path: '^src/machines/' },
      to: { pathNot: '^src/machines/|^src/errors\\.ts$|^src/retry/|node_modules/xstate/' },
    },
    {
      name: 'dashboard-client-is-browser-code',
      comment: 'the dashboard page script imports only its own modules at run time (types are erased)',
      severity: 'error',
      from: { path: '^src/http/dashboard/client/' },
      to: { pathNot: '^src/http/dashboard/client/', dependencyTypesNot: ['type-only'] },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
