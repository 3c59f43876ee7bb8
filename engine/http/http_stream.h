// HttpStream: a response body produced over time on other threads (Server-
// Sent Events). A route makes one (the API's events route, through the
// EventHub) and returns it in HttpRouteResult::stream; the HttpShard that owns
// the connection then drives it on that shard's thread:
//
//   head sent (no Content-Length, "Connection: close": the body ends when the
//   connection does)
//   stream->Start(wake)            once
//   ... wake() from any thread -> Reactor::Post -> shard: stream->Read(&out,
//       max) while no chunk is in flight; the chunk (at most 64 KiB) is sent
//   stream->Stop()                 client closed, send timeout, the stream
//                                  ended, or the shard is stopping
//
// Ownership: shared (the route's producer and the shard each hold a
// shared_ptr). Threads: Start, Read and Stop on the owning shard's thread
// only; `wake` from any thread until Stop returns.
#ifndef RACKBOOT_ENGINE_HTTP_HTTP_STREAM_H_
#define RACKBOOT_ENGINE_HTTP_HTTP_STREAM_H_

#include <cstddef>
#include <functional>
#include <string>

namespace rackboot::http {

class HttpStream {
 public:
  virtual ~HttpStream() = default;
  // Shard thread, once, after the response head was handed to the reactor.
  // `wake` may be called from any thread, any number of times, until Stop
  // returns: it posts to the shard's reactor (Reactor::Post), which then
  // calls Read. It stays safe to call after the connection is gone (the
  // shard looks the connection up by id and finds none). The stream must not
  // call wake after Stop returned.
  virtual void Start(std::function<void()> wake) = 0;
  // Shard thread: moves up to `max` bytes ready into *out (appends). Returns
  // false once the stream has ended (the producer dropped it, e.g. a
  // subscriber that fell too far behind): the shard sends what was appended
  // and then closes the connection.
  virtual bool Read(std::string* out, size_t max) = 0;
  // Shard thread: the connection is going away (client closed, send timeout,
  // shard stopping, or the stream ended). After it returns, wake is never
  // called again. Idempotent; may be called without Start (a HEAD request).
  virtual void Stop() = 0;
};

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_HTTP_STREAM_H_
