// Prints the SDL to stdout; codegen.ts runs this in a child process so the
// schema is built and printed by one ESM copy of graphql (codegen's config
// loader would mix CommonJS and ESM copies).
import { printSdl } from './index.js';

process.stdout.write(printSdl());
