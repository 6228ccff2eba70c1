import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { PASSWORD, formError, nav, signIn, signInHere, signOut, signUp } from './support/pages';

test('sign up lands on the profile, signed in', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('sign');
  await signUp(page, js, username);
  await expect(page).toHaveURL('/profile');
  await expect(page.getByTestId('profile-username')).toHaveText(username);
  await expect(page.getByTestId('profile-role')).toHaveText('user');
  await expect(nav(page).getByTestId('nav-username')).toHaveText(username);
});

test('after signing out, a guarded page leads to sign-in and back', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('round');
  await signUp(page, js, username);
  await expect(page).toHaveURL('/profile');
  await signOut(page);
  await expect(page).toHaveURL('/');

  const response = await page.goto('/members');
  await ready(page, js);
  expect(response?.url()).toContain('/login?next=/members');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await signInHere(page, username);
  await expect(page).toHaveURL('/members');
  await expect(page.getByRole('heading', { name: "Members' area" })).toBeVisible();
});

test('a wrong password shows the message and keeps the username', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('wrong');
  await signUp(page, js, username);
  await signOut(page);
  await signIn(page, js, username, 'not-my-password-at-all');
  await expect(formError(page)).toHaveText('Incorrect username or password');
  await expect(page.getByLabel('Username')).toHaveValue(username);
  await expect(page).toHaveURL(/\/login/);
});

test('a taken username shows the message', async ({ page, browser }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('taken');
  const other = await browser.newContext({ javaScriptEnabled: js });
  const first = await other.newPage();
  await signUp(first, js, username);
  await expect(first).toHaveURL('/profile');
  await other.close();

  await signUp(page, js, username.toUpperCase());
  await expect(formError(page)).toHaveText('That username is taken');
  await expect(page.getByLabel('Username')).toHaveValue(username.toUpperCase());
});

test('a weak password is refused with the reason', async ({ page }, testInfo) => {
  await signUp(page, jsEnabled(testInfo), uniqueName('weak'), 'password');
  await expect(formError(page)).toContainText('That password is too easy to guess.');
});

test('the navigation follows each action without a reload', async ({ page }, testInfo) => {
  test.skip(!jsEnabled(testInfo), 'in-place updates need JavaScript');
  const username = uniqueName('live');
  await page.goto('/signup');
  await ready(page, true);
  await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 7));
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL('/profile');
  await expect(nav(page).getByTestId('nav-username')).toHaveText(username);
  await signOut(page);
  await nav(page).getByRole('link', { name: 'Sign in' }).click();
  await signInHere(page, username);
  await expect(page).toHaveURL('/profile');
  await expect(nav(page).getByTestId('nav-username')).toHaveText(username);
  expect(await page.evaluate(() => (window as unknown as { __marker?: number }).__marker)).toBe(7);
});

test('the show-password toggle reveals the password (JavaScript only)', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  await page.goto('/login');
  await ready(page, js);
  const password = page.getByLabel('Password', { exact: true });
  await password.fill('secret-words');
  await expect(password).toHaveAttribute('type', 'password');
  const toggle = page.getByRole('button', { name: 'Show' });
  if (!js) {
    await expect(toggle).toHaveCount(0);
    return;
  }
  await toggle.click();
  await expect(password).toHaveAttribute('type', 'text');
  await page.getByRole('button', { name: 'Hide' }).click();
  await expect(password).toHaveAttribute('type', 'password');
});
