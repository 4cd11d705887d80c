#pragma once
// A tiktoken-compatible byte-pair encoding (cl100k_base, o200k_base, or any .tiktoken rank file
// split by one of their rules). Immutable once loaded, shared by every thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "costgate/error.h"
#include "costgate/tokenizer/split.h"

namespace costgate::tokenizer {

using Token = std::uint32_t;

// Where the rank files are when the configuration does not say: the directory fixed at build time
// (COSTGATE_TOKENIZER_DIR, where scripts/fetch-tokenizer-data.sh puts them), so that the gateway
// and `costgate tokenize` work from any directory.
const char* defaultDataDir();

// The encoding OpenAI uses for a model, by its name ("gpt-4o-mini" -> "o200k_base"), or empty
// when the name is not one of OpenAI's families.
std::string_view encodingForModel(std::string_view model);

// The split rule of a built-in encoding name ("cl100k_base", "o200k_base"), or nullopt.
std::optional<SplitRule> splitRuleOf(std::string_view encoding_name);

class Encoding {
 public:
  // Reads a .tiktoken rank file (lines of "<base64 bytes> <rank>"); the error says what is wrong
  // and where.
  static std::variant<std::shared_ptr<const Encoding>, Error> load(std::string name,
                                                                   const std::string& path,
                                                                   SplitRule rule);
  // load(), once per process for each path and rule: a configuration reloaded, or checked in
  // tests, reuses the loaded ranks instead of reading megabytes again.
  static std::variant<std::shared_ptr<const Encoding>, Error> loadShared(std::string name,
                                                                         const std::string& path,
                                                                         SplitRule rule);
  // Builds one from ranks already in memory, rank i being tokens[i] (tests, benchmarks).
  static std::shared_ptr<const Encoding> fromTokens(std::string name,
                                                    std::vector<std::string> tokens,
                                                    SplitRule rule);
  ~Encoding();

  const std::string& name() const { return name_; }
  SplitRule rule() const { return rule_; }

  // Like tiktoken's encode_ordinary: special tokens are ordinary text. Bytes that are not UTF-8
  // are encoded like any other bytes. Time grows as n log n at worst, never quadratically.
  std::vector<Token> encode(std::string_view text) const;
  // encode(text).size(), without building the vector.
  std::size_t count(std::string_view text) const;
  // The bytes of `tokens`; ids the encoding does not have are skipped.
  std::string decode(std::span<const Token> tokens) const;

  struct Ranks;  // the byte string -> rank table

 private:
  Encoding(std::string name, SplitRule rule, std::unique_ptr<Ranks> ranks);
  template <class Emit>
  void encodePiece(std::string_view piece, Emit&& emit) const;

  std::string name_;
  SplitRule rule_;
  std::unique_ptr<Ranks> ranks_;
};

}  // namespace costgate::tokenizer
