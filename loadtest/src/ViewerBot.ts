import { RTCPeerConnection, Vp8RtpPayload, type MediaStreamTrack, type RtpPacket } from 'werift';
import { peerCodecs } from '../../server/src/rtc/codecs.ts';
import type { StreamTiming } from '../../server/src/protocol/messages.ts';
import { Vp8Decoder } from '../../server/src/media/vp8.ts';
import { SignalingClient } from './SignalingClient.ts';

export interface ViewerBotOptions {
  /** The server, e.g. http://127.0.0.1:8080. */
  url: string;
  streamId: string;
  /** Join through the signaling WebSocket (as the browser does) or through WHEP. */
  via: 'ws' | 'whep';
  viewToken?: string | undefined;
  /** Decode every frame with the native VP8 decoder, so `onFrame` gets pixels. */
  decode?: boolean;
  onFrame?: (frame: ReceivedFrame) => void;
  /** Reuse a signaling connection (ws joins); otherwise the bot opens its own. */
  signaling?: SignalingClient;
}

/** A whole VP8 frame as it arrived, and its pixels when the bot decodes. */
export interface ReceivedFrame {
  /** The stream's video frame index, from the RTP timestamp and the stream's timing. */
  index: number;
  rtpTimestamp: number;
  keyframe: boolean;
  receivedAt: number;
  rgb?: Buffer;
  width?: number;
  height?: number;
}

export interface BotStats {
  joinMs: number | undefined;
  firstKeyframeMs: number | undefined;
  firstFrameMs: number | undefined;
  framesReceived: number;
  framesDecoded: number;
  decodeErrors: number;
  keyframes: number;
  /** Gaps over 200 ms between whole frames, after the first. */
  freezes: number;
  maxGapMs: number;
  videoPackets: number;
  audioPackets: number;
  bytes: number;
  nacksSent: number;
  plisSent: number;
  /** RFC 3550 interarrival jitter of the video packets. */
  jitterMs: number;
}

const FREEZE_MS = 200;

interface PartialFrame {
  packets: Map<number, Buffer>;
  first?: number;
  last?: number;
  keyframe: boolean;
}

/**
 * A headless viewer: a receive-only werift peer that joins a stream the way a browser does,
 * reassembles VP8 frames from RTP, optionally decodes them, and keeps the numbers a load test
 * reports. It asks for a keyframe (PLI) when a frame is lost before it can decode again.
 */
export class ViewerBot {
  readonly stats: BotStats = {
    joinMs: undefined,
    firstKeyframeMs: undefined,
    firstFrameMs: undefined,
    framesReceived: 0,
    framesDecoded: 0,
    decodeErrors: 0,
    keyframes: 0,
    freezes: 0,
    maxGapMs: 0,
    videoPackets: 0,
    audioPackets: 0,
    bytes: 0,
    nacksSent: 0,
    plisSent: 0,
    jitterMs: 0,
  };
  readonly #options: ViewerBotOptions;
  readonly #pc: RTCPeerConnection;
  readonly #frames = new Map<number, PartialFrame>();
  readonly #decoder: Vp8Decoder | undefined;
  readonly #started = performance.now();
  #timing: StreamTiming | undefined;
  #signaling: SignalingClient | undefined;
  #ownSignaling = false;
  #viewerId: string | undefined;
  #whepLocation: string | undefined;
  #lastFrameAt: number | undefined;
  #lastTimestamp: number | undefined;
  #needKeyframe = true;
  #jitter = 0;
  #transit: number | undefined;
  #lastPliAt = -Infinity;
  #closed = false;

  private constructor(options: ViewerBotOptions) {
    this.#options = options;
    // One ICE transport for all m-lines: werift's default gathers one per m-line, and the ones a
    // bundled answer leaves unused are never closed (their UDP sockets would outlive the bot).
    this.#pc = new RTCPeerConnection({ codecs: peerCodecs(), iceServers: [], bundlePolicy: 'max-bundle' });
    this.#decoder = options.decode ? new Vp8Decoder() : undefined;
    this.#pc.onTrack.subscribe((track) => this.#onTrack(track));
  }

