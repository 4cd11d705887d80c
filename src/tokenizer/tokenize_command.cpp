#include "costgate/tokenizer/tokenize_command.h"

#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "costgate/tokenizer/encoding.h"

namespace costgate::tokenizer {
namespace {

// Output is written in blocks rather than per line: a flush per line costs a system call per
// line, several times the tokenizing itself for short lines.
constexpr std::size_t kOutputBlock = 1 << 20;
constexpr std::size_t kInputBlock = 1 << 20;

bool writeAll(std::string& out) {
  bool ok = out.empty() || std::fwrite(out.data(), 1, out.size(), stdout) == out.size();
  out.clear();
  return ok;
}

void appendNumber(std::string& out, std::size_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

class LineProcessor {
 public:
  LineProcessor(const Encoding& encoding, bool count_only)
      : encoding_(encoding), count_only_(count_only) {}

  // Appends the answer for one input line to `out`; false (after printing why) when the line is
  // not a JSON string.
  bool process(std::string_view line, std::string& out) {
    ++line_number_;
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      std::cerr << "costgate tokenize: line " << line_number_
                << " is not a JSON string: " << e.what() << "\n";
      return false;
    }
    if (!value.is_string()) {
      std::cerr << "costgate tokenize: line " << line_number_ << " is not a JSON string but "
                << value.type_name() << "\n";
      return false;
    }
    const auto& text = value.get_ref<const std::string&>();
    if (count_only_) {
      appendNumber(out, encoding_.count(text));
    } else {
      out.push_back('[');
      bool first = true;
      for (Token token : encoding_.encode(text)) {
        if (!first) out.push_back(',');
        first = false;
        appendNumber(out, token);
      }
      out.push_back(']');
    }
    out.push_back('\n');
    return true;
  }

 private:
  const Encoding& encoding_;
  bool count_only_;
  std::size_t line_number_ = 0;
};

// 0; 2 at the first line that is not a JSON string (the answers before it are written); 1 when
// reading or writing fails.
int processInput(LineProcessor& processor, std::string& out) {
  std::string pending;
  auto buffer = std::make_unique<char[]>(kInputBlock);
  for (;;) {
    std::size_t got = std::fread(buffer.get(), 1, kInputBlock, stdin);
    bool at_end = got < kInputBlock;
    pending.append(buffer.get(), got);
    std::size_t start = 0;
    for (std::size_t newline; (newline = pending.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      if (!processor.process(std::string_view(pending).substr(start, newline - start), out)) {
        writeAll(out);
        return 2;
      }
      if (out.size() >= kOutputBlock && !writeAll(out)) {
        std::cerr << "costgate tokenize: cannot write the output\n";
        return 1;
      }
    }
    pending.erase(0, start);
    if (at_end) break;
  }
  if (std::ferror(stdin)) {
    std::cerr << "costgate tokenize: cannot read the input\n";
    return 1;
  }
  // A last line without a newline still counts; an empty remainder is just the final newline.
  if (!pending.empty() && !processor.process(pending, out)) {
    writeAll(out);
    return 2;
  }
  return 0;
}

}  // namespace

int runTokenizeCommand(int argc, char** argv) {
  std::string encoding_name;
  std::string data_dir = defaultDataDir();
  bool count_only = false;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--help" || arg == "-h") {
      std::cout << kTokenizeUsage;
      return 0;
    } else if (arg == "--encoding" && has_value) {
      encoding_name = argv[++i];
    } else if (arg == "--data-dir" && has_value) {
      data_dir = argv[++i];
    } else if (arg == "--count") {
      count_only = true;
    } else {
      std::cerr << "costgate tokenize: unknown or incomplete argument '" << arg << "'\n"
                << kTokenizeUsage;
      return 2;
    }
  }
  SplitRule rule;
  if (encoding_name == "cl100k_base") {
    rule = SplitRule::kCl100k;
  } else if (encoding_name == "o200k_base") {
    rule = SplitRule::kO200k;
  } else {
    std::cerr << "costgate tokenize: --encoding must be cl100k_base or o200k_base"
              << (encoding_name.empty() ? "" : ", not '" + encoding_name + "'") << "\n"
              << kTokenizeUsage;
    return 2;
  }

  auto loaded = Encoding::load(encoding_name, data_dir + "/" + encoding_name + ".tiktoken", rule);
  if (auto* error = std::get_if<Error>(&loaded)) {
    std::cerr << "costgate tokenize: " << error->message << "\n";
    return 1;
  }
  const auto& encoding = std::get<std::shared_ptr<const Encoding>>(loaded);

  LineProcessor processor(*encoding, count_only);
  std::string out;
  out.reserve(kOutputBlock + 4096);
  int status = processInput(processor, out);
  if (status != 0) return status;
  if (!writeAll(out) || std::fflush(stdout) != 0) {
    std::cerr << "costgate tokenize: cannot write the output\n";
    return 1;
  }
  return 0;
}

}  // namespace costgate::tokenizer
