import { EventEmitter } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { OpusPacketizer, Vp8Packetizer } from 'werift';
import type { Manifest } from '../engine/ModelManifest.ts';
import type { InferenceClient } from '../engine/InferenceClient.ts';
import { Stream } from '../engine/Stream.ts';
import type { PromptEntry } from '../engine/PromptLog.ts';
import { Vp8Encoder } from '../media/vp8.ts';
import { Soundtrack } from '../media/Soundtrack.ts';
import { OpusEncoder } from '../media/OpusEncoder.ts';
import { Viewer } from '../rtc/Viewer.ts';
import { AUDIO_CLOCK_RATE, MAX_RTP_PAYLOAD, VIDEO_CLOCK_RATE } from '../rtc/codecs.ts';
import type { ServerConfig } from '../config.ts';
import type { Metrics } from '../Metrics.ts';
import type { SteerAck, StreamState, StreamStatus, StreamTiming } from '../protocol/messages.ts';
import { BadRequestError, CapacityError, InvalidStateError } from '../errors.ts';

export interface LiveStreamOptions {
  prompt: string;
  seed: number;
  private: boolean;
}

interface QueuedFrame {
  index: number;
  rgb: Uint8Array;
}

interface LiveStreamEvents {
  prompt: [entry: PromptEntry];
  ended: [status: 'ended' | 'failed', reason: string];
}

// A viewer asking for keyframes in a loop must not turn the stream into all keyframes.
const MIN_KEYFRAME_GAP_MS = 250;

/**
 * A stream on the air: the engine's Stream paced by a playback clock. Generation runs at most
 * `lookaheadLatentFrames` ahead of playback, so the queue stays short and a steer shows soon;
 * each due frame is encoded once and its packets fanned out to every viewer. When generation
 * falls behind, the clock waits (a stall) instead of bursting frames.
 */
export class LiveStream extends EventEmitter<LiveStreamEvents> {
  readonly id = randomUUID();
  readonly steerToken = randomBytes(24).toString('base64url');
  readonly viewToken: string | undefined;
  readonly createdAt = Date.now();
  readonly timing: StreamTiming;
  readonly #stream: Stream;
  readonly #config: ServerConfig;
  readonly #metrics: Metrics;
  readonly #viewers = new Map<string, Viewer>();
  readonly #queue: QueuedFrame[] = [];
  readonly #encoder: Vp8Encoder;
  readonly #videoPacketizer = new Vp8Packetizer({ maxPayloadSize: MAX_RTP_PAYLOAD, payloadType: 96 });
  readonly #audioPacketizer = new OpusPacketizer({ maxPayloadSize: MAX_RTP_PAYLOAD, payloadType: 111 });
  readonly #soundtrack: Soundtrack | undefined;
  readonly #opus: OpusEncoder | undefined;
  readonly #latentMs: number[] = [];
  #status: StreamStatus = 'starting';
  #reason: string | undefined;
  #framesGenerated = 0;
  #framesSent = 0;
  #audioSamples = 0;
  #clockStart = 0;
  #timer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #wakeGenerator: (() => void) | undefined;
  #keyframeWanted = true;
  #lastKeyframeAt = 0;
  #sending: Promise<void> = Promise.resolve();
  readonly #pendingSteers: { frame: number; requestedAt: number }[] = [];

