/**
 * The stream's soundtrack, synthesised from its video frames: a low drone whose pitch follows
 * the background colour, and a voice for the largest foreground colour whose note follows that
 * colour's hue (a pentatonic scale over two octaves), whose loudness follows its area and whose
 * stereo position follows its horizontal place in the frame. So a steer that changes a colour
 * changes the music, and a moving object moves across the speakers.
 */
export class Soundtrack {
  readonly sampleRate: number;
  readonly #fps: number;
  readonly #width: number;
  readonly #height: number;
  #owed = 0;
  #drone = { phase: 0, freq: 55, amp: 0 };
  #voice = { phase: 0, freq: 220, amp: 0, pan: 0.5 };

  constructor(width: number, height: number, fps: number, sampleRate = 48_000) {
    this.#width = width;
    this.#height = height;
    this.#fps = fps;
    this.sampleRate = sampleRate;
  }

  /** Interleaved stereo 16-bit samples covering one video frame's duration. */
  next(rgb: Uint8Array): Int16Array {
    this.#owed += this.sampleRate / this.#fps;
    const n = Math.floor(this.#owed);
    this.#owed -= n;
    const scene = this.#analyse(rgb);
    const drone = { freq: 55 * 2 ** (scene.background.hue / 360), amp: 0.06 };
    const voice = scene.object
      ? { freq: pentatonic(scene.object.hue), amp: Math.min(0.25, 0.04 + 0.6 * Math.sqrt(scene.object.area)), pan: scene.object.x }
      : { freq: this.#voice.freq, amp: 0, pan: this.#voice.pan };
    const out = new Int16Array(2 * n);
    const d0 = { ...this.#drone };
    const v0 = { ...this.#voice };
    for (let i = 0; i < n; i++) {
      // Parameters glide across the frame so that changes never click.
      const t = (i + 1) / n;
      const dFreq = d0.freq + (drone.freq - d0.freq) * t;
      const dAmp = d0.amp + (drone.amp - d0.amp) * t;
      const vFreq = v0.freq + (voice.freq - v0.freq) * t;
      const vAmp = v0.amp + (voice.amp - v0.amp) * t;
      const pan = v0.pan + (voice.pan - v0.pan) * t;
      this.#drone.phase = (this.#drone.phase + dFreq / this.sampleRate) % 1;
      this.#voice.phase = (this.#voice.phase + vFreq / this.sampleRate) % 1;
      const d = dAmp * Math.sin(2 * Math.PI * this.#drone.phase);
      const v = vAmp * (Math.sin(2 * Math.PI * this.#voice.phase) + 0.3 * Math.sin(4 * Math.PI * this.#voice.phase));
      out[2 * i] = Math.round(32767 * clamp(d + v * Math.cos((pan * Math.PI) / 2)));
      out[2 * i + 1] = Math.round(32767 * clamp(d + v * Math.sin((pan * Math.PI) / 2)));
    }
    this.#drone = { phase: this.#drone.phase, freq: drone.freq, amp: drone.amp };
    this.#voice = { phase: this.#voice.phase, ...voice };
    return out;
  }

  /** The background (the border's mean colour) and the pixels far from it, on a 4-pixel grid. */
  #analyse(rgb: Uint8Array): { background: { hue: number }; object?: { hue: number; area: number; x: number } } {
    const w = this.#width;
    const h = this.#height;
    const px = (x: number, y: number, c: number) => rgb[3 * (y * w + x) + c] ?? 0;
    const bg = [0, 0, 0];
    let count = 0;
    for (let i = 0; i < w; i += 4) {
      for (const y of [0, h - 1]) {
        for (let c = 0; c < 3; c++) bg[c] = (bg[c] ?? 0) + px(i, y, c);
        count++;
      }
    }
    const [br, bgc, bb] = bg.map((v) => v / count) as [number, number, number];
    let n = 0;
    let total = 0;
    let sumX = 0;
    const sum = [0, 0, 0];
    for (let y = 0; y < h; y += 4) {
      for (let x = 0; x < w; x += 4) {
        total++;
        const r = px(x, y, 0);
        const g = px(x, y, 1);
        const b = px(x, y, 2);
        if (Math.abs(r - br) + Math.abs(g - bgc) + Math.abs(b - bb) < 90) continue;
        n++;
        sumX += x;
        sum[0] = (sum[0] ?? 0) + r;
        sum[1] = (sum[1] ?? 0) + g;
        sum[2] = (sum[2] ?? 0) + b;
      }
    }
    const background = { hue: hue(br, bgc, bb) };
    if (n < total * 0.002) return { background };
    const [or, og, ob] = sum.map((v) => v / n) as [number, number, number];
    return { background, object: { hue: hue(or, og, ob), area: n / total, x: sumX / n / (w - 1) } };
  }
}

const SCALE = [0, 2, 4, 7, 9]; // major pentatonic, in semitones

function pentatonic(hueDegrees: number): number {
  const degree = Math.min(9, Math.floor((hueDegrees / 360) * 10));
  const semitones = 12 * Math.floor(degree / 5) + (SCALE[degree % 5] ?? 0);
  return 220 * 2 ** (semitones / 12);
}

function hue(r: number, g: number, b: number): number {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  if (max - min < 1e-6) return 0;
  const d = max - min;
  const h = max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return h * 60;
}

function clamp(x: number): number {
  return Math.max(-1, Math.min(1, x));
}
