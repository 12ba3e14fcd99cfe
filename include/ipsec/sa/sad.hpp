// SPDX-License-Identifier: Apache-2.0
// The Security Association Database (RFC 4301 4.4.2): the installed SAs,
// found by SPI for inbound packets and by reqid (the policy's link to its
// SAs) for outbound ones, with their traffic selectors and lifetimes.
//
// Inbound SPIs are allocated here: SPI = P(index), where P is a keyed
// permutation of the 32-bit space (a four-round Feistel network keyed from
// the host's Rng) and index a slot of a fixed table. SPIs therefore never
// collide, do not reveal how many SAs exist or which comes next, and a
// lookup is one inverse permutation and one array load. SPIs chosen
// elsewhere (static keying) live in a small separate table.
//
// Concurrency: datapath workers look SAs up inside a ReadSection (no lock);
// one control thread installs and removes them. A replaced or removed SA is
// retired to the EpochDomain and freed only when no worker can still hold
// it, so an outbound rekey (install the new SA for the reqid) is
// make-before-break: packets already using the old SA finish with it.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "ipsec/core/result.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/sa/epoch.hpp"
#include "ipsec/sa/selector.hpp"

namespace ipsec::sa {

// Lifetime by time (RFC 4301 4.4.2.1); bytes and packets are in the ESP SA's
// TrafficLimits. Zero: none.
struct Lifetime {
  Duration soft{0};
  Duration hard{0};
};

// SaBinding: what the SAD keeps beside an ESP/AH SA.
struct SaBinding {
  uint32_t reqid = 0;
  // Route-based SAs (an XFRM-interface/VTI model): the host's virtual
  // interface the SA belongs to; 0 for policy-based SAs.
  uint32_t interface_id = 0;
  // The child SA's traffic (its negotiated TSi/TSr as local/remote
  // selectors). Inbound, a decrypted packet must match one (RFC 4301 5.2);
  // route-based SAs use wide ones (0.0.0.0/0, ::/0).
  std::vector<Selector> selectors;
  Lifetime lifetime;
};

// Byte/packet limit flags the packet path raises for Sad::poll.
inline constexpr uint8_t kSoftLimitFlag = 1;
inline constexpr uint8_t kHardLimitFlag = 2;

struct InboundEntry {
  uint32_t spi = 0;  // sa->spi(), kept here so a lookup touches one object
  std::unique_ptr<esp::InboundSa> sa;
  SaBinding binding;
  Timestamp installed;
  uint64_t serial = 0;
  std::atomic<uint8_t> limit_flags{0};
};

struct OutboundEntry {
  std::unique_ptr<esp::OutboundSa> sa;
  SaBinding binding;
  Timestamp installed;
  uint64_t serial = 0;
  std::atomic<uint8_t> limit_flags{0};
};

enum class SaEventKind : uint8_t { rekey_needed, expired };

[[nodiscard]] constexpr std::string_view to_string(SaEventKind k) noexcept {
  switch (k) {
    case SaEventKind::rekey_needed: return "rekey_needed";
    case SaEventKind::expired: return "expired";
  }
  return "unknown";
}

struct SaEvent {
  SaEventKind kind = SaEventKind::rekey_needed;
  Direction direction = Direction::inbound;
  uint32_t spi = 0;
  uint32_t reqid = 0;
};

// SaEventSink: implemented by the host (it forwards events to the IKE
// engine). Called from Sad::poll, after the state changed; must not call
// back into the Sad.
class SaEventSink {
 public:
  virtual ~SaEventSink() = default;
  virtual void on_sa_event(const SaEvent& event) = 0;
};

struct SadConfig {
  size_t max_inbound = 65536;   // SAs with SPIs allocated here
  size_t max_manual = 1024;     // inbound SAs with SPIs chosen elsewhere
  uint32_t max_reqids = 65536;  // reqids 1..max_reqids-1
};

namespace detail {
[[nodiscard]] constexpr uint32_t fmix32(uint32_t h) noexcept {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// SpiPermutation: a keyed bijection of the 32-bit space (four Feistel
// rounds over 16-bit halves).
class SpiPermutation {
 public:
  explicit SpiPermutation(const std::array<uint32_t, 4>& keys) noexcept : keys_(keys) {}
  [[nodiscard]] uint32_t forward(uint32_t x) const noexcept {
    uint32_t l = x >> 16, r = x & 0xffffu;
    for (uint32_t k : keys_) {
      const uint32_t t = l ^ round(r, k);
      l = r;
      r = t;
    }
    return l << 16 | r;
  }
  [[nodiscard]] uint32_t inverse(uint32_t y) const noexcept {
    uint32_t l = y >> 16, r = y & 0xffffu;
    for (size_t i = keys_.size(); i-- > 0;) {
      const uint32_t t = r ^ round(l, keys_[i]);
      r = l;
      l = t;
    }
    return l << 16 | r;
  }

 private:
  [[nodiscard]] static uint32_t round(uint32_t half, uint32_t key) noexcept {
    return fmix32(half ^ key) & 0xffffu;
  }
  std::array<uint32_t, 4> keys_;
};
}  // namespace detail

class Sad {
 public:
  // The smallest SPI used: 1 to 255 are reserved (RFC 4303 2.1), 0 is
  // never an SPI.
  static constexpr uint32_t kMinSpi = 256;

