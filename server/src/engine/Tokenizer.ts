import type { Manifest } from './ModelManifest.ts';

// ASCII whitespace and ASCII punctuation separate words; everything else belongs to a word.
const SEPARATORS = /[\t\n\v\f\r !-/:-@[-`{-~]+/;

/**
 * Prompt text to token ids, exactly as models/livegen/text.py does it: a word is ASCII-lowercased
 * (A-Z only) and looked up; a miss is the unknown token, so any UTF-8 text encodes. The ids are
 * [BOS] then the words, clipped to maxTokens and padded.
 */
export class Tokenizer {
  readonly #ids: Map<string, number>;
  readonly #spec: Manifest['tokenizer'];

  constructor(spec: Manifest['tokenizer']) {
    this.#spec = spec;
    this.#ids = new Map(spec.vocab.map((word, i) => [word, i]));
  }

  /** Token count of every encoded prompt. */
  get maxTokens(): number {
    return this.#spec.maxTokens;
  }

  /** The ids of one prompt, padded to maxTokens. */
  encode(text: string): number[] {
    const { bos, unk, pad, maxTokens } = this.#spec;
    const ids = [bos];
    for (const word of text.split(SEPARATORS)) {
      if (ids.length >= maxTokens) break;
      if (word === '') continue;
      ids.push(this.#ids.get(asciiLower(word)) ?? unk);
    }
    while (ids.length < maxTokens) ids.push(pad);
    return ids;
  }
}

function asciiLower(word: string): string {
  return word.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}
