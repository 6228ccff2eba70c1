import type { Browser, BrowserContext, ConsoleMessage, Page } from '@playwright/test';
import { test, expect, uniqueName } from './support/fixtures';
import { gatehouse, releaseDatabaseUrl } from './support/cli';
import { PASSWORD, nav, signInHere } from './support/pages';
import { signedInPaths, signedOutPaths } from './support/tour';

// The build people run: the release server and browser bundle that `make run` builds
// (`cargo leptos build --release --precompress --split`, made by `make e2e` into
// target/site-release), served on a port of its own. Every page of the page table,
// signed out and signed in, must hydrate with no page error and no console error, links
// must navigate when clicked, and the pieces a split page preloads must be used.

const releaseURL = `http://localhost:${process.env.GATEHOUSE_E2E_RELEASE_PORT ?? 3102}`;

/** Every console error or warning and every uncaught error of the context's pages. */
function watchConsole(context: BrowserContext): string[] {
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (message: ConsoleMessage) => {
      if (message.type() !== 'error' && message.type() !== 'warning') return;
      // The 403 and 404 pages are answered with their status, which the browser reports.
      if (/Failed to load resource: the server responded with a status of (403|404)/.test(message.text())) return;
      problems.push(`${page.url()}: ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`${page.url()}: pageerror: ${String(error)}`));
  };
  context.on('page', watch);
  return problems;
}

/** A fresh visitor of the release server, JavaScript on. */
async function visitor(browser: Browser): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ baseURL: releaseURL, javaScriptEnabled: true });
  const problems = watchConsole(context);
  const page = await context.newPage();
  return { context, page, problems };
}

/** Loads `path` and waits for the app to mark the page hydrated. */
async function hydrated(page: Page, path: string): Promise<void> {
  const response = await page.goto(path);
  expect(response, path).not.toBeNull();
  await expect(page.locator('body[data-hydrated="true"]'), `${path} hydrates`).toBeAttached({ timeout: 20_000 });
}

/** Pages split out of the main bundle: their pieces are preloaded by the page. */
const splitPages = ['/admin', '/settings/account', '/settings/sessions', '/settings/security'];

/**
 * Chromium warns about a preload that the page has not used a few seconds after its load
 * event; a split page that preloads its pieces and then does not use them gets one.
 */
async function staysWithoutPreloadWarnings(page: Page, problems: string[]): Promise<void> {
  await page.waitForLoadState('load');
  await page.waitForTimeout(3_500);
  expect(problems.filter((p) => /preloaded/.test(p)), `preload warnings on ${page.url()}`).toEqual([]);
}

test.describe('the release build (make run)', () => {
  test.beforeEach(({}, testInfo) => {
    test.skip(testInfo.project.name !== 'js', 'hydration needs JavaScript');
  });

  test('every signed-out page hydrates with no page or console error', async ({ browser }) => {
    const { context, page, problems } = await visitor(browser);
    for (const path of [...signedOutPaths, '/login/two-factor', '/profile']) {
      await hydrated(page, path);
    }
    expect(problems).toEqual([]);
    await context.close();
  });

  test('every signed-in page hydrates, and the pieces a split page preloads are used', async ({ browser }) => {
    test.slow();
    const owner = uniqueName('release');
    gatehouse(['user', 'create', '--username', owner, '--role', 'owner'], `${PASSWORD}\n`, releaseDatabaseUrl);
    const { context, page, problems } = await visitor(browser);
    await hydrated(page, '/login');
    await signInHere(page, owner);
    await expect(page).toHaveURL('/profile');
    for (const path of signedInPaths) {
      await hydrated(page, path);
      if (splitPages.includes(new URL(path, releaseURL).pathname)) {
        await staysWithoutPreloadWarnings(page, problems);
      }
    }
    expect(problems).toEqual([]);
    await context.close();
  });

  test('the 403 page hydrates for a signed-in user without the role', async ({ browser }) => {
    const name = uniqueName('norole');
    gatehouse(['user', 'create', '--username', name, '--role', 'none'], `${PASSWORD}\n`, releaseDatabaseUrl);
    const { context, page, problems } = await visitor(browser);
    await hydrated(page, '/login');
    await signInHere(page, name);
    await expect(page).toHaveURL('/profile');
    const response = await page.goto('/members');
    expect(response?.status()).toBe(403);
    await expect(page.locator('body[data-hydrated="true"]')).toBeAttached({ timeout: 20_000 });
    await expect(page.getByText("You don't have permission to view this page.")).toBeVisible();
    expect(problems).toEqual([]);
    await context.close();
  });

  test('a mouse click on a link navigates, in the app, without reloading the page', async ({ browser }) => {
    const { context, page, problems } = await visitor(browser);
    await hydrated(page, '/');
    await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
    await nav(page).getByRole('link', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(`${releaseURL}/login`);
    await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await expect(page).toHaveURL(`${releaseURL}/forgot-password`);
    await nav(page).getByRole('link', { name: 'Sign up' }).click();
    await expect(page).toHaveURL(`${releaseURL}/signup`);
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);

    // Signed in, the navigation and the settings tabs move between split pages too.
    const name = uniqueName('clicks');
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page).toHaveURL(`${releaseURL}/profile`);
    await nav(page).getByRole('link', { name: 'Settings' }).click();
    await expect(page).toHaveURL(`${releaseURL}/settings/account`);
    await page.getByRole('link', { name: 'Sessions' }).click();
    await expect(page).toHaveURL(`${releaseURL}/settings/sessions`);
    await expect(page.getByRole('heading', { name: 'Sessions', level: 1 })).toBeVisible();
    await page.getByRole('link', { name: 'Security' }).click();
    await expect(page).toHaveURL(`${releaseURL}/settings/security`);
    await expect(page.getByRole('heading', { name: 'Security', level: 1 })).toBeVisible();
    expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });
});
