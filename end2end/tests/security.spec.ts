import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { gatehouse } from './support/cli';
import { PASSWORD, signedIn, signedUp } from './support/pages';
import { nextGitHubUser, uniqueGitHubId } from './support/provider';

// The test server's GATEHOUSE_REAUTH_WINDOW (serve.sh): a sign-in this old no longer
// counts as recent.
const WINDOW_MS = 10_000;

test('connecting a provider after the window asks to confirm it is you, then carries on', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('sudo');
  await signedUp(page, js, username);
  await page.waitForTimeout(WINDOW_MS + 1_000);
  await page.goto('/settings/account');
  await ready(page, js);
  await page.getByRole('button', { name: 'Connect GitHub' }).click();
  await expect(page).toHaveURL('/reauth?next=/settings/account');
  await ready(page, js);
  await expect(page.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
  await page.getByLabel('Password', { exact: true }).fill('not-my-password');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByTestId('form-error')).toHaveText('Your current password is not correct.');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page).toHaveURL('/settings/account');
  await ready(page, js);
  await nextGitHubUser(uniqueGitHubId(), `${username}-gh`);
  await page.getByRole('button', { name: 'Connect GitHub' }).click();
  await expect(page).toHaveURL('/settings/account?done=linked&provider=github');
  await expect(page.locator('li[data-provider="github"]')).toContainText(`connected as ${username}-gh`);
});

test('an account without a password confirms with its provider before setting one', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const login = uniqueName('gh');
  const id = uniqueGitHubId();
  await nextGitHubUser(id, login);
  await page.goto('/login');
  await ready(page, js);
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await expect(page).toHaveURL('/profile');
  await page.waitForTimeout(WINDOW_MS + 1_000);
  await page.goto('/settings/account');
  await ready(page, js);
  await page.getByLabel('New password').fill('a-first-password-for-me-7');
  await page.getByRole('button', { name: 'Set password' }).click();
  // With JavaScript the form goes there itself; without, the server redirects.
  await expect(page).toHaveURL('/reauth?next=/settings/account');
  await ready(page, js);
  await expect(page.getByLabel('Password', { exact: true })).toHaveCount(0);
  await nextGitHubUser(id, login);
  await page.getByRole('button', { name: 'Continue with GitHub' }).click();
  await expect(page).toHaveURL('/settings/account');
  await ready(page, js);
  await page.getByLabel('New password').fill('a-first-password-for-me-7');
  await page.getByRole('button', { name: 'Set password' }).click();
  await expect(page.getByTestId('done')).toContainText('Your password was saved.');
});

test('an admin sees failed sign-ins on a username and unlocks it', async ({ page, request, baseURL }, testInfo) => {
  const js = jsEnabled(testInfo);
  const admin = uniqueName('unlocker');
  const locked = uniqueName('locked');
  gatehouse(['user', 'create', '--username', admin, '--role', 'admin'], `${PASSWORD}\n`);
  gatehouse(['user', 'create', '--username', locked, '--role', 'user'], `${PASSWORD}\n`);
  const guess = () =>
    request.post('/api/login', {
      form: { username: locked, password: 'guess-guess-guess', next: '' },
      headers: { Origin: baseURL ?? '', Accept: 'application/json' },
    });
  for (let i = 0; i < 5; i++) await guess();

  await signedIn(page, js, admin);
  await page.goto(`/admin?q=${locked}`);
  await ready(page, js);
  const row = page.locator(`tr[data-username="${locked}"]`);
  // Locked for a second after the fifth failure, then shown with its failures.
  await expect(row.getByTestId('user-locked')).toBeVisible();
  await row.getByRole('button', { name: 'Unlock' }).click();
  if (js) await expect(page.getByTestId('role-changed')).toHaveText(`${locked} can sign in again.`);
  await expect(page.locator(`tr[data-username="${locked}"]`)).toBeVisible();
  await expect(page.locator(`tr[data-username="${locked}"]`).getByTestId('user-locked')).toHaveCount(0);
  const retry = await request.post('/api/login', {
    form: { username: locked, password: PASSWORD, next: '' },
    headers: { Origin: baseURL ?? '', Accept: 'application/json' },
  });
  expect(retry.status()).toBe(200);
});
