import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { gatehouse } from './support/cli';
import { PASSWORD, nav, signIn, signUp, signedIn, signedUp } from './support/pages';

test('an owner promotes a user to admin, who can then manage members but not make owners', async ({ browser, page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const owner = uniqueName('owner');
  const rising = uniqueName('rising');
  const member = uniqueName('member');
  // The first owner is made on the command line.
  gatehouse(['user', 'create', '--username', owner, '--role', 'owner'], `${PASSWORD}\n`);
  for (const name of [rising, member]) {
    const context = await browser.newContext({ javaScriptEnabled: js });
    await signedUp(await context.newPage(), js, name);
    await context.close();
  }

  await signIn(page, js, owner);
  await expect(page).toHaveURL('/profile');
  await nav(page).getByRole('link', { name: 'Admin' }).click();
  await ready(page, js);
  await page.getByLabel('Username starts with').fill(rising);
  await page.getByRole('button', { name: 'Search' }).click();
  // Wait for the search's own result (with JavaScript the previous list stays on screen
  // until it arrives): a choice made in a row that is about to be replaced is lost.
  await expect(page.locator('tr[data-username]')).toHaveCount(1);
  const row = page.locator(`tr[data-username="${rising}"]`);
  await expect(row).toBeVisible();
  await row.getByRole('combobox').selectOption('admin');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator(`tr[data-username="${rising}"]`).getByTestId('user-role')).toHaveText('admin');

  // The new admin sees the admin page, and may only give none or user.
  const adminContext = await browser.newContext({ javaScriptEnabled: js });
  const adminPage = await adminContext.newPage();
  await signIn(adminPage, js, rising);
  await expect(adminPage).toHaveURL('/profile');
  // Searched for by name: the suite's other tests fill more than the list's first page.
  const response = await adminPage.goto(`/admin?q=${member}`);
  expect(response?.status()).toBe(200);
  await ready(adminPage, js);
  const memberRow = adminPage.locator(`tr[data-username="${member}"]`);
  await expect(memberRow.getByRole('combobox').locator('option')).toHaveText(['none', 'user']);
  await adminPage.goto(`/admin?q=${owner}`);
  await ready(adminPage, js);
  const ownerRow = adminPage.locator(`tr[data-username="${owner}"]`);
  await expect(ownerRow).toBeVisible();
  await expect(ownerRow.getByRole('combobox')).toHaveCount(0);
  await adminContext.close();
});

test('a user with the role none gets the 403 page on /members', async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const name = uniqueName('none');
  await signUp(page, js, name);
  await expect(page).toHaveURL('/profile');
  gatehouse(['user', 'set-role', name, 'none']);
  const response = await page.goto('/members');
  expect(response?.status()).toBe(403);
  await ready(page, js);
  await expect(page.getByRole('alert')).toHaveText("You don't have permission to view this page.");
  await expect(nav(page).getByRole('link', { name: 'Members' })).toHaveCount(0);
});

