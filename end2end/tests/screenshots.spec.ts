import { test, expect, ready } from './support/fixtures';
import { signUp } from './support/pages';
import * as path from 'node:path';

// The README shows these pictures; taking them in the suite keeps them current.
const dir = path.join(__dirname, '..', 'screenshots');

for (const scheme of ['light', 'dark'] as const) {
  test(`screenshots of the sign-up, sign-in, profile and confirmation pages (${scheme})`, async ({ page }, testInfo) => {
    test.skip(testInfo.project.name !== 'js', 'taken once, with JavaScript');
    await page.setViewportSize({ width: 1000, height: 640 });
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto('/login');
    await ready(page, true);
    await page.screenshot({ path: path.join(dir, `login-${scheme}.png`) });
    await signUp(page, true, `ada-${scheme}`);
    await expect(page).toHaveURL('/profile');
    await page.screenshot({ path: path.join(dir, `profile-${scheme}.png`) });
    await page.goto('/reauth?next=/settings/account');
    await ready(page, true);
    await expect(page.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
    await page.screenshot({ path: path.join(dir, `reauth-${scheme}.png`) });
    await page.context().clearCookies();
    await page.goto('/signup');
    await ready(page, true);
    await page.getByLabel('Username').fill('ada');
    await page.screenshot({ path: path.join(dir, `signup-${scheme}.png`) });
  });
}
