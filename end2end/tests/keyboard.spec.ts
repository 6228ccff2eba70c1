import { Page } from '@playwright/test';
import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { PASSWORD } from './support/pages';

// The whole round with the keyboard only — Tab, Shift+Tab, Enter, Space — and a focus
// ring that shows where the keyboard is, in both colour schemes. JavaScript on and off.

/** What has the focus: its accessible-ish name (label, text or aria-label). */
async function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el) return '';
    const labelled = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
    return (labelled ?? el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
  });
}

/** Presses Tab until the element named `name` has the focus (at most 40 times). */
async function tabTo(page: Page, name: string | RegExp): Promise<void> {
  const matches = (text: string) => (typeof name === 'string' ? text === name : name.test(text));
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    if (matches(await focused(page))) return;
  }
  throw new Error(`Tab never reached ${name}`);
}

/** The focused element draws a visible ring: a solid outline at least 2 px wide. */
async function expectFocusRing(page: Page): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const ring = await page.evaluate(() => {
      const style = getComputedStyle(document.activeElement as Element);
      return { style: style.outlineStyle, width: parseFloat(style.outlineWidth), color: style.outlineColor };
    });
    expect(ring.style, colorScheme).not.toBe('none');
    expect(ring.width, colorScheme).toBeGreaterThanOrEqual(2);
    expect(ring.color, colorScheme).not.toBe('rgba(0, 0, 0, 0)');
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

test('sign up, sign in, open every settings page and sign out with the keyboard', async ({ page }, testInfo) => {
  test.slow();
  const js = jsEnabled(testInfo);
  const username = uniqueName('keys');
  await page.goto('/');
  await ready(page, js);

  // Sign up.
  await tabTo(page, 'Sign up');
  await expectFocusRing(page);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL('/signup');
  await ready(page, js);
  await tabTo(page, 'Username');
  await page.keyboard.type(username);
  await tabTo(page, 'Password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL('/profile');
  await ready(page, js);

  // Every settings page, through the navigation bar and the tabs.
  await tabTo(page, 'Settings');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL('/settings/account');
  await ready(page, js);
  for (const [tab, path] of [['Security', '/settings/security'], ['Sessions', '/settings/sessions'], ['Account', '/settings/account']]) {
    await tabTo(page, tab);
    await expectFocusRing(page);
    await page.keyboard.press('Enter');
    await expect(page).toHaveURL(path);
    await ready(page, js);
  }

  // Sign out with Space on the button.
  await tabTo(page, 'Sign out');
  await expectFocusRing(page);
  await page.keyboard.press('Space');
  await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' })).toBeVisible();
  await ready(page, js);

  // Sign in again.
  await tabTo(page, 'Sign in');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL('/login');
  await ready(page, js);
  await tabTo(page, 'Username');
  await page.keyboard.type(username);
  await tabTo(page, 'Password');
  await page.keyboard.type(PASSWORD);
  await tabTo(page, 'Sign in');
  await expectFocusRing(page);
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL('/profile');
  await expect(page.getByTestId('profile-username')).toHaveText(username);
});
