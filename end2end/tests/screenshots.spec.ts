import { test, expect, ready } from './support/fixtures';
import { gatehouse } from './support/cli';
import { PASSWORD, signIn, signOut, signUp } from './support/pages';
import { currentStep, totp } from './support/totp';

// Visual regression: each page is compared with its committed picture (README.md and docs/
// show them), within the tolerance set in playwright.config.ts; a change beyond it fails, and
// Playwright leaves the new picture and the difference under test-results/. `make
// screenshots` replaces the committed pictures on purpose.

for (const scheme of ['light', 'dark'] as const) {
  test(`screenshots of the sign-up, sign-in, profile and confirmation pages (${scheme})`, async ({ browser, page }, testInfo) => {
    test.skip(testInfo.project.name !== 'js', 'taken once, with JavaScript');
    test.slow(); // one long walk through many pages
    await page.setViewportSize({ width: 1000, height: 640 });
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/login');
    await ready(page, true);
    await expect(page).toHaveScreenshot(`login-${scheme}.png`);
    // The focus ring, as a keyboard user sees it: Tab from the skip link into the form.
    await page.keyboard.press('Tab');
    await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
    await expect(page).toHaveScreenshot(`focus-skip-link-${scheme}.png`);
    await page.getByLabel('Username').focus();
    await page.keyboard.press('Tab');
    const password = page.getByLabel('Password', { exact: true });
    await expect(password).toBeFocused();
    await expect(page).toHaveScreenshot(`focus-field-${scheme}.png`);
    await signUp(page, true, `ada-${scheme}`);
    await expect(page).toHaveURL('/profile');
    await expect(page).toHaveScreenshot(`profile-${scheme}.png`, { mask: [page.getByTestId('profile-since')], maskColor: '#8a8fa3' });
    await page.goto('/reauth?next=/settings/account');
    await ready(page, true);
    await expect(page.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
    await expect(page).toHaveScreenshot(`reauth-${scheme}.png`);
    // Two-factor set-up. The key is random: it and its QR code are masked, so the
    // picture (committed) is the same on every run.
    await page.goto('/settings/security');
    await ready(page, true);
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    const key = page.getByTestId('two-factor-key');
    await expect(key).toBeVisible();
    const qr = page.getByRole('img', { name: 'QR code of the key' });
    await page.setViewportSize({ width: 1000, height: 900 });
    await expect(page).toHaveScreenshot(`two-factor-setup-${scheme}.png`, { mask: [key, qr], maskColor: '#8a8fa3' });
    await page.setViewportSize({ width: 1000, height: 640 });
    // The second step of signing in.
    await page.getByLabel('Code from your app').fill(totp((await key.textContent()) ?? '', currentStep()));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expect(page.getByTestId('recovery-codes')).toBeVisible();
    await signOut(page);
    await signIn(page, true, `ada-${scheme}`);
    await expect(page).toHaveURL('/login/two-factor');
    await ready(page, true);
    await expect(page).toHaveScreenshot(`two-factor-${scheme}.png`);
    await page.context().clearCookies();
    // Passkeys: the settings list (dates masked), with a passkey from Chromium's
    // virtual authenticator.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await signUp(page, true, `grace-${scheme}`);
    await expect(page).toHaveURL('/profile');
    await page.goto('/settings/security');
    await ready(page, true);
    await page.getByLabel('Name (optional)').fill('MacBook');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expect(page).toHaveURL('/settings/security?done=added');
    await expect(page.getByTestId('passkey')).toHaveCount(1);
    await page.setViewportSize({ width: 1000, height: 900 });
    await page.getByRole('heading', { name: 'Passkeys' }).scrollIntoViewIfNeeded();
    await expect(page).toHaveScreenshot(`passkeys-${scheme}.png`, { mask: [page.getByTestId('passkey-meta')], maskColor: '#8a8fa3' });
    await page.setViewportSize({ width: 1000, height: 640 });
    await page.context().clearCookies();
    await page.goto('/signup');
    await ready(page, true);
    await page.getByLabel('Username').fill('ada');
    await expect(page).toHaveScreenshot(`signup-${scheme}.png`);
    // An admin viewing the app as ada: the banner naming both, with Stop. (A context of
    // its own: this page's virtual authenticator would sign in with its passkey.)
    gatehouse(['user', 'create', '--username', `owl-${scheme}`, '--role', 'admin'], `${PASSWORD}\n`);
    const admin = await browser.newContext({ colorScheme: scheme, viewport: { width: 1000, height: 640 } });
    const adminPage = await admin.newPage();
    await signIn(adminPage, true, `owl-${scheme}`);
    await expect(adminPage).toHaveURL('/profile');
    await adminPage.goto(`/admin?q=ada-${scheme}`);
    await ready(adminPage, true);
    await adminPage.getByRole('button', { name: `View as ada-${scheme}` }).click();
    await expect(adminPage.getByTestId('view-as-banner')).toBeVisible();
    await expect(adminPage).toHaveURL('/profile');
    await expect(adminPage).toHaveScreenshot(`view-as-${scheme}.png`, { mask: [adminPage.getByTestId('profile-since')], maskColor: '#8a8fa3' });
    await admin.close();
  });
}
