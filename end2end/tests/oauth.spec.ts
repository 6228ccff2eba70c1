import { test, expect, ready, jsEnabled } from './support/fixtures';
import { nav } from './support/pages';

for (const [provider, username] of [['GitHub', 'octocat'], ['Google', 'ada.e2e']] as const) {
  test(`signing in with ${provider} ends on the profile, signed in`, async ({ page }, testInfo) => {
    const js = jsEnabled(testInfo);
    await page.goto('/login?next=/profile');
    await ready(page, js);
    await page.getByRole('link', { name: `Sign in with ${provider}` }).click();
    await expect(page).toHaveURL('/profile');
    await ready(page, js);
    await expect(page.getByTestId('profile-username')).toHaveText(username);
    await expect(nav(page).getByTestId('nav-username')).toHaveText(username);
    await page.goto('/settings/account');
    await ready(page, js);
    await expect(page.locator(`li[data-provider="${provider.toLowerCase()}"]`)).toContainText('connected as');
  });
}
