import path from 'node:path';
import { DEFAULT_CONFIG, type ServerConfig } from '../../server/src/config.ts';
import { LivegenServer } from '../../server/src/LivegenServer.ts';
import { PALETTE } from '../../loadtest/src/palette.ts';
export { borderColour } from '../../loadtest/src/palette.ts';

export const MODEL_DIR = process.env.LIVEGEN_TEST_MODEL ?? path.resolve(import.meta.dirname, '../../models/default');

export type Rgb = [number, number, number];
export const BLUE: Rgb = PALETTE.blue;
export const YELLOW: Rgb = PALETTE.yellow;

/** A real server with the real model on a free port, configured for tests. */
export function startServer(overrides: Partial<ServerConfig> = {}, limits: Partial<ServerConfig['limits']> = {}): Promise<LivegenServer> {
  return LivegenServer.start({
    ...DEFAULT_CONFIG,
    host: '127.0.0.1',
    port: 0,
    modelDir: MODEL_DIR,
    ...overrides,
    limits: { ...DEFAULT_CONFIG.limits, ...limits },
  });
}

export function distance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** True when `colour` is nearer to `a` than to `b`. */
export function nearer(colour: Rgb, a: Rgb, b: Rgb): boolean {
  return distance(colour, a) < distance(colour, b);
}

export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` is true or the time is up. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
