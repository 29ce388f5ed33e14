// dependency-cruiser: the import rules of ../shared/DESIGN.md ("imports only point down": native ← ipam ←
// plugins ← engine, never up and never in a circle). `npm run depcheck`.
//
// Layers, bottom to top; a module may import its own layer and the layers below it:
//   common/   small shared things; imports nothing of the project but common/
//   native/   common/, native/
//   ipam/     common/, native/, ipam/
//   plugins/  common/, native/, ipam/, plugins/  (and between plugin folders: see below)
//   engine/   all of the above
// netns-tests/ and bench/ may import anything. A test (*.test.ts) or test fixture (testdata/, fixtures/,
// testing/, the helpers in netns-tests/) may import its own layer, the layers below it, and any test fixture.

/** Top-level folders that hold the project's modules. */
const PROJECT = '^(common|native|ipam|plugins|engine|netns-tests|bench)/';
const LAYERS = ['common', 'native', 'ipam', 'plugins', 'engine'];
/** Tests. */
const TEST_FILE = '\\.test\\.ts$';
/** Test fixtures: helpers only tests import (testdata/, fixtures/, testing/ folders; netns-tests/'s non-test modules). */
const FIXTURE = '(^|/)(testdata|fixtures|testing)/|^netns-tests/(?!.*\\.test\\.ts$)';
/** Tests and test fixtures. */
const TEST = `${TEST_FILE}|${FIXTURE}`;

/** The layers a module of `layer` may import: its own and the ones below. */
const below = (layer) => LAYERS.slice(0, LAYERS.indexOf(layer) + 1);
const folders = (layers) => layers.map((l) => `${l}/`).join(', ');

const layerRules = LAYERS.flatMap((layer) => {
  const allowed = `^(${below(layer).join('|')})/`;
  const above = LAYERS.slice(LAYERS.indexOf(layer) + 1);
  return [
    {
      name: `${layer}-imports-down-only`,
      severity: 'error',
      comment: `${layer}/ may import only ${folders(below(layer))}; never ${folders([...above, 'netns-tests', 'bench'])}`,
      from: { path: `^${layer}/`, pathNot: TEST },
      to: { path: PROJECT, pathNot: allowed },
    },
    {
      name: `${layer}-tests-import-down-only`,
      severity: 'error',
      comment: `a test or test fixture in ${layer}/ may import ${folders(below(layer))} and test fixtures`,
      from: { path: [`^${layer}/.*${TEST_FILE}`, `^${layer}/(testdata|fixtures|testing)/`, `^${layer}/.*/(testdata|fixtures|testing)/`] },
      to: { path: PROJECT, pathNot: `${allowed}|${FIXTURE}` },
    },
  ];
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'plugin-imports-other-plugin',
      severity: 'error',
      comment:
        'plugins/<a>/ may import plugins/<a>/, plugins/cni/ and plugins/shared/, never another plugin folder (so plugins/cni/ ' +
        'and plugins/shared/ import only each other); plugins/registry.ts is the one module that knows every plugin. ' +
        'Tests may import any plugin folder (their own layer).',
      from: { path: '^plugins/([^/]+)/', pathNot: TEST },
      to: { path: '^plugins/[^/]+/', pathNot: '^plugins/($1|cni|shared)/' },
    },
    {
      name: 'cni-imports-shared',
      severity: 'error',
      comment: 'plugins/cni/ is the contract under every plugin: plugins/shared/ builds on it, never the reverse',
      from: { path: '^plugins/cni/', pathNot: TEST },
      to: { path: '^plugins/shared/' },
    },
    {
      name: 'plugin-imports-registry',
      severity: 'error',
      comment: 'of plugins/, only plugins/daemon/ may import plugins/registry.ts (or another top-level file of plugins/)',
      from: { path: '^plugins/(?!daemon/)[^/]+/', pathNot: TEST },
      to: { path: '^plugins/[^/]+$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'no import cycles between modules (type-only imports included)',
      from: {},
      to: { circular: true },
    },
    {
      name: 'product-imports-test',
      severity: 'error',
      comment: 'product code must not import tests or test fixtures',
      from: { path: PROJECT, pathNot: `${TEST}|^(netns-tests|bench)/` },
      to: { path: TEST },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'an import that resolves to nothing (a moved or deleted module)',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    exclude: { path: '^(node_modules|dist|native/build)/' },
    doNotFollow: { path: 'node_modules' },
    // Type-only imports are dependencies too: a layer must not even name a type from above it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    skipAnalysisNotInRules: true,
    cache: false,
  },
};
