import { RTCRtpCodecParameters, useNACK, usePLI, useREMB } from 'werift';

/** Video timestamps tick at 90 kHz (RFC 7741), audio at Opus's 48 kHz (RFC 7587). */
export const VIDEO_CLOCK_RATE = 90_000;
export const AUDIO_CLOCK_RATE = 48_000;

/** RTP payloads stay under a typical path MTU with room for SRTP and header extensions. */
export const MAX_RTP_PAYLOAD = 1200;

/** What every peer of ours (server viewers and bots) negotiates: VP8 with NACK and PLI, and Opus. */
export function peerCodecs(): { video: RTCRtpCodecParameters[]; audio: RTCRtpCodecParameters[] } {
  return {
    video: [
      new RTCRtpCodecParameters({
        mimeType: 'video/VP8',
        clockRate: VIDEO_CLOCK_RATE,
        payloadType: 96,
        rtcpFeedback: [useNACK(), usePLI(), useREMB()],
      }),
    ],
    audio: [
      new RTCRtpCodecParameters({
        mimeType: 'audio/opus',
        clockRate: AUDIO_CLOCK_RATE,
        channels: 2,
        payloadType: 111,
      }),
    ],
  };
}
