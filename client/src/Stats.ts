import { formatDuration, h } from './dom.ts';
import type { StreamState } from './protocol.ts';

type Key = 'fps' | 'bitrate' | 'resolution' | 'viewers' | 'uptime' | 'latency';

const LABELS: Record<Key, [label: string, title: string]> = {
  fps: ['fps', 'video frames decoded per second'],
  bitrate: ['bitrate', 'video and audio received'],
  resolution: ['resolution', 'of the decoded video'],
  viewers: ['viewers', 'people watching this stream'],
  uptime: ['running', 'time since the stream started'],
  latency: ['latency', 'network and jitter-buffer delay between the server sending a frame and it being shown'],
};

interface Sample {
  at: number;
  bytes: number;
  jitterDelay: number;
  jitterCount: number;
}

/** The live numbers under the video, from the peer's getStats() and the stream's state. */
export class Stats {
  readonly element: HTMLElement;
  readonly #values = new Map<Key, HTMLElement>();
  #last: Sample | undefined;
  #state: StreamState | undefined;

  constructor() {
    this.element = h('dl', { class: 'stats', 'aria-label': 'Stream statistics' });
    for (const [key, [label, title]] of Object.entries(LABELS) as [Key, [string, string]][]) {
      const value = h('dd', { 'data-stat': key }, '–');
      this.#values.set(key, value);
      this.element.append(h('div', { title }, h('dt', {}, label), value));
    }
  }

  /** The stream's latest state (viewers, start time). */
  set state(state: StreamState) {
    this.#state = state;
    this.#set('viewers', String(state.viewers));
  }

  /** Forgets rates measured on a previous peer. */
  reset(): void {
    this.#last = undefined;
    this.element.dataset.framesDecoded = '0';
    for (const key of ['fps', 'bitrate', 'resolution', 'latency'] as const) this.#set(key, '–');
  }

  /** Called about once a second with the current peer's report (none while disconnected). */
  update(report: RTCStatsReport | undefined): void {
    if (this.#state) this.#set('uptime', formatDuration(Date.now() - this.#state.createdAt));
    if (!report) return;
    let video: RTCInboundRtpStreamStats | undefined;
    let bytes = 0;
    let rttSeconds: number | undefined;
    report.forEach((s: RTCStats) => {
      if (s.type === 'inbound-rtp') {
        const rtp = s as RTCInboundRtpStreamStats;
        bytes += rtp.bytesReceived ?? 0;
        if (rtp.kind === 'video') video = rtp;
      } else if (s.type === 'candidate-pair') {
        const pair = s as RTCIceCandidatePairStats;
        if (pair.nominated && pair.state === 'succeeded') rttSeconds = pair.currentRoundTripTime;
      }
    });
    if (!video) return;
    const now = performance.now();
    const sample: Sample = { at: now, bytes, jitterDelay: video.jitterBufferDelay ?? 0, jitterCount: video.jitterBufferEmittedCount ?? 0 };
    this.element.dataset.framesDecoded = String(video.framesDecoded ?? 0);
    this.#set('fps', video.framesPerSecond !== undefined ? String(Math.round(video.framesPerSecond)) : '–');
    if (video.frameWidth && video.frameHeight) this.#set('resolution', `${video.frameWidth}×${video.frameHeight}`);
    const last = this.#last;
    if (last && now > last.at) {
      this.#set('bitrate', `${Math.round(((sample.bytes - last.bytes) * 8) / (now - last.at))} kbit/s`);
      // The jitter buffer's delay over the last interval, not since the peer started.
      const frames = sample.jitterCount - last.jitterCount;
      if (frames > 0) {
        const bufferMs = ((sample.jitterDelay - last.jitterDelay) / frames) * 1000;
        this.#set('latency', `${Math.round(bufferMs + ((rttSeconds ?? 0) * 1000) / 2)} ms`);
      }
    }
    this.#last = sample;
  }

  #set(key: Key, text: string): void {
    const el = this.#values.get(key);
    if (el && el.textContent !== text) el.textContent = text;
  }
}
