import { Page } from '@playwright/test';
import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { formError, signIn, signOut, signedUp } from './support/pages';
import { currentStep, totp } from './support/totp';

/** Turns two-factor sign-in on from the security page; gives the key, the recovery
 *  codes shown and the step of the code that turned it on. */
async function turnOn(page: Page, js: boolean): Promise<{ key: string; codes: string[]; step: number }> {
  await page.goto('/settings/security');
  await ready(page, js);
  await expect(page.getByTestId('two-factor-status')).toHaveText('Two-factor sign-in is off.');
  await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  const shown = page.getByTestId('two-factor-key');
  await expect(shown).toBeVisible();
  await expect(page.getByRole('img', { name: 'QR code of the key' })).toBeVisible();
  await expect(page.getByTestId('otpauth-link')).toHaveAttribute('href', /^otpauth:\/\/totp\/Gatehouse:/);
  const key = (await shown.textContent()) ?? '';
  await page.getByLabel('Code from your app').fill('000000');
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(formError(page)).toHaveText('Incorrect code');
  const step = currentStep();
  await page.getByLabel('Code from your app').fill(totp(key, step));
  await page.getByRole('button', { name: 'Turn on' }).click();
  const list = page.getByTestId('recovery-codes').locator('li');
  await expect(list).toHaveCount(10);
  const codes = await list.allTextContents();
  await expect(page.getByTestId('two-factor-status')).toContainText('Two-factor sign-in is on');
  return { key, codes, step };
}

test('two-factor sign-in: set up, sign out, sign in with a code from the app', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('totp');
  await signedUp(page, js, username);
  const { key, step } = await turnOn(page, js);
  await signOut(page);
  await signIn(page, js, username);
  await expect(page).toHaveURL('/login/two-factor');
  await ready(page, js);
  await page.getByLabel('Code').fill('123456');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(formError(page)).toHaveText('Incorrect code');
  // The code that turned the factor on was used; the next step's code is fresh.
  await page.getByLabel('Code').fill(totp(key, Math.max(step + 1, currentStep())));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL('/profile');
  await expect(page.getByTestId('profile-username')).toHaveText(username);
});

test('two-factor sign-in with a recovery code', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('recover');
  await signedUp(page, js, username);
  const { codes } = await turnOn(page, js);
  await signOut(page);
  await signIn(page, js, username);
  await expect(page).toHaveURL('/login/two-factor');
  await ready(page, js);
  await page.getByLabel('Code').fill(codes[0].toUpperCase());
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL('/profile');
  await page.goto('/settings/security');
  await ready(page, js);
  await expect(page.getByTestId('recovery-codes-left')).toHaveText('9 recovery codes left.');
});
