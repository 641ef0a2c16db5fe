// The dev mailbox, as a newcomer uses it: a case created through the REST
// API sends its contact a confirmation; the email shows up in /dev/mail,
// opens, and its text and links read as they were sent.
import assert from 'node:assert/strict';
import { api, base, eventually, run } from './harness.mjs';

await run('dev_mail', async (page, shot) => {
  await page.goto(`${base}/`);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  assert.equal(await page.locator('h1').innerText(), 'Docket Test');
  await shot('home');

  // Keyboard users land on the skip link first, and it is visible.
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  assert.equal(focused, 'Skip to main content');
  assert.ok(await page.locator('.skip-link').isVisible());
  await shot('skip-link-focused');

  const account = await api('POST', '/accounts', { name: 'Acme Ltd' });
  const contact = await api('POST', '/contacts', {
    account_id: account.id, name: 'Petra Novak', email: 'petra.browser@acme.example',
  });
  const created = await api('POST', '/cases', {
    subject: 'Printer <b>on fire</b>', type_id: 'technical_issue', account_id: account.id,
    contacts: [{ contact_id: contact.id, primary: true }], priority: 'high',
  });

  await page.goto(`${base}/dev/mail`);
  const row = page.locator('table.mail-list tbody tr', { hasText: created.case_number });
  await eventually(`an email about ${created.case_number} in the dev mailbox`, async () => {
    await page.reload();
    return (await row.count()) > 0;
  });
  assert.match(await row.first().innerText(), /petra\.browser@acme\.example/);
  await shot('mailbox');

  await row.first().locator('a').click();
  const heading = await page.locator('h1').innerText();
  assert.ok(heading.includes(`[${created.case_number}]`), heading);
  // The subject is shown as text, markup and all: never rendered.
  assert.ok(heading.includes('<b>on fire</b>'), heading);
  assert.equal(await page.locator('h1 b').count(), 0);
  const fields = await page.locator('dl.mail-fields').innerText();
  assert.match(fields, /petra\.browser@acme\.example/);
  const body = await page.locator('.mail-body').innerText();
  assert.ok(body.includes(created.case_number), body);
  for (const link of await page.locator('.mail-body a').all()) {
    assert.match(await link.getAttribute('href'), /^https?:\/\//);
  }
  await shot('email');

  await page.getByText('All headers').click();
  assert.ok(await page.locator('.mail-headers dd').first().isVisible());
  await shot('email-headers');

  await page.setViewportSize({ width: 375, height: 800 });
  await shot('email-on-a-phone');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, 'the page scrolls sideways on a phone');
});
