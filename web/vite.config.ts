import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard: built into dist/web (served by the API server at /), or served
// by `npm run dev` with hot reload, proxying /graphql (HTTP and graphql-ws) to
// the API at VIGIL_API_URL (default http://127.0.0.1:4000, what `npm start` runs).
const api = process.env.VIGIL_API_URL ?? 'http://127.0.0.1:4000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  // Never hands VITE_* environment variables to the page: nothing secret can leak into a build.
  envPrefix: 'VIGIL_PUBLIC_',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      // As the API's own page: the API takes WebSockets from pages of its own origin only (its Host, set by changeOrigin).
      '/graphql': {
        target: api,
        ws: true,
        changeOrigin: true,
        configure: (proxy) => proxy.on('proxyReqWs', (request) => request.setHeader('origin', new URL(api).origin)),
      },
    },
  },
  preview: { host: '127.0.0.1', port: 4173 },
});
