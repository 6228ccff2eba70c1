import AxeBuilder from '@axe-core/playwright';
import { Browser, BrowserContext, Page } from '@playwright/test';
import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { gatehouse } from './support/cli';
import { PASSWORD, formError, signIn, signedIn, signUp } from './support/pages';
import { signedInPaths, signedOutPaths } from './support/tour';

// Every page state, signed out and signed in, in both colour schemes, with JavaScript on
// and off (the two projects): no WCAG 2.1 A or AA violation, as axe-core finds them.
//
// axe runs in the page, which a context without JavaScript does not allow. The pages a
// browser without JavaScript sees are the server's HTML, never hydrated: the "off" run
// audits exactly that in a context whose only script is axe (the app's scripts and the
// WebAssembly are refused at the network).
const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const schemes = ['light', 'dark'] as const;

async function auditContext(browser: Browser, js: boolean): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ javaScriptEnabled: true });
  if (!js) await context.route(/\.(js|wasm)(\?.*)?$/, (route) => route.abort());
  return { context, page: await context.newPage() };
}

/** The violations on the page as it is now, in both colour schemes. */
async function audit(page: Page, label: string, counter: { states: number }): Promise<string[]> {
  const found: string[] = [];
  for (const colorScheme of schemes) {
    await page.emulateMedia({ colorScheme });
    const results = await new AxeBuilder({ page }).withTags(tags).analyze();
    for (const v of results.violations) {
      const where = v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ');
      found.push(`${label} (${colorScheme}): ${v.id} [${v.impact}] ×${v.nodes.length}: ${where}`);
    }
    counter.states += 1;
  }
  return found;
}

async function visit(page: Page, js: boolean, path: string): Promise<void> {
  await page.goto(path);
  await ready(page, js);
}

test('signed-out pages and their error states have no violations', async ({ browser }, testInfo) => {
  test.slow();
  const js = jsEnabled(testInfo);
  const counter = { states: 0 };
  const found: string[] = [];
  const { context, page } = await auditContext(browser, js);
  for (const path of signedOutPaths) {
    await visit(page, js, path);
    found.push(...(await audit(page, path, counter)));
  }
  // A failed sign-in and a refused sign-up.
  await signIn(page, js, 'nobody-here', 'not-the-password-1');
  await expect(formError(page)).toBeVisible();
  found.push(...(await audit(page, 'failed sign-in', counter)));
  await signUp(page, js, uniqueName('weak'), 'password');
  await expect(formError(page)).toBeVisible();
  found.push(...(await audit(page, 'refused sign-up', counter)));
  await context.close();
  console.log(`axe (JS ${js ? 'on' : 'off'}): ${counter.states} signed-out page states, ${found.length} violations`);
  expect(found).toEqual([]);
});

test('signed-in pages, the admin pages and the 403 page have no violations', async ({ browser }, testInfo) => {
  test.slow();
  const js = jsEnabled(testInfo);
  const counter = { states: 0 };
  const found: string[] = [];
  const owner = uniqueName('axe');
  gatehouse(['user', 'create', '--username', owner, '--role', 'owner'], `${PASSWORD}\n`);
  const signedInAs = await auditContext(browser, js);
  await signedIn(signedInAs.page, js, owner);
  for (const path of signedInPaths) {
    await visit(signedInAs.page, js, path);
    found.push(...(await audit(signedInAs.page, path, counter)));
  }
  await signedInAs.context.close();
  // A user without a role is refused the members' area: the 403 page.
  const nobody = uniqueName('norole');
  gatehouse(['user', 'create', '--username', nobody, '--role', 'none'], `${PASSWORD}\n`);
  const refused = await auditContext(browser, js);
  await signedIn(refused.page, js, nobody);
  await visit(refused.page, js, '/members');
  await expect(refused.page.getByRole('heading', { name: 'Not allowed' })).toBeVisible();
  found.push(...(await audit(refused.page, '403', counter)));
  await refused.context.close();
  console.log(`axe (JS ${js ? 'on' : 'off'}): ${counter.states} signed-in page states, ${found.length} violations`);
  expect(found).toEqual([]);
});

test('the audit finds a violation when there is one', async ({ browser }, testInfo) => {
  // A control for the two tests above: the same audit, on a page given an unlabelled
  // image and a low-contrast line, must report both.
  const js = jsEnabled(testInfo);
  const { context, page } = await auditContext(browser, js);
  await visit(page, js, '/login');
  await page.evaluate(() => {
    const main = document.querySelector('main')!;
    main.insertAdjacentHTML('beforeend', '<img src="/favicon.svg"><p id="faint">faint</p>');
    // Through the CSSOM: the page's CSP refuses inline style attributes.
    const faint = document.getElementById('faint')!;
    faint.style.color = '#eeeeee';
    faint.style.background = '#ffffff';
  });
  const found = await audit(page, 'control', { states: 0 });
  await context.close();
  expect(found.some((v) => v.includes('image-alt'))).toBe(true);
  expect(found.some((v) => v.includes('color-contrast'))).toBe(true);
});