  /** Joins a stream; resolves once the peer is negotiated (media follows). */
  static async join(options: ViewerBotOptions): Promise<ViewerBot> {
    const bot = new ViewerBot(options);
    try {
      if (options.via === 'ws') await bot.#joinWs();
      else await bot.#joinWhep();
    } catch (err) {
      await bot.close();
      throw err;
    }
    return bot;
  }

  get timing(): StreamTiming | undefined {
    return this.#timing;
  }

  /** Resolves when the peer is connected. */
  connected(timeoutMs = 10_000): Promise<void> {
    if (this.#pc.connectionState === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not connected within ${timeoutMs} ms (${this.#pc.connectionState})`)), timeoutMs);
      this.#pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Leaves the stream (WHEP DELETE or ws leave) and closes the peer. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#whepLocation) await fetch(new URL(this.#whepLocation, this.#options.url), { method: 'DELETE' }).catch(() => undefined);
      if (this.#viewerId && this.#signaling && !this.#signaling.closed) this.#signaling.send({ type: 'leave', viewerId: this.#viewerId });
    } finally {
      if (this.#ownSignaling) this.#signaling?.close();
      this.#decoder?.close();
      await this.#pc.close().catch(() => undefined);
    }
  }

  async #joinWs(): Promise<void> {
    const o = this.#options;
    this.#signaling = o.signaling ?? (await SignalingClient.connect(o.url));
    this.#ownSignaling = !o.signaling;
    const offer = await this.#signaling.request({ type: 'join', streamId: o.streamId, ...(o.viewToken ? { viewToken: o.viewToken } : {}) }, 'offer');
    this.#viewerId = offer.viewerId;
    this.#timing = offer.timing;
    await this.#pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await this.#pc.setLocalDescription(await this.#pc.createAnswer());
    await this.#gathered();
    await this.#signaling.request({ type: 'answer', viewerId: offer.viewerId, sdp: this.#pc.localDescription?.sdp ?? '' }, 'joined');
    this.stats.joinMs = performance.now() - this.#started;
  }

  async #joinWhep(): Promise<void> {
    const o = this.#options;
    const auth: Record<string, string> = o.viewToken ? { authorization: `Bearer ${o.viewToken}` } : {};
    const info = await fetch(new URL(`/api/streams/${o.streamId}`, o.url), { headers: auth });
    if (!info.ok) throw new Error(`GET stream: ${info.status} ${await info.text()}`);
    this.#timing = ((await info.json()) as { timing: StreamTiming }).timing;
    this.#pc.addTransceiver('video', { direction: 'recvonly' });
    this.#pc.addTransceiver('audio', { direction: 'recvonly' });
    await this.#pc.setLocalDescription(await this.#pc.createOffer());
    await this.#gathered();
    const res = await fetch(new URL(`/whep/${o.streamId}`, o.url), {
      method: 'POST',
      headers: { 'content-type': 'application/sdp', ...auth },
      body: this.#pc.localDescription?.sdp ?? '',
    });
    if (res.status !== 201) throw new Error(`WHEP: ${res.status} ${await res.text()}`);
    this.#whepLocation = res.headers.get('location') ?? undefined;
    await this.#pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    this.stats.joinMs = performance.now() - this.#started;
  }

