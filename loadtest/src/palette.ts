/** The world's palette (DESIGN section 5), for checking what bots see. */
export const PALETTE = {
  red: [229, 57, 53],
  orange: [251, 140, 0],
  yellow: [253, 216, 53],
  green: [67, 160, 71],
  cyan: [0, 172, 193],
  blue: [30, 136, 229],
  purple: [142, 36, 170],
  white: [245, 245, 245],
  black: [20, 20, 20],
  gray: [128, 128, 128],
} satisfies Record<string, [number, number, number]>;

/** The palette colour nearest to an RGB triple. */
export function nearestColour(rgb: readonly number[]): string {
  let best = '';
  let bestD = Infinity;
  for (const [name, c] of Object.entries(PALETTE)) {
    const d = Math.hypot((rgb[0] ?? 0) - c[0], (rgb[1] ?? 0) - c[1], (rgb[2] ?? 0) - c[2]);
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  return best;
}

/** The mean colour of a frame's outer ring: its background, whatever the objects do. */
export function borderColour(rgb: Uint8Array, width: number, height: number): [number, number, number] {
  const sum = [0, 0, 0];
  let n = 0;
  const add = (x: number, y: number) => {
    for (let c = 0; c < 3; c++) sum[c] = (sum[c] ?? 0) + (rgb[3 * (y * width + x) + c] ?? 0);
    n++;
  };
  for (let x = 0; x < width; x += 2) {
    add(x, 2);
    add(x, height - 3);
  }
  for (let y = 0; y < height; y += 2) {
    add(2, y);
    add(width - 3, y);
  }
  return [(sum[0] ?? 0) / n, (sum[1] ?? 0) / n, (sum[2] ?? 0) / n];
}

/** The background colour a prompt of the grammar asks for ("... on a blue background"). */
export function backgroundOf(prompt: string): string | undefined {
  const m = /\b(?:on|over|against) an? (\w+) (?:background|backdrop)\b/.exec(prompt.toLowerCase());
  const word = m?.[1];
  if (!word) return undefined;
  return word === 'grey' ? 'gray' : word in PALETTE ? word : undefined;
}
