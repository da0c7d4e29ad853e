// TSan builds only (make test-tsan): happens-before edges for CAF's mailboxes.
//
// Debian's libcaf_core is not instrumented. Its mailboxes hand a message from the sending
// thread to the actor's thread through lock-free atomics that ThreadSanitizer cannot see, so
// every read of a message's contents in a handler was reported as a race with the sender's
// writes (552 reports from the integration tests, all with a handler on one side). This file
// interposes the CAF functions that put a message into a mailbox and take one out, run an
// actor, and drop references to it: the
// executable's definitions win over libcaf_core's (no -Bsymbolic there), add
// __tsan_release / __tsan_acquire on the receiving actor, then call CAF's own function
// (dlsym(RTLD_NEXT)). That is exactly the ordering CAF guarantees: whatever the sender did
// before sending happens before the handler of that message.
// Conservative: taking a message acquires every release made to the actor so far, including
// those of messages still queued behind it, which can hide a race but never invent one.

#include <cstdio>
#include <cstdlib>
#include <utility>

#include <dlfcn.h>

#include <caf/actor_control_block.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/scheduled_actor.hpp>

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

/// libcaf_core's own definition of the function `mangled`.
template <class Fn> Fn caf_own(const char* mangled) {
  auto* f = dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "caf_tsan: %s not found in libcaf_core\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

} // namespace

namespace caf {

void scheduled_actor::enqueue(mailbox_element_ptr ptr, execution_unit* eu) {
  using fn = void (*)(scheduled_actor*, mailbox_element_ptr, execution_unit*);
  static const auto own = caf_own<fn>("_ZN3caf15scheduled_actor7enqueueESt10unique_ptrINS_15"
                                      "mailbox_elementENS_6detail8disposerEEPNS_14execution_unitE");
  __tsan_release(this);
  own(this, std::move(ptr), eu);
}

resumable::resume_result scheduled_actor::resume(execution_unit* eu, size_t max_throughput) {
  // An actor runs on one scheduler thread at a time but may move between them: what one run
  // did happens before the next run, on whichever thread.
  using fn = resume_result (*)(scheduled_actor*, execution_unit*, size_t);
  static const auto own = caf_own<fn>("_ZN3caf15scheduled_actor6resumeEPNS_14execution_unitEm");
  __tsan_acquire(this);
  auto result = own(this, eu, max_throughput);
  __tsan_release(this);
  return result;
}

invoke_message_result scheduled_actor::consume(mailbox_element& x) {
  using fn = invoke_message_result (*)(scheduled_actor*, mailbox_element&);
  static const auto own = caf_own<fn>("_ZN3caf15scheduled_actor7consumeERNS_15mailbox_elementE");
  __tsan_acquire(this);
  return own(this, x);
}

scheduled_actor::activation_result scheduled_actor::reactivate(mailbox_element& x) {
  // The way an awaited response (`await`) reaches its handler, instead of consume().
  using fn = activation_result (*)(scheduled_actor*, mailbox_element&);
  static const auto own =
      caf_own<fn>("_ZN3caf15scheduled_actor10reactivateERNS_15mailbox_elementE");
  __tsan_acquire(this);
  return own(this, x);
}

void blocking_actor::enqueue(mailbox_element_ptr ptr, execution_unit* eu) {
  using fn = void (*)(blocking_actor*, mailbox_element_ptr, execution_unit*);
  static const auto own = caf_own<fn>("_ZN3caf14blocking_actor7enqueueESt10unique_ptrINS_15"
                                      "mailbox_elementENS_6detail8disposerEEPNS_14execution_unitE");
  __tsan_release(this);
  own(this, std::move(ptr), eu);
}

mailbox_element_ptr blocking_actor::dequeue() {
  using fn = mailbox_element_ptr (*)(blocking_actor*);
  static const auto own = caf_own<fn>("_ZN3caf14blocking_actor7dequeueEv");
  auto x = own(this);
  __tsan_acquire(this);
  return x;
}

// Actor lifetimes: the reference counts are atomic read-modify-writes with acq_rel order inside
// libcaf_core; each release of a reference is modelled as such (the thread that drops the last
// one and destroys the actor sees what every earlier holder did).
void intrusive_ptr_release(actor_control_block* x) {
  using fn = void (*)(actor_control_block*);
  static const auto own = caf_own<fn>("_ZN3caf21intrusive_ptr_releaseEPNS_19actor_control_blockE");
  __tsan_release(x);
  __tsan_acquire(x);
  own(x);
}

void intrusive_ptr_release_weak(actor_control_block* x) {
  using fn = void (*)(actor_control_block*);
  static const auto own =
      caf_own<fn>("_ZN3caf26intrusive_ptr_release_weakEPNS_19actor_control_blockE");
  __tsan_release(x);
  __tsan_acquire(x);
  own(x);
}

} // namespace caf
