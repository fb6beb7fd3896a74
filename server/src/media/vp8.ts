import { createRequire } from 'node:module';

/**
 * VP8 encode/decode through the livegen-native addon (libvpx). The addon does the RGB <-> I420
 * conversion itself so a frame crosses the JS/C++ boundary once; encodes run on the libuv
 * thread pool so a stream at 30-60 fps does not stall the event loop.
 *
 * Every method validates its arguments in C++, so bad input surfaces as a TypeError/RangeError
 * (or a rejected promise from `encode`) rather than a crashed process.
 */

export interface Vp8EncoderOptions {
  /** Even, 2..4096: chroma is averaged over 2x2 blocks. */
  width: number;
  /** Even, 2..4096. */
  height: number;
  /** Frames per second; sets the rate controller's time base, not a pacing clock. */
  fps: number;
  /** CBR target; can be changed later with `setBitrate`. */
  bitrateKbps: number;
  /** Longest run of frames without a keyframe; defaults to 10 s worth (10 * fps). */
  keyframeInterval?: number;
}

/** One VP8 frame. A single token partition, so `data` is exactly one RTP VP8 payload stream. */
export interface EncodedFrame {
  data: Buffer;
  keyframe: boolean;
}

export interface DecodedFrame {
  width: number;
  height: number;
  /** Packed RGB, width * height * 3 bytes. */
  rgb: Buffer;
}

/**
 * Realtime CBR VP8 encoder (lag 0, error resilient, one encoder thread).
 *
 * Encodes run one at a time per encoder; calls made while one is in flight wait and complete
 * in call order, because each frame is predicted from the one before it. The RGB bytes are
 * copied when `encode` is called, so the caller may reuse its buffer immediately.
 */
export interface Vp8Encoder {
  /**
   * Encodes one width*height*3 RGB frame. `keyframe` forces an intra frame (new viewer, or
   * loss the receiver cannot recover from). Resolves to null if the encoder emitted nothing.
   * Rejects (never throws) on bad arguments or after `close`.
   */
  encode(rgb: Uint8Array, keyframe: boolean): Promise<EncodedFrame | null>;
  /** New CBR target in kbps, effective from the next frame that starts encoding. */
  setBitrate(kbps: number): void;
  /**
   * Frees the codec. An encode already running finishes and resolves; queued ones reject with
   * `encoder closed`, as does every later call. Calling it again does nothing.
   */
  close(): void;
}

export interface Vp8EncoderConstructor {
  new (options: Vp8EncoderOptions): Vp8Encoder;
  readonly prototype: Vp8Encoder;
}

/**
 * Synchronous VP8 decoder: a 256x256 frame decodes and converts in about a millisecond, so the
 * thread pool round trip would buy little and make callers juggle promises.
 */
export interface Vp8Decoder {
  /**
   * Decodes one frame. Throws on corrupt or unsupported data (the decoder then needs the next
   * keyframe) and returns null when the packet produced no picture.
   */
  decode(frame: Uint8Array): DecodedFrame | null;
  /** Frees the codec; later `decode` calls throw `decoder closed`. */
  close(): void;
}

export interface Vp8DecoderConstructor {
  new (): Vp8Decoder;
  readonly prototype: Vp8Decoder;
}

interface NativeAddon {
  Vp8Encoder: Vp8EncoderConstructor;
  Vp8Decoder: Vp8DecoderConstructor;
}

// The addon is CommonJS (a .node file behind index.cjs); the package is linked from native/ by
// the root package.json, so it resolves like any dependency.
const addon = createRequire(import.meta.url)('livegen-native') as NativeAddon;

export const Vp8Encoder: Vp8EncoderConstructor = addon.Vp8Encoder;
export const Vp8Decoder: Vp8DecoderConstructor = addon.Vp8Decoder;
