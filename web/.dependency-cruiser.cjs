/** The UI's module graph rules, checked by `npm run check:graph` (part of `npm test`). */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Modules do not import each other in a circle; a cycle through type-only imports is fine (types vanish at build).',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'socket-layer-carries-messages-only',
      severity: 'error',
      comment: 'app/socketio sends and receives protocol events; what they mean is the features\' business.',
      from: { path: '^src/app/socketio/' },
      to: { path: '^src/features/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Tests may wire any parts together.
    exclude: { path: '\\.test\\.tsx?$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
