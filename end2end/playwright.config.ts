import { defineConfig } from '@playwright/test';
import * as path from 'node:path';

// The server under test: the debug build cargo-leptos made, on a fresh SQLite database
// (see support/serve.sh). GATEHOUSE_E2E_BIN points at another build (release) if wanted.
const port = Number(process.env.GATEHOUSE_E2E_PORT ?? 3100);
// `localhost`, not 127.0.0.1: passkeys (WebAuthn) refuse an IP address, and the server
// sends other host names to its public URL.
const baseURL = `http://localhost:${port}`;
const root = path.resolve(__dirname, '..');
const fakeOAuthPort = Number(process.env.FAKE_OAUTH_PORT ?? 3101);

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [
    { name: 'js', use: { javaScriptEnabled: true } },
    { name: 'nojs', use: { javaScriptEnabled: false } },
  ],
  webServer: [
    {
      // A fake GitHub and Google on loopback, for the OAuth flows.
      command: `node ${path.join(__dirname, 'tests/support/fake-oauth.mjs')}`,
      url: `http://127.0.0.1:${fakeOAuthPort}/healthz`,
      reuseExistingServer: false,
      env: { FAKE_OAUTH_PORT: String(fakeOAuthPort) },
    },
    {
    command: `bash ${path.join(__dirname, 'tests/support/serve.sh')}`,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      GATEHOUSE_ROOT: root,
      GATEHOUSE_E2E_PORT: String(port),
      FAKE_OAUTH_PORT: String(fakeOAuthPort),
    },
    },
  ],
});
