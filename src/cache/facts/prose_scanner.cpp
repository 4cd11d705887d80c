#include "costgate/cache/facts/prose_scanner.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "costgate/cache/facts/chunk_lexer.h"
#include "costgate/cache/facts/chunks.h"
#include "costgate/cache/facts/code_shapes.h"
#include "costgate/cache/facts/punctuation.h"
#include "costgate/cache/facts/text.h"
#include "costgate/cache/facts/toward.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;
using std::string_view;
constexpr size_t npos = string_view::npos;
constexpr size_t kMaxCallLength = 120;  // "foo(a, b)" stays one chunk up to this length

class ProseScanner {
 public:
  ProseScanner(string_view prose, Facts& facts) : prose_(prose), facts_(facts) {}

  std::vector<Atom> scan() {
    for (size_t i = 0; i < prose_.size();) {
      if (size_t width = spaceWidth(prose_, i)) {
        if (prose_[i] == '\n') {
          endSentence();
          lineStart_ = true;
        }
        i += width;
        continue;
      }
      size_t end = chunkEnd(i);
      takeChunk(prose_.substr(i, end - i));
      i = end;
    }
    return std::move(atoms_);
  }

 private:
  // A chunk ends at whitespace, except inside a call's parentheses: "foo(a, b)" is one chunk.
  size_t chunkEnd(size_t begin) const {
    size_t j = begin;
    while (j < prose_.size() && spaceWidth(prose_, j) == 0) {
      if (prose_[j] == '(' && j > begin && isNameByte(prose_[j - 1])) {
        if (size_t close = matchingParen(j); close != npos) {
          j = close + 1;
          continue;
        }
      }
      ++j;
    }
    return j;
  }

  size_t matchingParen(size_t open) const {
    int depth = 0;
    size_t limit = std::min(prose_.size(), open + kMaxCallLength);
    for (size_t k = open; k < limit; ++k) {
      char c = prose_[k];
      if (c == '\n' || c == kMask) return npos;
      depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      if (depth == 0) return k;
    }
    return npos;
  }

  void takeChunk(string_view raw) {
    if (lineStart_ && isListMarker(raw)) return;
    Trimmed t = trimChunk(raw);
    bool content = t.core.empty() ? lex(raw, false).value_or(false) : classify(t.core);
    if (content) sentenceStart_ = lineStart_ = false;
    if (t.sentenceEnd && !(t.onlyDots && isAbbreviation(t.core))) {
      endSentence();
    } else if (t.pause) {
      atoms_.push_back(makeAtom(AtomKind::kPause));
    }
  }

  // Returns whether the chunk had content (words, numbers, names), as opposed to punctuation.
  bool classify(string_view core) {
    if (isComparison(core)) {
      facts_.identifiers.emplace_back(core);
      lex(core, false);  // also an operator, for "5 >= 3"
      return false;
    }
    if (isLanguageName(core)) return addWhole(facts_.entities, lowered(core));
    if (looksLikeCode(core)) return addWhole(facts_.identifiers, std::string(core));
    if (hasAlpha(core) && hasDigit(core)) {
      if (lex(core, true)) return true;
      return addWhole(facts_.entities, lowered(core));  // 2FA, S3, GPT-4o, x86
    }
    return lex(core, false).value_or(false);
  }

  bool addWhole(std::vector<std::string>& group, std::string fact) {
    if (towardBefore(atoms_, atoms_.size())) fact.insert(0, kToward);
    group.push_back(std::move(fact));
    atoms_.push_back(makeAtom(AtomKind::kOther));
    return true;
  }

  // Lexes a chunk onto the stream: nullopt if strict lexing failed, else whether it had content.
  std::optional<bool> lex(string_view chunk, bool strict) {
    std::vector<Atom> atoms;
    bool afterValue = !atoms_.empty() && (atoms_.back().kind == AtomKind::kNumber ||
                                          atoms_.back().kind == AtomKind::kClose);
    if (!ChunkLexer(chunk, strict, afterValue).run(atoms)) return std::nullopt;
    bool content = false;
    for (Atom& atom : atoms) {
      content = content || atom.kind == AtomKind::kWord || atom.kind == AtomKind::kNumber;
      atom.sentenceStart = sentenceStart_ && atom.kind == AtomKind::kWord;
      atoms_.push_back(std::move(atom));
    }
    return content;
  }

  void endSentence() {
    if (!atoms_.empty() && atoms_.back().kind != AtomKind::kSentenceEnd) {
      atoms_.push_back(makeAtom(AtomKind::kSentenceEnd));
    }
    sentenceStart_ = true;
  }

  string_view prose_;
  Facts& facts_;
  std::vector<Atom> atoms_;
  bool sentenceStart_ = true;
  bool lineStart_ = true;
};

}  // namespace

std::vector<Atom> scanProse(std::string_view prose, Facts& facts) {
  return ProseScanner(prose, facts).scan();
}

}  // namespace costgate::cache::facts
