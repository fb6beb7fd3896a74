export interface PlayerHandlers {
  /** A video frame was presented; `displayTime` is on the performance.now() clock. */
  onFrame: (rtpTimestamp: number, displayTime: number) => void;
  /** The peer connection failed or stayed disconnected: the stream must be joined again. */
  onLost: () => void;
  /** The browser refused to start playback without a click (autoplay rules). */
  onBlocked: () => void;
}

// ICE often recovers from 'disconnected' by itself; give it this long before joining again.
const DISCONNECTED_GRACE_MS = 4000;
// Host candidates gather in milliseconds; never hold an answer longer than this for more.
const GATHERING_TIMEOUT_MS = 2000;

/**
 * The video element and the receive-only WebRTC peer that feeds it. The server offers; each
 * `answer()` replaces the previous peer, so joining again after a drop is one call.
 */
export class Player {
  readonly video: HTMLVideoElement;
  readonly #handlers: PlayerHandlers;
  #pc: RTCPeerConnection | undefined;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(video: HTMLVideoElement, handlers: PlayerHandlers) {
    this.video = video;
    this.#handlers = handlers;
    // Browsers only autoplay muted media; the page offers a button to unmute.
    video.muted = true;
    video.autoplay = true;
    video.playsInline = true;
    this.#watchFrames();
  }

  /** Starts a new peer from the server's offer and returns its answer, with every candidate in it. */
  async answer(offerSdp: string): Promise<string> {
    this.close();
    const pc = new RTCPeerConnection();
    this.#pc = pc;
    pc.addEventListener('track', (event) => {
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      if (this.video.srcObject !== stream) {
        this.video.srcObject = stream;
        this.play();
      }
    });
    pc.addEventListener('connectionstatechange', () => this.#onConnectionState(pc));
    await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gatheringComplete(pc);
    const sdp = pc.localDescription?.sdp;
    if (!sdp) throw new Error('the browser produced no answer');
    return sdp;
  }

  /** Plays, or reports that the browser wants a click first. */
  play(): void {
    this.video.play().catch((err: unknown) => {
      // An AbortError only means a newer srcObject replaced this one.
      if (err instanceof DOMException && err.name === 'NotAllowedError') this.#handlers.onBlocked();
    });
  }

  /** The current peer's WebRTC statistics, if there is one. */
  getStats(): Promise<RTCStatsReport> | undefined {
    return this.#pc?.getStats();
  }

  /** Ends the current peer. Idempotent. */
  close(): void {
    clearTimeout(this.#graceTimer);
    this.#pc?.close();
    this.#pc = undefined;
  }

  #onConnectionState(pc: RTCPeerConnection): void {
    if (pc !== this.#pc) return;
    clearTimeout(this.#graceTimer);
    if (pc.connectionState === 'failed') this.#lost();
    else if (pc.connectionState === 'disconnected') this.#graceTimer = setTimeout(() => this.#lost(), DISCONNECTED_GRACE_MS);
  }

  #lost(): void {
    this.close();
    this.#handlers.onLost();
  }

  /** requestVideoFrameCallback reports each presented frame with its RTP timestamp. */
  #watchFrames(): void {
    const onFrame = (_now: number, meta: VideoFrameCallbackMetadata): void => {
      if (meta.rtpTimestamp !== undefined) this.#handlers.onFrame(meta.rtpTimestamp, meta.expectedDisplayTime);
      this.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }
}

function gatheringComplete(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = (): void => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, GATHERING_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}
