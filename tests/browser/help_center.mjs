// The help center and deflection in a real browser: a visitor finds an
// article by search, reads it and answers "did this help?"; a customer
// logged in to the portal starts a new case and, while typing the subject,
// gets the article suggested live (the page's script). Every page passes
// the accessibility check (labels, landmarks, contrast).
//
// Extra environment (set by the Rust test): DOCKET_ARTICLE_TITLE (a public
// article about a printer jam), DOCKET_CUSTOMER_EMAIL and DOCKET_PASSWORD.
import assert from 'node:assert/strict';
import { base, checkAccessibility, run } from './harness.mjs';

const title = process.env.DOCKET_ARTICLE_TITLE;
const email = process.env.DOCKET_CUSTOMER_EMAIL;
const password = process.env.DOCKET_PASSWORD;
assert.ok(title && email && password, 'start this script through `cargo test --test gateway browser`');

await run('help_center', async (page, shot) => {
  // 1. The help center's home: topics and articles.
  await page.goto(`${base}/help`);
  await checkAccessibility(page, '/help');
  assert.ok(await page.getByRole('link', { name: title }).isVisible(), 'the article is listed');
  await shot('home');

  // 2. Search, with a typo.
  await page.getByLabel('Search the help center').fill('pritner jam');
  await page.getByLabel('Search the help center').press('Enter');
  await page.waitForURL(/\/help\/search\?q=/);
  await checkAccessibility(page, 'the search results');
  assert.ok(await page.getByRole('link', { name: title }).isVisible(), 'a typo still finds the article');
  await shot('search');

  // 3. The article, and "did this help?".
  await page.getByRole('link', { name: title }).click();
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
  await checkAccessibility(page, 'the article');
  assert.equal(await page.locator('script').count(), 0, 'an article page runs no script, even one its author wrote');
  await page.getByRole('button', { name: 'Yes, it helped' }).click();
  await page.getByText('Your answer helps us improve this article.').waitFor();
  await shot('feedback');

  // 4. A customer opening a case gets the article suggested while typing.
  await page.goto(`${base}/portal/login`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/portal\/cases/);
  await page.goto(`${base}/portal/cases/new`);
  await checkAccessibility(page, 'the new-case page');
  await page.getByLabel('Subject').pressSequentially('paper jam', { delay: 40 });
  const suggestion = page.locator('#suggestions').getByRole('link', { name: title });
  await suggestion.waitFor();
  assert.match(await suggestion.getAttribute('href'), /\?ds=[A-Za-z0-9_-]+&from=portal$/);
  await checkAccessibility(page, 'the new-case page with suggestions');
  await shot('suggested');

  // The check finds what it looks for: faint text and a control without a label.
  await page.evaluate(() => {
    const faint = document.createElement('p');
    faint.textContent = 'faint text';
    faint.style.color = '#dddddd';
    document.querySelector('main').append(faint, document.createElement('input'));
  });
  await assert.rejects(checkAccessibility(page, 'a page spoiled on purpose'), (error) =>
    error.message.includes('"faint text" has contrast') && error.message.includes('input has no label'));
});
