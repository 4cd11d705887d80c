#include "filters/prompt_pruning/pruner.h"

#include <algorithm>
#include <cstddef>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "costgate/openai/prompt_tokens.h"

namespace costgate::filters::prompt_pruning {

namespace {

using jsonview::Value;
using tokenizer::Encoding;
using tokenizer::Token;

// What the pruner may do to a message.
enum class Role {
  kPinned,      // system, developer, or anything not understood: never edited or dropped
  kUser,        // starts a turn
  kAssistant,   // may call tools
  kToolResult,  // tool (or legacy function): answers an assistant's call
};

// A string the pruner may edit: a message's string content or a text part's "text". Edits replace
// exactly the source's bytes, so everything around it goes upstream as the client wrote it.
struct Text {
  Value source;
  std::string value;
  bool edited = false;
};

struct Part {
  Value source;
  std::optional<Text> text{};  // only {"type":"text","text":...} parts; others are never touched
  bool dropped = false;
};

struct Message {
  Value source;
  Role role = Role::kPinned;
  bool calls_tools = false;  // tool_calls, or a legacy function_call
  std::vector<std::string> call_ids{};
  std::string answers_call{};  // a tool result's tool_call_id
  std::optional<Value> content{};
  std::optional<Text> string_content{};
  std::vector<Part> parts{};  // when the content is an array
  bool dropped = false;
  std::string json{};  // the message as it would be sent now
  std::int64_t tokens = 0;
  bool estimated = false;  // some part of `tokens` was estimated (openai/prompt_tokens.h)
};

constexpr auto kReplaceInvalidUtf8 = nlohmann::json::error_handler_t::replace;

std::string quoted(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, kReplaceInvalidUtf8);
}

// `whole` with `inner`, a view into it, replaced by `replacement`.
std::string splice(std::string_view whole, std::string_view inner, std::string_view replacement) {
  const auto at = static_cast<std::size_t>(inner.data() - whole.data());
  std::string out;
  out.reserve(whole.size() - inner.size() + replacement.size());
  out.append(whole.substr(0, at)).append(replacement).append(whole.substr(at + inner.size()));
  return out;
}

pipeline::TokenCount tokensOf(std::string_view message_json, const Encoding& encoding) {
  auto document = jsonview::Document::parse(message_json);
  // Only text this file wrote gets here, and prune() refuses output that does not parse.
  if (!document) return {};
  return openai::countChatMessage(document->root(), encoding);
}

std::int64_t totalTokens(const std::vector<Message>& messages) {
  std::int64_t total = 0;
  for (const Message& message : messages) {
    if (!message.dropped) total += message.tokens;
  }
  return total;
}

template <class Visit>
void forEachText(Message& message, Visit&& visit) {
  if (message.string_content) visit(*message.string_content);
  for (Part& part : message.parts) {
    if (part.text && !part.dropped) visit(*part.text);
  }
}

// --- Reading -------------------------------------------------------------------------------------

Part readPart(const Value& source) {
  Part part{.source = source};
  if (!source.isObject()) return part;
  auto type = source.find("type");
  auto text = source.find("text");
  if (type && type->isString() && type->stringEquals("text") && text && text->isString()) {
    part.text = Text{.source = *text, .value = text->string()};
  }
  return part;
}

Role roleOf(const Value& message) {
  auto role = message.isObject() ? message.find("role") : std::nullopt;
  if (!role || !role->isString()) return Role::kPinned;
  if (role->stringEquals("user")) return Role::kUser;
  if (role->stringEquals("assistant")) return Role::kAssistant;
  if (role->stringEquals("tool") || role->stringEquals("function")) return Role::kToolResult;
  return Role::kPinned;
}

Message readMessage(const Value& source, const Encoding& encoding) {
  Message message{.source = source, .role = roleOf(source), .json = std::string(source.raw())};
  const pipeline::TokenCount count = openai::countChatMessage(source, encoding);
  message.tokens = count.tokens;
  message.estimated = count.estimated;
  if (message.role == Role::kPinned) return message;
  if (auto calls = source.find("tool_calls"); calls && !calls->isNull()) {
    message.calls_tools = true;
    if (calls->isArray()) {
      for (const Value& call : calls->elements()) {
        auto id = call.isObject() ? call.find("id") : std::nullopt;
        if (id && id->isString()) message.call_ids.push_back(id->string());
      }
    }
  }
  if (auto call = source.find("function_call"); call && !call->isNull()) message.calls_tools = true;
  if (auto id = source.find("tool_call_id"); id && id->isString()) {
    message.answers_call = id->string();
  }
  auto content = source.find("content");
  if (content && content->isString()) {
    message.content = content;
    message.string_content = Text{.source = *content, .value = content->string()};
  } else if (content && content->isArray()) {
    message.content = content;
    for (const Value& part : content->elements()) message.parts.push_back(readPart(part));
  }
  return message;
}

// --- Writing -------------------------------------------------------------------------------------

bool isEdited(const Message& message) {
  if (message.string_content) return message.string_content->edited;
  return std::any_of(message.parts.begin(), message.parts.end(), [](const Part& part) {
    return part.dropped || (part.text && part.text->edited);
  });
}

std::string renderPart(const Part& part) {
  if (!part.text || !part.text->edited) return std::string(part.source.raw());
  return splice(part.source.raw(), part.text->source.raw(), quoted(part.text->value));
}

std::string renderContent(const Message& message) {
  if (message.string_content) return quoted(message.string_content->value);
  std::string out = "[";
  for (const Part& part : message.parts) {
    if (part.dropped) continue;
    if (out.size() > 1) out += ',';
    out += renderPart(part);
  }
  return out + "]";
}

// Rewrites the message's text and count after its content changed.
void refresh(Message& message, const Encoding& encoding) {
  message.json = isEdited(message)
                     ? splice(message.source.raw(), message.content->raw(), renderContent(message))
                     : std::string(message.source.raw());
  const pipeline::TokenCount count = tokensOf(message.json, encoding);
  message.tokens = count.tokens;
  message.estimated = count.estimated;
}

std::string renderArray(const std::vector<Message>& messages) {
  std::string out = "[";
  for (const Message& message : messages) {
    if (message.dropped) continue;
    if (out.size() > 1) out += ',';
    out += message.json;
  }
  return out + "]";
}

// --- Whitespace ----------------------------------------------------------------------------------

bool isBlank(std::string_view line) { return line.find_first_not_of(" \t\r") == line.npos; }

std::string_view withoutIndent(std::string_view line) {
  const std::size_t at = line.find_first_not_of(" \t");
  return at == line.npos ? std::string_view() : line.substr(at);
}

// The length of the run of `c` that starts `text`.
std::size_t runOf(std::string_view text, char c) {
  const std::size_t end = text.find_first_not_of(c);
  return end == text.npos ? text.size() : end;
}

// The fence a line opens ("```", "~~~~", ...), or empty. Indented fences count: code in a list
// item is fenced that way. A backtick after the run makes it inline code, as in CommonMark.
std::string_view openedFence(std::string_view line) {
  line = withoutIndent(line);
  if (line.empty() || (line[0] != '`' && line[0] != '~')) return {};
  const std::size_t run = runOf(line, line[0]);
  if (run < 3 || (line[0] == '`' && line.find('`', run) != line.npos)) return {};
  return line.substr(0, run);
}

bool closesFence(std::string_view line, std::string_view fence) {
  line = withoutIndent(line);
  const std::size_t run = runOf(line, fence[0]);
  return run >= fence.size() && isBlank(line.substr(run));
}

// A line's indentation is kept (code pasted without fences, YAML, lists); runs of spaces and tabs
// after it become one space, and trailing ones go.
void appendCollapsed(std::string& out, std::string_view line) {
  const std::size_t indent = std::min(line.find_first_not_of(" \t"), line.size());
  out += line.substr(0, indent);
  line.remove_prefix(indent);
  line = line.substr(0, line.find_last_not_of(" \t") + 1);
  bool in_run = false;
  for (char c : line) {
    const bool space = c == ' ' || c == '\t';
    if (!space || !in_run) out += space ? ' ' : c;
    in_run = space;
  }
}

// Code keeps its indentation and blank lines: in a fenced block they can be meaning (Python, YAML,
// diffs), so fenced lines, the fences included, are copied as they are. An unclosed fence runs to
// the end of the text, as Markdown renders it.
std::string collapseWhitespace(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::string_view fence;
  bool previous_blank = false;
  bool first_line = true;
  auto startLine = [&] {
    if (!first_line) out += '\n';
    first_line = false;
  };
  std::size_t at = 0;
  while (true) {
    const std::size_t end = text.find('\n', at);
    const std::string_view line = text.substr(at, end == text.npos ? text.npos : end - at);
    if (!fence.empty()) {
      startLine();
      out += line;
      if (closesFence(line, fence)) fence = {};
      previous_blank = false;
    } else if (isBlank(line)) {
      if (!previous_blank) startLine();
      previous_blank = true;
    } else {
      startLine();
      fence = openedFence(line);
      if (fence.empty()) {
        appendCollapsed(out, line);
      } else {
        out += line;
      }
      previous_blank = false;
    }
    if (end == text.npos) break;
    at = end + 1;
  }
  // Blank lines at the ends go; the first line keeps its indentation.
  std::size_t begin = out.find_first_not_of(" \t\r\n");
  if (begin == out.npos) return {};
  const std::size_t line_start = out.rfind('\n', begin);
  begin = line_start == out.npos ? 0 : line_start + 1;
  return out.substr(begin, out.find_last_not_of(" \t\r\n") + 1 - begin);
}

void collapseWhitespace(std::vector<Message>& messages, const Encoding& encoding) {
  for (Message& message : messages) {
    if (message.role == Role::kPinned) continue;
    Message before = message;
    bool changed = false;
    forEachText(message, [&](Text& text) {
      std::string collapsed = collapseWhitespace(text.value);
      if (collapsed == text.value) return;
      text.value = std::move(collapsed);
      text.edited = changed = true;
    });
    if (!changed) continue;
    refresh(message, encoding);
    // Some whitespace runs are one token; splitting the words around them differently can, rarely,
    // cost more than the spaces did, and then the text stays as sent.
    if (message.tokens > before.tokens) message = std::move(before);
  }
}

// --- Duplicates ----------------------------------------------------------------------------------

// A JSON value compared by meaning: member order, escapes and spacing do not matter. Empty when
// the text does not parse (only for text this file did not check), so it equals nothing.
std::string canonical(std::string_view json) {
  auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return {};
  return parsed.dump(-1, ' ', false, kReplaceInvalidUtf8);
}

void dropDuplicateParts(Message& message, const Encoding& encoding) {
  std::unordered_set<std::string> seen;
  bool changed = false;
  for (Part& part : message.parts) {
    if (!part.text) continue;
    std::string key = canonical(renderPart(part));
    if (!key.empty() && !seen.insert(std::move(key)).second) part.dropped = changed = true;
  }
  if (changed) refresh(message, encoding);
}

// Tool calls and their results are never dropped as duplicates: the same call made twice is two
// calls, and its result is only valid next to it. Whether a message is dropped depends only on the
// messages before it, so a decision made while a message was the newest holds every later turn and
// the prefix a provider cached stays as sent. That is why a repeated user message right after a
// message that is not a user message stays: it may be the question of its turn, which cannot be
// known from what comes before it. Right after a kept user message (a double submit, "try again"
// sent twice) it goes: the turn still asks, with the message it repeats.
void dropDuplicateMessages(std::vector<Message>& messages) {
  std::unordered_set<std::string> seen;
  const Message* previous_kept = nullptr;
  for (Message& message : messages) {
    if (message.dropped) continue;
    const bool droppable =
        (message.role == Role::kUser || message.role == Role::kAssistant) && !message.calls_tools;
    if (droppable) {
      std::string key = canonical(message.json);
      const bool repeat = !key.empty() && !seen.insert(std::move(key)).second;
      const bool may_ask =
          message.role == Role::kUser && (!previous_kept || previous_kept->role != Role::kUser);
      message.dropped = repeat && !may_ask;
    }
    if (!message.dropped) previous_kept = &message;
  }
}

void dropDuplicates(std::vector<Message>& messages, const Encoding& encoding) {
  for (Message& message : messages) {
    if (message.role != Role::kPinned && !message.parts.empty()) {
      dropDuplicateParts(message, encoding);
    }
  }
  dropDuplicateMessages(messages);
}

// --- Old turns -----------------------------------------------------------------------------------

// The kept messages after the leading pinned ones, as turns (indices into `messages`), oldest
// first. A turn starts at a user message, unless that message sits between a tool call and one of
// its results: then the turn goes on, so a call and its results are always dropped together.
std::vector<std::vector<std::size_t>> turnsOf(const std::vector<Message>& messages) {
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (!messages[i].dropped) kept.push_back(i);
  }
  // Summed up to kept position k, open[] counts the calls made before k with a result at or after
  // k: a turn cannot start there.
  std::vector<int> open(kept.size() + 1, 0);
  std::unordered_map<std::string, std::size_t> caller_by_id;
  std::optional<std::size_t> last_caller;
  for (std::size_t k = 0; k < kept.size(); ++k) {
    const Message& message = messages[kept[k]];
    if (message.role == Role::kToolResult) {
      // Without a matching id (legacy function results, ids a client got wrong), the result
      // belongs to the nearest call before it.
      auto by_id = caller_by_id.find(message.answers_call);
      auto caller = by_id != caller_by_id.end() ? std::optional(by_id->second) : last_caller;
      if (caller) {
        ++open[*caller + 1];
        --open[k + 1];
      }
    }
    if (message.calls_tools) {
      last_caller = k;
      for (const std::string& id : message.call_ids) caller_by_id[id] = k;
    }
  }
  std::size_t first = 0;
  while (first < kept.size() && messages[kept[first]].role == Role::kPinned) ++first;
  std::vector<std::vector<std::size_t>> turns;
  int calls_open = 0;
  for (std::size_t k = 0; k < kept.size(); ++k) {
    calls_open += open[k];
    if (k < first) continue;
    if (turns.empty() || (messages[kept[k]].role == Role::kUser && calls_open == 0)) {
      turns.emplace_back();
    }
    turns.back().push_back(kept[k]);
  }
  return turns;
}

