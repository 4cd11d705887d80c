#include "costgate/gateway/held_stream.h"

#include "costgate/openai/usage.h"

namespace costgate::gateway {

bool HeldStream::add(openai::SseEvent event) {
  bool news = false;
  if (event.data == "[DONE]") {
    ended_ = true;
    saw_done_ = true;
    news = true;
  } else if (auto chunk = jsonview::Document::parse(event.data)) {
    const jsonview::Value root = chunk->root();
    if (root.isObject() && root.find("error")) {
      error_ = true;
      news = true;
    }
    if (auto usage = openai::usageOf(root)) usage_ = usage;
    characters_ += openai::chunkCharacters(root);
    auto choices = root.isObject() ? root.find("choices") : std::nullopt;
    // The judge reads the first choice, as it does a whole answer.
    if (choices && choices->isArray() && choices->size() > 0 && choices->elements()[0].isObject()) {
      const jsonview::Value choice = choices->elements()[0];
      if (auto delta = choice.find("delta"); delta && delta->isObject()) {
        if (auto content = delta->find("content"); content && content->isString()) {
          const std::string piece = content->string();
          news = news || !piece.empty();
          text_ += piece;
        }
        if (auto calls = delta->find("tool_calls"); calls && calls->isArray() && calls->size()) {
          tool_calls_ = true;
          news = true;
        }
      }
      auto logprobs = choice.find("logprobs");
      auto tokens = logprobs && logprobs->isObject() ? logprobs->find("content") : std::nullopt;
      if (tokens && tokens->isArray()) {
        for (const jsonview::Value& token : tokens->elements()) {
          auto value = token.isObject() ? token.find("logprob") : std::nullopt;
          if (value && value->isNumber()) logprobs_.push_back(value->number());
        }
      }
      if (auto finish = choice.find("finish_reason"); finish && finish->isString()) {
        finish_reason_ = finish->string();
        news = true;
      }
    }
  }
  events_.push_back(std::move(event));
  return news;
}

std::size_t HeldStream::tokens() const {
  return logprobs_.empty() ? static_cast<std::size_t>(openai::estimateTokens(characters_))
                           : logprobs_.size();
}

pipeline::PartialAnswer HeldStream::partial() const {
  const bool finished = ended_ || !finish_reason_.empty();
  return {.text = text_,
          .logprobs = logprobs_.empty() ? nullptr : &logprobs_,
          .tokens = tokens(),
          .has_tool_calls = tool_calls_,
          .finish_reason = finish_reason_,
          .last = finished || tokens() >= hold_tokens_};
}

}  // namespace costgate::gateway
