// FakeHttpStream: an HttpStream for tests. A producer on any thread Pushes
// bytes (each Push wakes the shard if Start was called and Stop was not) and
// may End the stream; the shard's thread Reads and Stops it. Counts Start,
// Read and Stop calls, and checks the HttpStream rules: Start at most once,
// no wake after Stop returned (Push after Stop only queues). Thread-safe.
#ifndef RACKBOOT_ENGINE_HTTP_FAKE_HTTP_STREAM_H_
#define RACKBOOT_ENGINE_HTTP_FAKE_HTTP_STREAM_H_

#include <algorithm>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "engine/http/http_stream.h"

namespace rackboot::http {

class FakeHttpStream : public HttpStream {
 public:
  // Appends `bytes` to the queue and wakes the shard (outside the lock, as
  // a real producer would).
  void Push(absl::string_view bytes) {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      queue_.append(bytes.data(), bytes.size());
      if (started_ && !stopped_) wake = wake_;
    }
    if (wake) wake();
  }
  // After what is queued, the stream ends (Read returns false).
  void End() {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      ended_ = true;
      if (started_ && !stopped_) wake = wake_;
    }
    if (wake) wake();
  }
  // Calls the wake function as a producer would (no-op after Stop).
  void Wake() {
    std::function<void()> wake;
    {
      absl::MutexLock lock(&mu_);
      if (started_ && !stopped_) wake = wake_;
    }
    if (wake) wake();
  }

  void Start(std::function<void()> wake) override {
    absl::MutexLock lock(&mu_);
    ++starts_;
    wake_ = std::move(wake);
    started_ = true;
  }
  bool Read(std::string* out, size_t max) override {
    absl::MutexLock lock(&mu_);
    ++reads_;
    const size_t n = std::min(max, queue_.size());
    out->append(queue_, 0, n);
    queue_.erase(0, n);
    read_bytes_ += n;
    largest_read_ = std::max(largest_read_, n);
    return !(ended_ && queue_.empty());
  }
  void Stop() override {
    absl::MutexLock lock(&mu_);
    ++stops_;
    stopped_ = true;
    wake_ = nullptr;
  }

  int starts() const {
    absl::MutexLock lock(&mu_);
    return starts_;
  }
  int stops() const {
    absl::MutexLock lock(&mu_);
    return stops_;
  }
  int reads() const {
    absl::MutexLock lock(&mu_);
    return reads_;
  }
  bool stopped() const {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }
  size_t queued() const {
    absl::MutexLock lock(&mu_);
    return queue_.size();
  }
  size_t read_bytes() const {
    absl::MutexLock lock(&mu_);
    return read_bytes_;
  }
  size_t largest_read() const {
    absl::MutexLock lock(&mu_);
    return largest_read_;
  }

 private:
  mutable absl::Mutex mu_;
  std::string queue_;
  std::function<void()> wake_;
  bool started_ = false;
  bool stopped_ = false;
  bool ended_ = false;
  int starts_ = 0;
  int stops_ = 0;
  int reads_ = 0;
  size_t read_bytes_ = 0;
  size_t largest_read_ = 0;
};

}  // namespace rackboot::http

#endif  // RACKBOOT_ENGINE_HTTP_FAKE_HTTP_STREAM_H_
