import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The dashboard: built into dist/web (served by the API server at /), or served
// by `npm run dev` with hot reload, proxying /graphql (HTTP and graphql-ws) to
// the API at VIGIL_API_URL (default http://127.0.0.1:4000, what `npm start` runs).
const api = process.env.VIGIL_API_URL ?? 'http://127.0.0.1:4000';
const localHost = (host: string | undefined) => host !== undefined && /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/i.test(host);

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
      '/graphql': {
        target: api,
        ws: true,
        changeOrigin: true,
        configure: (proxy) => {
          // changeOrigin hands the API this server's own name, so its guard against other sites' pages cannot see
          // them. Over HTTP, Vite refuses a foreign Host itself (server.allowedHosts); a WebSocket it proxies
          // unchecked, so only pages this server serves (its own origin, under a local name) go on, as the API's own.
          proxy.on('proxyReqWs', (request, req, socket) => {
            const { host, origin } = req.headers;
            if (localHost(host) && (origin === undefined || origin.replace(/^https?:\/\//, '') === host)) {
              request.setHeader('origin', new URL(api).origin);
              return;
            }
            request.destroy();
            socket.destroy();
          });
        },
      },
    },
  },
  preview: { host: '127.0.0.1', port: 4173 },
});
