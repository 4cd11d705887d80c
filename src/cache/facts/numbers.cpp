#include "costgate/cache/facts/numbers.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <utility>

#include "costgate/cache/facts/toward.h"
#include "costgate/cache/facts/word_lists.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;

struct OperatorMatch {
  std::string text;
  size_t width;
};

std::optional<OperatorMatch> operatorAt(const std::vector<Atom>& atoms, size_t i) {
  if (i >= atoms.size()) return std::nullopt;
  if (atoms[i].kind == AtomKind::kOperator) return OperatorMatch{atoms[i].text, 1};
  const std::string& word = wordAt(atoms, i);
  static const WordMap kOperatorWords = WordMap().add("operator_words");
  if (auto op = kOperatorWords.find(word)) return OperatorMatch{std::string(*op), 1};
  if ((word == "multiplied" || word == "divided") && wordAt(atoms, i + 1) == "by") {
    return OperatorMatch{word == "multiplied" ? "*" : "/", 2};
  }
  return std::nullopt;
}

// An operand: "(" * number ")" *. Appends it and advances i when there is one.
bool readOperand(const std::vector<Atom>& atoms, size_t& i, std::string& expression) {
  size_t k = i;
  std::string part;
  for (; k < atoms.size() && atoms[k].kind == AtomKind::kOpen; ++k) part += '(';
  if (k >= atoms.size() || atoms[k].kind != AtomKind::kNumber) return false;
  part += atoms[k++].text;
  for (; k < atoms.size() && atoms[k].kind == AtomKind::kClose; ++k) part += ')';
  expression += part;
  i = k;
  return true;
}

// Reads the expression starting at atoms[i], if any; returns where to continue (past a run of
// "(" that leads to no number, so "((((" is read once, not once per bracket).
size_t takeExpression(const std::vector<Atom>& atoms, size_t i, std::vector<std::string>& out) {
  std::string expression;
  size_t k = i;
  if (!readOperand(atoms, k, expression)) {
    while (k < atoms.size() && atoms[k].kind == AtomKind::kOpen) ++k;
    return std::max(k, i + 1);
  }
  size_t operators = 0;
  for (;;) {
    auto op = operatorAt(atoms, k);
    if (!op) break;
    size_t after = k + op->width;
    std::string operand;
    if (!readOperand(atoms, after, operand)) break;
    expression += op->text + operand;
    k = after;
    ++operators;
  }
  if (operators > 0) out.push_back(std::move(expression));
  return k;
}

}  // namespace

void collectNumbers(const std::vector<Atom>& atoms, std::vector<std::string>& numbers) {
  for (size_t i = 0; i < atoms.size(); ++i) {
    if (atoms[i].kind != AtomKind::kNumber) continue;
    numbers.push_back(towardBefore(atoms, i) ? std::string(kToward) + atoms[i].text
                                             : atoms[i].text);
  }
  for (size_t i = 0; i < atoms.size();) i = takeExpression(atoms, i, numbers);
}

}  // namespace costgate::cache::facts
