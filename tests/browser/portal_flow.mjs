// A customer's whole way through the portal, in a real browser:
// a visitor sends the web form and gets a case number; staff invite the
// contact; the invitation email (read from the SMTP server's mailbox) leads
// to setting a password; the customer sees the case, comments, and sees a
// staff reply added through the REST API. Then the form embedded in an
// iframe: shown on an allowed site, refused on another.
//
// Extra environment (set by the Rust test): DOCKET_FORM_SLUG, DOCKET_MAILDIR
// (the SMTP sink's Maildir), DOCKET_EMBED_ALLOWED_PORT, DOCKET_EMBED_OTHER_PORT.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { api, base, eventually, run } from './harness.mjs';

const slug = process.env.DOCKET_FORM_SLUG;
const maildir = process.env.DOCKET_MAILDIR;
const allowedPort = Number(process.env.DOCKET_EMBED_ALLOWED_PORT);
const otherPort = Number(process.env.DOCKET_EMBED_OTHER_PORT);
assert.ok(slug && maildir && allowedPort && otherPort, 'start this script through `cargo test --test gateway browser`');

const email = `petra.${Date.now()}@visitor.example`;
const password = 'correct horse battery staple';

/** The newest email to `to` whose body contains `marker`, as text. */
async function emailTo(to, marker) {
  const dir = path.join(maildir, 'new');
  const files = await readdir(dir).catch(() => []);
  const found = [];
  for (const file of files) {
    let raw = (await readFile(path.join(dir, file), 'utf8')).replace(/\r\n/g, '\n');
    const split = raw.indexOf('\n\n');
    const [head, body] = [raw.slice(0, split), raw.slice(split + 2)];
    // The body as written, whatever transfer encoding the mailer chose.
    if (/content-transfer-encoding:\s*base64/i.test(head)) raw = head + '\n\n' + Buffer.from(body, 'base64').toString('utf8');
    else if (/content-transfer-encoding:\s*quoted-printable/i.test(head)) raw = raw.replace(/=\n/g, '').replace(/=3D/g, '=');
    if (raw.toLowerCase().includes(to.toLowerCase()) && raw.includes(marker)) found.push(raw);
  }
  return found.at(-1);
}