  // create: rng keys the SPI permutation. Errors: invalid_argument (a zero
  // capacity).
  [[nodiscard]] static Result<std::unique_ptr<Sad>> create(const SadConfig& config, EpochDomain& epochs,
                                                           crypto::Rng& rng) {
    if (config.max_inbound == 0 || config.max_inbound > 0x7fffffffu || config.max_reqids < 2) {
      return Errc::invalid_argument;
    }
    std::array<uint8_t, 16> seed{};
    rng.fill(seed);
    std::array<uint32_t, 4> keys{};
    for (size_t i = 0; i < 4; ++i) {
      keys[i] = uint32_t{seed[4 * i]} << 24 | uint32_t{seed[4 * i + 1]} << 16 |
                uint32_t{seed[4 * i + 2]} << 8 | seed[4 * i + 3];
    }
    return std::unique_ptr<Sad>(new Sad(config, epochs, detail::SpiPermutation(keys)));
  }
  Sad(const Sad&) = delete;
  Sad& operator=(const Sad&) = delete;
  ~Sad() {
    for (size_t i = 0; i < config_.max_inbound; ++i) delete inbound_[i].load(std::memory_order_relaxed);
    for (size_t i = 0; i < manual_capacity_; ++i) delete manual_[i].entry.load(std::memory_order_relaxed);
    for (size_t i = 0; i < config_.max_reqids; ++i) delete outbound_[i].load(std::memory_order_relaxed);
  }

  // ---- Control plane (one thread) ----

  // allocate_spi: a fresh inbound SPI (>= 256) for an SA about to be
  // negotiated, reserved until installed or released. Errors: limit_exceeded
  // (max_inbound SPIs reserved or in use).
  [[nodiscard]] Result<uint32_t> allocate_spi() noexcept {
    while (true) {
      uint32_t index = 0;
      if (next_index_ < config_.max_inbound) {
        index = static_cast<uint32_t>(next_index_++);
      } else if (!free_.empty()) {
        // Oldest freed first: an SPI comes back as late as possible, so
        // stragglers of a deleted SA meet no new SA under its SPI.
        index = free_.front();
        free_.pop_front();
      } else {
        return Status(Errc::limit_exceeded, Status::kNoOffset, "sad.inbound");
      }
      const uint32_t spi = permutation_.forward(index);
      if (spi < kMinSpi) {
        state_[index] = IndexState::unusable;  // reserved SPI values: never hand out
        continue;
      }
      state_[index] = IndexState::reserved;
      return spi;
    }
  }
  // release_spi: give back an SPI allocated but never installed. Errors:
  // invalid_argument (not an SPI reserved here).
  [[nodiscard]] Status release_spi(uint32_t spi) noexcept {
    const auto index = own_index(spi);
    if (!index || state_[*index] != IndexState::reserved) return Errc::invalid_argument;
    state_[*index] = IndexState::free;
    free_.push_back(*index);
    return Status::success();
  }

