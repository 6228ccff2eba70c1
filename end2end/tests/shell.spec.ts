import { test, expect, ready, jsEnabled } from './support/fixtures';

test('the home page renders with the navigation bar', async ({ page, consoleProblems }, testInfo) => {
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  await ready(page, jsEnabled(testInfo));
  await expect(page).toHaveTitle('Gatehouse');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome to Gatehouse');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Sign in' })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Sign up' })).toBeVisible();
  await expect(page.locator('footer')).toContainText('Gatehouse');
  expect(consoleProblems).toEqual([]);
});

test('an unknown address shows the 404 page with status 404', async ({ page }, testInfo) => {
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await ready(page, jsEnabled(testInfo));
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  await page.getByRole('link', { name: 'Back to the home page' }).click();
  await expect(page).toHaveURL('/');
});

test('the stylesheet applies and the layout fits a 360 px screen', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto('/');
  await ready(page, jsEnabled(testInfo));
  const background = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  expect(background).not.toBe('rgba(0, 0, 0, 0)');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});

test('client-side navigation works once hydrated', async ({ page }, testInfo) => {
  test.skip(!jsEnabled(testInfo), 'client-side routing needs JavaScript');
  await page.goto('/');
  await ready(page, true);
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' }).click();
  await expect(page).toHaveURL('/login');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  // Same document: the router navigated without a reload.
  expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(42);
});

test('the browser titles pages with the app name the server wrote into the page', async ({ page }, testInfo) => {
  test.skip(!jsEnabled(testInfo), 'titles change in the browser only with JavaScript');
  // The server's name (GATEHOUSE_APP_NAME) reaches the browser's copy of the app through
  // <meta name="application-name">: give this page another one and follow a link.
  await page.route('/', async (route) => {
    const response = await route.fetch();
    const html = (await response.text()).replace(
      '<meta name="application-name" content="Gatehouse">',
      '<meta name="application-name" content="Renamed">',
    );
    expect(html).toContain('content="Renamed"');
    await route.fulfill({ response, body: html });
  });
  await page.goto('/');
  await ready(page, true);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sign in' }).click();
  await expect(page).toHaveURL('/login');
  await expect(page).toHaveTitle('Sign in · Renamed');
});
