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

/**
 * Checks what an automated look can of a page's accessibility (WCAG 2.1 AA):
 * a language, one `main` landmark and named navigation, a heading, a label
 * for every form control, alternative text for images, a name for every
 * link and button, and a contrast of 4.5:1 (3:1 for large text) between
 * each visible text and the background it sits on. Throws with the list
 * of problems found.
 */
export async function checkAccessibility(page, where) {
  const problems = await page.evaluate(() => {
    const found = [];
    const visible = (el) => {
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      return style.visibility !== 'hidden' && style.display !== 'none' && box.width > 1 && box.height > 1;
    };
    const describe = (el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className ? '.' + String(el.className).split(' ').join('.') : ''}`;
    if (!document.documentElement.lang) found.push('html has no lang');
    if (document.querySelectorAll('main').length !== 1) found.push('not exactly one main landmark');
    for (const nav of document.querySelectorAll('nav')) {
      if (!nav.getAttribute('aria-label') && !nav.getAttribute('aria-labelledby')) found.push(`${describe(nav)} has no name`);
    }
    if (!document.querySelector('h1')) found.push('no h1');
    for (const control of document.querySelectorAll('input, select, textarea')) {
      if (control.type === 'hidden' || !visible(control)) continue;
      const named = (control.labels && control.labels.length > 0) || control.getAttribute('aria-label') || control.getAttribute('aria-labelledby');
      if (!named) found.push(`${describe(control)} has no label`);
    }
    for (const image of document.querySelectorAll('img')) {
      if (!image.hasAttribute('alt')) found.push(`${describe(image)} has no alt`);
    }
    for (const named of document.querySelectorAll('a[href], button')) {
      if (visible(named) && !named.textContent.trim() && !named.getAttribute('aria-label')) found.push(`${describe(named)} has no name`);
    }
    // Contrast: colours as sRGB, the background from the nearest ancestor that paints one.
    const parse = (color) => {
      const parts = color.match(/[\d.]+/g) || [];
      return parts.map(Number);
    };
    const luminance = ([r, g, b]) => {
      const channel = (v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const background = (el) => {
      for (let at = el; at; at = at.parentElement) {
        const [r, g, b, a = 1] = parse(getComputedStyle(at).backgroundColor);
        if (a > 0) return [r * a + 255 * (1 - a), g * a + 255 * (1 - a), b * a + 255 * (1 - a)];
      }
      return [255, 255, 255];
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const checked = new Set();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || checked.has(el) || !node.textContent.trim() || !visible(el)) continue;
      // The skip link is off screen until focused; visually hidden text is for screen readers.
      if (el.closest('.skip-link, .visually-hidden, script, style')) continue;
      checked.add(el);
      const style = getComputedStyle(el);
      const [fg, bg] = [luminance(parse(style.color)), luminance(background(el))];
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) found.push(`${describe(el)} "${node.textContent.trim().slice(0, 30)}" has contrast ${ratio.toFixed(2)}:1`);
    }
    return found;
  });
  if (problems.length > 0) throw new Error(`accessibility of ${where}:\n  ${problems.join('\n  ')}`);
}
