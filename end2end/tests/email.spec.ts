import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { PASSWORD, formError, nav, signIn, signOut, signedUp } from './support/pages';
import { gatehouse } from './support/cli';
import { linkFrom, messageTo } from './support/outbox';

const NEW_PASSWORD = 'a-brand-new-passphrase-for-e2e';

test('sign up with an e-mail address and verify it from the link', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('mail');
  const email = `${username}@example.com`;
  await page.goto('/signup');
  await ready(page, js);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('E-mail address (optional)').fill(email);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL('/profile');
  const banner = page.getByTestId('verify-banner');
  await expect(banner).toContainText('Please verify your e-mail address');
  // "Resend" sends a second link; either works, once.
  await banner.getByRole('button', { name: 'Resend' }).click();
  await expect(page).toHaveURL('/settings/account?done=email-sent');
  await expect(page.getByTestId('email-state')).toContainText('not verified');

  const link = await linkFrom(email, 'Verify your e-mail address', '/verify-email');
  await page.goto(link);
  await ready(page, js);
  await expect(page.getByTestId('address')).toHaveText(email);
  await page.getByRole('button', { name: 'Verify my address' }).click();
  await expect(page).toHaveURL('/settings/account?done=email-verified');
  await expect(page.getByTestId('done')).toHaveText('Your e-mail address is verified.');
  await expect(page.getByTestId('email-state')).toContainText('verified');
  await expect(page.getByTestId('email-state')).not.toContainText('not verified');
  await expect(page.getByTestId('verify-banner')).toHaveCount(0);
  // The link was used.
  await page.goto(link);
  await ready(page, js);
  await expect(page.getByTestId('link-invalid')).toBeVisible();
});

test('forgot password: a link by e-mail, a new password, signed in', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('reset');
  const email = `${username}@example.com`;
  await signedUp(page, js, username);
  gatehouse(['user', 'set-email', username, email, '--verified']);
  await signOut(page);

  await page.goto('/login');
  await ready(page, js);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page).toHaveURL('/forgot-password');
  await ready(page, js);
  await page.getByLabel('Username or e-mail address').fill(email.toUpperCase());
  await page.getByRole('button', { name: 'Send me a link' }).click();
  await expect(page.getByTestId('done')).toHaveText("If an account matches, we've sent a link to its e-mail address.");
  if (js) {
    // The picture is committed: it must not change with the random name typed above.
    await page.getByLabel('Username or e-mail address').fill('ada@example.com');
    await page.setViewportSize({ width: 1000, height: 640 });
    await expect(page).toHaveScreenshot('forgot-password.png');
  }

  const link = await linkFrom(email, 'Reset your password', '/reset-password');
  await page.goto(link);
  await ready(page, js);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  if (js) {
    await expect(page).toHaveScreenshot('reset-password.png');
  }
  await page.getByLabel('New password').fill('short');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expect(formError(page)).toContainText('at least');
  await page.getByLabel('New password').fill(NEW_PASSWORD);
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expect(page).toHaveURL('/settings/account?done=reset');
  await expect(nav(page).getByTestId('nav-username')).toHaveText(username);
  await signOut(page);
  await signIn(page, js, username, NEW_PASSWORD);
  await expect(page).toHaveURL('/profile');
  // A notice went to the address too.
  expect(await messageTo(email, 'Your password was changed')).toContain('/forgot-password');
});
