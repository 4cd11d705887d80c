#pragma once
// What looks like code in prose: a chunk of one of these shapes is an identifier, kept whole and
// case kept.

#include <string_view>

namespace costgate::cache::facts {

// Whether a trimmed chunk looks like code: it has a letter and is a URL or path (/etc/hosts,
// ~/x, C:\x, a/b/c), a flag (--force, -la), a sigil ($HOME, @Override, #include), has an
// operator inside (snake_case, a::b, p->x, key=value, vector<int>), is a call or index (f(),
// arr[0]), a dotted name (os.path.join, config.yaml, .env) or camelCase (getUserName,
// HttpClient). "and/or", "e.g", "3.11", "file(s)", "iPhone" and "OpenAI" are not.
bool looksLikeCode(std::string_view chunk);

}  // namespace costgate::cache::facts
