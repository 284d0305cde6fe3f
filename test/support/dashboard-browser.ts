// The dashboard in a real browser: Debian's Chromium, headless, driven by puppeteer-core (which downloads no browser).
// One scenario for every daemon it runs against (the in-memory kernel on this machine, the real kernel in the lab):
// the page shows exactly the buses, members and gateways there are; counters move when frames flow; the trace,
// driven from the keyboard, shows a frame sent on the bus and only the ids asked for; a bus removed disappears.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { projectPath } from './helpers.js';

export const CHROMIUM = process.env.CANTAINER_CHROMIUM ?? '/usr/bin/chromium';
export const FIREFOX = process.env.CANTAINER_FIREFOX ?? '/usr/bin/firefox-esr';

/** Where screenshots go: kept by CI as artefacts. */
export const ARTIFACTS = process.env.CANTAINER_ARTIFACTS ?? projectPath('dist', 'artifacts');

export interface DashboardHost {
  readonly url: string;
  /** What the page must show: buses, their members by name, gateways as `a → b`. */
  readonly buses: readonly string[];
  readonly members: Readonly<Record<string, readonly string[]>>;
  readonly gateways: readonly string[];
  /** A bus the scenario removes (not one of the others). */
  readonly doomed: string;
  /** Puts `count` frames on bus `bus` from one of its members. */
  flood(bus: string, count: number): Promise<void>;
  /** `cantainer send BUS FRAME...` (cansend syntax). */
  send(bus: string, ...frames: string[]): Promise<void>;
  removeBus(name: string): Promise<void>;
}

