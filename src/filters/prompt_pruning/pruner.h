#pragma once
// The prompt pruner: removes what costs tokens and adds nothing from a chat request's messages.
// Plain data in, plain data out: it reads the messages through the body's index and writes the
// new messages array as JSON text, which the filter puts in the request.

#include <cstdint>
#include <optional>
#include <string>

#include "costgate/jsonview/document.h"
#include "costgate/tokenizer/encoding.h"

namespace costgate::filters::prompt_pruning {

// Every step keeps what an earlier turn of the same conversation sent: a client sends the whole
// conversation each turn, and a provider bills a prompt prefix it has seen recently at a fraction
// of the price, so an edit that differs from one turn to the next costs more than it saves. Each
// decision is a function of the conversation that stays the same as it grows (docs/tokens.md,
// "Pruning and provider caches").
struct PruneSteps {
  // Outside fenced code blocks (``` or ~~~), runs of spaces/tabs inside a line become one space,
  // trailing ones go, and runs of blank lines become one; a line's indentation is kept (it may be
  // code pasted without a fence). Blank lines at a text's ends are trimmed.
  bool collapse_whitespace = true;
  // A user or assistant message equal to an earlier one (every field: same role, content, name)
  // and without tool calls is dropped, except a user message right after a message that is not a
  // user message (it may be its turn's question); a text content part equal to an earlier part of
  // the same message is dropped. Whether a message goes depends only on the messages before it.
  bool drop_duplicates = true;
  // Over budget: drop the oldest turns after the leading system/developer messages, keeping the
  // last `keep_last_turns` turns (a turn starts at a user message; an assistant message with tool
  // calls and the tool messages answering it go together, always). At least one turn is kept.
  // The cut moves in steps of `compact_step` x the budget: it is the first turn boundary at or
  // after ceil((T - B) / S) x S tokens into the droppable turns (T the total, B the budget, S the
  // step), so the conversation's new start holds for about S tokens of growth.
  bool drop_old_turns = true;
  std::size_t keep_last_turns = 4;
  double compact_step = 0.5;
  // Once the conversation is over budget (before turns are dropped), every text over
  // `max_message_tokens` (default: a quarter of the budget) except the last user message's is cut
  // to that size, its head and tail kept around `marker`. The last user message is never cut.
  bool truncate_longest = true;
  std::optional<std::int64_t> max_message_tokens{};
  std::string marker = "\n[... cut by costgate to fit the token budget ...]\n";
};

struct PruneResult {
  // The new `messages` array as JSON text; nullopt when nothing changed.
  std::optional<std::string> messages;
  // The messages' tokens (countChatMessage summed) before and after.
  std::int64_t tokens_before = 0;
  std::int64_t tokens_after = 0;
  // Tokens each step saved (they add up to tokens_before - tokens_after).
  std::int64_t saved_by_whitespace = 0;
  std::int64_t saved_by_duplicates = 0;
  std::int64_t saved_by_old_turns = 0;
  std::int64_t saved_by_truncation = 0;
  // Whether tokens_after <= the budget (true when there is no budget).
  bool within_budget = true;
  // Whether tokens_after is in part an estimate (images of unknown size, tool calls...).
  bool estimated = false;
};

// Prunes a chat request's `messages` (an array; anything else is returned unchanged). `budget` is
// the most tokens the messages may cost (countChatMessage summed), or nullopt for no limit: the
// budget-driven steps then do nothing. Input still over the budget after every step is returned
// as pruned, with within_budget false. Never drops or edits system/developer messages, never
// separates a tool message from the assistant message that called it, never touches non-text
// content parts (images, audio, files), and never leaves an empty messages array.
PruneResult prune(const jsonview::Value& messages, const PruneSteps& steps,
                  std::optional<std::int64_t> budget, const tokenizer::Encoding& encoding);

}  // namespace costgate::filters::prompt_pruning
