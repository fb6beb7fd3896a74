import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { LivegenServer } from '../../server/src/LivegenServer.ts';
import { BLUE, YELLOW, nearer, sleep, startServer, until, type Rgb } from '../live/helpers.ts';
import { EXAMPLE_PROMPTS } from '../../client/src/prompts.ts';
import { consoleErrors, framesDecoded, grabFrame, launchBrowser } from './browser.ts';

const BEFORE = 'a large red circle moving left on a blue background';
assert.ok(EXAMPLE_PROMPTS.includes(BEFORE));
const AFTER = 'a large red circle moving left on a yellow background';
const SCREENSHOT = path.resolve(import.meta.dirname, '../../out/artifacts/watch.png');
// As tests/live/media.test.ts: the new colour is due 8 frames after the edit's first frame. The
// model may take a few latent frames longer to repaint a background, so it has 2 s more.
const STEER_SETTLE_FRAMES = 8;
const STEER_SLACK_FRAMES = 32;

/** Waits until the page is live and has decoded frames, then checks that more arrive. */
async function assertPlays(page: Page, who: string): Promise<void> {
  await page.waitForSelector('#app[data-state="live"]', { timeout: 30_000 });
  await until(async () => (await framesDecoded(page)) > 0, 10_000, `${who}: frames decoded`);
  const first = await framesDecoded(page);
  await until(async () => (await framesDecoded(page)) >= first + 8, 10_000, `${who}: framesDecoded to grow past ${first + 8}`);
}

/** Samples the picture a few times; every sample's background must be nearer `want` than `other`. */
async function assertBackground(page: Page, want: Rgb, other: Rgb, what: string): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const { frame, colour } = await grabFrame(page);
    assert.ok(nearer(colour, want, other), `${what}: frame ${frame} has background ${colour.map(Math.round).join(',')}`);
    await sleep(250);
  }
}

describe('the browser client', () => {
  let server: LivegenServer;
  let browser: Browser;
  let owner: Page;
  let ownerErrors: string[];
  let effectiveFrame: number;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    owner = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    ownerErrors = consoleErrors(owner);
  });
  after(async () => {
    await browser.close();
    await server.close();
  });

  test('the start page creates a stream and opens its steer page, which plays the prompt\'s colours', async () => {
    await owner.goto(`${server.url}/`);
    await owner.getByRole('button', { name: EXAMPLE_PROMPTS[1], exact: true }).click();
    await owner.getByRole('button', { name: BEFORE, exact: true }).click();
    assert.equal(await owner.locator('#prompt').inputValue(), BEFORE, 'an example prompt fills the prompt box');
    await owner.fill('#seed', '7');
    await owner.press('#prompt', 'Enter');
    await owner.waitForURL(/\/s\/[\w-]+#steer=[\w-]+$/);
    await assertPlays(owner, 'owner');
    await assertBackground(owner, BLUE, YELLOW, 'the first prompt');
    assert.equal(await owner.locator('#steer-prompt').inputValue(), BEFORE, 'the edit box shows the current prompt');
    assert.match(await owner.locator('[data-stat="resolution"]').innerText(), /^256×256$/);
  });

  test('a steer from the page shows in the timeline as acknowledged, then with its measured prompt-to-pixel latency', async () => {
    await owner.fill('#steer-prompt', AFTER);
    await owner.press('#steer-prompt', 'Enter');
    const edit = owner.locator('.edit[data-mine="true"]');
    await owner.locator('.edit[data-mine="true"][data-effective-frame]').waitFor({ timeout: 10_000 });
    effectiveFrame = Number(await edit.getAttribute('data-effective-frame'));
    assert.ok(effectiveFrame > 0);
    assert.match(await edit.innerText(), new RegExp(`effective from frame ${effectiveFrame}\\b`));
    await owner.locator('.edit[data-mine="true"][data-state="shown"]').waitFor({ timeout: 15_000 });
    const latency = Number(await edit.getAttribute('data-latency-ms'));
    assert.ok(latency > 0 && latency < 10_000, `prompt-to-pixel latency ${latency} ms`);
    assert.match(await edit.innerText(), new RegExp(`on screen ${latency} ms after sending`));
    assert.ok((await grabFrame(owner)).frame >= effectiveFrame, 'the latency was measured on a frame the edit governs');
    assert.equal(await owner.locator('.edit').count(), 2, 'the first prompt and the edit');
  });

  test('after the steer the picture\'s background turns nearer the new colour than the old one', async () => {
    const due = effectiveFrame + STEER_SETTLE_FRAMES;
    await until(async () => (await grabFrame(owner)).frame >= due, 15_000, `frame ${due} on screen`);
    let last = await grabFrame(owner);
    while (!nearer(last.colour, YELLOW, BLUE)) {
      assert.ok(
        last.frame < due + STEER_SLACK_FRAMES,
        `frame ${last.frame} (the edit governs from frame ${effectiveFrame}) still has a background nearer blue than yellow: ${last.colour.map(Math.round).join(',')}`,
      );
      await sleep(100);
      last = await grabFrame(owner);
    }
    await assertBackground(owner, YELLOW, BLUE, 'after the steer');
  });

  test('the view-only link plays the same stream, without a steer box or steer link', async () => {
    const viewLink = await owner.locator('#share-view').inputValue();
    const steerLink = await owner.locator('#share-steer').inputValue();
    assert.equal(steerLink, owner.url());
    assert.ok(steerLink.startsWith(`${viewLink}#steer=`), 'the steer link is the view link plus the steer token');
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const viewer = await context.newPage();
    const viewerErrors = consoleErrors(viewer);
    await viewer.goto(viewLink);
    await assertPlays(viewer, 'view-only viewer');
    // Frame indices come from each page's RTP timestamps: two pages of one stream agree.
    const [a, b] = await Promise.all([grabFrame(owner), grabFrame(viewer)]);
    assert.ok(Math.abs(a.frame - b.frame) < 32, `the pages show frames ${a.frame} and ${b.frame}`);
    assert.equal(await viewer.locator('.prompt-now').innerText(), AFTER);
    assert.equal(await viewer.locator('.steer, #steer-prompt').count(), 0, 'no steer box without the steer token');
    assert.equal(await viewer.locator('#share-steer').count(), 0, 'no steer link to share');
    assert.equal(await viewer.locator('#share-view').inputValue(), viewLink);
    await owner.locator('[data-stat="viewers"]', { hasText: /^2$/ }).waitFor({ timeout: 5000 });
    assert.deepEqual(viewerErrors, [], 'the view-only page logged no errors');
    await context.close();
  });

  test('the watch page logs no errors; its screenshot is kept', async () => {
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await owner.screenshot({ path: SCREENSHOT });
    console.log(`watch page screenshot: ${SCREENSHOT}`);
    assert.deepEqual(ownerErrors, [], 'the steer page logged no errors');
  });
});
