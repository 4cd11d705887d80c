#pragma once
// Waiting on the event loop for a pipeline::Signal, which may fire on another loop's thread.

#include <chrono>

#include "costgate/pipeline/signal.h"
#include "costgate/server/task.h"

namespace costgate::gateway {

// Resumes when `signal` fires (on any thread) or `timeout` passes, whichever comes first; the
// caller looks at signal.fired() to tell which.
server::Task<> waitFor(pipeline::Signal& signal, std::chrono::milliseconds timeout);

}  // namespace costgate::gateway
