// The layer order of DESIGN.md, checked by `npm run lint:layers`: a folder of src/ may import
// only the folders listed for it (and itself). Imports run one way; no folder cycle.
const mayImport = {
  packet: [],
  log: ['packet'],
  rules: ['packet'],
  state: ['packet', 'rules'],
  filter: ['packet', 'rules', 'state'],
  os: ['packet', 'log'],
  carp: ['packet', 'log', 'rules', 'os'],
  pfsync: ['packet', 'log', 'rules', 'state', 'os'],
  datapath: ['packet', 'log', 'rules', 'filter', 'state', 'os'],
  control: ['packet', 'log', 'rules', 'filter', 'state', 'carp', 'pfsync', 'datapath', 'os'],
  daemon: ['packet', 'log', 'rules', 'filter', 'state', 'carp', 'pfsync', 'datapath', 'os', 'control'],
  lab: ['packet', 'log', 'rules', 'os', 'control'],
  cli: ['packet', 'log', 'rules', 'filter', 'state', 'carp', 'pfsync', 'datapath', 'os', 'control', 'daemon', 'lab'],
};
const layers = Object.keys(mayImport);

module.exports = {
  forbidden: [
    ...layers.map((layer) => ({
      name: `layer-${layer}`,
      comment: `src/${layer}/ may import only ${mayImport[layer].join(', ') || 'itself'} (DESIGN.md, Modules)`,
      severity: 'error',
      from: { path: `^src/${layer}/` },
      to: { path: '^src/', pathNot: [`^src/${layer}/`, ...mayImport[layer].map((l) => `^src/${l}/`)] },
    })),
    {
      name: 'no-unknown-layer',
      comment: 'every folder of src/ has its place in the layer order above',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: layers.map((l) => `^src/${l}/`) },
    },
    {
      name: 'src-not-from-tests',
      comment: 'src/ does not import tests or benchmarks',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
