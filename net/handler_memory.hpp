#pragma once
// Memory for the asynchronous operations of a connection's reads and writes, recycled per
// thread.
//
// Every WebSocket read and write allocates its operation state (the reactor's op holding the
// whole chain of handlers: Beast's frame op, Asio's composed write, the stream's transfer op).
// Boost 1.74's Asio recycles one block per thread of at most 1,020 bytes; a WebSocket write on
// this project's stream type is ≈ 1,064 bytes, so every frame written was a fresh malloc and
// free of a block large enough to make glibc consolidate its fast bins
// (`malloc_consolidate`, ≈ 3 % of a saturated node; docs/BENCHMARKS.md, issue 18). Here each
// thread keeps free blocks of each size class up to 4 KiB instead: up to 64 per class, since
// a connection's operations may start on one I/O thread and end on the other and a saturated
// node completes them in bursts (8 per class missed ≈ one write in ten at 4,000 messages/s).
// A thread holds at most what it freed in one such burst: ≈ 80 KiB for the write class.
//
// Use: wrap the completion handler, `ws.async_write(buf, recycled(handler))`; Asio and Beast
// allocate every intermediate operation of that call with the handler's associated allocator.

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace tidings::net {

/// Free blocks per thread, in size classes of 256 bytes up to 4 KiB (larger: plain new).
class block_cache {
public:
  static void* allocate(std::size_t bytes) {
    auto c = size_class(bytes);
    if (c < classes) {
      auto& l = local();
      if (l.count[c] > 0)
        return l.blocks[c][--l.count[c]];
      return ::operator new((c + 1) * granule);
    }
    return ::operator new(bytes);
  }

  static void deallocate(void* p, std::size_t bytes) noexcept {
    auto c = size_class(bytes);
    if (c < classes) {
      auto& l = local();
      if (l.count[c] < per_class) {
        l.blocks[c][l.count[c]++] = p;
        return;
      }
    }
    ::operator delete(p);
  }

private:
  static constexpr std::size_t granule = 256;
  static constexpr std::size_t classes = 16;   ///< up to 4 KiB
  static constexpr std::size_t per_class = 64; ///< free blocks kept per class and thread

  static std::size_t size_class(std::size_t bytes) { return (bytes + granule - 1) / granule - 1; }

  struct lists {
    void* blocks[classes][per_class] = {};
    std::size_t count[classes] = {};
    ~lists() {
      for (std::size_t c = 0; c < classes; ++c)
        for (std::size_t i = 0; i < count[c]; ++i)
          ::operator delete(blocks[c][i]);
    }
  };

  static lists& local() {
    thread_local lists l;
    return l;
  }
};

template <class T> struct recycling_allocator {
  using value_type = T;
  recycling_allocator() noexcept = default;
  template <class U> recycling_allocator(const recycling_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(block_cache::allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { block_cache::deallocate(p, n * sizeof(T)); }
  template <class U> bool operator==(const recycling_allocator<U>&) const noexcept { return true; }
  template <class U> bool operator!=(const recycling_allocator<U>&) const noexcept { return false; }
};

/// A completion handler whose operations are allocated from `block_cache`.
template <class Handler> struct recycled_handler {
  Handler handler;
  using allocator_type = recycling_allocator<void>;
  allocator_type get_allocator() const noexcept { return {}; }
  template <class... Args> void operator()(Args&&... args) { handler(std::forward<Args>(args)...); }
};

template <class Handler> recycled_handler<std::decay_t<Handler>> recycled(Handler&& h) {
  return {std::forward<Handler>(h)};
}

} // namespace tidings::net
