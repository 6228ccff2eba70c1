import { test as base, expect, Page } from '@playwright/test';

/** Console messages that mean something is broken: errors, warnings, CSP violations. */
export type ConsoleProblem = { type: string; text: string };

export const test = base.extend<{ consoleProblems: ConsoleProblem[] }>({
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
