import { defineConfig } from 'drizzle-kit';

// drizzle-kit only generates SQL from src/db/schema.ts; the server applies it (src/db/migrate.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './migrations',
});
