#pragma once
// Whether a failed upstream call is worth another try, and how long to wait before it: plain
// functions over plain values (no clock reads, no randomness of their own), so the gateway passes
// in now and a random number and tests pin both.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "costgate/upstream/upstream_client.h"

namespace costgate::upstream {

struct RetryPolicy {
  int max_attempts = 3;  // per model, the first try included
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{5000};
  // The longest Retry-After worth waiting for; a backend asking for more is not retried (another
  // deployment or a fallback model answers sooner than a client would wait).
  std::chrono::milliseconds max_retry_after{60000};
};

// How long to wait before retry number `retry` (1 for the second attempt) of the same deployment.
// Without retry_after: full jitter, `random` mapped onto [0, min(max_delay, base_delay *
// 2^(retry - 1))], so callers that failed together do not come back together. With retry_after (the
// backend said when to come back): exactly that, when it is at most max_retry_after; nullopt when
// it is longer, meaning do not retry this deployment now.
std::optional<std::chrono::milliseconds> backoffDelay(
    const RetryPolicy& policy, int retry, std::optional<std::chrono::milliseconds> retry_after,
    std::uint64_t random);

// The delay a Retry-After header asks for: delta-seconds ("120"; a fraction such as "1.5" is
// accepted too) or an HTTP-date (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete
// RFC 850 and asctime forms every HTTP recipient must read), measured from `now`. An HTTP-date is
// wall-clock time, hence system_clock rather than the event loop's steady clock. Negative values
// and dates in the past give zero; anything else gives nullopt.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view header,
                                                         std::chrono::system_clock::time_point now);
// OpenAI's retry-after-ms header: milliseconds, possibly fractional (rounded up). Negative values
// give zero, anything that is not a number gives nullopt.
std::optional<std::chrono::milliseconds> parseRetryAfterMs(std::string_view header);

// What went wrong with an upstream call, as far as retrying and health are concerned.
enum class FaultClass {
  kConnect,      // never reached the backend (connect or TLS handshake failed): safe to resend
  kTimeout,      // the backend did not answer in time (also 408)
  kRateLimited,  // 429
  kServerError,  // 5xx, 409, or a broken or malformed response (reset, bad HTTP)
  kClientError,  // the request itself is at fault (other 4xx, or an answer past our size limit):
                 // it would fail the same on every deployment
  kCancelled,    // we cancelled the call (the client went away): nothing to retry, nothing learnt
  kNone,         // the backend answered (1xx-3xx)
};

// The class of a call's outcome: its failure when it has one, else its response status. For the
// pool's health, report kConnect, kTimeout, kRateLimited and kServerError as failures, kClientError
// and kNone as successes (the backend is up and answering), and kCancelled not at all.
FaultClass classify(std::optional<FailureKind> failure, int status);
// True for kConnect, kTimeout, kRateLimited and kServerError.
bool retryable(FaultClass fault);

}  // namespace costgate::upstream
