import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startTsWorker } from '../../server/src/tsWorker.ts';
import type { StreamState } from '../../server/src/protocol/messages.ts';
import type { BotPlan, BotReport, SteerSample } from './BotFleet.ts';
import type { FleetCommand } from './botWorker.ts';
import { backgroundOf } from './palette.ts';
import { metric, summary, type Summary } from './stats.ts';

export interface LoadTestOptions {
  url: string;
  streams: number;
  /** Viewers per stream (the most, in a ramp). */
  viewers: number;
  /** Steerers in all, spread over the streams; each also watches. */
  steerers: number;
  seconds: number;
  /** Viewers added per second; with a ramp, the test stops once delivery breaks. */
  ramp: number | undefined;
  whep: boolean;
  workers: number;
  /** One bot in this many decodes its video and checks its colours. */
  decodeEvery: number;
  steerEveryMs: number;
  /** Joins per second when not ramping; keep it within the server's --joins-per-second. */
  joinRate: number;
  /** Delivery below this for 3 s ends a ramp. */
  rampFloor: number;
  onProgress?: (line: string) => void;
}

export interface TimelinePoint {
  t: number;
  viewers: number;
  /** Frames a second per playing bot over the last interval. */
  fps: number;
  delivered: number;
  promptToPixelP50: number | null;
  promptToPixelP95: number | null;
  serverCpuCores: number | null;
  serverRssMb: number | null;
}

export interface LoadTestResult {
  url: string;
  streams: string[];
  refusedStreams: number;
  plannedBots: number;
  bots: { joined: number; failed: number; failures: Record<string, number> };
  seconds: number;
  delivered: number | null;
  framesReceived: number;
  framesExpected: number;
  joinMs: Summary;
  firstFrameMs: Summary;
  firstKeyframeMs: Summary;
  freezes: number;
  jitterMs: Summary;
  nacksSent: number;
  plisSent: number;
  bitrateKbps: Summary;
  audioPackets: number;
  steers: { sent: number; acked: number; errors: number };
  ackMs: Summary;
  promptToPixelMs: Summary;
  colourCheck: { frames: number; matched: number; fraction: number | null };
  serverCpu: { meanCores: number | null; maxCores: number | null };
  serverRssMb: { max: number | null };
  serverRtf: { min: number | null };
  serverFramesSent: number | null;
  botCpu: { meanCores: number };
  capacity?: { viewers: number; delivered: number } | undefined;
  /** Why the test ended early, when the server went away. */
  serverGone?: string;
  timeline: TimelinePoint[];
}

/** Prompts for the load's streams and edits: every one names its background, for the colour check. */
export const LOAD_PROMPTS = [
  'a large red circle moving left on a blue background',
  'a small yellow square bouncing on a black background',
  'a large white triangle moving up on a purple background',
  'a large orange circle standing still on a green background',
  'a small cyan square moving right on a gray background',
];

interface Tracked {
  report: BotReport;
  playingSince?: number;
}

/**
 * Runs bots against a server: creates the streams, joins viewers and steerers from worker
 * threads, reads the server's /metrics, and sums it all up. Bots that fail, vanish, or are
 * refused are counted as such; a server that goes away ends the test with what was measured.
 */
export class LoadTest {
  readonly #o: LoadTestOptions;
  readonly #workers: Worker[] = [];
  readonly #bots = new Map<number, Tracked>();
  readonly #steers: SteerSample[] = [];
  readonly #colours = new Map<string, [number, string][]>();
  readonly #timeline: TimelinePoint[] = [];
  readonly #cpu: number[] = [];
  readonly #rss: number[] = [];
  readonly #rtf: number[] = [];
  #serverFramesSent: number | null = null;
  #serverGone: string | undefined;

  constructor(options: LoadTestOptions) {
    this.#o = options;
  }

