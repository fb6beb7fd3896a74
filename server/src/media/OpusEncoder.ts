import { createRequire } from 'node:module';

interface NativeOpusEncoder {
  encode(pcm: Buffer): Buffer;
}
interface OpusModule {
  OpusEncoder: new (sampleRate: number, channels: number) => NativeOpusEncoder;
}

// @discordjs/opus ships no type declarations; this is the part of it we use.
const opus = createRequire(import.meta.url)('@discordjs/opus') as OpusModule;

/**
 * Opus in 20 ms packets from a stream of interleaved stereo samples of any chunk length; the
 * samples left over wait for the next chunk.
 */
export class OpusEncoder {
  static readonly FRAME_SAMPLES = 960; // 20 ms at 48 kHz
  readonly #encoder = new opus.OpusEncoder(48_000, 2);
  #pending = new Int16Array(0);

  /** Encodes as many whole 20 ms packets as the samples so far make. */
  push(samples: Int16Array): Buffer[] {
    const all = new Int16Array(this.#pending.length + samples.length);
    all.set(this.#pending);
    all.set(samples, this.#pending.length);
    const step = 2 * OpusEncoder.FRAME_SAMPLES;
    const packets: Buffer[] = [];
    let at = 0;
    for (; at + step <= all.length; at += step) {
      const chunk = all.subarray(at, at + step);
      packets.push(this.#encoder.encode(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    }
    this.#pending = all.slice(at);
    return packets;
  }
}
