import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from '@playwright/test';

/** Where the test server writes its mail (no SMTP server; see serve.sh). */
export const outbox = path.resolve(__dirname, '..', '..', '.cache', 'outbox');

/** A header of a message (unfolded). */
function header(eml: string, name: string): string {
  const head = eml.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line ? line.slice(name.length + 1).trim() : '';
}

/** The decoded text/plain part of a multipart message. */
function textPart(eml: string): string {
  const boundary = /boundary="?([^";\r\n]+)"?/.exec(eml)?.[1];
  const parts = boundary ? eml.split(`--${boundary}`) : [eml];
  const part = parts.find((p) => /content-type:\s*text\/plain/i.test(p)) ?? '';
  const body = part.split(/\r?\n\r?\n/).slice(1).join('\n\n');
  const encoding = header(part.replace(/^\r?\n/, ''), 'Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const soft = body.replace(/=\r?\n/g, '');
    return Buffer.from(soft.replace(/=([0-9A-F]{2})/gi, (_, hex) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');
  }
  return body;
}

/** Waits for the message to `to` with `subject` in the outbox; gives its text. */
export async function messageTo(to: string, subject: string): Promise<string> {
  let text = '';
  await expect
    .poll(
      () => {
        const files = fs.existsSync(outbox) ? fs.readdirSync(outbox).filter((f) => f.endsWith('.eml')) : [];
        for (const file of files.sort().reverse()) {
          const eml = fs.readFileSync(path.join(outbox, file), 'utf8');
          if (header(eml, 'To').toLowerCase().includes(to.toLowerCase()) && header(eml, 'Subject') === subject) {
            text = textPart(eml);
            return true;
          }
        }
        return false;
      },
      { message: `a message "${subject}" to ${to} in ${outbox}`, timeout: 15_000 },
    )
    .toBe(true);
  return text;
}

/** The path and query of the `linkPath` link (`/reset-password`) in the newest message
 *  to `to` with `subject`. */
export async function linkFrom(to: string, subject: string, linkPath: string): Promise<string> {
  const text = await messageTo(to, subject);
  const match = new RegExp(`https?://[^\\s/]+(${linkPath}\\?\\S+)`).exec(text);
  expect(match, `a ${linkPath} link in:\n${text}`).not.toBeNull();
  return match ? match[1] : '';
}
