import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { PASSWORD, nav, signedUp } from './support/pages';
import { cancelNext } from './support/provider';

// The ways back a visitor expects: sign-up keeps where they were going, /settings leads
// to the settings, and cancelling at a provider returns to the page the flow started on.

test('creating an account from a guarded page lands on that page', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  await page.goto('/members');
  await ready(page, js);
  await expect(page).toHaveURL('/login?next=/members');
  await page.getByRole('link', { name: 'Create an account' }).click();
  await expect(page).toHaveURL('/signup?next=/members');
  await ready(page, js);
  await page.getByLabel('Username').fill(uniqueName('next'));
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL('/members');
  await expect(page.getByRole('heading', { name: "Members' area" })).toBeVisible();
});

test('/settings leads to the account settings', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  await signedUp(page, js, uniqueName('sett'));
  await page.goto('/settings');
  await ready(page, js);
  await expect(page).toHaveURL('/settings/account');
  await expect(page.getByRole('heading', { name: 'Account', exact: true })).toBeVisible();
});

test('cancelling at the provider goes back to sign-in and says so', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  await page.goto('/login?next=/members');
  await ready(page, js);
  await cancelNext();
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await expect(page).toHaveURL('/login?cancelled=github&next=/members');
  await ready(page, js);
  await expect(page.getByTestId('flow-notice')).toHaveText(
    'Sign-in with GitHub was cancelled. Choose another way, or try again.',
  );
  await expect(nav(page).getByRole('link', { name: 'Sign in' })).toBeVisible();
  // The way on is still there: the next try goes through, to where the visitor was going.
  await page.getByRole('link', { name: 'Sign in with GitHub' }).click();
  await expect(page).toHaveURL('/members');
});