  // install_inbound: make the SA findable by its SPI: one allocated here, or
  // one chosen elsewhere (then it must be >= 256 and not in use). The old SA
  // of a rekey stays until removed (RFC 7296 2.8: both are accepted until the
  // old one is deleted). Errors: invalid_argument (SPI in use, below 256, or
  // reserved SPI mismatch), limit_exceeded (the manual table is full).
  [[nodiscard]] Status install_inbound(std::unique_ptr<esp::InboundSa> sa, SaBinding binding, Timestamp now) {
    if (!sa) return Errc::invalid_argument;
    const uint32_t spi = sa->spi();
    auto entry = std::make_unique<InboundEntry>();
    entry->spi = spi;
    entry->sa = std::move(sa);
    entry->binding = std::move(binding);
    entry->installed = now;
    entry->serial = ++serial_;
    InboundEntry* raw = entry.get();
    if (const auto index = own_index(spi)) {
      if (state_[*index] != IndexState::reserved) return Errc::invalid_argument;
      state_[*index] = IndexState::installed;
      inbound_[*index].store(entry.release(), std::memory_order_release);
    } else {
      if (spi < kMinSpi || find_manual(spi) != nullptr) return Errc::invalid_argument;
      IPSEC_TRY(insert_manual(spi, raw));
      (void)entry.release();
    }
    ++inbound_count_;
    schedule(raw->binding.lifetime, now, Direction::inbound, spi, raw->binding.reqid, raw->serial);
    return Status::success();
  }

  // remove_inbound: delete the SA (a Delete from the peer, the old SA after a
  // rekey, expiry). Its SPI becomes free for reuse once no worker can hold
  // the SA. Errors: invalid_argument (unknown SPI).
  [[nodiscard]] Status remove_inbound(uint32_t spi) noexcept {
    if (const auto index = own_index(spi)) {
      InboundEntry* e = inbound_[*index].load(std::memory_order_relaxed);
      if (e == nullptr || state_[*index] != IndexState::installed) return Errc::invalid_argument;
      inbound_[*index].store(nullptr, std::memory_order_release);
      epochs_.retire(e);
      // The index is reused only after the entry is gone from readers' view:
      // a new SA under the same SPI is then a different, later SA.
      state_[*index] = IndexState::free;
      free_.push_back(*index);
    } else {
      InboundEntry* e = remove_manual(spi);
      if (e == nullptr) return Errc::invalid_argument;
      epochs_.retire(e);
    }
    --inbound_count_;
    return Status::success();
  }

  // install_outbound: make the SA the one that carries the reqid's traffic,
  // replacing (and retiring) the previous one: make-before-break for a
  // rekey, as the peer already accepts the new SA. Errors: invalid_argument
  // (reqid 0 or not below max_reqids).
  [[nodiscard]] Status install_outbound(std::unique_ptr<esp::OutboundSa> sa, SaBinding binding,
                                        Timestamp now) {
    if (!sa || binding.reqid == 0 || binding.reqid >= config_.max_reqids) return Errc::invalid_argument;
    auto entry = std::make_unique<OutboundEntry>();
    entry->sa = std::move(sa);
    entry->binding = std::move(binding);
    entry->installed = now;
    entry->serial = ++serial_;
    const uint32_t reqid = entry->binding.reqid;
    schedule(entry->binding.lifetime, now, Direction::outbound, entry->sa->spi(), reqid, entry->serial);
    OutboundEntry* old = outbound_[reqid].exchange(entry.release(), std::memory_order_acq_rel);
    if (old != nullptr) {
      epochs_.retire(old);
    } else {
      ++outbound_count_;
    }
    return Status::success();
  }
  // remove_outbound: the reqid has no outbound SA any more (its traffic then
  // raises ACQUIRE). With a non-zero spi, only if that SA is still the
  // current one (a late delete of an SA a rekey already replaced is a
  // no-op). Errors: invalid_argument (no such SA).
  [[nodiscard]] Status remove_outbound(uint32_t reqid, uint32_t spi = 0) noexcept {
    if (reqid == 0 || reqid >= config_.max_reqids) return Errc::invalid_argument;
    OutboundEntry* e = outbound_[reqid].load(std::memory_order_relaxed);
    if (e == nullptr || (spi != 0 && e->sa->spi() != spi)) return Errc::invalid_argument;
    outbound_[reqid].store(nullptr, std::memory_order_release);
    epochs_.retire(e);
    --outbound_count_;
    return Status::success();
  }

