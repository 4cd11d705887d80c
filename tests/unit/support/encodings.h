#pragma once
// The real rank files for tests (where scripts/fetch-tokenizer-data.sh put them for the build),
// loaded once per test binary.

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>

#include "costgate/tokenizer/encoding.h"

namespace costgate::test_data {

inline std::string tokenizerDataDir() {
  if (const char* dir = std::getenv("COSTGATE_TOKENIZER_DIR"); dir && *dir) return dir;
  return tokenizer::defaultDataDir();
}

inline const tokenizer::Encoding& testEncoding(tokenizer::SplitRule rule) {
  auto load = [](std::string name, tokenizer::SplitRule rule) {
    auto loaded =
        tokenizer::Encoding::loadShared(name, tokenizerDataDir() + "/" + name + ".tiktoken", rule);
    if (auto* error = std::get_if<Error>(&loaded)) throw std::runtime_error(error->message);
    return std::get<std::shared_ptr<const tokenizer::Encoding>>(std::move(loaded));
  };
  static const auto cl100k = load("cl100k_base", tokenizer::SplitRule::kCl100k);
  static const auto o200k = load("o200k_base", tokenizer::SplitRule::kO200k);
  return rule == tokenizer::SplitRule::kCl100k ? *cl100k : *o200k;
}

inline const tokenizer::Encoding& cl100k() { return testEncoding(tokenizer::SplitRule::kCl100k); }
inline const tokenizer::Encoding& o200k() { return testEncoding(tokenizer::SplitRule::kO200k); }

}  // namespace costgate::test_data
