import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createServer } from '../src/server.js';
import { DATABASE_URL } from './support/backends.js';
import { startTestApp, type TestApp } from './support/app.js';
import { freePort } from './support/free-port.js';
import { waitFor } from './support/live.js';
import { hasRedisServer } from './support/private-redis.js';
import { startServerProcess } from './support/server-process.js';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'vigil-tls-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
if (hasOpenssl) {
  spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
}
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasOpenssl)('encryption in transit', () => {
  describe('HTTPS and WSS from TLS_CERT_FILE and TLS_KEY_FILE', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp({ name: 'tls', database: 'pglite', pubsub: 'memory' }, { env: { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile } });
    });
    afterAll(() => app?.close());

    it('serves GraphQL over HTTPS to a client that trusts the certificate, and nothing over plain HTTP', async () => {
      expect(app.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(certFile);
      const payload = JSON.stringify({ query: '{ metrics { unit } }' });
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) };
        const req = httpsRequest(`${app.url}/graphql`, { method: 'POST', ca, headers }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end(payload);
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body).data.metrics.length).toBeGreaterThan(0);
      await expect(fetch(`${app.url.replace('https', 'http')}/health`)).rejects.toThrow();
    });

    it('speaks graphql-ws over WSS', async () => {
      const socket = new WebSocket(`${app.url.replace('https', 'wss')}/graphql`, 'graphql-transport-ws', { ca: readFileSync(certFile) });
      const messages: { type: string }[] = [];
      socket.on('message', (data) => messages.push(JSON.parse(String(data))));
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      await waitFor(() => messages.length > 0, 'connection_ack');
      expect(messages[0]).toEqual({ type: 'connection_ack' });
      socket.close();
    });
  });

  it('refuses to start with a certificate and key that are not a pair, naming both settings and files', async () => {
    const lines: Record<string, unknown>[] = [];
    // Swapped: the certificate given as the key and the key as the certificate.
    const started = startServerProcess({ DATABASE_URL: '', DATA_DIR: 'memory://', REDIS_URL: '', TLS_CERT_FILE: keyFile, TLS_KEY_FILE: certFile }, (entry) => lines.push(entry));
    await expect(started).rejects.toThrow('server exited with 1');
    const fatal = lines.filter((l) => l.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.err).toMatch(new RegExp(`^cannot serve HTTPS with TLS_CERT_FILE \\(${keyFile}\\) and TLS_KEY_FILE \\(${certFile}\\): .+; they must be a PEM certificate and its own private key$`));
  });

  it('refuses a missing file before it opens the database, naming both settings', async () => {
    // It used to be read once the embedded database had been opened and migrated, seconds later.
    const dataDir = join(dir, 'never-opened');
    const missing = join(dir, 'missing.pem');
    const config = loadConfig({ DATABASE_URL: '', REDIS_URL: '', DATA_DIR: dataDir, TLS_CERT_FILE: missing, TLS_KEY_FILE: keyFile });
    await expect(createServer(config, { log: createLogger('silent') })).rejects.toThrow(
      `cannot serve HTTPS with TLS_CERT_FILE (${missing}) and TLS_KEY_FILE (${keyFile}): ENOENT: no such file or directory, open '${missing}'`,
    );
    expect(existsSync(dataDir)).toBe(false);
  });

  describe.skipIf(!hasRedisServer)('Redis over TLS from a rediss:// URL', () => {
    let redis: ChildProcess | undefined;
    afterAll(() => redis?.kill('SIGKILL'));

    it('connects, publishes and reports ready, trusting the CA through NODE_EXTRA_CA_CERTS', async () => {
      const port = await freePort();
      redis = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const server = await startServerProcess({ DATABASE_URL: '', DATA_DIR: 'memory://', REDIS_URL: `rediss://127.0.0.1:${port}`, NODE_EXTRA_CA_CERTS: certFile });
      try {
        const ready = await fetch(server.url.replace('/graphql', '/ready'));
        expect(await ready.json()).toEqual({ ready: true, database: 'ok', pubsub: 'ok' });
      } finally {
        await server.stop();
      }
    });
  });

  describe.skipIf(!DATABASE_URL)('PostgreSQL sslmode from DATABASE_URL', () => {
    it('hands sslmode to the driver: require fails against a server without TLS, prefer falls back to plain', async () => {
      const withMode = (mode: string) => `${DATABASE_URL}${DATABASE_URL!.includes('?') ? '&' : '?'}sslmode=${mode}`;
      await expect(startTestApp({ name: 'ssl', database: 'postgres', pubsub: 'memory' }, { env: { DATABASE_URL: withMode('require') } })).rejects.toThrow(/SSL|TLS/);
      const app = await startTestApp({ name: 'ssl', database: 'postgres', pubsub: 'memory' }, { env: { DATABASE_URL: withMode('prefer') } });
      expect((await fetch(`${app.url}/ready`)).status).toBe(200);
      await app.close();
    });
  });
});
