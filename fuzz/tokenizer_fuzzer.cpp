// Arbitrary bytes through the tokenizer, with OpenAI's real rank files (cl100k_base and
// o200k_base from data/tokenizer/, as the unit tests load them): the pre-tokenization split
// (tokenizer::split), byte-pair merging (Encoding::encode, Encoding::count) and decoding.
//
// Checked, for both encodings: the pieces cover the text in order, none empty; every token is a
// rank the file has; decoding the tokens gives back the bytes exactly; count() agrees with
// encode().

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "costgate/tokenizer/encoding.h"
#include "costgate/tokenizer/split.h"
#include "costgate/tokenizer/unicode_class.h"
#include "fuzz_support.h"

namespace {

using namespace costgate;

std::shared_ptr<const tokenizer::Encoding> load(const std::string& name,
                                                tokenizer::SplitRule rule) {
  auto loaded =
      tokenizer::Encoding::load(name, fuzz::tokenizerDataDir() + "/" + name + ".tiktoken", rule);
  if (auto* error = std::get_if<Error>(&loaded)) {
    std::fprintf(stderr,
                 "tokenizer_fuzzer: %s (run scripts/fetch-tokenizer-data.sh, or set "
                 "COSTGATE_TOKENIZER_DIR)\n",
                 error->message.c_str());
    std::abort();
  }
  return std::get<std::shared_ptr<const tokenizer::Encoding>>(std::move(loaded));
}

struct Encodings {
  std::shared_ptr<const tokenizer::Encoding> cl100k =
      load("cl100k_base", tokenizer::SplitRule::kCl100k);
  std::shared_ptr<const tokenizer::Encoding> o200k =
      load("o200k_base", tokenizer::SplitRule::kO200k);
};

const Encodings& encodings() {
  static const Encodings loaded;
  return loaded;
}

// The highest rank of each file: 100255 and 199997 (the special tokens are not in the files).
constexpr tokenizer::Token kMaxRank[] = {100255, 199997};

void check(const tokenizer::Encoding& encoding, tokenizer::Token max_rank, std::string_view text) {
  std::size_t covered = 0;
  tokenizer::split(text, encoding.rule(), [&](std::string_view piece) {
    FUZZ_CHECK(!piece.empty(), "an empty piece");
    FUZZ_CHECK(piece.data() == text.data() + covered, "a piece out of place");
    covered += piece.size();
  });
  FUZZ_CHECK(covered == text.size(), "pieces cover " + std::to_string(covered) + " of " +
                                         std::to_string(text.size()) + " bytes");

  std::vector<tokenizer::Token> tokens = encoding.encode(text);
  for (tokenizer::Token token : tokens) {
    FUZZ_CHECK(token <= max_rank, encoding.name() + ": token " + std::to_string(token));
  }
  FUZZ_CHECK(tokens.size() <= text.size(), "more tokens than bytes");
  FUZZ_CHECK(text.empty() || !tokens.empty(), "no tokens for a text");
  std::string decoded = encoding.decode(tokens);
  FUZZ_CHECK(decoded == text,
             encoding.name() + ": decode(encode(text)) differs: " + fuzz::excerpt(decoded));
  FUZZ_CHECK(encoding.count(text) == tokens.size(), encoding.name() + ": count() differs");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  encodings();  // loads the rank files before the first input, so no input is charged for it
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::size_t at = 0; at < text.size();) {
    tokenizer::Utf8Char c = tokenizer::decodeUtf8(text, at);
    FUZZ_CHECK(c.length >= 1 && at + c.length <= text.size(), "a character past the end");
    (void)tokenizer::classOf(c.code_point);
    at += c.length;
  }
  check(*encodings().cl100k, kMaxRank[0], text);
  check(*encodings().o200k, kMaxRank[1], text);
  return 0;
}