// What dropping a turn saves: its messages but the pinned ones, which stay where they are.
std::int64_t droppableTokens(const std::vector<Message>& messages,
                             const std::vector<std::size_t>& turn) {
  std::int64_t tokens = 0;
  for (std::size_t i : turn) {
    if (messages[i].role != Role::kPinned) tokens += messages[i].tokens;
  }
  return tokens;
}

void dropTurn(std::vector<Message>& messages, const std::vector<std::size_t>& turn) {
  for (std::size_t i : turn) {
    if (messages[i].role != Role::kPinned) messages[i].dropped = true;
  }
}

// The turns go in steps of `step` tokens measured on `stable_total`, the total with the question
// counted as it will be sent on later turns (cut, when it is over max_message_tokens): the cut is
// the first turn boundary at or after ceil((stable_total - budget) / step) x step tokens, so it
// moves only when the conversation's growth crosses the next multiple of the step, and the turns
// kept start at the same message meanwhile. Only when that is not enough for this request (its
// question is over max_message_tokens, or the step measure fell short) are more turns dropped, for
// this request alone: the next turn goes back to the stable cut, a prefix the provider has seen.
// At least one turn stays whatever keep_last_turns says: without its last user message a request
// asks nothing, and without any message it is no request. Where keep_last_turns binds, the cut
// moves every turn; a budget that holds them with room to spare avoids that.
void dropOldTurns(std::vector<Message>& messages, std::size_t keep_last_turns, std::int64_t budget,
                  std::int64_t step, std::int64_t stable_total) {
  const auto turns = turnsOf(messages);
  const std::size_t keep = std::max<std::size_t>(keep_last_turns, 1);
  const std::size_t droppable = turns.size() > keep ? turns.size() - keep : 0;
  std::size_t t = 0;
  if (stable_total > budget) {
    const std::int64_t excess = stable_total - budget;
    const std::int64_t target = (excess + step - 1) / step * step;
    for (std::int64_t cut = 0; t < droppable && cut < target; ++t) {
      cut += droppableTokens(messages, turns[t]);
      dropTurn(messages, turns[t]);
    }
  }
  for (std::int64_t total = totalTokens(messages); t < droppable && total > budget; ++t) {
    total -= droppableTokens(messages, turns[t]);
    dropTurn(messages, turns[t]);
  }
}

