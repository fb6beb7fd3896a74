import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { Vp8Encoder } from './vp8.ts';
import { Soundtrack } from './Soundtrack.ts';
import { OpusEncoder } from './OpusEncoder.ts';

// Matroska element ids (https://www.matroska.org/technical/elements.html), those a WebM needs.
const ID = {
  EBML: 0x1a45dfa3, EBMLVersion: 0x4286, EBMLReadVersion: 0x42f7, EBMLMaxIDLength: 0x42f2, EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282, DocTypeVersion: 0x4287, DocTypeReadVersion: 0x4285,
  Segment: 0x18538067, Info: 0x1549a966, TimecodeScale: 0x2ad7b1, MuxingApp: 0x4d80, WritingApp: 0x5741,
  Tracks: 0x1654ae6b, TrackEntry: 0xae, TrackNumber: 0xd7, TrackUID: 0x73c5, TrackType: 0x83, CodecID: 0x86,
  CodecPrivate: 0x63a2, CodecDelay: 0x56aa, Video: 0xe0, PixelWidth: 0xb0, PixelHeight: 0xba,
  Audio: 0xe1, SamplingFrequency: 0xb5, Channels: 0x9f,
  Cluster: 0x1f43b675, Timecode: 0xe7, SimpleBlock: 0xa3,
} as const;

const VIDEO_TRACK = 1;
const AUDIO_TRACK = 2;
// A cluster's blocks carry 16-bit millisecond offsets; a new cluster well before they overflow.
const CLUSTER_MS = 5000;

/**
 * Writes RGB frames as WebM: VP8 through the same libvpx encoder the live server uses, and the
 * stream's Opus soundtrack. Streamed out as it goes (the segment and clusters have unknown
 * sizes, which players accept), so a long video never sits in memory.
 */
export class WebmWriter {
  readonly #out: WriteStream;
  readonly #width: number;
  readonly #height: number;
  readonly #fps: number;
  readonly #encoder: Vp8Encoder;
  readonly #soundtrack: Soundtrack;
  readonly #opus = new OpusEncoder();
  #frames = 0;
  #audioPackets = 0;
  #clusterAt = -Infinity;

  constructor(path: string, width: number, height: number, fps: number, bitrateKbps = 1000) {
    this.#width = width;
    this.#height = height;
    this.#fps = fps;
    this.#encoder = new Vp8Encoder({ width, height, fps, bitrateKbps, keyframeInterval: Math.round(2 * fps) });
    this.#soundtrack = new Soundtrack(width, height, fps);
    this.#out = createWriteStream(path);
    this.#out.write(this.#header());
  }

