import { execFileSync } from 'node:child_process';
import type { CodegenConfig } from '@graphql-codegen/cli';

// The Pothos schema is the single source: codegen prints it to schema.graphql
// (committed; CI fails when it is stale) and types the operations in documents/.
const sdl = execFileSync(process.execPath, ['--import', 'tsx', 'src/schema/print.ts'], { encoding: 'utf8' });

const config: CodegenConfig = {
  schema: sdl,
  documents: ['documents/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'schema.graphql': { plugins: ['schema-ast'] },
    'src/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', JSON: 'unknown' },
      },
    },
  },
};

export default config;
