import { Type, type Static } from '@sinclair/typebox';
import type { PromptEntry } from '../engine/PromptLog.ts';

// Every client message may carry `ref`, echoed in the reply or error it causes, so a client can
// match answers to requests. Limits on sizes are enforced separately (ServerConfig.limits).
const Ref = Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 }));
const StreamId = Type.String({ minLength: 1, maxLength: 64 });
const Token = Type.String({ minLength: 1, maxLength: 128 });
const Sdp = Type.String({ minLength: 1, maxLength: 32 * 1024 });

/** Options a client may give a new stream, over REST or the WebSocket. */
export const StreamOptionsSchema = Type.Object(
  {
    prompt: Type.String(),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffffffff })),
    private: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type StreamOptionsInput = Static<typeof StreamOptionsSchema>;

/** A prompt edit, over REST or the WebSocket. */
export const SteerSchema = Type.Object(
  {
    prompt: Type.String(),
    /** Latent frames over which the old prompt's text embedding fades into the new one (0: a cut). */
    blendFrames: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
  },
  { additionalProperties: false },
);
export type SteerInput = Static<typeof SteerSchema>;

export const ClientMessageSchema = Type.Union([
  Type.Object({ type: Type.Literal('create'), ref: Ref, prompt: Type.String(), seed: StreamOptionsSchema.properties.seed, private: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('join'), ref: Ref, streamId: StreamId, viewToken: Type.Optional(Token) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('answer'), ref: Ref, viewerId: StreamId, sdp: Sdp }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('leave'), ref: Ref, viewerId: StreamId }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('steer'), ref: Ref, streamId: StreamId, steerToken: Token, prompt: Type.String(), blendFrames: SteerSchema.properties.blendFrames }, { additionalProperties: false }),
]);
export type ClientMessage = Static<typeof ClientMessageSchema>;

/** How RTP timestamps map to the stream's video frame indices, for prompt-to-pixel latency. */
export interface StreamTiming {
  fps: number;
  framesPerLatent: number;
  width: number;
  height: number;
  /** RTP clock of the video track; frame k has timestamp (rtpTimestampOfFrame0 + k * rtpTicksPerFrame) mod 2^32. */
  rtpClockRate: number;
  rtpTicksPerFrame: number;
  rtpTimestampOfFrame0: number;
}

export type StreamStatus = 'starting' | 'live' | 'ended' | 'failed';

/** A stream as anyone allowed to watch it sees it (REST `GET /api/streams/:id`, ws `state`). */
export interface StreamState {
  id: string;
  status: StreamStatus;
  /** Why it ended or failed. */
  reason?: string;
  private: boolean;
  seed: number;
  createdAt: number;
  /** Video frames generated and sent so far. */
  framesGenerated: number;
  framesSent: number;
  viewers: number;
  prompt: string;
  prompts: PromptEntry[];
  timing: StreamTiming;
  /** Real-time factor of generation over the last seconds (video seconds per wall second). */
  rtf: number;
}

/** What a steer returns: the edit's id and the first frame it governs. */
export interface SteerAck {
  editId: number;
  /** First video frame the new prompt governs, and its latent frame and RTP timestamp. */
  effectiveFrame: number;
  effectiveLatentFrame: number;
  rtpTimestamp: number;
}

export type ServerMessage =
  | { type: 'created'; ref?: number; streamId: string; steerToken: string; viewToken?: string; viewerUrl: string; steerUrl: string; whepUrl: string }
  | { type: 'offer'; ref?: number; streamId: string; viewerId: string; sdp: string; timing: StreamTiming }
  | { type: 'joined'; ref?: number; streamId: string; viewerId: string }
  | { type: 'left'; ref?: number; viewerId: string }
  | ({ type: 'steered'; ref?: number; streamId: string } & SteerAck)
  | { type: 'prompt'; streamId: string; entry: PromptEntry }
  | { type: 'state'; state: StreamState }
  | { type: 'ended'; streamId: string; status: 'ended' | 'failed'; reason: string }
  | { type: 'error'; ref?: number; code: string; message: string }
  | { type: 'shutdown'; message: string };
