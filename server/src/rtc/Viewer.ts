import { randomUUID } from 'node:crypto';
import { MediaStreamTrack, RTCPeerConnection, type RTCRtpTransceiver } from 'werift';
import { BadRequestError, InvalidStateError } from '../errors.ts';
import { peerCodecs } from './codecs.ts';

export interface ViewerOptions {
  streamId: string;
  audio: boolean;
  iceServers: { urls: string }[];
  /** Called when the viewer's decoder needs a keyframe: on connecting and on every PLI. */
  onKeyframeRequest: () => void;
  /** Called once when the peer is gone (closed, failed, or disconnected for too long). */
  onClosed: (viewer: Viewer) => void;
}

// A peer that stays 'disconnected' this long is treated as gone; ICE often recovers sooner.
const DISCONNECTED_GRACE_MS = 5000;
// Gathering host candidates takes milliseconds; a stuck one must not hold a request forever.
const GATHERING_TIMEOUT_MS = 3000;

/**
 * One person (or bot) watching a stream: a send-only WebRTC peer with the stream's video track
 * and, unless audio is off, its audio track in the same MediaStream. The stream's packets are
 * written to every viewer's tracks; each sender gives them its own SSRC and sequence numbers and
 * answers NACKs from its own history.
 */
export class Viewer {
  readonly id = randomUUID();
  readonly streamId: string;
  readonly #pc: RTCPeerConnection;
  readonly #video = new MediaStreamTrack({ kind: 'video' });
  readonly #audio: MediaStreamTrack | undefined;
  readonly #options: ViewerOptions;
  #connected = false;
  #closed = false;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(options: ViewerOptions) {
    this.streamId = options.streamId;
    this.#options = options;
    // One ICE transport for video and audio. With werift's default (max-compat) each m-line of our
    // offer gathers its own, and the one a browser's BUNDLE answer leaves unused is never closed:
    // its UDP sockets outlive the viewer.
    this.#pc = new RTCPeerConnection({ codecs: peerCodecs(), iceServers: options.iceServers, bundlePolicy: 'max-bundle' });
    this.#audio = options.audio ? new MediaStreamTrack({ kind: 'audio' }) : undefined;
    this.#pc.connectionStateChange.subscribe((state) => this.#onState(state));
  }

  /** The server offers (the WebSocket flow); the client answers with `accept()`. */
  async offer(): Promise<string> {
    try {
      this.#addTracks(true);
      await this.#pc.setLocalDescription(await this.#pc.createOffer());
      return await this.#localSdp();
    } catch (err) {
      throw this.#closed ? new InvalidStateError('the stream ended while the viewer joined') : err;
    }
  }

  /** Applies the client's answer to our offer. */
  async accept(answerSdp: string): Promise<void> {
    try {
      await this.#pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
    } catch (err) {
      throw new BadRequestError(`bad SDP answer: ${(err as Error).message}`);
    }
  }

  /** The client offers (WHEP); returns our answer. */
  async answer(offerSdp: string): Promise<string> {
    if (!/^v=0\r?\n/.test(offerSdp) || !/\bm=video\b/.test(offerSdp)) {
      throw new BadRequestError('the offer is not an SDP with a video m-line');
    }
    // A WHEP player that offers no audio gets none.
    this.#addTracks(/\bm=audio\b/.test(offerSdp));
    try {
      await this.#pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      await this.#pc.setLocalDescription(await this.#pc.createAnswer());
    } catch (err) {
      throw this.#closed ? new InvalidStateError('the stream ended while the viewer joined') : new BadRequestError(`bad SDP offer: ${(err as Error).message}`);
    }
    return this.#localSdp();
  }

  /** Sends serialized RTP packets of one encoded video frame. */
  sendVideo(packets: readonly Buffer[]): void {
    if (!this.#connected) return;
    for (const p of packets) this.#video.writeRtp(p);
  }

  /** Sends one serialized RTP packet of audio. */
  sendAudio(packet: Buffer): void {
    if (this.#connected) this.#audio?.writeRtp(packet);
  }

  /** Ends the peer; `onClosed` runs once. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connected = false;
    clearTimeout(this.#graceTimer);
    this.#video.stop();
    this.#audio?.stop();
    this.#pc.close().catch(() => undefined);
    this.#options.onClosed(this);
  }

  #addTracks(withAudio: boolean): void {
    const tracks = this.#audio && withAudio ? [this.#video, this.#audio] : [this.#video];
    for (const track of tracks) {
      const transceiver: RTCRtpTransceiver = this.#pc.addTransceiver(track, { direction: 'sendonly' });
      transceiver.sender.streamId = this.streamId;
      transceiver.sender.onPictureLossIndication.subscribe(() => this.#options.onKeyframeRequest());
    }
  }

  async #localSdp(): Promise<string> {
    if (this.#pc.iceGatheringState !== 'complete') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, GATHERING_TIMEOUT_MS);
        this.#pc.iceGatheringStateChange.subscribe((state) => {
          if (state === 'complete') {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    }
    const sdp = this.#pc.localDescription?.sdp;
    if (!sdp) throw new Error('the peer produced no local description');
    return sdp;
  }

  #onState(state: string): void {
    if (this.#closed) return;
    clearTimeout(this.#graceTimer);
    if (state === 'connected') {
      this.#connected = true;
      this.#options.onKeyframeRequest();
    } else if (state === 'disconnected') {
      this.#graceTimer = setTimeout(() => this.close(), DISCONNECTED_GRACE_MS);
    } else if (state === 'failed' || state === 'closed') {
      this.close();
    }
  }
}
