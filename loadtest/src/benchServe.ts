import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { intFlag, positiveFlag } from '../../server/src/commands/args.ts';
import { SignalingClient } from './SignalingClient.ts';
import { ViewerBot } from './ViewerBot.ts';
import { LOAD_PROMPTS, LoadTest } from './LoadTest.ts';
import { metric, summary } from './stats.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/livegen.js');

/** Published per-core capacities of media servers, for scale (their own benchmarks, other hardware). */
const ANCHORS = { mediasoupConsumersPerCore: 500, srsPlayersPerCore: '1000-2000', janusViewersPerCore: 350 };

/**
 * `livegen bench-serve`: the live server's latencies and capacity. It runs a server of its own
 * in a child process (so the bots' CPU is not the server's) and measures the time to the first
 * frame of a new stream and of a viewer joining a live one, prompt-to-pixel latency, and, with a
 * ramp of viewers on one stream, the server CPU each viewer costs and how many it holds at 99%
 * delivery.
 */
export async function benchServeCommand(args: string[], defaultModel: string): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: 'string', default: defaultModel },
      joins: { type: 'string', default: '5' },
      edits: { type: 'string', default: '10' },
      'max-viewers': { type: 'string', default: '60' },
      ramp: { type: 'string', default: '2' },
      json: { type: 'string' },
      html: { type: 'string' },
    },
  });
  const joins = intFlag(values.joins, '--joins', 1, 100);
  const edits = intFlag(values.edits, '--edits', 1, 1000);
  const maxViewers = intFlag(values['max-viewers'], '--max-viewers', 1, 10_000);
  const ramp = positiveFlag(values.ramp, '--ramp');
  const server = await startServer(values.model, maxViewers + 10);
  try {
    const url = server.url;
    const log = (s: string) => process.stderr.write(`bench-serve: ${s}\n`);

    log(`first frame of a new stream, ${joins} times`);
    const newStream: number[] = [];
    for (let i = 0; i < joins; i++) {
      const t0 = performance.now();
      const created = (await (await fetch(`${url}/api/streams`, { method: 'POST', body: JSON.stringify({ prompt: LOAD_PROMPTS[i % LOAD_PROMPTS.length], seed: i }) })).json()) as { id: string; steerToken: string };
      const first = await firstFrame(url, created.id, t0);
      newStream.push(first);
      await fetch(`${url}/api/streams/${created.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${created.steerToken}` } });
    }

    log(`first frame of a viewer joining a live stream, ${joins} times; ${edits} prompt edits`);
    const live = (await (await fetch(`${url}/api/streams`, { method: 'POST', body: JSON.stringify({ prompt: LOAD_PROMPTS[0], seed: 1 }) })).json()) as { id: string; steerToken: string };
    await firstFrame(url, live.id, performance.now());
    const joinLive: number[] = [];
    for (let i = 0; i < joins; i++) joinLive.push(await firstFrame(url, live.id, performance.now()));
    const pixel = await promptToPixel(url, live.id, live.steerToken, edits);
    await fetch(`${url}/api/streams/${live.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${live.steerToken}` } });

    log('server CPU with one stream and no viewers (10 s)');
    const idle = (await (await fetch(`${url}/api/streams`, { method: 'POST', body: JSON.stringify({ prompt: LOAD_PROMPTS[1], seed: 2 }) })).json()) as { id: string; steerToken: string };
    const base = await cpuOver(url, 10_000);
    await fetch(`${url}/api/streams/${idle.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${idle.steerToken}` } });

    log(`ramp: ${ramp} viewers a second on one stream, up to ${maxViewers}, until delivery drops under 99%`);
    const result = await new LoadTest({
      url, streams: 1, viewers: maxViewers, steerers: 0, seconds: maxViewers / ramp + 10, ramp, whep: true, workers: 2,
      decodeEvery: 1_000_000, steerEveryMs: 1000, joinRate: ramp, rampFloor: 0.99,
      onProgress: (line) => process.stderr.write(`${line}\n`),
    }).run();
    const cap = result.capacity ?? { viewers: 0, delivered: 0 };
    const atCap = result.timeline.filter((p) => p.viewers === cap.viewers && p.serverCpuCores !== null).map((p) => p.serverCpuCores ?? 0);
    const cpuAtCap = atCap.length ? atCap.reduce((a, b) => a + b, 0) / atCap.length : null;
    const perViewer = cpuAtCap !== null && cap.viewers > 0 ? Math.max(0, cpuAtCap - base) / cap.viewers : null;
    const out = {
      model: values.model,
      firstFrameNewStreamMs: summary(newStream),
      firstFrameJoinLiveMs: summary(joinLive),
      promptToPixelMs: summary(pixel),
      serverCpuCoresOneStreamNoViewers: round(base),
      ramp: { viewersPerSecond: ramp, maxViewers, reachedViewers: Math.max(0, ...result.timeline.map((p) => p.viewers)), capacityAt99: cap, serverCpuCoresAtCapacity: cpuAtCap === null ? null : round(cpuAtCap), botCpuCores: result.botCpu.meanCores },
      serverCpuCoresPerViewer: perViewer === null ? null : Math.round(perViewer * 10_000) / 10_000,
      viewersPerCore: perViewer ? Math.round(1 / perViewer) : null,
      anchors: ANCHORS,
      note: 'server, bots and model share one 2-core box; capacityAt99 is bounded by that box, viewersPerCore extrapolates the marginal server CPU of a viewer (fan-out, SRTP, RTCP), the model excluded',
    };
    console.log(JSON.stringify(out, null, 2));
    if (values.json) await writeFile(values.json, JSON.stringify(out, null, 2) + '\n');
    if (values.html) await writeFile(values.html, (await import('./report.ts')).renderReport(result, `npx livegen bench-serve ${args.join(' ')}`));
    return 0;
  } finally {
    await server.stop();
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

async function startServer(model: string, maxViewers: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--model', model, '--max-viewers', String(maxViewers), '--joins-per-second', '100', '--edits-per-second', '10'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving at (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Milliseconds from `t0` until a new WHEP viewer of the stream has a whole frame. */
async function firstFrame(url: string, streamId: string, t0: number): Promise<number> {
  let resolve: (ms: number) => void = () => undefined;
  const got = new Promise<number>((r) => (resolve = r));
  const bot = await ViewerBot.join({ url, streamId, via: 'whep', onFrame: () => resolve(performance.now() - t0) });
  try {
    return await Promise.race([got, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no frame within 20 s')), 20_000))]);
  } finally {
    await bot.close();
  }
}

/** Edits one a second from a ws client that also watches; each timed until its first frame arrives. */
async function promptToPixel(url: string, streamId: string, steerToken: string, edits: number): Promise<number[]> {
  const signaling = await SignalingClient.connect(url);
  const waiting: { frame: number; sentAt: number; done: (ms: number) => void }[] = [];
  const bot = await ViewerBot.join({
    url, streamId, via: 'ws', signaling,
    onFrame: (f) => {
      for (const w of waiting.splice(0)) {
        if (f.index >= w.frame) w.done(performance.now() - w.sentAt);
        else waiting.push(w);
      }
    },
  });
  await bot.connected();
  const out: number[] = [];
  try {
    for (let i = 0; i < edits; i++) {
      const sentAt = performance.now();
      const ack = await signaling.request({ type: 'steer', streamId, steerToken, prompt: LOAD_PROMPTS[(i + 1) % LOAD_PROMPTS.length] ?? '' }, 'steered');
      out.push(await new Promise<number>((done) => waiting.push({ frame: ack.effectiveFrame, sentAt, done })));
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await bot.close();
    signaling.close();
  }
  return out;
}

/** The server's CPU (cores) over a window, from its /metrics. */
async function cpuOver(url: string, ms: number): Promise<number> {
  const read = async () => metric(await (await fetch(`${url}/metrics`)).text(), 'process_cpu_seconds_total') ?? 0;
  const a = await read();
  const t = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((await read()) - a) / ((performance.now() - t) / 1000);
}
