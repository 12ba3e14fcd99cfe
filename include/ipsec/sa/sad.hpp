// SPDX-License-Identifier: Apache-2.0
// The Security Association Database (RFC 4301 4.4.2): the installed SAs,
// found by SPI for inbound packets and by reqid (the policy's link to its
// SAs) for outbound ones, with their traffic selectors and lifetimes.
//
// Inbound SPIs are allocated here, drawn from the host's Rng (so they do
// not reveal how many SAs exist or which comes next) and checked against
// every SPI in use or reserved, so they never collide. The inbound table is
// open addressing with the SPI stored in the slot beside its SA: a lookup is
// one multiply and, almost always, one cache line. SPIs chosen elsewhere
// (static keying) go into the same table.
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
  uint32_t spi = 0;
  std::unique_ptr<esp::InboundSa> sa;
  SaBinding binding;
  // The first of binding.selectors, kept inline: the inbound check of most
  // SAs (one selector pair) reads no other memory.
  Selector first_selector;
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
  // Inbound SAs: installed, or with an SPI reserved for a negotiation. The
  // table takes 32 octets per SA (16-octet slots, at most half full),
  // allocated up front.
  size_t max_inbound = 4096;
  uint32_t max_reqids = 4096;  // outbound: reqids 1..max_reqids-1, 8 octets each
};

class Sad {
 public:
  // The smallest SPI used: 1 to 255 are reserved (RFC 4303 2.1), 0 is
  // never an SPI.
  static constexpr uint32_t kMinSpi = 256;

  // create: Errors: invalid_argument (a zero or absurd capacity).
  [[nodiscard]] static Result<std::unique_ptr<Sad>> create(const SadConfig& config, EpochDomain& epochs) {
    if (config.max_inbound == 0 || config.max_inbound > (size_t{1} << 30) || config.max_reqids < 2) {
      return Errc::invalid_argument;
    }
    return std::unique_ptr<Sad>(new Sad(config, epochs));
  }
  Sad(const Sad&) = delete;
  Sad& operator=(const Sad&) = delete;
  ~Sad() {
    Table* t = table_.load(std::memory_order_relaxed);
    for (size_t i = 0; i <= t->mask; ++i) delete t->slots[i].entry.load(std::memory_order_relaxed);
    delete t;
    for (size_t i = 0; i < config_.max_reqids; ++i) delete outbound_[i].load(std::memory_order_relaxed);
  }

  // ---- Control plane (one thread) ----

