// The browser test harness: Debian's chromium driven by playwright-core.
// A script calls `run(name, async (browser) => { ... })`; it gets helpers to
// open pages, take a screenshot of each step under
// $DOCKET_ARTIFACTS/<name>/ (kept as CI artifacts) and call the REST API.
// Any thrown error (node:assert) fails the script with a non-zero exit.
//
// Environment (set by the Rust test that starts the suite):
//   DOCKET_BASE_URL   the gateway, e.g. http://127.0.0.1:41234
//   DOCKET_TOKEN      a bearer token for the REST API
//   DOCKET_ARTIFACTS  where screenshots go
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const base = required('DOCKET_BASE_URL');
const token = required('DOCKET_TOKEN');
const artifacts = required('DOCKET_ARTIFACTS');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set: start this script through \`cargo test --test gateway browser\``);
    process.exit(2);
  }
  return value;
}

/** Calls the REST API; returns the parsed JSON answer, throws on an error status. */
export async function api(method, apiPath, body) {
  const response = await fetch(`${base}/api/v1${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${apiPath}: ${response.status} ${text}`);
  }
  return JSON.parse(text);
}

/** Polls `check` until it returns a truthy value; throws after `ms`. */
export async function eventually(what, check, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Runs one browser script: `steps(page, shot)` with a fresh browser.
 * `options.external`: the script visits other sites on purpose (a page
 * embedding a web form), so requests elsewhere are not a failure.
 */
export async function run(name, steps, options = {}) {
  const dir = path.join(artifacts, name);
  await mkdir(dir, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  let count = 0;
  const external = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // Pages must not reach anything but the gateway (no CDN, no fonts, no trackers).
    page.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('data:')) external.push(request.url());
    });
    const shot = async (step) => {
      count += 1;
      const file = path.join(dir, `${String(count).padStart(2, '0')}-${step}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`step ${count}: ${step} (${file})`);
    };
    await steps(page, shot);
    if (external.length > 0 && !options.external) throw new Error(`pages requested other sites: ${external.join(', ')}`);
    console.log(`${name}: ${count} steps passed`);
  } catch (error) {
    console.error(`${name} failed: ${error.stack || error}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
