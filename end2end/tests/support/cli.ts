import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');

/** The database the test server runs on (see serve.sh). */
export const databaseUrl = `sqlite://${path.join(root, 'end2end', '.cache', 'e2e.db')}?mode=rwc`;

/** The database of the release server (the build `make run` serves; see playwright.config.ts). */
export const releaseDatabaseUrl = `sqlite://${path.join(root, 'end2end', '.cache', 'release', 'e2e.db')}?mode=rwc`;

/** Runs the gatehouse binary against a test server's database (the main one by default). */
export function gatehouse(args: string[], input = '', database = databaseUrl): string {
  const bin = process.env.GATEHOUSE_E2E_BIN ?? path.join(root, 'target', 'debug', 'gatehouse');
  return execFileSync(bin, args, {
    input,
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: database, RUST_LOG: 'error' },
    encoding: 'utf8',
  });
}
