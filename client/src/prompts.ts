/** Prompts in the default model's grammar, to show what it understands. */
export const EXAMPLE_PROMPTS = [
  'a large red circle moving left on a blue background',
  'a small yellow square bouncing on a black background',
  'a large white triangle moving up on a purple background',
  'a small green circle standing still and a large orange square moving right on a gray background',
];

const COLOURS = ['red', 'orange', 'yellow', 'green', 'cyan', 'blue', 'purple', 'white', 'black', 'gray'];
const SIZES = ['small', 'large'];
const SHAPES = ['circle', 'square', 'triangle'];
const MOTIONS = ['moving left', 'moving right', 'moving up', 'moving down', 'bouncing', 'standing still'];

/** A random prompt of the grammar: one shape, in a colour other than the background's. */
export function randomPrompt(): string {
  const background = pick(COLOURS);
  const colour = pick(COLOURS.filter((c) => c !== background));
  return `a ${pick(SIZES)} ${colour} ${pick(SHAPES)} ${pick(MOTIONS)} on a ${background} background`;
}

function pick(words: readonly string[]): string {
  return words[Math.floor(Math.random() * words.length)] ?? '';
}
