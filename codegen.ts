import { execFileSync } from 'node:child_process';
import type { CodegenConfig } from '@graphql-codegen/cli';

// The Pothos schema is the single source: codegen prints it to schema.graphql
// (committed; CI fails when it is stale) and types the operations in documents/, for Node
// (src/generated) and, the dashboard's, for the browser (web/src/generated).
const sdl = execFileSync(process.execPath, ['--import', 'tsx', 'src/schema/print.ts'], { encoding: 'utf8' });

const config: CodegenConfig = {
  schema: sdl,
  ignoreNoDocuments: false,
  generates: {
    'schema.graphql': { plugins: ['schema-ast'] },
    'src/generated/': {
      documents: ['documents/*.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
    // The dashboard's own operations for the browser: documents as strings, so the page ships no graphql runtime.
    'web/src/generated/': {
      documents: ['documents/dashboard.graphql'],
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: 'string',
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
  },
};

export default config;
