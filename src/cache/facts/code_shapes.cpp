#include "costgate/cache/facts/code_shapes.h"

#include <algorithm>
#include <cstddef>

#include "costgate/cache/facts/text.h"

namespace costgate::cache::facts {
namespace {

using std::size_t;
using std::string_view;
constexpr size_t npos = string_view::npos;

bool isUrlOrPath(string_view c) {
  if (c.find("://") != npos) return true;
  if (c[0] == '/' && c.size() > 1 && (isAlnum(c[1]) || c[1] == '.' || c[1] == '_' || c[1] == '~')) {
    return true;  // /etc/hosts
  }
  if (c.starts_with("~/") || c.starts_with("./") || c.starts_with("../")) return true;
  if (c.size() > 2 && isAlpha(c[0]) && c[1] == ':' && (c[2] == '\\' || c[2] == '/')) return true;
  // "src/", a directory named as one
  if (c.size() > 1 && c.back() == '/' && std::count(c.begin(), c.end(), '/') == 1) return true;
  // "a/b/c" and "dir\file"; one slash inside a word is prose: "and/or", "TCP/IP"
  return c.find('\\') != npos || std::count(c.begin(), c.end(), '/') >= 2;
}

bool isFlag(string_view c) {
  if (c.starts_with("--")) return c.size() > 2 && isAlnum(c[2]);
  if (c[0] != '-' || c.size() < 2 || !isAlpha(c[1])) return false;  // -f, -la, -Xmx512m
  return std::all_of(c.begin() + 1, c.end(),
                     [](char ch) { return isAlnum(ch) || ch == '-' || ch == '=' || ch == '_'; });
}

bool isSigil(string_view c) {  // $HOME, ${VAR}, @Override, #include
  if (c.size() < 2) return false;
  bool name = isAlpha(c[1]) || c[1] == '_';
  return (c[0] == '$' && (name || c[1] == '{' || c[1] == '(')) ||
         ((c[0] == '@' || c[0] == '#') && name);
}

bool hasOperatorInside(string_view c) {  // snake_case, a::b, p->x, key=value, vector<int>
  if (c.find('_') != npos || c.find("::") != npos || c.find('=') != npos) return true;
  size_t arrow = c.find("->");
  if (arrow != npos && arrow > 0 && arrow + 2 < c.size()) return true;
  size_t angle = c.find('<');
  return angle != npos && c.find('>', angle) != npos && (angle == 0 || isAlnum(c[angle - 1]));
}

bool isCallOrIndex(string_view c) {  // f(), foo(bar), os.path.join(a, b), arr[0]
  for (size_t k = 1; k < c.size(); ++k) {
    if ((c[k] != '(' && c[k] != '[') || !isNameByte(c[k - 1])) continue;
    string_view rest = c.substr(k);
    if (rest != "(s)" && rest != "(es)") return true;  // "file(s)" is prose
  }
  return false;
}

// os.path.join, config.yaml, Node.js, .env; not "e.g", "3.11" or "v1.2" (numbers).
bool isDotted(string_view c) {
  if (c[0] == '.') return c.size() > 1 && isAlpha(c[1]);
  bool longSegment = false;  // "e.g" and "U.S" are all one-letter segments
  size_t segment = 0;
  bool dotBeforeLetter = false;
  for (size_t k = 0; k < c.size(); ++k) {
    if (c[k] != '.') {
      if (++segment > 1) longSegment = true;
      continue;
    }
    segment = 0;
    char before = k > 0 ? c[k - 1] : '\0';
    char after = k + 1 < c.size() ? c[k + 1] : '\0';
    bool nameBefore = isAlnum(before) || before == '_' || before == ')' || before == ']';
    dotBeforeLetter = dotBeforeLetter || (nameBefore && (isAlpha(after) || after == '_'));
  }
  return dotBeforeLetter && longSegment;
}

// camelCase (getUserName, useState, macOS) and PascalCase with an inner word (HttpClient,
// JSONParser, GitHub). "iPhone", "OpenAI", "PostgreSQL" and "APIs" are names, not code.
bool isCamelCase(string_view c) {
  if (!std::all_of(c.begin(), c.end(), isAlnum)) return false;
  if (c.size() >= 3 && isLower(c[0]) && isLower(c[1])) {
    return std::any_of(c.begin() + 2, c.end(), isUpper);
  }
  if (!isUpper(c[0])) return false;
  for (size_t k = 2; k + 2 < c.size(); ++k) {
    if (isUpper(c[k]) && isLower(c[k + 1]) && isLower(c[k + 2])) return true;
  }
  return false;
}

}  // namespace

bool looksLikeCode(string_view c) {
  if (!hasAlpha(c)) return false;
  return isUrlOrPath(c) || isFlag(c) || isSigil(c) || hasOperatorInside(c) || isCallOrIndex(c) ||
         isDotted(c) || isCamelCase(c);
}

// ---------------------------------------------------------------------------------------------

}  // namespace costgate::cache::facts