  constructor(client: InferenceClient, manifest: Manifest, config: ServerConfig, metrics: Metrics, options: LiveStreamOptions) {
    super();
    this.#config = config;
    this.#metrics = metrics;
    this.viewToken = options.private ? randomBytes(24).toString('base64url') : undefined;
    checkPrompt(options.prompt, config.limits.promptChars);
    this.#stream = new Stream(client, manifest, { prompt: options.prompt, seed: options.seed });
    const { width, height, fps } = manifest.video;
    const ticks = VIDEO_CLOCK_RATE / fps;
    this.timing = {
      fps,
      framesPerLatent: manifest.latent.framesPerLatent,
      width,
      height,
      rtpClockRate: VIDEO_CLOCK_RATE,
      rtpTicksPerFrame: ticks,
      rtpTimestampOfFrame0: randomBytes(4).readUInt32BE() >>> 0,
    };
    this.#encoder = new Vp8Encoder({
      width,
      height,
      fps,
      bitrateKbps: config.video.bitrateKbps,
      keyframeInterval: Math.max(1, Math.round(config.video.keyframeSeconds * fps)),
    });
    if (config.audio) {
      this.#soundtrack = new Soundtrack(width, height, fps, AUDIO_CLOCK_RATE);
      this.#opus = new OpusEncoder();
    }
    this.#armIdleTimer();
    void this.#generate();
  }

  get status(): StreamStatus {
    return this.#status;
  }

  get private(): boolean {
    return this.viewToken !== undefined;
  }

  get viewerCount(): number {
    return this.#viewers.size;
  }

  /** Video seconds generated per wall second, over the last few latent frames. */
  get rtf(): number {
    if (this.#latentMs.length === 0) return 0;
    const mean = this.#latentMs.reduce((a, b) => a + b, 0) / this.#latentMs.length;
    return (this.timing.framesPerLatent / this.timing.fps) / (mean / 1000);
  }

  get state(): StreamState {
    return {
      id: this.id,
      status: this.#status,
      ...(this.#reason ? { reason: this.#reason } : {}),
      private: this.private,
      seed: this.#stream.seed,
      createdAt: this.createdAt,
      framesGenerated: this.#framesGenerated,
      framesSent: this.#framesSent,
      viewers: this.#viewers.size,
      prompt: this.#stream.prompts.at(-1)?.text ?? '',
      prompts: [...this.#stream.prompts],
      timing: this.timing,
      rtf: Math.round(this.rtf * 100) / 100,
    };
  }

  /** The RTP timestamp of video frame k. */
  rtpTimestamp(frame: number): number {
    return (this.timing.rtpTimestampOfFrame0 + frame * this.timing.rtpTicksPerFrame) >>> 0;
  }

  /** Replaces the prompt from the first latent frame not yet started. */
  steer(prompt: string, blendFrames = 0): SteerAck {
    this.#assertLive();
    checkPrompt(prompt, this.#config.limits.promptChars);
    const entry = this.#stream.steer(prompt, undefined, blendFrames);
    const frame = entry.effectiveFrom * this.timing.framesPerLatent;
    this.#pendingSteers.push({ frame, requestedAt: performance.now() });
    this.#metrics.steers.value++;
    this.emit('prompt', entry);
    return { editId: entry.id, effectiveFrame: frame, effectiveLatentFrame: entry.effectiveFrom, rtpTimestamp: this.rtpTimestamp(frame) };
  }

  /** A new viewer peer for this stream; its media starts with a keyframe once it connects. */
  createViewer(): Viewer {
    this.#assertLive();
    if (this.#viewers.size >= this.#config.limits.viewersPerStream) {
      this.#metrics.refused.value++;
      throw new CapacityError(`stream ${this.id} has its maximum of ${this.#config.limits.viewersPerStream} viewers`, 10);
    }
    const viewer = new Viewer({
      streamId: this.id,
      audio: this.#config.audio,
      iceServers: this.#config.iceServers,
      onKeyframeRequest: () => this.requestKeyframe(),
      onClosed: (v) => this.#onViewerClosed(v),
    });
    this.#viewers.set(viewer.id, viewer);
    clearTimeout(this.#idleTimer);
    return viewer;
  }

  getViewer(id: string): Viewer | undefined {
    return this.#viewers.get(id);
  }

  /** Ends a viewer's peer; unknown ids are ignored. */
  removeViewer(id: string): void {
    this.#viewers.get(id)?.close();
  }

  #onViewerClosed(viewer: Viewer): void {
    if (!this.#viewers.delete(viewer.id)) return;
    if (this.#viewers.size === 0 && !this.#ended) this.#armIdleTimer();
  }

  /** Asks for a keyframe; requests close together share one. */
  requestKeyframe(): void {
    this.#keyframeWanted = true;
  }

  /** Ends the stream, telling its viewers why. Idempotent. */
  end(reason: string, status: 'ended' | 'failed' = 'ended'): void {
    if (this.#status === 'ended' || this.#status === 'failed') return;
    this.#status = status;
    this.#reason = reason;
    clearTimeout(this.#timer);
    clearTimeout(this.#idleTimer);
    this.#wakeGenerator?.();
    this.#stream.close();
    if (status === 'failed') this.#metrics.streamsFailed.value++;
    this.emit('ended', status, reason);
    for (const viewer of [...this.#viewers.values()]) viewer.close();
    this.#viewers.clear();
    // An encode may still be running; the encoder closes after it.
    void this.#sending.finally(() => this.#encoder.close());
  }

  #assertLive(): void {
    if (this.#status === 'ended' || this.#status === 'failed') throw new InvalidStateError(`stream ${this.id} has ${this.#status}`);
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    const seconds = this.#config.limits.idleSeconds;
    if (seconds > 0) this.#idleTimer = setTimeout(() => this.end(`no viewers for ${seconds} s`), seconds * 1000).unref();
  }

  get #ended(): boolean {
    return this.#status === 'ended' || this.#status === 'failed';
  }

  async #generate(): Promise<void> {
    const fpl = this.timing.framesPerLatent;
    const ahead = this.#config.lookaheadLatentFrames * fpl;
    while (!this.#ended) {
      if (this.#queue.length > ahead) {
        await new Promise<void>((resolve) => (this.#wakeGenerator = resolve));
        this.#wakeGenerator = undefined;
        continue;
      }
      const started = performance.now();
      let chunk;
      try {
        chunk = await this.#stream.next();
      } catch (err) {
        if (!this.#ended) this.end(`the model failed: ${(err as Error).message}`, 'failed');
        return;
      }
      const ms = performance.now() - started;
      this.#latentMs.push(ms);
      if (this.#latentMs.length > 8) this.#latentMs.shift();
      this.#metrics.latentFrameMs.observe(ms);
      const size = this.timing.width * this.timing.height * 3;
      for (let f = 0; f < fpl; f++) {
        this.#queue.push({ index: chunk.index * fpl + f, rgb: chunk.frames.subarray(f * size, (f + 1) * size) });
      }
      this.#framesGenerated += fpl;
      this.#metrics.framesGenerated.value += fpl;
      if (this.#status === 'starting') {
        this.#status = 'live';
        this.#clockStart = performance.now();
      }
      if (!this.#timer) this.#schedule();
    }
  }

  /** Arms the timer for the next queued frame at its due time on the playback clock. */
  #schedule(): void {
    if (this.#ended) return;
    const next = this.#queue[0];
    if (!next) {
      this.#timer = undefined;
      return;
    }
    const period = 1000 / this.timing.fps;
    let delay = this.#clockStart + next.index * period - performance.now();
    if (delay < -period) {
      // The frame is late: slip the clock rather than rush the frames that follow.
      this.#clockStart -= delay;
      this.#metrics.stalls.value++;
      delay = 0;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const frame = this.#queue.shift();
      if (this.#queue.length <= this.#config.lookaheadLatentFrames * this.timing.framesPerLatent) this.#wakeGenerator?.();
      if (frame) {
        this.#sending = this.#sending.then(() => this.#send(frame)).catch((err: unknown) => {
          if (!this.#ended) this.end(`encoding failed: ${(err as Error).message}`, 'failed');
        });
      }
      this.#schedule();
    }, Math.max(0, delay));
  }

  async #send(frame: QueuedFrame): Promise<void> {
    if (this.#ended) return;
    const now = performance.now();
    while (this.#pendingSteers[0] && this.#pendingSteers[0].frame <= frame.index) {
      const steer = this.#pendingSteers.shift();
      if (steer) this.#metrics.steerToFrameMs.observe(now - steer.requestedAt);
    }
    // The soundtrack runs whether or not anyone listens, so its clock never drifts from the video's.
    const audioPackets = this.#soundtrack && this.#opus ? this.#audio(this.#soundtrack.next(frame.rgb), this.#opus) : [];
    if (this.#viewers.size === 0) {
      this.#keyframeWanted = true;
      return;
    }
    let keyframe = false;
    if (this.#keyframeWanted && now - this.#lastKeyframeAt >= MIN_KEYFRAME_GAP_MS) {
      keyframe = true;
      this.#keyframeWanted = false;
    }
    const started = performance.now();
    const encoded = await this.#encoder.encode(frame.rgb, keyframe);
    this.#metrics.encodeMs.observe(performance.now() - started);
    if (this.#ended) return;
    if (encoded) {
      if (encoded.keyframe) {
        this.#lastKeyframeAt = now;
        this.#metrics.keyframes.value++;
      }
      const packets = this.#videoPacketizer.packetize(encoded.data, this.rtpTimestamp(frame.index)).map((p) => p.serialize());
      for (const viewer of this.#viewers.values()) viewer.sendVideo(packets);
      this.#framesSent++;
      this.#metrics.framesSent.value++;
    }
    for (const packet of audioPackets) for (const viewer of this.#viewers.values()) viewer.sendAudio(packet);
  }

  /** One video frame's worth of soundtrack as serialized Opus RTP packets. */
  #audio(samples: Int16Array, opus: OpusEncoder): Buffer[] {
    const out: Buffer[] = [];
    for (const packet of opus.push(samples)) {
      const [rtp] = this.#audioPacketizer.packetize(packet, (this.timing.rtpTimestampOfFrame0 + this.#audioSamples) >>> 0);
      this.#audioSamples += OpusEncoder.FRAME_SAMPLES;
      if (rtp) out.push(rtp.serialize());
    }
    return out;
  }
}

function checkPrompt(prompt: string, maxChars: number): void {
  if (typeof prompt !== 'string') throw new BadRequestError('prompt must be a string');
  const chars = [...prompt].length;
  if (chars > maxChars) throw new BadRequestError(`prompt is ${chars} characters; the limit is ${maxChars}`);
}