/** Debian's Firefox ESR, driven over WebDriver BiDi. */
export async function launchFirefox(): Promise<Browser> {
  if (!existsSync(FIREFOX)) throw new Error(`${FIREFOX} is missing: apt-get install firefox-esr (or set CANTAINER_FIREFOX)`);
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true, timeout: 120_000, protocolTimeout: 120_000 });
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set CANTAINER_CHROMIUM)`);
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 120_000,
    protocolTimeout: 120_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions'],
  });
}

/**
 * Evaluates `expression` in the page. Code run in the page is given as text: this file is compiled without the DOM's
 * types.
 */
async function inPage<T>(page: Page, expression: string): Promise<T> {
  return (await page.evaluate(expression)) as T;
}

async function texts(page: Page, selector: string): Promise<string[]> {
  return inPage(page, `[...document.querySelectorAll(${JSON.stringify(selector)})].map((node) => (node.textContent ?? '').trim())`);
}

/** The table's rows as cell texts. */
async function rows(page: Page, table: string): Promise<string[][]> {
  return inPage(
    page,
    `[...document.querySelectorAll('#${table} tbody tr')].filter((tr) => tr.querySelector('td.empty') === null)
      .map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim()))`,
  );
}

/** The keys of the picture's parts (bus:NAME, member:BUS/ID, gateway:A/B...). */
async function pictureKeys(page: Page): Promise<string[]> {
  return inPage(page, `[...document.querySelectorAll('#picture [data-key]')].map((node) => node.getAttribute('data-key') ?? '')`);
}

/** The Frames column of a bus in the buses table. */
async function busFrames(page: Page, bus: string): Promise<number> {
  const row = (await rows(page, 'buses')).find((cells) => cells[0] === bus);
  return Number(row?.[6] ?? Number.NaN);
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface ScenarioReport {
  readonly screenshot: string;
  /** Milliseconds from the page's first request to its first live topology. */
  readonly firstPaintMs: number;
}

export async function dashboardScenario(browser: Browser, host: DashboardHost, name: string): Promise<ScenarioReport> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${String(error)}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !/EventSource|ERR_ABORTED|ERR_INCOMPLETE_CHUNKED/u.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  page.on('request', (request) => {
    // data: URLs (the empty icon) are no request to anyone.
    const url = request.url();
    if (!url.startsWith(new URL(host.url).origin) && !url.startsWith('data:')) problems.push(`request to another origin: ${url}`);
  });
  await page.setViewport({ width: 1400, height: 1000 });
  const started = Date.now();
  await page.goto(host.url, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction("document.querySelector('#status')?.dataset.state === 'live'", { timeout: 60_000 });
  await until('the first topology', async () => (await rows(page, 'buses')).length > 0, 60_000);
  const firstPaintMs = Date.now() - started;

  // Exactly what exists: buses, members by container name, gateways; in the tables and in the picture.
  assert.deepEqual((await rows(page, 'buses')).map((cells) => cells[0]).sort(), [...host.buses].sort());
  const members = (await rows(page, 'members')).map((cells) => `${cells[0] ?? ''}/${cells[1] ?? ''}`).sort();
  assert.deepEqual(
    members,
    Object.entries(host.members)
      .flatMap(([bus, names]) => names.map((member) => `${bus}/${member}`))
      .sort(),
  );
  assert.deepEqual((await rows(page, 'gateways')).map((cells) => cells[0]).sort(), [...host.gateways].sort());
  await page.waitForSelector('#picture svg');
  const keys = await pictureKeys(page);
  assert.deepEqual(keys.filter((key) => key.startsWith('bus:')).sort(), host.buses.map((bus) => `bus:${bus}`).sort());
  assert.equal(keys.filter((key) => key.startsWith('member:')).length, Object.values(host.members).flat().length);
  assert.equal(keys.filter((key) => key.startsWith('gateway:')).length, host.gateways.length);

  // Counters move when frames flow, and the page shows a rate.
  const bus = host.buses[0] ?? '';
  const before = await busFrames(page, bus);
  await host.flood(bus, 50);
  await until(`${bus}'s frames to grow by 50 from ${before}`, async () => (await busFrames(page, bus)) >= before + 50);
  const rate = await texts(page, `#picture [data-live="bus:${bus}"]`);
  assert.match(rate[0] ?? '', /frames\/s/u);

  // The trace, from the keyboard: the bus chosen, an id filter typed, Enter on Start.
  await page.focus('#trace-bus');
  await page.select('#trace-bus', bus);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate('document.activeElement?.id'), 'trace-filter');
  await page.keyboard.type('123');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate('document.activeElement?.id'), 'trace-toggle');
  await page.keyboard.press('Enter');
  await page.waitForFunction("document.querySelector('#trace-toggle')?.getAttribute('aria-pressed') === 'true'");
  // The stream opens before frames are sent: give it a moment to reach the daemon.
  await until('the trace to open', async () => (await texts(page, '#trace-status'))[0]?.startsWith('tracing') === true);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await host.send(bus, '456#0102', '123#DEADBEEF');
  const line = new RegExp(`^\\(\\d{10}\\.\\d{6}\\) {2}${bus} {2}123 {3}\\[4\\] {2}DE AD BE EF$`, 'mu');
  await until('the frame sent to show in the trace', async () => line.test((await texts(page, '#trace'))[0] ?? ''));
  const traced = (await texts(page, '#trace'))[0] ?? '';
  assert.doesNotMatch(traced, / 456 /u, 'the filter lets 0x456 through');
  const screenshot: `${string}.png` = join(ARTIFACTS, `dashboard-${name}.png`) as `${string}.png`;
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });

  // Paused, it shows no more.
  await page.click('#trace-toggle');
  await page.waitForFunction("document.querySelector('#trace-status')?.textContent === 'paused'");
  await host.send(bus, '123#CAFE');
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.doesNotMatch((await texts(page, '#trace'))[0] ?? '', /CA FE/u);

  // A bus removed disappears, from the tables and the picture, and the event log says so.
  await host.removeBus(host.doomed);
  await until(`${host.doomed} to disappear`, async () => !(await rows(page, 'buses')).some((cells) => cells[0] === host.doomed));
  await until(`${host.doomed} to leave the picture`, async () => !(await pictureKeys(page)).includes(`bus:${host.doomed}`));
  await until('the event log to tell it', async () =>
    (await texts(page, '#events li')).some((text) => text.includes('bus-removed') && text.includes(`bus=${host.doomed}`)),
  );
  assert.deepEqual(problems, []);
  await page.close();
  return { screenshot, firstPaintMs };
}
