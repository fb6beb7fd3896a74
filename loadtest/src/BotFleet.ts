import { SignalingClient, SignalingError } from './SignalingClient.ts';
import { ViewerBot, type BotStats, type ReceivedFrame } from './ViewerBot.ts';
import { borderColour, nearestColour } from './palette.ts';

// An edit whose frame has not shown after this long is reported as it stands.
const STEER_GIVE_UP_MS = 10_000;

/** One bot to run: a viewer, and a steerer too when `steer` is given. */
export interface BotPlan {
  id: number;
  streamId: string;
  via: 'ws' | 'whep';
  viewToken?: string | undefined;
  /** Decode the video and report each frame's background colour. */
  decode: boolean;
  steer?: { token: string; everyMs: number; prompts: string[] } | undefined;
}

export interface SteerSample {
  sentAt: number;
  ackMs?: number;
  effectiveFrame?: number;
  /** Until the first frame the edit governs arrives at this bot. */
  pixelMs?: number;
  error?: string;
}

export interface BotReport {
  id: number;
  streamId: string;
  state: 'joining' | 'playing' | 'failed' | 'left';
  error?: string;
  errorCode?: string;
  stats: BotStats;
  firstIndex?: number;
  lastIndex?: number;
  frames: number;
  lastFrameAt?: number;
  /** Background colours of decoded frames since the last report: [frame index, colour]. */
  colours: [number, string][];
  steers: SteerSample[];
}

/**
 * The bots of one process or worker thread: it joins them, steers for the steerers, and keeps
 * each one's report. A bot that fails to join or loses its peer is reported, never thrown.
 */
export class BotFleet {
  readonly #url: string;
  readonly #bots = new Map<number, { plan: BotPlan; bot?: ViewerBot; signaling?: SignalingClient; report: BotReport; timer?: NodeJS.Timeout }>();

  constructor(url: string) {
    this.#url = url;
  }

  add(plan: BotPlan): void {
    const report: BotReport = { id: plan.id, streamId: plan.streamId, state: 'joining', stats: emptyStats(), frames: 0, colours: [], steers: [] };
    const entry: { plan: BotPlan; bot?: ViewerBot; signaling?: SignalingClient; report: BotReport; timer?: NodeJS.Timeout } = { plan, report };
    this.#bots.set(plan.id, entry);
    void this.#join(entry);
  }

  /** Every bot's report; colours, and steers once settled, are handed over once. */
  take(): BotReport[] {
    const now = Date.now();
    return [...this.#bots.values()].map(({ bot, report }) => {
      const settled = report.steers.filter((s) => s.pixelMs !== undefined || s.error !== undefined || now - s.sentAt > STEER_GIVE_UP_MS);
      const out = { ...report, stats: { ...(bot?.stats ?? report.stats) }, steers: settled };
      report.colours = [];
      report.steers = report.steers.filter((s) => !settled.includes(s));
      return out;
    });
  }

  /** Makes one bot vanish without leaving, as a crashed viewer would. */
  kill(id: number): void {
    const entry = this.#bots.get(id);
    if (!entry) return;
    clearInterval(entry.timer);
    entry.report.state = 'failed';
    entry.report.error = 'killed';
    entry.signaling?.close();
    void entry.bot?.close();
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#bots.values()].map(async (e) => {
        clearInterval(e.timer);
        if (e.report.state === 'playing') e.report.state = 'left';
        await e.bot?.close();
        e.signaling?.close();
      }),
    );
  }

  async #join(entry: { plan: BotPlan; bot?: ViewerBot; signaling?: SignalingClient; report: BotReport; timer?: NodeJS.Timeout }): Promise<void> {
    const { plan, report } = entry;
    const pending: SteerSample[] = [];
    const onFrame = (f: ReceivedFrame) => {
      report.frames++;
      report.firstIndex ??= f.index;
      report.lastIndex = Math.max(report.lastIndex ?? f.index, f.index);
      report.lastFrameAt = Date.now();
      if (f.rgb && f.width && f.height) report.colours.push([f.index, nearestColour(borderColour(f.rgb, f.width, f.height))]);
      for (const s of pending) {
        if (s.pixelMs === undefined && s.effectiveFrame !== undefined && f.index >= s.effectiveFrame) s.pixelMs = Date.now() - s.sentAt;
      }
    };
    try {
      if (plan.steer || plan.via === 'ws') entry.signaling = await SignalingClient.connect(this.#url);
      entry.bot = await ViewerBot.join({
        url: this.#url,
        streamId: plan.streamId,
        via: plan.via,
        viewToken: plan.viewToken,
        decode: plan.decode,
        onFrame,
        ...(entry.signaling ? { signaling: entry.signaling } : {}),
      });
      await entry.bot.connected();
      report.state = 'playing';
      entry.signaling?.onMessage((m) => {
        if (m.type === 'ended' && m.streamId === plan.streamId) {
          report.state = 'failed';
          report.error = `stream ${m.status}: ${m.reason}`;
        }
      });
    } catch (err) {
      report.state = 'failed';
      report.error = (err as Error).message;
      if (err instanceof SignalingError) report.errorCode = err.code;
      else report.errorCode = /\b503\b/.test(report.error) ? 'LG_ERR_CAPACITY' : /\b429\b/.test(report.error) ? 'LG_ERR_RATE_LIMITED' : 'join failed';
      entry.signaling?.close();
      return;
    }
    const steer = plan.steer;
    const signaling = entry.signaling;
    if (!steer || !signaling) return;
    let turn = 0;
    entry.timer = setInterval(() => {
      const prompt = steer.prompts[turn++ % steer.prompts.length] ?? '';
      const sample: SteerSample = { sentAt: Date.now() };
      pending.push(sample);
      report.steers.push(sample);
      signaling.request({ type: 'steer', streamId: plan.streamId, steerToken: steer.token, prompt }, 'steered').then(
        (ack) => {
          sample.ackMs = Date.now() - sample.sentAt;
          sample.effectiveFrame = ack.effectiveFrame;
        },
        (err: unknown) => {
          sample.error = (err as Error).message;
        },
      );
      while (pending.length > 32) pending.shift();
    }, steer.everyMs);
  }
}

function emptyStats(): BotStats {
  return {
    joinMs: undefined, firstKeyframeMs: undefined, firstFrameMs: undefined, framesReceived: 0, framesDecoded: 0, decodeErrors: 0,
    keyframes: 0, freezes: 0, maxGapMs: 0, videoPackets: 0, audioPackets: 0, bytes: 0, nacksSent: 0, plisSent: 0, jitterMs: 0,
  };
}
