import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { PASSWORD, formError, nav, signIn, signUp, signedUp } from './support/pages';

test('one device signs another out; the other lands on the sign-in page', async ({ browser, page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('twodev');
  await signedUp(page, js, username);

  const otherContext = await browser.newContext({ javaScriptEnabled: js, userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0' });
  const other = await otherContext.newPage();
  await signIn(other, js, username);
  await expect(other).toHaveURL('/profile');

  await nav(page).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('link', { name: 'Sessions' }).click();
  await expect(page).toHaveURL('/settings/sessions');
  await ready(page, js);
  await expect(page.getByTestId('session-row')).toHaveCount(2);
  await expect(page.getByTestId('this-device')).toHaveCount(1);
  const otherRow = page.getByTestId('session-row').filter({ hasText: 'Firefox on macOS' });
  await otherRow.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByTestId('done')).toHaveText('That session was signed out.');
  await expect(page.getByTestId('session-row')).toHaveCount(1);

  await other.goto('/settings/account');
  await expect(other).toHaveURL(/\/login\?next=\/settings\/account/);
  await expect(other.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await otherContext.close();
});

test('changing the password keeps this device signed in and needs the current password', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('chpw');
  await signedUp(page, js, username);
  await page.goto('/settings/account');
  await ready(page, js);
  await page.getByLabel('Current password').fill('not-the-password');
  await page.getByLabel('New password').fill('another-long-passphrase-9');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(formError(page).first()).toHaveText('Your current password is not correct.');

  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password').fill('another-long-passphrase-9');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByTestId('done')).toContainText('Your password was saved.');
  await page.goto('/profile');
  await expect(page.getByTestId('profile-username')).toHaveText(username);
});

test('deleting the account signs out and frees the username', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('bye');
  await signedUp(page, js, username);
  await page.goto('/settings/account');
  await ready(page, js);
  await page.getByLabel('Your password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page).toHaveURL('/?done=deleted');
  await expect(page.getByTestId('done')).toHaveText('Your account was deleted, and you are signed out.');
  await expect(nav(page).getByRole('link', { name: 'Sign in' })).toBeVisible();
  await signedUp(page, js, username);
});
