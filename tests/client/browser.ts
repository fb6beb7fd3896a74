import { chromium, type Browser, type Page } from 'playwright-core';
import { borderColour, type Rgb } from '../live/helpers.ts';

/** Debian's Chromium (scripts/setup.sh installs it); nothing here downloads a browser. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--autoplay-policy=no-user-gesture-required',
      // Host candidates as IP addresses, not mDNS names the server cannot resolve.
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ],
  });
}

/** Collects what the page logs as an error and what it throws, to assert none. */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  return errors;
}

// Page-side code is a string: tsx compiles test functions with esbuild helpers (__name) that do
// not exist in the page.
const GRAB_FRAME = `(() => {
  const video = document.querySelector('video');
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0);
  const rgba = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let bytes = '';
  for (let i = 0; i < rgba.length; i += 4) bytes += String.fromCharCode(rgba[i], rgba[i + 1], rgba[i + 2]);
  return { frame: Number(document.querySelector('.stage').dataset.frame), width: canvas.width, height: canvas.height, rgb: btoa(bytes) };
})()`;

/** The video's current picture drawn to a canvas: its frame index and background (border) colour. */
export async function grabFrame(page: Page): Promise<{ frame: number; colour: Rgb }> {
  const { frame, width, height, rgb } = await page.evaluate<{ frame: number; width: number; height: number; rgb: string }>(GRAB_FRAME);
  if (width === 0 || height === 0) throw new Error('the video has no picture yet');
  return { frame, colour: borderColour(Buffer.from(rgb, 'base64'), width, height) };
}

/** Frames the page's peer has decoded so far (from getStats, shown by the page). */
export async function framesDecoded(page: Page): Promise<number> {
  return Number(await page.locator('.stats').getAttribute('data-frames-decoded'));
}
