#include "actors/sweeper.hpp"

#include "actors/messages.hpp"
#include "net/codec.hpp"

namespace tidings {

std::size_t sweeper_state::step(std::size_t batch) {
  auto cutoff = ctx->now() - ctx->settings.dedupe_retention_ms;
  storage::batch expired;
  std::size_t seen = 0;
  std::string last;
  ctx->store->scan(storage::table::dedupe, cursor, std::string(1, '\xff'), batch,
                   [&](std::string_view key, std::string_view value) {
                     ++seen;
                     last = std::string{key};
                     auto rec = net::decode(value, net::encoding::msgpack, nullptr);
                     if (!rec || rec->value("ts", int64_t{0}) < cutoff)
                       expired.del(storage::table::dedupe, key);
                     return true;
                   });
  // Resume after the last key seen, or start over once the table is done.
  cursor = seen < batch ? std::string{} : last + '\0';
  auto deleted = expired.count();
  if (deleted > 0)
    ctx->store->write(expired);
  return deleted;
}

caf::behavior sweeper_actor(caf::stateful_actor<sweeper_state>* self, const node_context* ctx) {
  self->state.ctx = ctx;
  auto period = std::chrono::milliseconds(ctx->settings.sweep_interval_ms);
  self->delayed_send(self, period, atom::timer::value);
  return {
      [self, period](atom::timer) {
        self->state.step(10'000);
        self->delayed_send(self, period, atom::timer::value);
      },
  };
}

} // namespace tidings