// --- Truncation ----------------------------------------------------------------------------------

bool isContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// `text` is valid UTF-8 (the body's index checked it), so a byte that is not a continuation byte
// starts a character.
std::size_t characterStartAtOrBefore(std::string_view text, std::size_t at) {
  while (at > 0 && at < text.size() && isContinuationByte(text[at])) --at;
  return at;
}

std::size_t characterStartAtOrAfter(std::string_view text, std::size_t at) {
  while (at < text.size() && isContinuationByte(text[at])) ++at;
  return at;
}

// The first and last of `keep` tokens of `text` with `marker` between. Tokens cover the text's
// bytes in order, so the decoded head and tail are its prefix and suffix: only where they are cut
// can a character be split, and there the cut moves to the nearest whole character inside.
std::string headAndTail(std::string_view text, std::span<const Token> tokens, std::size_t keep,
                        std::string_view marker, const Encoding& encoding) {
  const std::size_t head_tokens = (keep + 1) / 2;
  const std::size_t head_bytes =
      std::min(encoding.decode(tokens.first(head_tokens)).size(), text.size());
  const std::size_t tail_bytes =
      std::min(encoding.decode(tokens.last(keep - head_tokens)).size(), text.size());
  const std::size_t head_end = characterStartAtOrBefore(text, head_bytes);
  const std::size_t tail_begin =
      std::max(head_end, characterStartAtOrAfter(text, text.size() - tail_bytes));
  std::string out;
  out.reserve(head_end + marker.size() + text.size() - tail_begin);
  out.append(text.substr(0, head_end)).append(marker).append(text.substr(tail_begin));
  return out;
}