  // next_deadline: when poll() next has a lifetime to act on.
  [[nodiscard]] std::optional<Timestamp> next_deadline() const noexcept {
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.front().when;
  }
  // poll: act on lifetimes that ran out by `now`: a soft one reports
  // rekey_needed, a hard one removes the SA and reports expired (RFC 4301
  // 4.4.2.1); the same for byte and packet limits the packet path noted
  // (note_limit; found by a scan of the SAs, done only when one was noted).
  // Also frees retired SAs no worker can hold any more.
  void poll(Timestamp now, SaEventSink& sink) {
    while (!deadlines_.empty() && deadlines_.front().when <= now) {
      std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
      const Deadline d = deadlines_.back();
      deadlines_.pop_back();
      if (!still_installed(d)) continue;
      if (d.hard) {
        const Status removed =
            d.direction == Direction::inbound ? remove_inbound(d.spi) : remove_outbound(d.reqid, d.spi);
        (void)removed;  // present: still_installed checked it
      }
      sink.on_sa_event(
          SaEvent{d.hard ? SaEventKind::expired : SaEventKind::rekey_needed, d.direction, d.spi, d.reqid});
    }
    poll_limits(sink);
    (void)epochs_.reclaim();
  }

  [[nodiscard]] size_t inbound_count() const noexcept { return inbound_count_; }
  // lifetime_deadlines: scheduled soft/hard time limits (tests).
  [[nodiscard]] size_t lifetime_deadlines() const noexcept { return deadlines_.size(); }
  [[nodiscard]] size_t outbound_count() const noexcept { return outbound_count_; }
  [[nodiscard]] const SadConfig& config() const noexcept { return config_; }

  // for_each_inbound / for_each_outbound: visit every installed SA (control
  // plane: monitoring snapshots).
  template <typename F>
  void for_each_inbound(F&& f) const {
    for (size_t i = 0; i < next_index_; ++i) {
      if (const InboundEntry* e = inbound_[i].load(std::memory_order_acquire)) f(*e);
    }
    for (size_t i = 0; i < manual_capacity_; ++i) {
      if (const InboundEntry* e = manual_[i].entry.load(std::memory_order_acquire)) f(*e);
    }
  }
  template <typename F>
  void for_each_outbound(F&& f) const {
    for (size_t i = 0; i < config_.max_reqids; ++i) {
      if (const OutboundEntry* e = outbound_[i].load(std::memory_order_acquire)) f(*e);
    }
  }

  // ---- Datapath (inside a ReadSection; no lock, no allocation) ----

  // note_limit: the packet path saw the SA cross its soft byte/packet limit
  // (kSoftLimitFlag) or reach its hard one (kHardLimitFlag); poll() turns
  // that into rekey_needed / expired once. Lock-free; any worker.
  template <typename Entry>
  void note_limit(Entry& e, uint8_t flag) noexcept {
    if ((e.limit_flags.fetch_or(flag, std::memory_order_acq_rel) & flag) == 0) {
      limit_notes_.fetch_add(1, std::memory_order_release);
    }
  }

  // inbound: the SA for an SPI, or nullptr.
  [[nodiscard]] InboundEntry* inbound(uint32_t spi, const ReadSection&) const noexcept {
    const uint32_t index = permutation_.inverse(spi);
    if (index < config_.max_inbound) {
      InboundEntry* e = inbound_[index].load(std::memory_order_acquire);
      if (e != nullptr && e->spi == spi) return e;
    }
    if (manual_count_.load(std::memory_order_relaxed) == 0) return nullptr;
    return find_manual(spi);
  }
  // outbound: the current SA of a reqid, or nullptr.
  [[nodiscard]] OutboundEntry* outbound(uint32_t reqid, const ReadSection&) const noexcept {
    if (reqid >= config_.max_reqids) return nullptr;
    return outbound_[reqid].load(std::memory_order_acquire);
  }

