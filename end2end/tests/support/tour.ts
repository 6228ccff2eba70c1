import { Browser, BrowserContext, Page } from '@playwright/test';
import { gatehouse } from './cli';
import { PASSWORD, signedIn } from './pages';
import { uniqueName } from './fixtures';

/** Every page a signed-out visitor can open (the 404 page among them). */
export const signedOutPaths = [
  '/',
  '/login',
  '/signup',
  '/forgot-password',
  '/reset-password?token=not-a-real-token',
  '/verify-email?token=not-a-real-token',
  '/no/such/page',
];

/** Every page of a signed-in owner, who may open them all. */
export const signedInPaths = [
  '/',
  '/profile',
  '/members',
  '/admin',
  '/settings/account',
  '/settings/sessions',
  '/settings/security',
  '/reauth?next=/settings/security',
];

/** A browser context signed in as a new owner (made on the command line). */
export async function ownerContext(browser: Browser, js: boolean): Promise<{ context: BrowserContext; page: Page }> {
  const owner = uniqueName('tour');
  gatehouse(['user', 'create', '--username', owner, '--role', 'owner'], `${PASSWORD}\n`);
  const context = await browser.newContext({ javaScriptEnabled: js });
  const page = await context.newPage();
  await signedIn(page, js, owner);
  return { context, page };
}
