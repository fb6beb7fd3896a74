/** Everything `livegen serve` can be told; each field has a flag (README "Configuration"). */
export interface ServerConfig {
  host: string;
  port: number;
  /** The address viewers use to reach this server, for the URLs it hands out. */
  publicUrl: string | undefined;
  modelDir: string;
  executionProvider: 'cpu' | 'webgpu';
  threads: number;
  /** STUN/TURN servers given to the server's peers; none by default (host candidates). */
  iceServers: { urls: string }[];
  audio: boolean;
  video: {
    bitrateKbps: number;
    /** Seconds between keyframes when nobody asks for one: the backstop for lost PLIs. */
    keyframeSeconds: number;
  };
  /** Latent frames generated ahead of the playback clock: more smooths hiccups, fewer steers faster. */
  lookaheadLatentFrames: number;
  limits: {
    streams: number;
    viewersPerStream: number;
    promptChars: number;
    editsPerSecond: number;
    joinsPerSecond: number;
    messageBytes: number;
    /** Seconds a stream with no viewers lives before it ends (0: never). */
    idleSeconds: number;
  };
}

export const DEFAULT_CONFIG: Omit<ServerConfig, 'modelDir'> = {
  host: '0.0.0.0',
  port: 8080,
  publicUrl: undefined,
  executionProvider: 'cpu',
  threads: 2,
  iceServers: [],
  audio: true,
  video: { bitrateKbps: 600, keyframeSeconds: 2 },
  lookaheadLatentFrames: 1,
  limits: {
    streams: 2, // two streams generate in real time on a 2-core box at guidance 1 (docs/PERF.md)
    viewersPerStream: 50,
    promptChars: 500,
    editsPerSecond: 4,
    joinsPerSecond: 20,
    messageBytes: 64 * 1024,
    idleSeconds: 300,
  },
};
