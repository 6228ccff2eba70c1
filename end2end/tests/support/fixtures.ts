import { test as base, expect, Browser, BrowserContext, Page } from '@playwright/test';

/** Console messages that mean something is broken: errors, warnings, CSP violations. */
export type ConsoleProblem = { type: string; text: string };

/**
 * Uncaught exceptions of every page a test opens (a panic of the WebAssembly app is one:
 * `RuntimeError: unreachable`). Collected for every page of the test's context, pages
 * opened later included.
 */
type PageErrors = string[];

export const test = base.extend<{ consoleProblems: ConsoleProblem[]; pageErrors: PageErrors }>({
  // Automatic: every test of the suite, in both builds, fails when one of its pages threw.
  // A page error is never expected: the app must not panic, whatever the test does.
  pageErrors: [
    async ({ context, browser }, use, testInfo) => {
      const errors: PageErrors = [];
      const watch = (page: Page) => page.on('pageerror', (error) => errors.push(`${page.url()}: ${String(error)}`));
      const watchContext = (c: BrowserContext) => {
        c.pages().forEach(watch);
        c.on('page', watch);
      };
      watchContext(context);
      // Contexts a test makes itself (another server, a fresh visitor) are watched too.
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (...args: Parameters<Browser['newContext']>) => {
        const made = await newContext(...args);
        watchContext(made);
        return made;
      };
      try {
        await use(errors);
      } finally {
        browser.newContext = newContext;
      }
      if (testInfo.status === testInfo.expectedStatus) {
        expect(errors, 'uncaught errors in the page (a panic of the app?)').toEqual([]);
      }
    },
    { auto: true },
  ],
  consoleProblems: async ({ page }, use, testInfo) => {
    const problems: ConsoleProblem[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        problems.push({ type: message.type(), text: message.text() });
      }
    });
    page.on('pageerror', (error) => problems.push({ type: 'pageerror', text: String(error) }));
    await use(problems);
    // Every test fails on a console error or warning (hydration mismatch, CSP violation,
    // panic), except the network errors the test itself asked for (a 404 page, a 401).
    const unexpected = problems.filter((p) => !/Failed to load resource: the server responded with a status of (401|403|404|409|429)/.test(p.text));
    if (testInfo.status === testInfo.expectedStatus) {
      expect(unexpected, 'console errors and warnings').toEqual([]);
    }
  },
});

export { expect };

/** True in the project that runs with JavaScript on. */
export function jsEnabled(testInfo: { project: { name: string } }): boolean {
  return testInfo.project.name === 'js';
}

/** Waits until the WebAssembly app has taken over the page (JavaScript on only). */
export async function ready(page: Page, js: boolean): Promise<void> {
  if (js) {
    await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
  } else {
    await page.waitForLoadState('domcontentloaded');
  }
}

/** A username no other test uses. */
export function uniqueName(prefix: string): string {
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  return `${prefix}-${suffix}`.slice(0, 32);
}