  /** Appends frames given as (n, H, W, 3) RGB bytes. */
  async write(rgb: Uint8Array): Promise<void> {
    const size = this.#width * this.#height * 3;
    for (let offset = 0; offset < rgb.length; offset += size) {
      const frame = rgb.subarray(offset, offset + size);
      const ms = Math.round((this.#frames * 1000) / this.#fps);
      const encoded = await this.#encoder.encode(frame, this.#frames === 0);
      const blocks: Buffer[] = [];
      if (encoded) {
        if (encoded.keyframe || ms - this.#clusterAt >= CLUSTER_MS) {
          this.#clusterAt = ms;
          blocks.push(Buffer.concat([id(ID.Cluster), UNKNOWN_SIZE, element(ID.Timecode, uint(ms))]));
        }
        blocks.push(this.#block(VIDEO_TRACK, ms, encoded.keyframe, encoded.data));
      }
      for (const packet of this.#opus.push(this.#soundtrack.next(frame))) {
        const at = Math.round((this.#audioPackets++ * OpusEncoder.FRAME_SAMPLES * 1000) / 48_000);
        blocks.push(this.#block(AUDIO_TRACK, Math.max(at, this.#clusterAt), true, packet));
      }
      this.#frames++;
      if (!this.#out.write(Buffer.concat(blocks))) await once(this.#out, 'drain');
    }
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    this.#encoder.close();
    this.#out.end();
    await once(this.#out, 'finish');
  }

  #block(track: number, ms: number, keyframe: boolean, data: Buffer): Buffer {
    const head = Buffer.alloc(4);
    head[0] = 0x80 | track;
    head.writeInt16BE(ms - this.#clusterAt, 1);
    head[3] = keyframe ? 0x80 : 0;
    return element(ID.SimpleBlock, Buffer.concat([head, data]));
  }

  #header(): Buffer {
    const ebml = element(ID.EBML, Buffer.concat([
      element(ID.EBMLVersion, uint(1)), element(ID.EBMLReadVersion, uint(1)), element(ID.EBMLMaxIDLength, uint(4)),
      element(ID.EBMLMaxSizeLength, uint(8)), element(ID.DocType, Buffer.from('webm')), element(ID.DocTypeVersion, uint(4)),
      element(ID.DocTypeReadVersion, uint(2)),
    ]));
    const info = element(ID.Info, Buffer.concat([
      element(ID.TimecodeScale, uint(1_000_000)), element(ID.MuxingApp, Buffer.from('livegen')), element(ID.WritingApp, Buffer.from('livegen')),
    ]));
    const video = element(ID.TrackEntry, Buffer.concat([
      element(ID.TrackNumber, uint(VIDEO_TRACK)), element(ID.TrackUID, uint(VIDEO_TRACK)), element(ID.TrackType, uint(1)),
      element(ID.CodecID, Buffer.from('V_VP8')),
      element(ID.Video, Buffer.concat([element(ID.PixelWidth, uint(this.#width)), element(ID.PixelHeight, uint(this.#height))])),
    ]));
    const audio = element(ID.TrackEntry, Buffer.concat([
      element(ID.TrackNumber, uint(AUDIO_TRACK)), element(ID.TrackUID, uint(AUDIO_TRACK)), element(ID.TrackType, uint(2)),
      element(ID.CodecID, Buffer.from('A_OPUS')), element(ID.CodecPrivate, opusHead()), element(ID.CodecDelay, uint(0)),
      element(ID.Audio, Buffer.concat([element(ID.SamplingFrequency, float64(48_000)), element(ID.Channels, uint(2))])),
    ]));
    return Buffer.concat([ebml, id(ID.Segment), UNKNOWN_SIZE, info, element(ID.Tracks, Buffer.concat([video, audio]))]);
  }
}

const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

function id(value: number): Buffer {
  const bytes = value > 0xffffff ? 4 : value > 0xffff ? 3 : value > 0xff ? 2 : 1;
  const out = Buffer.alloc(bytes);
  out.writeUIntBE(value, 0, bytes);
  return out;
}

/** An EBML variable-length size: the shortest form that holds it. */
function size(n: number): Buffer {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const out = Buffer.alloc(len);
      let v = n;
      for (let i = len - 1; i >= 0; i--) {
        out[i] = v % 256;
        v = Math.floor(v / 256);
      }
      out[0] = (out[0] ?? 0) | (0x80 >> (len - 1));
      return out;
    }
  }
  throw new RangeError(`EBML size ${n} too large`);
}

function element(elementId: number, payload: Buffer): Buffer {
  return Buffer.concat([id(elementId), size(payload.length), payload]);
}

function uint(n: number): Buffer {
  const bytes = Math.max(1, Math.ceil(Math.log2(n + 1) / 8));
  const out = Buffer.alloc(bytes);
  out.writeUIntBE(n, 0, bytes);
  return out;
}

function float64(n: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeDoubleBE(n);
  return out;
}

/** The Opus identification header (RFC 7845 §5.1) that WebM keeps as the codec's private data. */
function opusHead(): Buffer {
  const out = Buffer.alloc(19);
  out.write('OpusHead', 0, 'ascii');
  out[8] = 1; // version
  out[9] = 2; // channels
  out.writeUInt16LE(0, 10); // pre-skip
  out.writeUInt32LE(48_000, 12); // input sample rate
  out.writeInt16LE(0, 16); // output gain
  out[18] = 0; // channel mapping family
  return out;
}
