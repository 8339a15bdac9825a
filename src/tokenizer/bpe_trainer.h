// A small byte-level BPE trainer for the built-in demo: learns merges on a corpus and returns a
// tokenizer.json in the Hugging Face format (same normalizer / pre_tokenizer / decoder sections
// as Qwen2's), so the demo's tiny model runs the exact Tokenizer code path. Mirrors the idea of
// tokenizers' BpeTrainer (count word frequencies after pre-tokenization, repeatedly merge the
// most frequent adjacent pair); it is single-threaded and meant for corpora of a few MB.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace popo {

// Returns tokenizer.json text for a byte-level BPE trained on corpus: the 256 byte tokens (ids
// 0..255, in code-point order of their byte-level spelling, as in Qwen2), then one token per
// learned merge, then special_tokens as added tokens with special=true. Words are the pieces of
// the Qwen2 split regex after NFC; occurrences of special_tokens in the corpus are cut out first.
// Each step merges the most frequent adjacent pair, ties broken by the lexicographically smallest
// (left, right) byte-level spelling, so the result is deterministic. vocab_size counts all three
// parts; training stops early (smaller vocabulary) if the corpus runs out of pairs. Throws
// popo::Error if vocab_size < 256 + special_tokens.size() or a special token is empty/duplicated.
std::string train_bpe_tokenizer_json(const std::vector<std::string>& corpus, int32_t vocab_size,
                                     const std::vector<std::string>& special_tokens);

}  // namespace popo
