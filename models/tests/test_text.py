"""The tokenizer takes any UTF-8 text; the text encoder takes any ids it makes."""
import unittest

import torch

from livegen.text import TextConfig, TextEncoder, default_tokenizer


class TokenizerTest(unittest.TestCase):
    def setUp(self):
        self.tok = default_tokenizer()

    def test_grammar_words_map_to_their_ids_case_insensitively(self):
        ids = self.tok.encode("A LARGE Red circle, moving left!")
        words = [self.tok.vocab[i] for i in ids if i != 0]
        self.assertEqual(words, ["[BOS]", "a", "large", "red", "circle", "moving", "left"])

    def test_unknown_words_and_other_scripts_map_to_unk(self):
        ids = self.tok.encode("a zebra 🦓 très красный 赤い circle")
        words = [self.tok.vocab[i] for i in ids if i != 0]
        self.assertEqual(words, ["[BOS]", "a", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "circle"])

    def test_long_prompts_are_clipped_and_empty_prompts_are_bos_alone(self):
        self.assertEqual(len(self.tok.encode("red " * 10000)), self.tok.max_tokens)
        self.assertEqual(self.tok.encode("")[:2], [2, 0])
        self.assertEqual(self.tok.encode(" ,.;\t\n")[:2], [2, 0])

    def test_control_characters_inside_words_make_them_unknown(self):
        ids = self.tok.encode("red\x00dish")
        self.assertEqual([self.tok.vocab[i] for i in ids if i != 0], ["[BOS]", "[UNK]"])


class TextEncoderTest(unittest.TestCase):
    def test_outputs_embeddings_and_mask_for_any_batch(self):
        tok = default_tokenizer()
        enc = TextEncoder(TextConfig(vocab_size=len(tok.vocab))).eval()
        with torch.no_grad():
            emb, mask = enc(tok.batch(["a red circle", "", "🦓" * 50]))
        self.assertEqual(emb.shape, (3, tok.max_tokens, 128))
        self.assertEqual(mask.sum(1).tolist(), [4.0, 1.0, 2.0])
        self.assertTrue(torch.isfinite(emb).all())


if __name__ == "__main__":
    unittest.main()
