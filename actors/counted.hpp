#pragma once
// Spawning an actor whose state counts the messages it handles, for the inspector.
//
// `spawn_counted(sys, fun, xs...)` spawns exactly what `sys.spawn(fun, xs...)` does, as a
// subclass that adds one to the state's `handled` field for every message the actor consumes
// (requests, replies, timeouts, system messages alike). The counter lives in the actor's own
// state: no sharing, no lock, read by the actor itself when the inspector probes it.

#include <caf/all.hpp>

namespace tidings {

namespace detail {

template <class Impl> class counted_actor : public Impl {
public:
  using Impl::Impl;

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    ++this->state.handled;
    return Impl::consume(x);
  }
};

template <class F, class... Ts>
caf::actor_config& with_init(caf::actor_config& cfg, F fun, Ts&&... xs) {
  caf::detail::init_fun_factory<caf::infer_impl_from_fun_t<F>, F> factory;
  cfg.init_fun = factory(std::move(fun), std::forward<Ts>(xs)...);
  return cfg;
}

} // namespace detail

/// `sys.spawn<Os>(fun, xs...)`, counting handled messages in the state's `handled`.
template <caf::spawn_options Os = caf::no_spawn_options, class F, class... Ts>
auto spawn_counted(caf::actor_system& sys, F fun, Ts&&... xs) {
  using impl = caf::infer_impl_from_fun_t<F>;
  caf::actor_config cfg;
  detail::with_init(cfg, std::move(fun), std::forward<Ts>(xs)...);
  return sys.spawn_class<detail::counted_actor<impl>, Os>(cfg);
}

/// `parent->spawn(fun, xs...)` (a child of `parent`, on its execution context), counting.
template <class F, class... Ts> auto spawn_counted(caf::local_actor* parent, F fun, Ts&&... xs) {
  using impl = caf::infer_impl_from_fun_t<F>;
  caf::actor_config cfg{parent->context(), parent};
  detail::with_init(cfg, std::move(fun), std::forward<Ts>(xs)...);
  return parent->system().spawn_class<detail::counted_actor<impl>, caf::no_spawn_options>(cfg);
}

} // namespace tidings