 private:
  enum class IndexState : uint8_t { free, reserved, installed, unusable };
  struct ManualSlot {
    std::atomic<uint32_t> spi{0};  // 0 empty, 1 deleted (both below kMinSpi)
    std::atomic<InboundEntry*> entry{nullptr};
  };
  struct Deadline {
    Timestamp when;
    bool hard = false;
    Direction direction = Direction::inbound;
    uint32_t spi = 0;
    uint32_t reqid = 0;
    uint64_t serial = 0;
  };
  static bool later(const Deadline& a, const Deadline& b) noexcept { return a.when > b.when; }

  Sad(const SadConfig& config, EpochDomain& epochs, detail::SpiPermutation permutation)
      : config_(config),
        epochs_(epochs),
        permutation_(permutation),
        inbound_(new std::atomic<InboundEntry*>[config.max_inbound]),
        state_(config.max_inbound, IndexState::free),
        outbound_(new std::atomic<OutboundEntry*>[config.max_reqids]) {
    for (size_t i = 0; i < config.max_inbound; ++i) inbound_[i].store(nullptr, std::memory_order_relaxed);
    for (size_t i = 0; i < config.max_reqids; ++i) outbound_[i].store(nullptr, std::memory_order_relaxed);
    manual_capacity_ = 16;
    while (manual_capacity_ < 2 * config.max_manual) manual_capacity_ *= 2;
    manual_.reset(new ManualSlot[manual_capacity_]);
  }

  // own_index: the table index of an SPI this SAD allocated (reserved or
  // installed), if it is one.
  [[nodiscard]] std::optional<uint32_t> own_index(uint32_t spi) const noexcept {
    const uint32_t index = permutation_.inverse(spi);
    if (index >= next_index_) return std::nullopt;
    const IndexState s = state_[index];
    if (s == IndexState::reserved || s == IndexState::installed) return index;
    return std::nullopt;
  }

  [[nodiscard]] InboundEntry* find_manual(uint32_t spi) const noexcept {
    const size_t mask = manual_capacity_ - 1;
    for (size_t i = detail::fmix32(spi) & mask, n = 0; n < manual_capacity_; i = (i + 1) & mask, ++n) {
      const uint32_t s = manual_[i].spi.load(std::memory_order_acquire);
      if (s == 0) return nullptr;
      if (s == spi) {
        InboundEntry* e = manual_[i].entry.load(std::memory_order_acquire);
        if (e != nullptr) return e;
      }
    }
    return nullptr;
  }
  [[nodiscard]] Status insert_manual(uint32_t spi, InboundEntry* entry) noexcept {
    if (manual_count_.load(std::memory_order_relaxed) >= config_.max_manual) {
      return Status(Errc::limit_exceeded, Status::kNoOffset, "sad.manual");
    }
    const size_t mask = manual_capacity_ - 1;
    for (size_t i = detail::fmix32(spi) & mask;; i = (i + 1) & mask) {
      const uint32_t s = manual_[i].spi.load(std::memory_order_relaxed);
      if (s == 0 || s == 1) {
        // Entry first, then the key: a reader that finds the key finds the entry.
        manual_[i].entry.store(entry, std::memory_order_release);
        manual_[i].spi.store(spi, std::memory_order_release);
        manual_count_.fetch_add(1, std::memory_order_relaxed);
        return Status::success();
      }
    }
  }
  InboundEntry* remove_manual(uint32_t spi) noexcept {
    const size_t mask = manual_capacity_ - 1;
    for (size_t i = detail::fmix32(spi) & mask, n = 0; n < manual_capacity_; i = (i + 1) & mask, ++n) {
      const uint32_t s = manual_[i].spi.load(std::memory_order_relaxed);
      if (s == 0) return nullptr;
      if (s == spi) {
        InboundEntry* e = manual_[i].entry.load(std::memory_order_relaxed);
        manual_[i].entry.store(nullptr, std::memory_order_release);
        manual_[i].spi.store(1, std::memory_order_release);  // deleted: probes continue past it
        manual_count_.fetch_sub(1, std::memory_order_relaxed);
        return e;
      }
    }
    return nullptr;
  }

