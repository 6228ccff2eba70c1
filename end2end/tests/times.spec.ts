import { test, expect, ready, jsEnabled, uniqueName } from './support/fixtures';
import { signedUp } from './support/pages';

// Times are rendered in UTC by the server, labelled so; once the page runs, they are
// shown in the visitor's own time zone. The exact instant stays in `datetime`.
test.use({ timezoneId: 'Asia/Tokyo', locale: 'en-US' });

test("the sessions page shows times in the visitor's time zone", async ({ page }, testInfo) => {
  const js = jsEnabled(testInfo);
  await signedUp(page, js, uniqueName('tz'));
  await page.goto('/settings/sessions');
  await ready(page, js);
  const first = page.locator('table time').first();
  const instant = await first.getAttribute('datetime');
  expect(instant).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  if (js) {
    await expect(first).toContainText('GMT+9');
    // The same instant, in Tokyo: nine hours ahead of UTC.
    const hour = (new Date(instant!).getUTCHours() + 9) % 24;
    const twelve = hour % 12 === 0 ? 12 : hour % 12;
    await expect(first).toContainText(`${String(twelve).padStart(2, '0')}:`);
  } else {
    await expect(first).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
  }
  await page.goto('/profile');
  await ready(page, js);
  const since = page.getByTestId('profile-since').locator('time');
  await expect(since).toHaveAttribute('datetime', /Z$/);
  if (js) await expect(since).toHaveText(/^[A-Z][a-z]{2} \d{1,2}, \d{4}$/);
  else await expect(since).toHaveText(/^\d{4}-\d{2}-\d{2}$/);
});