  async run(): Promise<LoadTestResult> {
    const o = this.#o;
    const health = await fetch(new URL('/healthz', o.url)).catch((err: unknown) => err as Error);
    if (health instanceof Error || !health.ok) throw new Error(`no livegen server at ${o.url}: ${health instanceof Error ? health.message : health.status}`);
    const { streams, refused } = await this.#createStreams();
    if (streams.length === 0) throw new Error(`the server refused every stream (${refused} refused)`);
    for (let i = 0; i < o.workers; i++) this.#workers.push(startTsWorker(new URL('./botWorker.ts', import.meta.url), { url: o.url }));
    const plans = this.#plan(streams);
    const started = Date.now();
    const cpuStart = process.cpuUsage();
    const rate = o.ramp ?? o.joinRate;
    let next = 0;
    let lastCpu: { t: number; s: number } | undefined;
    let badSeconds = 0;
    let capacity: { viewers: number; delivered: number } | undefined;
    let previous = new Map<number, number>();
    while (Date.now() - started < o.seconds * 1000 && !this.#serverGone) {
      const due = Math.min(plans.length, Math.floor(((Date.now() - started) / 1000 + 1) * rate));
      if (due > next) this.#add(plans.slice(next, due));
      next = Math.max(next, due);
      await sleep(1000);
      await this.#collect();
      const t = (Date.now() - started) / 1000;
      const m = await this.#readMetrics();
      let cores: number | null = null;
      if (m.cpu !== undefined) {
        if (lastCpu) cores = (m.cpu - lastCpu.s) / (t - lastCpu.t);
        lastCpu = { t, s: m.cpu };
      }
      if (cores !== null) this.#cpu.push(cores);
      const point = this.#point(t, previous, cores, m.rss);
      previous = new Map([...this.#bots].map(([id, b]) => [id, b.report.frames]));
      this.#timeline.push(point);
      o.onProgress?.(progressLine(point, plans.length));
      if (o.ramp !== undefined && point.viewers > 0) {
        // Bots need a moment to settle after joining; judge the window once they have.
        if (point.delivered < o.rampFloor) badSeconds++;
        else {
          badSeconds = 0;
          capacity = { viewers: point.viewers, delivered: point.delivered };
        }
        if (badSeconds >= 3) break;
      }
    }
    const botCpu = process.cpuUsage(cpuStart);
    const elapsed = (Date.now() - started) / 1000;
    const states = await this.#finish(streams);
    return this.#result(streams, refused, plans.length, elapsed, states, (botCpu.user + botCpu.system) / 1e6 / elapsed, o.ramp !== undefined ? (capacity ?? { viewers: 0, delivered: 0 }) : undefined);
  }

  async #createStreams(): Promise<{ streams: { id: string; steerToken: string }[]; refused: number }> {
    const streams: { id: string; steerToken: string }[] = [];
    let refused = 0;
    for (let i = 0; i < this.#o.streams; i++) {
      const res = await fetch(new URL('/api/streams', this.#o.url), {
        method: 'POST',
        body: JSON.stringify({ prompt: LOAD_PROMPTS[i % LOAD_PROMPTS.length], seed: i }),
      });
      if (res.status === 201) streams.push((await res.json()) as { id: string; steerToken: string });
      else refused++;
    }
    return { streams, refused };
  }

  #plan(streams: { id: string; steerToken: string }[]): BotPlan[] {
    const o = this.#o;
    const plans: BotPlan[] = [];
    let id = 0;
    // Interleave streams so that a ramp grows them all together.
    for (let v = 0; v < o.viewers; v++) {
      for (const s of streams) {
        plans.push({ id, streamId: s.id, via: o.whep ? 'whep' : 'ws', decode: id % o.decodeEvery === 0, steer: undefined });
        id++;
      }
    }
    for (let k = 0; k < o.steerers; k++) {
      const s = streams[k % streams.length];
      if (!s) continue;
      const prompts = LOAD_PROMPTS.slice(k % LOAD_PROMPTS.length).concat(LOAD_PROMPTS.slice(0, k % LOAD_PROMPTS.length)).slice(1);
      plans.splice(k, 0, { id: id++, streamId: s.id, via: 'ws', decode: true, steer: { token: s.steerToken, everyMs: o.steerEveryMs, prompts } });
    }
    return plans;
  }