test('an admin demoting a member sees the change in the table and the audit trail', async ({ browser, page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const admin = uniqueName('adm');
  const member = uniqueName('mem');
  gatehouse(['user', 'create', '--username', admin, '--role', 'admin'], `${PASSWORD}\n`);
  const context = await browser.newContext({ javaScriptEnabled: js });
  await signedUp(await context.newPage(), js, member);
  await context.close();
  await signedIn(page, js, admin);
  await page.goto(`/admin?q=${member}`);
  await ready(page, js);
  const row = page.locator(`tr[data-username="${member}"]`);
  await row.getByRole('combobox').selectOption('none');
  await row.getByRole('button', { name: 'Save' }).click();
  await expect(page.locator(`tr[data-username="${member}"]`).getByTestId('user-role')).toHaveText('none');
  await expect(page.getByTestId('audit-table')).toContainText('role_changed');
  await expect(page.getByTestId('audit-table')).toContainText(member);
});

test('an owner disables a user from /admin: their browser is signed out and sign-in is refused', async ({ browser, page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const owner = uniqueName('owner');
  const target = uniqueName('spammer');
  gatehouse(['user', 'create', '--username', owner, '--role', 'owner'], `${PASSWORD}\n`);
  const theirs = await browser.newContext({ javaScriptEnabled: js });
  const theirPage = await theirs.newPage();
  await signedUp(theirPage, js, target);

  await signedIn(page, js, owner);
  await page.goto(`/admin?q=${target}`);
  await ready(page, js);
  const row = page.locator(`tr[data-username="${target}"]`);
  await row.getByText('Disable…').click();
  await row.getByLabel('Reason (admins only)').fill('posting spam');
  await row.getByRole('button', { name: `Disable ${target}` }).click();
  await expect(page.locator(`tr[data-username="${target}"]`).getByTestId('user-disabled')).toHaveText('disabled');
  await page.goto('/admin?state=disabled');
  await ready(page, js);
  await expect(page.locator(`tr[data-username="${target}"]`)).toBeVisible();

  // Their next page load finds them signed out, and signing in says why.
  await theirPage.goto('/profile');
  await expect(theirPage).toHaveURL(/\/login/);
  await signIn(theirPage, js, target);
  await expect(theirPage.getByTestId('form-error')).toHaveText('This account is disabled.');

  // Enabled again, they sign in.
  await page.goto(`/admin?q=${target}`);
  await ready(page, js);
  await page.locator(`tr[data-username="${target}"]`).getByRole('button', { name: 'Enable' }).click();
  await expect(page.locator(`tr[data-username="${target}"]`).getByTestId('user-disabled')).toHaveCount(0);
  await signedIn(theirPage, js, target);
  await theirs.close();
});

test('an admin views the app as a user, is refused a password change, and stops', async ({ browser, page }, testInfo) => {
  const js = jsEnabled(testInfo);
  const admin = uniqueName('admin');
  const target = uniqueName('viewed');
  gatehouse(['user', 'create', '--username', admin, '--role', 'admin'], `${PASSWORD}\n`);
  const theirs = await browser.newContext({ javaScriptEnabled: js });
  const theirPage = await theirs.newPage();
  await signedUp(theirPage, js, target);

  await signedIn(page, js, admin);
  await page.goto(`/admin?q=${target}`);
  await ready(page, js);
  await page.locator(`tr[data-username="${target}"]`).getByRole('button', { name: `View as ${target}` }).click();
  await expect(page).toHaveURL('/profile');
  const banner = page.getByTestId('view-as-banner');
  await expect(banner).toContainText(`You are viewing the app as ${target}. You are signed in as ${admin}.`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(target);

  // The banner is on every page; the admin area and credential changes are refused.
  await page.goto('/settings/account');
  await ready(page, js);
  await expect(page.getByTestId('view-as-banner')).toBeVisible();
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password', { exact: true }).fill('another-Correct-horse-77');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByText('Not while viewing as another user. Stop viewing first.')).toBeVisible();
  const refused = await page.goto('/admin');
  expect(refused?.status()).toBe(403);

  // The user sees the view among their sessions.
  await theirPage.goto('/settings/sessions');
  await ready(theirPage, js);
  await expect(theirPage.getByTestId('viewed-by-admin')).toHaveText('viewed by an administrator');

  // Stop: the admin's own session is back, on /admin.
  await page.goto('/profile');
  await ready(page, js);
  await page.getByTestId('view-as-banner').getByRole('button', { name: 'Stop' }).click();
  await expect(page).toHaveURL('/admin');
  await expect(page.getByTestId('view-as-banner')).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Admin', level: 1 })).toBeVisible();
  await theirPage.reload();
  await ready(theirPage, js);
  await expect(theirPage.getByTestId('viewed-by-admin')).toHaveCount(0);
  await theirs.close();
});
