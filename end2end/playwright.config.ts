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
// The release build, as `make run` builds it (`make e2e` puts its site into
// target/site-release, brotli and gzip copies included): release.spec.ts checks that
// every page hydrates on it, and the first-load test measures it.
const releasePort = Number(process.env.GATEHOUSE_E2E_RELEASE_PORT ?? 3102);

/** A Gatehouse test server (support/serve.sh) on `port`, with `env` on top. */
function gatehouse(serverPort: number, env: Record<string, string> = {}) {
  return {
    command: `bash ${path.join(__dirname, 'tests/support/serve.sh')}`,
    url: `http://127.0.0.1:${serverPort}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
    env: {
      GATEHOUSE_ROOT: root,
      GATEHOUSE_E2E_PORT: String(serverPort),
      FAKE_OAUTH_PORT: String(fakeOAuthPort),
      ...env,
    },
  };
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: {
    timeout: 10_000,
    // Visual regression (screenshots.spec.ts): a page may differ from its committed
    // picture by anti-aliasing noise, not by a changed layout, colour or text.
    toHaveScreenshot: { maxDiffPixelRatio: 0.002, threshold: 0.2, animations: 'disabled', caret: 'hide' },
  },
  // The committed pictures are the README's, in end2end/screenshots/. A run never writes
  // them (a missing one fails); `make screenshots` (--update-snapshots) replaces them.
  snapshotPathTemplate: '{testDir}/../screenshots/{arg}{ext}',
  updateSnapshots: 'none',
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
    gatehouse(port),
    gatehouse(releasePort, {
      GATEHOUSE_E2E_STATE: path.join(__dirname, '.cache', 'release'),
      GATEHOUSE_E2E_SITE: path.join(root, 'target', 'site-release'),
      GATEHOUSE_E2E_HASH_FILE: path.join(root, 'target', 'site-release', 'hash.txt'),
      GATEHOUSE_E2E_BIN: path.join(root, 'target', 'release', 'gatehouse'),
    }),
  ],
});
