#pragma once
// `file_range_body`: a Beast response body that is a byte range of an open file (downloads).
// It is read with pread in chunks while it is written, so a download of any size holds one
// chunk in memory. Used on the connection's strand only; the body owns its descriptor.

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>

#include <unistd.h>

#include "net/detail/beast.hpp"

namespace tidings::net::detail {

/// A response body of `length` bytes of the file `fd`, from `offset`. If the file turns out
/// shorter, the write fails with http::error::short_read.
struct file_range_body {
  struct value_type {
    int fd = -1; ///< owned
    uint64_t offset = 0;
    uint64_t length = 0;
    std::size_t chunk = 64 * 1024;

    value_type() = default;
    value_type(value_type&& o) noexcept
        : fd(std::exchange(o.fd, -1)), offset(o.offset), length(o.length), chunk(o.chunk) {}
    value_type& operator=(value_type&& o) noexcept {
      std::swap(fd, o.fd);
      offset = o.offset;
      length = o.length;
      chunk = o.chunk;
      return *this;
    }
    ~value_type() {
      if (fd >= 0)
        ::close(fd);
    }
  };

  static uint64_t size(const value_type& body) { return body.length; }

  class writer {
  public:
    using const_buffers_type = asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(beast::error_code& ec) {
      buffer_.reset(new char[body_.chunk]);
      ec = {};
    }

    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      ec = {};
      if (sent_ >= body_.length)
        return boost::none;
      auto want = static_cast<std::size_t>(std::min<uint64_t>(body_.chunk, body_.length - sent_));
      ssize_t n;
      do {
        n = ::pread(body_.fd, buffer_.get(), want, static_cast<off_t>(body_.offset + sent_));
      } while (n < 0 && errno == EINTR);
      if (n <= 0) { // an I/O error, or the file is shorter than promised
        ec = n < 0 ? beast::error_code{errno, beast::system_category()}
                   : beast::error_code{http::error::short_read};
        return boost::none;
      }
      sent_ += static_cast<uint64_t>(n);
      return {
          {asio::const_buffer(buffer_.get(), static_cast<std::size_t>(n)), sent_ < body_.length}};
    }

  private:
    value_type& body_;
    std::unique_ptr<char[]> buffer_;
    uint64_t sent_ = 0;
  };
};

} // namespace tidings::net::detail