  // allocate_spi: a fresh inbound SPI (>= 256, random from rng, not in use
  // or reserved), reserved until installed or released. Errors:
  // limit_exceeded (max_inbound SPIs reserved or in use).
  [[nodiscard]] Result<uint32_t> allocate_spi(crypto::Rng& rng) noexcept {
    if (live_ >= config_.max_inbound) return Status(Errc::limit_exceeded, Status::kNoOffset, "sad.inbound");
    while (true) {
      std::array<uint8_t, 4> b{};
      rng.fill(b);
      const uint32_t spi = uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3];
      if (spi < kMinSpi || find_slot(*table_.load(std::memory_order_relaxed), spi) != nullptr) continue;
      insert(spi, nullptr);
      return spi;
    }
  }
  // release_spi: give back an SPI allocated but never installed. Errors:
  // invalid_argument (not a reserved SPI).
  [[nodiscard]] Status release_spi(uint32_t spi) noexcept {
    Slot* slot = find_slot(*table_.load(std::memory_order_relaxed), spi);
    if (slot == nullptr || slot->entry.load(std::memory_order_relaxed) != nullptr)
      return Errc::invalid_argument;
    erase(*slot);
    return Status::success();
  }

  // install_inbound: make the SA findable by its SPI: one reserved by
  // allocate_spi, or one chosen elsewhere (>= 256, not in use). The old SA of
  // a rekey stays until removed (RFC 7296 2.8: both are accepted until the
  // old one is deleted). Errors: invalid_argument (SPI below 256 or in use),
  // limit_exceeded (max_inbound reached).
  [[nodiscard]] Status install_inbound(std::unique_ptr<esp::InboundSa> sa, SaBinding binding, Timestamp now) {
    if (!sa) return Errc::invalid_argument;
    const uint32_t spi = sa->spi();
    if (spi < kMinSpi) return Errc::invalid_argument;
    Slot* slot = find_slot(*table_.load(std::memory_order_relaxed), spi);
    if (slot != nullptr && slot->entry.load(std::memory_order_relaxed) != nullptr)
      return Errc::invalid_argument;
    if (slot == nullptr && live_ >= config_.max_inbound) {
      return Status(Errc::limit_exceeded, Status::kNoOffset, "sad.inbound");
    }
    auto entry = std::make_unique<InboundEntry>();
    entry->spi = spi;
    entry->sa = std::move(sa);
    entry->binding = std::move(binding);
    if (!entry->binding.selectors.empty()) entry->first_selector = entry->binding.selectors.front();
    entry->installed = now;
    entry->serial = ++serial_;
    schedule(entry->binding.lifetime, now, Direction::inbound, spi, entry->binding.reqid, entry->serial);
    if (slot != nullptr) {
      slot->entry.store(entry.release(), std::memory_order_release);
    } else {
      insert(spi, entry.release());
    }
    ++inbound_count_;
    return Status::success();
  }

  // remove_inbound: delete the SA (a Delete from the peer, the old SA after a
  // rekey, expiry); it is freed once no worker can hold it. Errors:
  // invalid_argument (unknown SPI).
  [[nodiscard]] Status remove_inbound(uint32_t spi) noexcept {
    Slot* slot = find_slot(*table_.load(std::memory_order_relaxed), spi);
    InboundEntry* e = slot != nullptr ? slot->entry.load(std::memory_order_relaxed) : nullptr;
    if (e == nullptr) return Errc::invalid_argument;
    erase(*slot);
    epochs_.retire(e);
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
  [[nodiscard]] size_t outbound_count() const noexcept { return outbound_count_; }
  // lifetime_deadlines: scheduled soft/hard time limits (tests).
  [[nodiscard]] size_t lifetime_deadlines() const noexcept { return deadlines_.size(); }
  [[nodiscard]] const SadConfig& config() const noexcept { return config_; }

  // for_each_inbound / for_each_outbound: visit every installed SA (control
  // plane: monitoring snapshots).
  template <typename F>
  void for_each_inbound(F&& f) const {
    const Table* t = table_.load(std::memory_order_acquire);
    for (size_t i = 0; i <= t->mask; ++i) {
      if (const InboundEntry* e = t->slots[i].entry.load(std::memory_order_acquire)) f(*e);
    }
  }
  template <typename F>
  void for_each_outbound(F&& f) const {
    for (size_t i = 0; i < config_.max_reqids; ++i) {
      if (const OutboundEntry* e = outbound_[i].load(std::memory_order_acquire)) f(*e);
    }
  }

  // ---- Datapath (inside a ReadSection; no lock, no allocation) ----

  // inbound: the SA for an SPI, or nullptr. The slot holds the SPI, so the
  // entry is not read here. (A slot reused for another SPI between the two
  // loads yields that SA; ESP then refuses the packet with spi_mismatch.)
  [[nodiscard]] InboundEntry* inbound(uint32_t spi, const ReadSection&) const noexcept {
    const Table& t = *table_.load(std::memory_order_acquire);
    for (size_t i = t.home(spi);; i = (i + 1) & t.mask) {
      const uint32_t key = t.slots[i].spi.load(std::memory_order_acquire);
      if (key == spi) return t.slots[i].entry.load(std::memory_order_acquire);
      if (key == kEmpty) return nullptr;
    }
  }
  // outbound: the current SA of a reqid, or nullptr.
  [[nodiscard]] OutboundEntry* outbound(uint32_t reqid, const ReadSection&) const noexcept {
    if (reqid >= config_.max_reqids) return nullptr;
    return outbound_[reqid].load(std::memory_order_acquire);
  }

  // note_limit: the packet path saw the SA cross its soft byte/packet limit
  // (kSoftLimitFlag) or reach its hard one (kHardLimitFlag); poll() turns
  // that into rekey_needed / expired once. Lock-free; any worker.
  template <typename Entry>
  void note_limit(Entry& e, uint8_t flag) noexcept {
    if ((e.limit_flags.fetch_or(flag, std::memory_order_acq_rel) & flag) == 0) {
      limit_notes_.fetch_add(1, std::memory_order_release);
    }
  }

 private:
  // Slot keys below kMinSpi are markers: never an SPI.
  static constexpr uint32_t kEmpty = 0;
  static constexpr uint32_t kDeleted = 1;

  struct Slot {
    std::atomic<uint32_t> spi{kEmpty};
    std::atomic<InboundEntry*> entry{nullptr};  // nullptr: reserved, not installed
  };
  struct Table {
    size_t mask = 0;
    unsigned shift = 0;
    std::unique_ptr<Slot[]> slots;
    // home: Fibonacci hashing (one multiply): random SPIs spread anyway,
    // and sequential static ones do not cluster.
    [[nodiscard]] size_t home(uint32_t spi) const noexcept {
      return (uint64_t{spi} * 0x9e3779b97f4a7c15ULL) >> shift;
    }
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

  Sad(const SadConfig& config, EpochDomain& epochs)
      : config_(config), epochs_(epochs), outbound_(new std::atomic<OutboundEntry*>[config.max_reqids]) {
    for (size_t i = 0; i < config.max_reqids; ++i) outbound_[i].store(nullptr, std::memory_order_relaxed);
    capacity_ = 16;
    while (capacity_ < 2 * config.max_inbound) capacity_ *= 2;
    table_.store(new_table(), std::memory_order_relaxed);
  }

  Table* new_table() const {
    auto* t = new Table();
    t->mask = capacity_ - 1;
    unsigned bits = 0;
    while ((size_t{1} << bits) < capacity_) ++bits;
    t->shift = 64 - bits;
    t->slots.reset(new Slot[capacity_]);
    return t;
  }

  [[nodiscard]] static Slot* find_slot(const Table& t, uint32_t spi) noexcept {
    for (size_t i = t.home(spi);; i = (i + 1) & t.mask) {
      const uint32_t key = t.slots[i].spi.load(std::memory_order_relaxed);
      if (key == spi) return &t.slots[i];
      if (key == kEmpty) return nullptr;
    }
  }
  // insert: a new key (the control thread checked it is absent). The entry
  // goes in first, then the key, so a reader that finds the key finds it.
  void insert(uint32_t spi, InboundEntry* entry) {
    Table& t = *table_.load(std::memory_order_relaxed);
    for (size_t i = t.home(spi);; i = (i + 1) & t.mask) {
      const uint32_t key = t.slots[i].spi.load(std::memory_order_relaxed);
      if (key == kEmpty || key == kDeleted) {
        if (key == kDeleted) --deleted_;
        t.slots[i].entry.store(entry, std::memory_order_release);
        t.slots[i].spi.store(spi, std::memory_order_release);
        ++live_;
        return;
      }
    }
  }
  // erase: mark the slot deleted (probes continue past it); rebuild the
  // table once deleted markers would make probes long.
  void erase(Slot& slot) {
    slot.entry.store(nullptr, std::memory_order_release);
    slot.spi.store(kDeleted, std::memory_order_release);
    --live_;
    if (++deleted_ > capacity_ / 4) rebuild();
  }
  // rebuild: a fresh table with the live keys and no markers, published
  // atomically; the old one is freed when no worker can be probing it.
  void rebuild() {
    Table* old = table_.load(std::memory_order_relaxed);
    Table* fresh = new_table();
    for (size_t i = 0; i <= old->mask; ++i) {
      const uint32_t key = old->slots[i].spi.load(std::memory_order_relaxed);
      if (key < kMinSpi) continue;
      for (size_t j = fresh->home(key);; j = (j + 1) & fresh->mask) {
        if (fresh->slots[j].spi.load(std::memory_order_relaxed) == kEmpty) {
          fresh->slots[j].entry.store(old->slots[i].entry.load(std::memory_order_relaxed),
                                      std::memory_order_relaxed);
          fresh->slots[j].spi.store(key, std::memory_order_relaxed);
          break;
        }
      }
    }
    table_.store(fresh, std::memory_order_release);
    epochs_.retire(old);
    deleted_ = 0;
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
    const Table* t = table_.load(std::memory_order_relaxed);
    for (size_t i = 0; i <= t->mask; ++i) {
      if (InboundEntry* e = t->slots[i].entry.load(std::memory_order_relaxed))
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
    const Slot* slot = find_slot(*table_.load(std::memory_order_relaxed), d.spi);
    const InboundEntry* e = slot != nullptr ? slot->entry.load(std::memory_order_relaxed) : nullptr;
    return e != nullptr && e->serial == d.serial;
  }

  SadConfig config_;
  EpochDomain& epochs_;
  size_t capacity_ = 0;
  std::atomic<Table*> table_{nullptr};
  size_t live_ = 0;     // keys in the table (reserved or installed)
  size_t deleted_ = 0;  // kDeleted markers
  std::unique_ptr<std::atomic<OutboundEntry*>[]> outbound_;
  size_t inbound_count_ = 0;
  size_t outbound_count_ = 0;
  uint64_t serial_ = 0;
  std::vector<Deadline> deadlines_;
  std::atomic<uint64_t> limit_notes_{0};
};

}  // namespace ipsec::sa