/** A page of another site that embeds the form with the one-line snippet. */
function hostSite(port) {
  const server = http.createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!doctype html><html lang="en"><title>Shop</title><h1>Shop on port ${port}</h1>
<script src="${base}/f/${slug}/embed.js" async></script>`);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

await run('portal_flow', async (page, shot) => {
  // 1. A visitor sends the web form.
  await page.goto(`${base}/f/${slug}`);
  await shot('web-form');
  await page.getByLabel('name').fill('Petra Novak');
  await page.getByLabel('email').fill(email);
  await page.getByLabel('subject').fill('Scanner makes a <grinding> noise');
  await page.getByLabel('device').selectOption('Scanner');
  await page.getByLabel('details').fill('It started this morning.');
  await shot('web-form-filled');
  await page.getByRole('button', { name: 'Send' }).click();
  const number = (await page.locator('.case-number').innerText()).trim();
  assert.match(number, /^C-\d+$/);
  await shot('web-form-sent');

  // The notification service confirms the new case to the visitor.
  const confirmation = await eventually('the confirmation email', () => emailTo(email, number));
  assert.ok(confirmation.includes(`/portal/cases/${number}`), confirmation);

  // 2. Staff invite the contact of the new case.
  const created = await api('GET', `/cases/${number}`);
  const contactId = created.contacts[0].contact_id;
  await api('POST', '/portal-users', { contact_id: contactId });

  // 3. The invitation email, as the SMTP server received it.
  const invitation = await eventually('the invitation email', () => emailTo(email, '/portal/invitation/'));
  const link = invitation.match(/https?:\/\/\S+\/portal\/invitation\/[A-Za-z0-9_-]+/)[0];
  assert.ok(link.startsWith(base), `the link ${link} does not lead to this gateway`);
  await page.goto(link);
  assert.match(await page.locator('main').innerText(), new RegExp(email.replace(/[.+]/g, '\\$&')));
  await shot('invitation');
  await page.getByLabel('New password').fill(password);
  await page.getByLabel('The same password again').fill(password);
  await page.getByRole('button', { name: 'Set password and log in' }).click();
  await page.waitForURL(`${base}/portal/cases`);

  // 4. Log out, then in again through the login page.
  await page.getByRole('button', { name: /Log out/ }).click();
  await page.waitForURL(/\/portal\/login/);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await shot('login');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${base}/portal/cases`);
  const row = page.locator('table.case-list tbody tr', { hasText: number });
  assert.equal(await row.count(), 1);
  // The subject is text, never markup.
  assert.ok((await row.innerText()).includes('<grinding>'));
  await shot('my-cases');

  // 5. The case, and a comment on it.
  await row.getByRole('link', { name: number }).click();
  assert.ok((await page.locator('h1').innerText()).includes(number));
  await page.getByLabel('Your comment').fill('It is getting louder.');
  await page.getByRole('button', { name: 'Add comment' }).click();
  await page.locator('.success').waitFor();
  assert.ok((await page.locator('.timeline').innerText()).includes('It is getting louder.'));
  await shot('commented');

  // 6. A staff reply through the REST API shows up on the page.
  await api('POST', `/cases/${created.id}/activities`, { kind: 'note', visibility: 'public', body: 'A technician comes on Monday.' });
  await api('POST', `/cases/${created.id}/activities`, { kind: 'note', visibility: 'internal', body: 'INTERNAL: bill the visit' });
  await page.reload();
  const timeline = await page.locator('.timeline').innerText();
  assert.ok(timeline.includes('A technician comes on Monday.'), timeline);
  assert.ok(!(await page.content()).includes('bill the visit'), 'an internal note reached the page');
  await shot('staff-reply');

  // 7. Keyboard and phone.
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, 'the case page scrolls sideways on a phone');
  await shot('case-on-a-phone');
  await page.setViewportSize({ width: 1280, height: 900 });
});

// The form in an iframe: the allowed site shows it and can send it; another site cannot frame it.
const allowed = await hostSite(allowedPort);
const other = await hostSite(otherPort);
try {
  await run('web_form_embed', async (page, shot) => {
    await page.goto(`http://127.0.0.1:${allowedPort}/`);
    const frame = page.frameLocator('iframe');
    await frame.locator('h1').waitFor();
    assert.ok((await frame.locator('h1').innerText()).length > 0);
    await frame.getByLabel('name').fill('Jonas Embed');
    await frame.getByLabel('email').fill(`jonas.${Date.now()}@visitor.example`);
    await frame.getByLabel('subject').fill('Sent from the shop');
    await frame.getByLabel('device').selectOption('Printer');
    await frame.getByLabel('details').fill('Embedded.');
    await shot('embedded-form');
    await frame.getByRole('button', { name: 'Send' }).click();
    await frame.locator('.case-number').waitFor();
    assert.match(await frame.locator('.case-number').innerText(), /^C-\d+$/);
    await shot('embedded-form-sent');

    await page.goto(`http://127.0.0.1:${otherPort}/`);
    await page.locator('iframe').waitFor();
    // The browser refuses to show the form (CSP frame-ancestors): the frame
    // ends on Chromium's error page, without the form.
    const blocked = await eventually('the browser refusing to frame the form', async () => {
      const inner = page.frames().find((f) => f !== page.mainFrame());
      return inner && inner.url().startsWith('chrome-error:') ? inner : null;
    }, 10000);
    assert.equal(await blocked.locator('form.web-form').count(), 0, 'a site that is not allowed shows the form');
    await shot('blocked-on-another-site');
  }, { external: true });
} finally {
  allowed.close();
  other.close();
}
