#pragma once
// `costgate tokenize`: token ids (or counts) for JSON-string lines on standard input, one output
// line per input line. Used to compare costgate's tokenizer with tiktoken and to count prompt
// tokens from scripts.

#include <string_view>

namespace costgate::tokenizer {

inline constexpr std::string_view kTokenizeUsage =
    R"(usage: costgate tokenize --encoding cl100k_base|o200k_base [--data-dir DIR] [--count]

Reads lines from standard input, each a JSON string, and writes one line per input line: the
JSON array of its token ids (like tiktoken's encode_ordinary: special tokens are plain text), or
with --count just the number of tokens. The rank file is DIR/NAME.tiktoken; DIR defaults to the
build's COSTGATE_TOKENIZER_DIR (data/tokenizer in the source tree, which
scripts/fetch-tokenizer-data.sh fills). Exits 2 on a bad argument or an input line that is not a
JSON string, 1 when the rank file cannot be loaded or the output cannot be written.
)";

// `argv` as main() received it, argv[1] being "tokenize"; returns the exit status.
int runTokenizeCommand(int argc, char** argv);

}  // namespace costgate::tokenizer
