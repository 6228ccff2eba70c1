/** The fake GitHub of the browser tests (support/fake-oauth.mjs). */
const fake = `http://127.0.0.1:${process.env.FAKE_OAUTH_PORT ?? 3101}`;

/** Makes the next GitHub sign-in (one code exchange) come back as this account. */
export async function nextGitHubUser(id: number, login: string): Promise<void> {
  const response = await fetch(`${fake}/next-github-user?id=${id}&login=${encodeURIComponent(login)}`, { method: 'POST' });
  if (!response.ok) throw new Error(`the fake provider refused: ${response.status}`);
}

/** A GitHub id no other test uses. */
export function uniqueGitHubId(): number {
  return 1_000_000 + Math.floor(Math.random() * 1_000_000_000);
}

/** Makes the next authorization at the fake provider a "Cancel" by the user. */
export async function cancelNext(): Promise<void> {
  const response = await fetch(`${fake}/deny-next`, { method: 'POST' });
  if (!response.ok) throw new Error(`the fake provider refused: ${response.status}`);
}
