import { test, expect, ready, jsEnabled } from './support/fixtures';
import { Page } from '@playwright/test';
import { ownerContext, signedInPaths, signedOutPaths } from './support/tour';

// No page scrolls sideways, at a phone's, a tablet's and two desktops' widths.
const widths = [360, 768, 1100, 1280];

async function sideways(page: Page, js: boolean, path: string): Promise<string[]> {
  const found: string[] = [];
  for (const width of widths) {
    await page.setViewportSize({ width, height: 800 });
    await page.goto(path);
    await ready(page, js);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0) found.push(`${path} at ${width} px: ${overflow} px too wide`);
  }
  return found;
}

test('no page scrolls sideways, signed out', async ({ page }, testInfo) => {
  test.slow();
  const js = jsEnabled(testInfo);
  const found: string[] = [];
  for (const path of signedOutPaths) found.push(...(await sideways(page, js, path)));
  expect(found).toEqual([]);
});

test('no page scrolls sideways, signed in', async ({ browser }, testInfo) => {
  test.slow();
  const js = jsEnabled(testInfo);
  const { context, page } = await ownerContext(browser, js);
  const found: string[] = [];
  for (const path of signedInPaths) found.push(...(await sideways(page, js, path)));
  await context.close();
  expect(found).toEqual([]);
});