  void poll_limits(SaEventSink& sink) {
    if (limit_notes_.exchange(0, std::memory_order_acq_rel) == 0) return;
    struct Due {
      SaEvent event;
      bool hard;
    };
    std::vector<Due> due;
    // Bits 4 and 8: the soft and the hard event went out already.
    constexpr uint8_t kSoftReported = 4, kHardReported = 8;
    auto visit = [&](auto& e, Direction d, uint32_t spi) {
      const uint8_t f = e.limit_flags.load(std::memory_order_acquire);
      bool hard = false;
      if ((f & kHardLimitFlag) != 0 && (f & kHardReported) == 0) {
        hard = true;
      } else if ((f & kSoftLimitFlag) == 0 || (f & kSoftReported) != 0) {
        return;
      }
      e.limit_flags.fetch_or(hard ? uint8_t{kHardReported | kSoftReported} : kSoftReported,
                             std::memory_order_acq_rel);
      due.push_back(Due{
          SaEvent{hard ? SaEventKind::expired : SaEventKind::rekey_needed, d, spi, e.binding.reqid}, hard});
    };
    for (size_t i = 0; i < next_index_; ++i) {
      if (InboundEntry* e = inbound_[i].load(std::memory_order_relaxed))
        visit(*e, Direction::inbound, e->spi);
    }
    for (size_t i = 0; i < manual_capacity_; ++i) {
      if (InboundEntry* e = manual_[i].entry.load(std::memory_order_relaxed))
        visit(*e, Direction::inbound, e->spi);
    }
    for (size_t i = 0; i < config_.max_reqids; ++i) {
      if (OutboundEntry* e = outbound_[i].load(std::memory_order_relaxed))
        visit(*e, Direction::outbound, e->sa->spi());
    }
    for (const Due& d : due) {
      if (d.hard) {
        const Status removed = d.event.direction == Direction::inbound
                                   ? remove_inbound(d.event.spi)
                                   : remove_outbound(d.event.reqid, d.event.spi);
        (void)removed;
      }
      sink.on_sa_event(d.event);
    }
  }

  void schedule(const Lifetime& l, Timestamp now, Direction direction, uint32_t spi, uint32_t reqid,
                uint64_t serial) {
    if (l.soft.count() > 0 && (l.hard.count() == 0 || l.soft < l.hard)) {
      deadlines_.push_back(Deadline{now + l.soft, false, direction, spi, reqid, serial});
      std::push_heap(deadlines_.begin(), deadlines_.end(), later);
    }
    if (l.hard.count() > 0) {
      deadlines_.push_back(Deadline{now + l.hard, true, direction, spi, reqid, serial});
      std::push_heap(deadlines_.begin(), deadlines_.end(), later);
    }
  }
  [[nodiscard]] bool still_installed(const Deadline& d) const noexcept {
    if (d.direction == Direction::outbound) {
      const OutboundEntry* e =
          d.reqid < config_.max_reqids ? outbound_[d.reqid].load(std::memory_order_relaxed) : nullptr;
      return e != nullptr && e->serial == d.serial;
    }
    const uint32_t index = permutation_.inverse(d.spi);
    const InboundEntry* e =
        index < config_.max_inbound ? inbound_[index].load(std::memory_order_relaxed) : nullptr;
    if (e == nullptr || e->spi != d.spi) e = find_manual(d.spi);
    return e != nullptr && e->serial == d.serial;
  }

  SadConfig config_;
  EpochDomain& epochs_;
  detail::SpiPermutation permutation_;
  std::unique_ptr<std::atomic<InboundEntry*>[]> inbound_;
  std::vector<IndexState> state_;
  std::deque<uint32_t> free_;
  size_t next_index_ = 0;
  std::unique_ptr<std::atomic<OutboundEntry*>[]> outbound_;
  std::unique_ptr<ManualSlot[]> manual_;
  size_t manual_capacity_ = 0;
  std::atomic<size_t> manual_count_{0};
  size_t inbound_count_ = 0;
  size_t outbound_count_ = 0;
  uint64_t serial_ = 0;
  std::vector<Deadline> deadlines_;
  std::atomic<uint64_t> limit_notes_{0};
};

}  // namespace ipsec::sa