// Cuts the middle of `text` to `max_tokens` (the marker included, give or take the tokens that
// merge where head, marker and tail meet); returns whether it was over.
bool cutText(Text& text, std::int64_t max_tokens, std::string_view marker,
             std::int64_t marker_tokens, const Encoding& encoding) {
  const std::vector<Token> tokens = encoding.encode(text.value);
  if (static_cast<std::int64_t>(tokens.size()) <= max_tokens) return false;
  const std::int64_t keep = std::max<std::int64_t>(max_tokens - marker_tokens, 0);
  text.value = headAndTail(text.value, tokens, static_cast<std::size_t>(keep), marker, encoding);
  text.edited = true;
  return true;
}

// Cuts each of the message's texts over `max_tokens`; returns whether any was.
bool cutLongTexts(Message& message, std::int64_t max_tokens, std::string_view marker,
                  std::int64_t marker_tokens, const Encoding& encoding) {
  bool cut = false;
  forEachText(message, [&](Text& text) {
    cut = cutText(text, max_tokens, marker, marker_tokens, encoding) || cut;
  });
  if (cut) refresh(message, encoding);
  return cut;
}

// The last kept user message: the question the request asks, never cut nor dropped.
std::optional<std::size_t> questionOf(const std::vector<Message>& messages) {
  for (std::size_t i = messages.size(); i-- > 0;) {
    if (!messages[i].dropped && messages[i].role == Role::kUser) return i;
  }
  return std::nullopt;
}