  async #gathered(): Promise<void> {
    if (this.#pc.iceGatheringState === 'complete') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3000);
      this.#pc.iceGatheringStateChange.subscribe((s) => {
        if (s === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  #onTrack(track: MediaStreamTrack): void {
    if (track.kind === 'audio') {
      track.onReceiveRtp.subscribe(() => this.stats.audioPackets++);
      return;
    }
    const receiver = this.#pc.getTransceivers().find((t) => t.receiver.track === track)?.receiver;
    receiver?.onPacketLost.subscribe(() => this.stats.nacksSent++);
    track.onReceiveRtp.subscribe((rtp) => this.#onVideoPacket(rtp, track));
  }

  #onVideoPacket(rtp: RtpPacket, track: MediaStreamTrack): void {
    const now = performance.now();
    this.stats.videoPackets++;
    this.stats.bytes += rtp.payload.length;
    this.#updateJitter(rtp.header.timestamp, now);
    const ts = rtp.header.timestamp;
    let frame = this.#frames.get(ts);
    if (!frame) {
      frame = { packets: new Map(), keyframe: false };
      this.#frames.set(ts, frame);
    }
    const vp8 = Vp8RtpPayload.deSerialize(rtp.payload);
    const seq = rtp.header.sequenceNumber;
    frame.packets.set(seq, vp8.payload);
    if (vp8.sBit === 1 && vp8.pid === 0) {
      frame.first = seq;
      frame.keyframe = vp8.isKeyframe;
    }
    if (rtp.header.marker) frame.last = seq;
    if (frame.first === undefined || frame.last === undefined) return;
    const count = ((frame.last - frame.first + 65536) % 65536) + 1;
    if (frame.packets.size < count) return;
    const parts: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const part = frame.packets.get((frame.first + i) % 65536);
      if (!part) return;
      parts.push(part);
    }
    this.#frames.delete(ts);
    // Frames older than this one that never completed are lost.
    for (const old of this.#frames.keys()) {
      if (((ts - old) >>> 0) < 0x80000000) {
        this.#frames.delete(old);
        this.#needKeyframe = true;
      }
    }
    if (this.#lastTimestamp !== undefined && ((ts - this.#lastTimestamp) >>> 0) >= 0x80000000) return; // late duplicate
    this.#lastTimestamp = ts;
    this.#onFrame(Buffer.concat(parts), ts, frame.keyframe, now, track);
  }

  #onFrame(data: Buffer, ts: number, keyframe: boolean, now: number, track: MediaStreamTrack): void {
    const s = this.stats;
    s.framesReceived++;
    if (keyframe) s.keyframes++;
    s.firstFrameMs ??= now - this.#started;
    if (keyframe) s.firstKeyframeMs ??= now - this.#started;
    if (this.#lastFrameAt !== undefined) {
      const gap = now - this.#lastFrameAt;
      s.maxGapMs = Math.max(s.maxGapMs, gap);
      if (gap > FREEZE_MS) s.freezes++;
    }
    this.#lastFrameAt = now;
    const t = this.#timing;
    const index = t ? Math.round(((ts - t.rtpTimestampOfFrame0) >>> 0) / t.rtpTicksPerFrame) : -1;
    const out: ReceivedFrame = { index, rtpTimestamp: ts, keyframe, receivedAt: Date.now() };
    if (keyframe) this.#needKeyframe = false;
    if (this.#needKeyframe) {
      this.#requestKeyframe(track);
    } else if (this.#decoder) {
      try {
        const decoded = this.#decoder.decode(data);
        if (decoded) {
          s.framesDecoded++;
          Object.assign(out, decoded);
        }
      } catch {
        s.decodeErrors++;
        this.#needKeyframe = true;
        this.#requestKeyframe(track);
      }
    }
    this.#options.onFrame?.(out);
  }

  #requestKeyframe(track: MediaStreamTrack): void {
    const receiver = this.#pc.getTransceivers().find((t) => t.receiver.track === track)?.receiver;
    const now = performance.now();
    // One request per round trip or so; the server coalesces anyway.
    if (!receiver || track.ssrc === undefined || now - this.#lastPliAt < 300) return;
    this.#lastPliAt = now;
    this.stats.plisSent++;
    receiver.sendRtcpPLI(track.ssrc).catch(() => undefined);
  }

  #updateJitter(timestamp: number, now: number): void {
    const clock = this.#timing?.rtpClockRate ?? 90_000;
    const transit = (now / 1000) * clock - timestamp;
    if (this.#transit !== undefined) {
      const d = Math.abs(transit - this.#transit);
      if (d < clock) this.#jitter += (d - this.#jitter) / 16;
    }
    this.#transit = transit;
    this.stats.jitterMs = (this.#jitter / clock) * 1000;
  }
}
