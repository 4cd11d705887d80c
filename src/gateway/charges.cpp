#include "costgate/gateway/charges.h"

#include "costgate/openai/prompt_tokens.h"
#include "costgate/openai/usage.h"

namespace costgate::gateway {

std::uint64_t CallAccounting::promptTokens() const {
  if (prompt_tokens) return static_cast<std::uint64_t>(prompt_tokens->tokens);
  auto sent = jsonview::Document::parse(sent_body);
  if (!sent) return 0;
  if (encoding) {
    return static_cast<std::uint64_t>(openai::countPrompt(route, sent->root(), *encoding).tokens);
  }
  return openai::estimateTokens(openai::promptCharacters(sent->root()));
}

pricing::Usage usageOrEstimate(std::string_view text, const jsonview::Value& answer,
                               const CallAccounting& accounting, std::string_view& source) {
  if (auto usage = openai::usageOf(answer)) {
    source = "backend";
    return *usage;
  }
  source = "estimated";
  pricing::Usage usage;
  usage.prompt_tokens = accounting.promptTokens();
  auto whole = jsonview::Document::parse(text);
  const std::uint64_t characters = whole ? openai::answerCharacters(whole->root()) : 0;
  usage.completion_tokens = openai::estimateTokens(characters);
  return usage;
}

void priceWholeAnswer(std::string_view text, const jsonview::Value& answer,
                      const CallAccounting& accounting, server::ExchangeRecord& record) {
  record.usage = usageOrEstimate(text, answer, accounting, record.usage_source);
  if (accounting.price) record.cost = pricing::costOf(*accounting.price, *record.usage);
}

void StreamCharge::settle() {
  if (settled_) return;
  settled_ = true;
  pricing::Usage usage;
  if (reported_) {
    usage = *reported_;
    record_.usage_source = "backend";
  } else {
    usage.prompt_tokens = accounting_.promptTokens();
    usage.completion_tokens = openai::estimateTokens(completion_characters_);
    record_.usage_source = "estimated";
  }
  record_.usage = usage;
  if (accounting_.price) record_.cost = pricing::costOf(*accounting_.price, usage);
}

void recordSpared(const pipeline::RequestContext& ctx, server::ExchangeRecord& record) {
  if (!ctx.spared) return;
  record.model = ctx.model;
  record.usage = ctx.spared->usage;
  record.usage_source = ctx.spared->source;
  record.spared = true;
  if (ctx.price) record.cost = 0;
  record.saved = ctx.spared->saved;
}

pipeline::Charge chargeOf(const server::ExchangeRecord& record) {
  pipeline::Charge charge;
  charge.cost = record.cost.value_or(0);
  if (record.usage && !record.spared) {
    charge.tokens =
        static_cast<std::int64_t>(record.usage->prompt_tokens + record.usage->completion_tokens);
  }
  for (const auto& side : record.side_calls) {
    charge.cost = pricing::addSaturating(charge.cost, side.cost.value_or(0));
    charge.tokens +=
        static_cast<std::int64_t>(side.usage.prompt_tokens + side.usage.completion_tokens);
  }
  return charge;
}

}  // namespace costgate::gateway
