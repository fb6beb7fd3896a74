import { Packr } from 'msgpackr';
import type { ClientMessage, ServerMessage, StreamTiming } from '../../server/src/protocol/messages.ts';

export type { ClientMessage, ServerMessage, SteerAck, StreamState, StreamTiming } from '../../server/src/protocol/messages.ts';
export type { PromptEntry } from '../../server/src/engine/PromptLog.ts';

// The server's codec: plain maps, no msgpackr records.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeMessage(message: ClientMessage): Uint8Array {
  return packr.pack(message);
}

export function decodeMessage(data: ArrayBuffer): ServerMessage {
  return packr.unpack(new Uint8Array(data)) as ServerMessage;
}

/** The video frame index an RTP timestamp belongs to (timestamps wrap at 2^32). */
export function frameOfRtpTimestamp(rtpTimestamp: number, timing: StreamTiming): number {
  return Math.round(((rtpTimestamp - timing.rtpTimestampOfFrame0) >>> 0) / timing.rtpTicksPerFrame);
}
