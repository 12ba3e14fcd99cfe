// SPDX-License-Identifier: Apache-2.0
// AcquireQueue: packets a host holds while the IKE engine negotiates the SA
// an ACQUIRE asked for (RFC 4301 5.1 leaves holding or dropping them to the
// implementation). Bounded in packets, octets per packet and age; all memory
// is allocated when the queue is made, none per packet. One thread owns a
// queue (a worker keeps its own); it takes no lock.
//
//   r = dp.outbound(rs, pb);
//   if (r.verdict == Verdict::acquire) { if (r.first_acquire) ike.acquire(r.reqid);
//                                        queue.hold(r.reqid, pb.data(), now); }
//   ... once the SA is installed:   queue.release(reqid, [&](ByteView p) { resend(p); });
//   ... on the host's timer:        queue.expire(now);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/time.hpp"

namespace ipsec::sa {

class AcquireQueue {
 public:
  // create: room for max_packets packets of at most max_packet_size octets,
  // each kept at most max_age. Errors: invalid_argument (a zero bound),
  // out_of_memory.
  [[nodiscard]] static Result<AcquireQueue> create(size_t max_packets, size_t max_packet_size,
                                                   Duration max_age) noexcept {
    if (max_packets == 0 || max_packet_size == 0 || max_age.count() <= 0) return Errc::invalid_argument;
    AcquireQueue q;
    auto storage = ByteBuffer::allocate(max_packets * max_packet_size);
    if (!storage) return storage.status();
    q.storage_ = std::move(*storage);
    q.held_.reset(new (std::nothrow) Held[max_packets]);
    if (!q.held_) return Errc::out_of_memory;
    q.max_packets_ = max_packets;
    q.max_packet_size_ = max_packet_size;
    q.max_age_ = max_age;
    return q;
  }

  // hold: copy `packet` for reqid. False (the caller drops it) when it is
  // larger than max_packet_size or the queue is full: the packets already
  // held are older and closer to being sent.
  [[nodiscard]] bool hold(uint32_t reqid, ByteView packet, Timestamp now) noexcept {
    if (packet.size() > max_packet_size_ || count_ == max_packets_) return false;
    for (size_t i = 0; i < max_packets_; ++i) {
      Held& h = held_[i];
      if (h.used) continue;
      (void)copy_bytes(slot(i), packet);
      h = Held{true, reqid, packet.size(), now, next_order_++};
      ++count_;
      return true;
    }
    return false;
  }

  // release: hand reqid's packets to f(ByteView), oldest first, and forget
  // them; the view is valid during the call. Returns how many.
  template <typename F>
  size_t release(uint32_t reqid, F&& f) {
    size_t n = 0;
    while (true) {
      size_t oldest = max_packets_;
      for (size_t i = 0; i < max_packets_; ++i) {
        if (held_[i].used && held_[i].reqid == reqid &&
            (oldest == max_packets_ || held_[i].order < held_[oldest].order)) {
          oldest = i;
        }
      }
      if (oldest == max_packets_) return n;
      held_[oldest].used = false;
      --count_;
      ++n;
      f(ByteView(slot(oldest)).first(held_[oldest].size));
    }
  }

  // drop: forget reqid's packets (its negotiation failed). Returns how many.
  size_t drop(uint32_t reqid) noexcept {
    return forget([&](const Held& h) { return h.reqid == reqid; });
  }
  // expire: forget packets held longer than max_age. Returns how many.
  size_t expire(Timestamp now) noexcept {
    return forget([&](const Held& h) { return now - h.since > max_age_; });
  }

  [[nodiscard]] size_t size() const noexcept { return count_; }
  [[nodiscard]] size_t capacity() const noexcept { return max_packets_; }

 private:
  struct Held {
    bool used = false;
    uint32_t reqid = 0;
    size_t size = 0;
    Timestamp since;
    uint64_t order = 0;
  };

  AcquireQueue() noexcept = default;
  [[nodiscard]] MutableByteView slot(size_t i) noexcept {
    return storage_.mutable_view().subspan(i * max_packet_size_, max_packet_size_);
  }
  template <typename Pred>
  size_t forget(Pred&& pred) noexcept {
    size_t n = 0;
    for (size_t i = 0; i < max_packets_; ++i) {
      if (held_[i].used && pred(held_[i])) {
        held_[i].used = false;
        --count_;
        ++n;
      }
    }
    return n;
  }

  ByteBuffer storage_;
  std::unique_ptr<Held[]> held_;
  size_t max_packets_ = 0;
  size_t max_packet_size_ = 0;
  Duration max_age_{0};
  size_t count_ = 0;
  uint64_t next_order_ = 0;
};

}  // namespace ipsec::sa