  #add(plans: BotPlan[]): void {
    for (const plan of plans) this.#workers[plan.id % this.#workers.length]?.postMessage({ type: 'add', plans: [plan] } satisfies FleetCommand);
  }

  async #collect(command: FleetCommand = { type: 'report' }): Promise<void> {
    const replies = await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<BotReport[]>((resolve) => {
            const timer = setTimeout(() => resolve([]), 5000);
            w.once('message', (m: { bots: BotReport[] }) => {
              clearTimeout(timer);
              resolve(m.bots);
            });
            w.postMessage(command);
          }),
      ),
    );
    for (const report of replies.flat()) {
      const tracked = this.#bots.get(report.id) ?? { report };
      if (report.state === 'playing' && tracked.playingSince === undefined) tracked.playingSince = Date.now();
      tracked.report = report;
      this.#bots.set(report.id, tracked);
      this.#steers.push(...report.steers);
      const list = this.#colours.get(report.streamId) ?? [];
      list.push(...report.colours);
      this.#colours.set(report.streamId, list);
    }
  }

  async #readMetrics(): Promise<{ cpu?: number; rss?: number }> {
    try {
      const text = await (await fetch(new URL('/metrics', this.#o.url), { signal: AbortSignal.timeout(2000) })).text();
      const rss = metric(text, 'process_resident_memory_bytes');
      const rtf = metric(text, 'livegen_realtime_factor');
      if (rss !== undefined) this.#rss.push(rss / 2 ** 20);
      if (rtf !== undefined && Number.isFinite(rtf)) this.#rtf.push(rtf);
      this.#serverFramesSent = metric(text, 'livegen_frames_sent_total') ?? this.#serverFramesSent;
      const cpu = metric(text, 'process_cpu_seconds_total');
      return { ...(cpu !== undefined ? { cpu } : {}), ...(rss !== undefined ? { rss: rss / 2 ** 20 } : {}) };
    } catch (err) {
      this.#serverGone = `the server stopped answering: ${(err as Error).message}`;
      return {};
    }
  }

  #point(t: number, previous: Map<number, number>, cores: number | null, rss: number | undefined): TimelinePoint {
    const playing = [...this.#bots.values()].filter((b) => b.report.state === 'playing');
    let got = 0;
    let expected = 0;
    const dt = this.#timeline.length ? t - (this.#timeline.at(-1)?.t ?? 0) : t;
    // Judge each stream's bots against the frames its best-served bot received in the window.
    const best = new Map<string, number>();
    for (const b of playing) {
      const delta = b.report.frames - (previous.get(b.report.id) ?? b.report.frames);
      best.set(b.report.streamId, Math.max(best.get(b.report.streamId) ?? 0, delta));
    }
    for (const b of playing) {
      if (!previous.has(b.report.id)) continue;
      got += b.report.frames - (previous.get(b.report.id) ?? 0);
      expected += best.get(b.report.streamId) ?? 0;
    }
    const recent = this.#steers.filter((s) => s.pixelMs !== undefined && s.sentAt >= Date.now() - 5000).map((s) => s.pixelMs ?? 0);
    const p = summary(recent);
    return {
      t: Math.round(t * 10) / 10,
      viewers: playing.length,
      fps: playing.length && dt > 0 ? Math.round((got / playing.length / dt) * 10) / 10 : 0,
      delivered: expected ? got / expected : 1,
      promptToPixelP50: p.p50,
      promptToPixelP95: p.p95,
      serverCpuCores: cores === null ? null : Math.round(cores * 100) / 100,
      serverRssMb: rss === undefined ? null : Math.round(rss),
    };
  }

  async #finish(streams: { id: string; steerToken: string }[]): Promise<Map<string, StreamState>> {
    await this.#collect({ type: 'stop' });
    await Promise.all(this.#workers.map((w) => w.terminate()));
    const states = new Map<string, StreamState>();
    for (const s of streams) {
      try {
        const res = await fetch(new URL(`/api/streams/${s.id}`, this.#o.url));
        if (res.ok) states.set(s.id, (await res.json()) as StreamState);
        await fetch(new URL(`/api/streams/${s.id}`, this.#o.url), { method: 'DELETE', headers: { authorization: `Bearer ${s.steerToken}` } });
      } catch {
        // The server is gone; what was measured stands.
      }
    }
    return states;
  }

  #result(streams: { id: string }[], refused: number, planned: number, seconds: number, states: Map<string, StreamState>, botCores: number, capacity: LoadTestResult['capacity']): LoadTestResult {
    const reports = [...this.#bots.values()].map((b) => b.report);
    const joined = reports.filter((r) => r.stats.joinMs !== undefined && r.firstIndex !== undefined);
    const failures: Record<string, number> = {};
    for (const r of reports.filter((r) => r.error)) failures[r.errorCode ?? r.error ?? 'unknown'] = (failures[r.errorCode ?? r.error ?? 'unknown'] ?? 0) + 1;
    if (this.#serverGone) failures['server gone'] = reports.filter((r) => r.state === 'playing').length;
    const lastIndex = new Map<string, number>();
    for (const r of joined) lastIndex.set(r.streamId, Math.max(lastIndex.get(r.streamId) ?? 0, r.lastIndex ?? 0));
    let received = 0;
    let expected = 0;
    for (const r of joined) {
      received += r.frames;
      expected += (lastIndex.get(r.streamId) ?? 0) - (r.firstIndex ?? 0) + 1;
    }
    const colour = this.#colourCheck(states);
    const num = (f: (r: BotReport) => number | undefined) => joined.map(f).filter((v): v is number => v !== undefined);
    const cpu = this.#cpu;
    return {
      url: this.#o.url,
      streams: streams.map((s) => s.id),
      refusedStreams: refused,
      plannedBots: planned,
      bots: { joined: joined.length, failed: reports.filter((r) => r.state === 'failed').length, failures },
      seconds: Math.round(seconds * 10) / 10,
      delivered: expected ? Math.round((received / expected) * 10_000) / 10_000 : null,
      framesReceived: received,
      framesExpected: expected,
      joinMs: summary(num((r) => r.stats.joinMs)),
      firstFrameMs: summary(num((r) => r.stats.firstFrameMs)),
      firstKeyframeMs: summary(num((r) => r.stats.firstKeyframeMs)),
      freezes: joined.reduce((n, r) => n + r.stats.freezes, 0),
      jitterMs: summary(num((r) => r.stats.jitterMs)),
      nacksSent: joined.reduce((n, r) => n + r.stats.nacksSent, 0),
      plisSent: joined.reduce((n, r) => n + r.stats.plisSent, 0),
      bitrateKbps: summary(num((r) => (r.stats.bytes * 8) / 1000 / seconds)),
      audioPackets: joined.reduce((n, r) => n + r.stats.audioPackets, 0),
      steers: { sent: this.#steers.length, acked: this.#steers.filter((s) => s.ackMs !== undefined).length, errors: this.#steers.filter((s) => s.error).length },
      ackMs: summary(this.#steers.flatMap((s) => (s.ackMs === undefined ? [] : [s.ackMs]))),
      promptToPixelMs: summary(this.#steers.flatMap((s) => (s.pixelMs === undefined ? [] : [s.pixelMs]))),
      colourCheck: colour,
      serverCpu: { meanCores: cpu.length ? round2(cpu.reduce((a, b) => a + b, 0) / cpu.length) : null, maxCores: cpu.length ? round2(Math.max(...cpu)) : null },
      serverRssMb: { max: this.#rss.length ? Math.round(Math.max(...this.#rss)) : null },
      serverRtf: { min: this.#rtf.length ? round2(Math.min(...this.#rtf)) : null },
      serverFramesSent: this.#serverFramesSent,
      botCpu: { meanCores: round2(botCores) },
      ...(capacity ? { capacity } : {}),
      timeline: this.#timeline,
      ...(this.#serverGone ? { serverGone: this.#serverGone } : {}),
    };
  }

  /** Decoded frames whose background is the colour their governing prompt names; two latent frames after each edit are a transition and not judged. */
  #colourCheck(states: Map<string, StreamState>): LoadTestResult['colourCheck'] {
    let frames = 0;
    let matched = 0;
    for (const [streamId, samples] of this.#colours) {
      const state = states.get(streamId);
      if (!state) continue;
      const fpl = state.timing.framesPerLatent;
      for (const [index, colour] of samples) {
        const entry = [...state.prompts].reverse().find((p) => p.effectiveFrom * fpl <= index);
        const want = entry && backgroundOf(entry.text);
        if (!entry || !want || (entry.id > 0 && index < (entry.effectiveFrom + 2) * fpl)) continue;
        frames++;
        if (colour === want) matched++;
      }
    }
    return { frames, matched, fraction: frames ? Math.round((matched / frames) * 1000) / 1000 : null };
  }
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function progressLine(p: TimelinePoint, planned: number): string {
  const lat = p.promptToPixelP50 === null ? '-' : `${Math.round(p.promptToPixelP50)} ms`;
  const cpu = p.serverCpuCores === null ? '-' : p.serverCpuCores.toFixed(2);
  return `t=${p.t.toFixed(0)}s  playing ${p.viewers}/${planned}  delivered ${(p.delivered * 100).toFixed(1)}%  ${p.fps} fps/bot  prompt-to-pixel p50 ${lat}  server cpu ${cpu} cores, rss ${p.serverRssMb ?? '-'} MB`;
}

/** Workers for the bots: about 25 bots each, at most one per core. */
export function defaultWorkers(bots: number): number {
  return Math.max(1, Math.min(os.cpus().length, Math.ceil(bots / 25)));
}
