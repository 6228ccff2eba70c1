import { Page, expect } from '@playwright/test';
import { ready } from './fixtures';

export const PASSWORD = 'correct-horse-battery-staple-42';

/** Navigation bar of the app. */
export function nav(page: Page) {
  return page.getByRole('navigation', { name: 'Main' });
}

/** Fills and submits the sign-up form. */
export async function signUp(page: Page, js: boolean, username: string, password = PASSWORD): Promise<void> {
  await page.goto('/signup');
  await ready(page, js);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

/** Signs up and waits until the profile shows: for tests that need the account. */
export async function signedUp(page: Page, js: boolean, username: string, password = PASSWORD): Promise<void> {
  await signUp(page, js, username, password);
  await expect(page).toHaveURL('/profile');
}

/** Signs in and waits until the profile shows. */
export async function signedIn(page: Page, js: boolean, username: string, password = PASSWORD): Promise<void> {
  await signIn(page, js, username, password);
  await expect(page).toHaveURL('/profile');
}

/** Fills and submits the sign-in form on the current page (which must be /login). */
export async function signInHere(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Goes to /login and signs in. */
export async function signIn(page: Page, js: boolean, username: string, password = PASSWORD): Promise<void> {
  await page.goto('/login');
  await ready(page, js);
  await signInHere(page, username, password);
}

/** Uses the sign-out button of the navigation bar. */
export async function signOut(page: Page): Promise<void> {
  await nav(page).getByRole('button', { name: 'Sign out' }).click();
  await expect(nav(page).getByRole('link', { name: 'Sign in' })).toBeVisible();
}

/** The message of the form's error region. */
export function formError(page: Page) {
  return page.getByTestId('form-error');
}
