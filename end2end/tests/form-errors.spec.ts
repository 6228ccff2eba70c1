import { test, expect, jsEnabled, uniqueName } from './support/fixtures';
import { formError, signIn, signOut, signUp, signedUp } from './support/pages';

// After a failed submit the field the error is about is marked invalid, described by the
// message, and focused; an error about no field in particular puts the focus on the
// message. With JavaScript on and off.

test('a taken username is marked invalid and focused', async ({ page, browser }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('inv');
  const other = await browser.newContext({ javaScriptEnabled: js });
  await signedUp(await other.newPage(), js, username);
  await other.close();

  await signUp(page, js, username);
  await expect(formError(page)).toHaveText('That username is taken');
  const field = page.getByLabel('Username');
  await expect(field).toHaveAttribute('aria-invalid', 'true');
  await expect(field).toHaveAttribute('aria-describedby', /\bsignup-error\b/);
  await expect(page.locator('#signup-error')).toHaveText('That username is taken');
  await expect(field).toBeFocused();
  await expect(page.getByLabel('Password', { exact: true })).not.toHaveAttribute('aria-invalid', 'true');
});

test('a failed sign-in puts the focus on the message', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const username = uniqueName('foc');
  await signedUp(page, js, username);
  await signOut(page);
  await signIn(page, js, username, 'not-the-right-password');
  await expect(formError(page)).toHaveText('Incorrect username or password');
  await expect(formError(page)).toBeFocused();
  await expect(page.locator('[aria-invalid="true"]')).toHaveCount(0);
});