// Cuts every text over `max_tokens` but the question's, a rule of each message's own: a message
// is cut the same way every turn it is sent. Returns what cutting the question too would save,
// which the turns' step measure counts as saved (it will be, from the next turn on).
std::int64_t truncateLongTexts(std::vector<Message>& messages, std::int64_t max_tokens,
                               std::string_view marker, const Encoding& encoding) {
  const auto marker_tokens = static_cast<std::int64_t>(encoding.count(marker));
  const std::optional<std::size_t> question = questionOf(messages);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    Message& message = messages[i];
    if (message.role == Role::kPinned || message.dropped || i == question) continue;
    cutLongTexts(message, max_tokens, marker, marker_tokens, encoding);
  }
  if (!question) return 0;
  Message cut_question = messages[*question];
  if (!cutLongTexts(cut_question, max_tokens, marker, marker_tokens, encoding)) return 0;
  return std::max<std::int64_t>(messages[*question].tokens - cut_question.tokens, 0);
}

// --- The steps in order --------------------------------------------------------------------------

PruneResult unchanged(std::int64_t tokens, std::optional<std::int64_t> budget) {
  PruneResult result;
  result.tokens_before = result.tokens_after = tokens;
  result.within_budget = !budget || tokens <= *budget;
  return result;
}

PruneResult pruneArray(const Value& array, const PruneSteps& steps,
                       std::optional<std::int64_t> budget, const Encoding& encoding) {
  std::vector<Message> messages;
  messages.reserve(array.size());
  for (const Value& element : array.elements()) messages.push_back(readMessage(element, encoding));

  PruneResult result;
  result.tokens_before = totalTokens(messages);
  std::int64_t total = result.tokens_before;
  auto ran = [&](std::int64_t& saved) {
    const std::int64_t now = totalTokens(messages);
    saved = total - now;
    total = now;
  };
  if (steps.collapse_whitespace) {
    collapseWhitespace(messages, encoding);
    ran(result.saved_by_whitespace);
  }
  if (steps.drop_duplicates) {
    dropDuplicates(messages, encoding);
    ran(result.saved_by_duplicates);
  }
  // Once over, a growing conversation stays over: the switch is thrown once per conversation.
  const bool over_budget = budget && total > *budget;
  std::int64_t question_excess = 0;
  if (over_budget && steps.truncate_longest) {
    const std::int64_t max_tokens =
        steps.max_message_tokens.value_or(std::max<std::int64_t>(*budget / 4, 1));
    question_excess = truncateLongTexts(messages, max_tokens, steps.marker, encoding);
    ran(result.saved_by_truncation);
  }
  if (over_budget && steps.drop_old_turns && total > *budget) {
    const auto step = std::max<std::int64_t>(
        static_cast<std::int64_t>(steps.compact_step * static_cast<double>(*budget)), 1);
    dropOldTurns(messages, steps.keep_last_turns, *budget, step, total - question_excess);
    ran(result.saved_by_old_turns);
  }
  result.tokens_after = total;
  result.within_budget = !budget || total <= *budget;
  result.estimated = std::any_of(messages.begin(), messages.end(), [](const Message& message) {
    return !message.dropped && message.estimated;
  });

  const bool changed = std::any_of(messages.begin(), messages.end(), [](const Message& message) {
    return message.dropped || isEdited(message);
  });
  if (!changed) return result;
  std::string out = renderArray(messages);
  // Every edit is spliced into checked JSON; this is the guard that a bug here cannot send a
  // backend a body it would reject.
  if (!jsonview::Document::parse(out)) return unchanged(result.tokens_before, budget);
  result.messages = std::move(out);
  return result;
}

}  // namespace

PruneResult prune(const jsonview::Value& messages, const PruneSteps& steps,
                  std::optional<std::int64_t> budget, const tokenizer::Encoding& encoding) {
  if (!messages.isArray()) return unchanged(0, budget);
  try {
    return pruneArray(messages, steps, budget, encoding);
  } catch (...) {
    // Pruning only saves money: if it fails (out of memory), the request goes on as sent, and is
    // judged by its whole count, so a failure can never let it past a budget.
    try {
      pipeline::TokenCount count;
      for (const Value& message : messages.elements()) {
        count += openai::countChatMessage(message, encoding);
      }
      PruneResult result = unchanged(count.tokens, budget);
      result.estimated = count.estimated;
      return result;
    } catch (...) {
      PruneResult result = unchanged(0, budget);
      result.within_budget = false;
      result.estimated = true;
      return result;
    }
  }
}

}  // namespace costgate::filters::prompt_pruning
