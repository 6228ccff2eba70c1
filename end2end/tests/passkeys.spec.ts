import { CDPSession, Page } from '@playwright/test';
import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { PASSWORD, signIn, signInHere, signOut, signedUp } from './support/pages';
import { currentStep, totp } from './support/totp';

/** Chromium's virtual authenticator (CDP `WebAuthn`): a platform authenticator with
 *  resident keys and user verification that says yes by itself. */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

/** Makes the page's browser one without passkey autofill (conditional mediation), as
 *  older browsers are: Chromium's virtual authenticator answers an autofill request by
 *  itself, which would sign in before the button is pressed. */
async function withoutAutofill(page: Page): Promise<void> {
  await page.addInitScript(() => {
    if (window.PublicKeyCredential) {
      PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    }
  });
}

/** Adds a passkey named `name` from the security page. */
async function addPasskey(page: Page, name: string): Promise<void> {
  await page.goto('/settings/security');
  await ready(page, true);
  await page.getByLabel('Name (optional)').fill(name);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page).toHaveURL('/settings/security?done=added');
  await expect(page.getByTestId('done')).toHaveText('The passkey was added. You can sign in with it now.');
  await expect(page.getByTestId('passkey-name')).toContainText([name]);
}

test('passkeys: add one in settings, sign out, sign in with the button', async ({ page }, testInfo) => {
  test.skip(!jsEnabled(testInfo), 'passkeys need JavaScript (the no-JS project checks the note)');
  await withoutAutofill(page);
  const { cdp, id } = await virtualAuthenticator(page);
  const username = uniqueName('pk');
  await signedUp(page, true, username);
  await addPasskey(page, 'Laptop');
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: id });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential, 'a discoverable credential was asked for').toBe(true);
  await signOut(page);

  await page.goto('/login?next=%2Fsettings%2Fsecurity');
  await ready(page, true);
  await expect(page.getByLabel('Username')).toHaveAttribute('autocomplete', 'username webauthn');
  await expect(page.getByTestId('passkey-note')).toBeHidden();
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page).toHaveURL('/settings/security');
  await expect(page.getByTestId('passkey')).toHaveCount(1);
  await expect(page.getByTestId('passkey')).toContainText('last used');

  // Renamed and removed with plain forms (the password is still a way in).
  const row = page.getByTestId('passkey');
  await row.getByLabel('New name').fill('Old laptop');
  await row.getByRole('button', { name: 'Rename' }).click();
  await expect(page.getByTestId('passkey-name')).toHaveText('Old laptop');
  await page.getByTestId('passkey').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('no-passkeys')).toBeVisible();
  await signOut(page);
  // The authenticator still holds it; the site no longer knows it.
  await page.goto('/login');
  await ready(page, true);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'not registered here' })).toBeVisible();
  await expect(page).toHaveURL('/login');
});

test('a passkey sign-in of a user with two-factor on skips the code prompt', async ({ page }, testInfo) => {
  test.skip(!jsEnabled(testInfo), 'passkeys need JavaScript');
  await withoutAutofill(page);
  await virtualAuthenticator(page);
  const username = uniqueName('pk2fa');
  await signedUp(page, true, username);
  await page.goto('/settings/security');
  await ready(page, true);
  await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
  const key = (await page.getByTestId('two-factor-key').textContent()) ?? '';
  const step = currentStep();
  await page.getByLabel('Code from your app').fill(totp(key, step));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await expect(page.getByTestId('recovery-codes')).toBeVisible();
  // A fresh sign-in (password and code): a recent authentication to add the passkey with.
  await signOut(page);
  await signIn(page, true, username);
  await expect(page).toHaveURL('/login/two-factor');
  await ready(page, true);
  await page.getByLabel('Code').fill(totp(key, Math.max(step + 1, currentStep())));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL('/profile');
  await addPasskey(page, 'Phone');
  await signOut(page);

  await page.goto('/login');
  await ready(page, true);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page).toHaveURL('/profile');
  await expect(page.getByTestId('profile-username')).toHaveText(username);
});

test('the username field offers the passkey (autofill), which signs in', async ({ page }, testInfo) => {
  test.skip(!jsEnabled(testInfo), 'passkeys need JavaScript');
  await virtualAuthenticator(page);
  const username = uniqueName('pkauto');
  await signedUp(page, true, username);
  await addPasskey(page, 'Phone');
  await signOut(page);
  // No click: the page asks for a passkey with conditional mediation as it loads, and
  // the virtual authenticator answers as a user picking it from the autofill list would.
  await page.goto('/login?next=%2Fmembers');
  await expect(page).toHaveURL('/members');
  await expect(page.getByRole('heading', { name: "Members' area" })).toBeVisible();
});

test('without JavaScript: no passkey button, a short note, and the password still signs in', async ({ page }, testInfo) => {
  test.skip(jsEnabled(testInfo), 'the no-JS project');
  const username = uniqueName('nopk');
  await signedUp(page, false, username);
  await page.goto('/settings/security');
  await ready(page, false);
  await expect(page.getByRole('button', { name: 'Add a passkey' })).toBeHidden();
  await expect(page.getByTestId('passkey-note').first()).toContainText('Passkeys need JavaScript.');
  await signOut(page);
  await page.goto('/login');
  await ready(page, false);
  await expect(page.getByRole('button', { name: 'Sign in with a passkey' })).toBeHidden();
  await expect(page.getByTestId('passkey-note')).toHaveText('Passkeys need JavaScript.');
  await expect(page.getByLabel('Username')).toHaveAttribute('autocomplete', 'username webauthn');
  await signInHere(page, username, PASSWORD);
  await expect(page).toHaveURL('/profile');
});

test('the site is served under one host name: 127.0.0.1 goes to localhost', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const port = process.env.GATEHOUSE_E2E_PORT ?? '3100';
  await page.goto(`http://127.0.0.1:${port}/login`);
  await ready(page, js);
  await expect(page).toHaveURL(`http://localhost:${port}/login`);
});

test('a passkey confirms it is you on /reauth', async ({ page }, testInfo) => {
  test.skip(!jsEnabled(testInfo), 'passkeys need JavaScript');
  await virtualAuthenticator(page);
  const username = uniqueName('pkre');
  await signedUp(page, true, username);
  await addPasskey(page, 'Laptop');
  // Past the (test-short) window of a recent sign-in: removing now asks to confirm.
  await page.waitForTimeout(11_000);
  await page.goto('/reauth?next=%2Fsettings%2Fsecurity');
  await ready(page, true);
  await page.getByRole('button', { name: 'Confirm with a passkey' }).click();
  await expect(page).toHaveURL('/settings/security');
  await page.getByTestId('passkey').getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('no-passkeys')).toBeVisible();
});
