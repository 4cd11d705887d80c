#include "costgate/gateway/signal_wait.h"

#include <memory>

#include "costgate/server/event_loop.h"

namespace costgate::gateway {

server::Task<> waitFor(pipeline::Signal& signal, std::chrono::milliseconds timeout) {
  auto& loop = server::EventLoop::current();
  server::Timer timer(loop);
  // The fire may come from another loop's thread: it posts to this loop, which cancels the wait
  // if it is still on (the pointer is cleared, on this thread, before the timer goes).
  auto waiting = std::make_shared<server::Timer*>(&timer);
  struct ClearOnExit {
    std::shared_ptr<server::Timer*> waiting;
    ~ClearOnExit() { *waiting = nullptr; }
  } clear{waiting};
  signal.onFire([mailbox = loop.mailbox(), waiting] {
    mailbox->post([waiting] {
      if (*waiting) (*waiting)->cancel();
    });
  });
  bool timed_out = co_await timer.wait(timeout);
  (void)timed_out;  // the caller looks at the signal itself
}

}  // namespace costgate::gateway
