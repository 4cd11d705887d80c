// Single-thread throughput of Encoding::encode and Encoding::count on a corpus file, and the time
// of inputs that make a naive byte-pair merge quadratic. Prints one "key=value" record per line
// for bench/tokenizer/run.sh, which sets these figures beside tiktoken's (wasm) on the same file.
//
//   costgate-tokenizer-bench --data-dir data/tokenizer --corpus FILE [--repeat N]
//                            [--encoding NAME]... [--no-linear]

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "costgate/tokenizer/encoding.h"

namespace {

using costgate::tokenizer::Encoding;
using costgate::tokenizer::SplitRule;
using costgate::tokenizer::Token;
using Clock = std::chrono::steady_clock;

// Keeps results observable so the optimizer cannot drop the work being timed.
volatile std::size_t sink;

double millisecondsOf(const std::function<void()>& work) {
  auto start = Clock::now();
  work();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The best of `repeat` runs after one warm-up run: the minimum is the figure least moved by the
// other processes sharing these machines.
double bestMilliseconds(int repeat, const std::function<void()>& work) {
  work();
  double best = millisecondsOf(work);
  for (int i = 1; i < repeat; ++i) best = std::min(best, millisecondsOf(work));
  return best;
}

// FNV-1a over the ids as 4 little-endian bytes each; wasm.mjs computes the same, so equal hashes
// show both sides produced the same ids, not just as many.
std::uint32_t idsHash(const std::vector<Token>& ids) {
  std::uint32_t hash = 2166136261u;
  for (Token id : ids) {
    for (int shift = 0; shift < 32; shift += 8) {
      hash ^= (id >> shift) & 0xFF;
      hash *= 16777619u;
    }
  }
  return hash;
}

struct LinearInput {
  std::string name;
  std::string text;
};

std::string repeated(std::string_view unit, std::size_t bytes) {
  std::string text;
  text.reserve(bytes);
  while (text.size() + unit.size() <= bytes) text.append(unit);
  return text;
}

std::vector<LinearInput> linearInputs() {
  constexpr std::size_t kMiB = 1 << 20;
  std::string random_bytes(kMiB, '\0');
  // mt19937_64's output is fixed by the standard, so these bytes are the same everywhere.
  std::mt19937_64 generator(20241129);
  for (char& byte : random_bytes) byte = static_cast<char>(generator() & 0xFF);
  return {
      {"a_256KiB", repeated("a", kMiB / 4)},
      {"a_1MiB", repeated("a", kMiB)},
      {"space_1MiB", repeated(" ", kMiB)},
      {"digit1_1MiB", repeated("1", kMiB)},
      {"cjk_1MiB", repeated("\xE4\xB8\xAD", kMiB)},  // U+4E2D
      {"random_bytes_1MiB", std::move(random_bytes)},
  };
}

int usage(const char* message) {
  std::fprintf(stderr,
               "costgate-tokenizer-bench: %s\nusage: costgate-tokenizer-bench --data-dir DIR "
               "--corpus FILE [--repeat N] [--encoding NAME]... [--no-linear]\n",
               message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir = "data/tokenizer";
  std::string corpus_path;
  int repeat = 5;
  bool linear = true;
  std::vector<std::string> encoding_names;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--data-dir" && has_value) {
      data_dir = argv[++i];
    } else if (arg == "--corpus" && has_value) {
      corpus_path = argv[++i];
    } else if (arg == "--repeat" && has_value) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--encoding" && has_value) {
      encoding_names.emplace_back(argv[++i]);
    } else if (arg == "--no-linear") {
      linear = false;
    } else {
      return usage(("unknown or incomplete argument '" + std::string(arg) + "'").c_str());
    }
  }
  if (corpus_path.empty()) return usage("--corpus is required");
  if (encoding_names.empty()) encoding_names = {"cl100k_base", "o200k_base"};

  std::ifstream corpus_file(corpus_path, std::ios::binary);
  if (!corpus_file) return usage(("cannot read " + corpus_path).c_str());
  std::string corpus((std::istreambuf_iterator<char>(corpus_file)),
                     std::istreambuf_iterator<char>());
  std::vector<LinearInput> inputs = linear ? linearInputs() : std::vector<LinearInput>{};

  for (const auto& name : encoding_names) {
    if (name != "o200k_base" && name != "cl100k_base") {
      return usage(("unknown encoding '" + name + "'").c_str());
    }
    SplitRule rule = name == "o200k_base" ? SplitRule::kO200k : SplitRule::kCl100k;
    std::variant<std::shared_ptr<const Encoding>, costgate::Error> loaded;
    double load_ms = millisecondsOf(
        [&] { loaded = Encoding::load(name, data_dir + "/" + name + ".tiktoken", rule); });
    if (auto* error = std::get_if<costgate::Error>(&loaded)) {
      std::fprintf(stderr, "costgate-tokenizer-bench: %s\n", error->message.c_str());
      return 1;
    }
    const Encoding& encoding = *std::get<std::shared_ptr<const Encoding>>(loaded);
    std::printf("load impl=costgate encoding=%s ms=%.1f\n", name.c_str(), load_ms);

    std::vector<Token> ids = encoding.encode(corpus);
    double encode_ms = bestMilliseconds(repeat, [&] { sink = encoding.encode(corpus).size(); });
    std::printf("encode impl=costgate encoding=%s bytes=%zu tokens=%zu ids_fnv=%08" PRIx32
                " best_ms=%.2f mbps=%.2f\n",
                name.c_str(), corpus.size(), ids.size(), idsHash(ids), encode_ms,
                corpus.size() / encode_ms / 1000.0);
    std::size_t counted = 0;
    double count_ms = bestMilliseconds(repeat, [&] { sink = counted = encoding.count(corpus); });
    std::printf("count impl=costgate encoding=%s bytes=%zu tokens=%zu best_ms=%.2f mbps=%.2f\n",
                name.c_str(), corpus.size(), counted, count_ms, corpus.size() / count_ms / 1000.0);
    std::fflush(stdout);

    for (const auto& input : inputs) {
      std::size_t tokens = 0;
      double ms = bestMilliseconds(std::min(repeat, 3),
                                   [&] { sink = tokens = encoding.encode(input.text).size(); });
      std::printf("linear impl=costgate encoding=%s input=%s bytes=%zu tokens=%zu ms=%.2f\n",
                  name.c_str(), input.name.c_str(), input.text.size(), tokens, ms);
      std::fflush(stdout);
    }
  }
  return 0;
}
