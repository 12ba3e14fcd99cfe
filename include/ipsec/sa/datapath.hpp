// SPDX-License-Identifier: Apache-2.0
// The datapath facade: the SPD and SAD put in front of ESP/AH, as RFC 4301
// section 5 processes packets.
//
//   outbound(packet from TUN): SPD-O lookup -> BYPASS: send in the clear
//                                           -> DISCARD: drop
//                                           -> PROTECT: SA of the policy's reqid
//                                                -> none: ACQUIRE (for IKE)
//                                                -> esp::seal -> send
//   inbound(datagram): ESP/AH/UDP 4500? -> SAD by SPI -> esp::open
//                      -> inner packet matches the SA's selectors? -> deliver
//                    not IPsec -> SPD-I lookup -> BYPASS: deliver, else drop
//   inbound_esp(ESP from a UDP 4500 or raw socket): as inbound from the SAD on
//
// Route-based tunnels (outbound_route) skip the SPD: the host's routing
// table sent the packet to a virtual interface, whose reqid names the SA.
//
// Bursts (outbound_burst, inbound_burst, inbound_esp_burst) do the same per
// packet but hand the crypto of the whole burst, whatever the SAs, to the
// backend at once (esp::seal_burst): a multi-buffer backend (ipsec-mb)
// pipelines it.
//
// Threads: any number of workers (each with its own index, inside a
// ReadSection) run outbound/inbound concurrently, on the same SAs or not
// (sequence numbers, counters and the replay window are lock-free: esp/sa.hpp).
// Separate SAs per worker scale best: a shared SA's counters and window move
// between the cores' caches. One control thread changes policies and SAs;
// nothing on the packet path takes a lock or allocates.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ipsec/bytes/packet_buffer.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/esp/esp.hpp"
#include "ipsec/sa/epoch.hpp"
#include "ipsec/sa/sad.hpp"
#include "ipsec/sa/selector.hpp"
#include "ipsec/sa/spd.hpp"
#include "ipsec/wire/natt.hpp"

namespace ipsec::sa {

enum class Verdict : uint8_t {
  send,       // outbound: pb holds the protected packet (from esp_offset for socket hosts)
  deliver,    // inbound: pb holds the decrypted inner packet, for the TUN device
  bypass,     // the packet passes unprotected (sent, or delivered, as it is)
  acquire,    // PROTECT but no SA yet: ask the IKE engine (reqid, policy)
  ike,        // inbound UDP 4500 IKE message (pb holds it from esp_offset: the IKE header)
  keepalive,  // inbound NAT-keepalive: nothing to do
  drop,       // status says why (policy_discard, no_policy, unknown_spi, ...)
};

[[nodiscard]] constexpr std::string_view to_string(Verdict v) noexcept {
  switch (v) {
    case Verdict::send: return "send";
    case Verdict::deliver: return "deliver";
    case Verdict::bypass: return "bypass";
    case Verdict::acquire: return "acquire";
    case Verdict::ike: return "ike";
    case Verdict::keepalive: return "keepalive";
    case Verdict::drop: return "drop";
  }
  return "unknown";
}

struct DatapathResult {
  Verdict verdict = Verdict::drop;
  Status status;                   // drop: the reason
  const Policy* policy = nullptr;  // the matching policy (valid inside the ReadSection)
  uint32_t reqid = 0;              // acquire, send, deliver
  uint32_t spi = 0;                // send, deliver, and unknown_spi drops
  uint32_t interface_id = 0;       // deliver: the SA's interface (route-based), else 0
  size_t esp_offset = 0;  // send: the ESP/AH header (a UDP socket host sends from here); ike: the IKE header
  bool soft_limit_reached = false;  // this packet crossed the SA's soft byte/packet limit: rekey
  bool first_acquire = false;       // acquire: the first since the reqid lost (or never had) its SA
};

// Drop reasons counted per policy and in total.
enum class DropReason : uint8_t {
  policy_discard,     // DISCARD policy, or no policy (RFC 4301 default)
  no_sa,              // PROTECT without SA (ACQUIRE)
  unknown_spi,        // inbound SPI without SA
  selector_mismatch,  // decrypted traffic outside the SA's selectors
  unprotected,        // cleartext where policy requires IPsec
  replayed,
  integrity,  // ICV failure
  lifetime,   // hard byte/packet limit reached, sequence overflow
  malformed,  // everything else (bad headers, padding, ...)
  count_,
};
inline constexpr size_t kDropReasons = static_cast<size_t>(DropReason::count_);

[[nodiscard]] constexpr DropReason drop_reason(Errc e) noexcept {
  switch (e) {
    case Errc::policy_discard:
    case Errc::no_policy: return DropReason::policy_discard;
    case Errc::unknown_spi: return DropReason::unknown_spi;
    case Errc::selector_mismatch: return DropReason::selector_mismatch;
    case Errc::unprotected_traffic: return DropReason::unprotected;
    case Errc::replayed: return DropReason::replayed;
    case Errc::integrity_check_failed: return DropReason::integrity;
    case Errc::lifetime_expired:
    case Errc::sequence_overflow: return DropReason::lifetime;
    default: return DropReason::malformed;
  }
}

// Counters: packets and bytes passed, drops by reason. Relaxed atomics:
// totals, not a synchronisation point.
struct Counters {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> bytes{0};
  std::array<std::atomic<uint64_t>, kDropReasons> drops{};

  void pass(size_t n) noexcept {
    packets.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(n, std::memory_order_relaxed);
  }
  void drop(DropReason r) noexcept { drops[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
};

struct CounterSnapshot {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  std::array<uint64_t, kDropReasons> drops{};
};

[[nodiscard]] inline CounterSnapshot snapshot_of(const Counters& c) noexcept {
  CounterSnapshot s;
  s.packets = c.packets.load(std::memory_order_relaxed);
  s.bytes = c.bytes.load(std::memory_order_relaxed);
  for (size_t i = 0; i < kDropReasons; ++i) s.drops[i] = c.drops[i].load(std::memory_order_relaxed);
  return s;
}

struct PolicySnapshot {
  uint32_t id = 0;
  Direction direction = Direction::outbound;
  PolicyAction action = PolicyAction::discard;
  CounterSnapshot counters;
};
struct SaSnapshot {
  uint32_t spi = 0;
  uint32_t reqid = 0;
  Direction direction = Direction::inbound;
  esp::SaCounters counters;
};
// DatapathSnapshot: everything a host exports to SNMP, NetFlow or logs.
struct DatapathSnapshot {
  CounterSnapshot outbound;  // totals per direction
  CounterSnapshot inbound;
  std::vector<PolicySnapshot> policies;
  std::vector<SaSnapshot> sas;
};

struct DatapathConfig {
  size_t workers = 1;  // datapath threads (ReadSection indices)
  SadConfig sad;
};

class Datapath {
 public:
  // create: Errors: invalid_argument (see Sad::create).
  [[nodiscard]] static Result<std::unique_ptr<Datapath>> create(const DatapathConfig& config) {
    std::unique_ptr<Datapath> dp(new Datapath(config));
    auto sad = Sad::create(config.sad, dp->epochs_);
    if (!sad) return sad.status();
    dp->sad_ = std::move(*sad);
    dp->acquire_sent_.reset(new std::atomic<bool>[config.sad.max_reqids]);
    for (size_t i = 0; i < config.sad.max_reqids; ++i)
      dp->acquire_sent_[i].store(false, std::memory_order_relaxed);
    for (Direction d : {Direction::outbound, Direction::inbound}) IPSEC_TRY(dp->set_policies(d, {}));
    return dp;
  }
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;
  ~Datapath() {
    sad_.reset();  // before the epoch domain frees what it holds
    for (auto& t : tables_) delete t.load(std::memory_order_relaxed);
    for (auto& counters : policy_counters_) {
      for (auto& [id, c] : counters) delete c;
    }
  }

  // ---- Control plane (one thread) ----

  [[nodiscard]] Sad& sad() noexcept { return *sad_; }
  [[nodiscard]] EpochDomain& epochs() noexcept { return epochs_; }

  // set_policies: replace one direction's SPD with `ordered` (first match
  // wins). Traffic keeps flowing: readers switch to the new table at their
  // next lookup. Per-policy counters follow policy ids across updates.
  // Errors: Spd::build's.
  [[nodiscard]] Status set_policies(Direction direction, std::span<const Policy> ordered) {
    auto spd = Spd::build(ordered);
    if (!spd) return spd.status();
    auto table = std::make_unique<PolicyTable>();
    auto& counters = policy_counters_[index(direction)];
    std::unordered_map<uint32_t, Counters*> kept;
    for (const Policy& p : (*spd)->policies()) {
      auto it = counters.find(p.id);
      Counters* c = it != counters.end() ? it->second : new Counters();
      table->counters.push_back(c);
      kept.emplace(p.id, c);
    }
    table->spd = std::move(*spd);
    PolicyTable* old = tables_[index(direction)].exchange(table.release(), std::memory_order_acq_rel);
    if (old != nullptr) epochs_.retire(old);
    for (auto& [id, c] : counters) {
      if (kept.find(id) == kept.end()) epochs_.retire(c);
    }
    counters = std::move(kept);
    return Status::success();
  }

  // clear_acquire: let the next packet for reqid raise ACQUIRE again (the
  // IKE engine's negotiation failed or timed out).
  void clear_acquire(uint32_t reqid) noexcept {
    if (reqid < sad_->config().max_reqids) acquire_sent_[reqid].store(false, std::memory_order_relaxed);
  }

  [[nodiscard]] std::optional<Timestamp> next_deadline() const noexcept { return sad_->next_deadline(); }
  // poll: SA lifetimes (Sad::poll) and freeing what workers no longer hold.
  void poll(Timestamp now, SaEventSink& sink) { sad_->poll(now, sink); }

  [[nodiscard]] DatapathSnapshot snapshot() const {
    DatapathSnapshot s;
    s.outbound = snapshot_of(totals_[0]);
    s.inbound = snapshot_of(totals_[1]);
    for (size_t w = 0; w < epochs_.workers(); ++w) {
      for (size_t d = 0; d < 2; ++d) {
        CounterSnapshot& c = d == 0 ? s.outbound : s.inbound;
        c.packets += worker_totals_[w].packets[d].load(std::memory_order_relaxed);
        c.bytes += worker_totals_[w].bytes[d].load(std::memory_order_relaxed);
      }
    }
    for (Direction d : {Direction::outbound, Direction::inbound}) {
      const PolicyTable* t = tables_[index(d)].load(std::memory_order_acquire);
      const auto policies = t->spd->policies();
      for (size_t i = 0; i < policies.size(); ++i) {
        s.policies.push_back(
            PolicySnapshot{policies[i].id, d, policies[i].action, snapshot_of(*t->counters[i])});
      }
    }
    sad_->for_each_outbound([&](const OutboundEntry& e) {
      s.sas.push_back(SaSnapshot{e.sa->spi(), e.binding.reqid, Direction::outbound, e.sa->counters()});
    });
    sad_->for_each_inbound([&](const InboundEntry& e) {
      s.sas.push_back(SaSnapshot{e.sa->spi(), e.binding.reqid, Direction::inbound, e.sa->counters()});
    });
    return s;
  }

  // ---- Datapath ----

  [[nodiscard]] ReadSection enter(size_t worker) noexcept { return epochs_.enter(worker); }

  // outbound: a plaintext IP packet at pb.data() (read from TUN with
  // limits::kEspMaxHeadroom/Tailroom around it).
  [[nodiscard]] DatapathResult outbound(const ReadSection& rs, PacketBuffer& pb) noexcept {
    DatapathResult r;
    Counters* pc = nullptr;
    OutboundEntry* e = outbound_begin(rs, pb, r, &pc);
    if (e == nullptr) return r;
    const size_t inner = pb.size();
    auto sealed = esp::seal(*e->sa, pb);
    return protect_end(rs, *e, pc, inner, sealed.status(), sealed ? *sealed : esp::SealInfo{}, r);
  }

  // outbound_burst: outbound for each of `packets` (results[i] for
  // packets[i], as many as the shorter span); the packets that policy
  // protects are sealed as one burst (esp::seal_burst: the crypto of the
  // whole burst, whatever their SAs, goes to the backend at once). Results
  // as outbound's, packet by packet.
  void outbound_burst(const ReadSection& rs, std::span<PacketBuffer> packets,
                      std::span<DatapathResult> results) noexcept {
    burst_by_chunk(packets.size(), results.size(), [&](size_t base, size_t m) {
      std::array<OutboundEntry*, esp::detail::kBurstChunk> entries{};
      std::array<Counters*, esp::detail::kBurstChunk> counters{};
      std::array<size_t, esp::detail::kBurstChunk> inner{};
      std::array<esp::SealResult, esp::detail::kBurstChunk> sealed{};
      for (size_t i = 0; i < m; ++i) {
        results[base + i] = DatapathResult{};
        entries[i] = outbound_begin(rs, packets[base + i], results[base + i], &counters[i]);
        inner[i] = packets[base + i].size();
      }
      esp::detail::seal_many(m, [&](size_t i) {
        return esp::detail::BurstItem<esp::OutboundSa, esp::SealResult>{
            entries[i] != nullptr ? entries[i]->sa.get() : nullptr, &packets[base + i], &sealed[i]};
      });
      for (size_t i = 0; i < m; ++i) {
        if (entries[i] == nullptr) continue;
        (void)protect_end(rs, *entries[i], counters[i], inner[i], sealed[i].status, sealed[i].info,
                          results[base + i]);
      }
    });
  }

  // outbound_route: a packet the host routed to the virtual interface of
  // `reqid` (route-based tunnels); the SA's selectors still bound what it
  // carries.
  [[nodiscard]] DatapathResult outbound_route(const ReadSection& rs, PacketBuffer& pb,
                                              uint32_t reqid) noexcept {
    DatapathResult r;
    OutboundEntry* e = protect_begin(rs, pb, reqid, nullptr, /*check_selectors=*/true, r);
    if (e == nullptr) return r;
    const size_t inner = pb.size();
    auto sealed = esp::seal(*e->sa, pb);
    return protect_end(rs, *e, nullptr, inner, sealed.status(), sealed ? *sealed : esp::SealInfo{}, r);
  }

  // inbound: a received IP datagram (raw IP, or a UDP datagram with its IP
  // header). ESP, AH and ESP-in-UDP on port 4500 go to their SA; IKE and
  // keepalives on 4500 are handed back; anything else is checked against the
  // inbound SPD.
  [[nodiscard]] DatapathResult inbound(const ReadSection& rs, PacketBuffer& pb) noexcept {
    DatapathResult r;
    InboundEntry* e = inbound_begin(rs, pb, r);
    if (e == nullptr) return r;
    auto opened = esp::open(*e->sa, pb);
    return open_end(rs, pb, *e, opened.status(), opened ? *opened : esp::OpenInfo{}, r);
  }

  // inbound_burst / inbound_esp_burst: inbound / inbound_esp for each of
  // `packets` (results[i] for packets[i], as many as the shorter span); the
  // IPsec packets among them are opened as one burst (esp::open_burst).
  // outer_ecn[i]: as inbound_esp's (0 where the span is shorter).
  void inbound_burst(const ReadSection& rs, std::span<PacketBuffer> packets,
                     std::span<DatapathResult> results) noexcept {
    open_burst_impl(
        rs, packets, results, [&](size_t i) { return inbound_begin(rs, packets[i], results[i]); },
        [](size_t) {
          return std::pair<bool, uint8_t>{false, 0};
        });
  }
  void inbound_esp_burst(const ReadSection& rs, std::span<PacketBuffer> packets,
                         std::span<DatapathResult> results,
                         std::span<const uint8_t> outer_ecn = {}) noexcept {
    open_burst_impl(
        rs, packets, results, [&](size_t i) { return inbound_esp_begin(rs, packets[i], results[i]); },
        [&](size_t i) {
          return std::pair<bool, uint8_t>{true, i < outer_ecn.size() ? outer_ecn[i] : uint8_t{0}};
        });
  }

  // inbound_esp: a tunnel-mode ESP packet at pb.data() as a socket host
  // receives it: the payload of a UDP 4500 datagram that
  // wire::classify_udp4500 called ESP (RFC 3948 2.2), or what a raw IP
  // protocol 50 socket delivers after the IP header. outer_ecn: the outer
  // header's ECN field when the host knows it (RFC 6040), else 0. Then as
  // inbound: SAD by SPI, open, the inner packet checked against the SA's
  // selectors and left at pb.data().
  [[nodiscard]] DatapathResult inbound_esp(const ReadSection& rs, PacketBuffer& pb,
                                           uint8_t outer_ecn = 0) noexcept {
    DatapathResult r;
    InboundEntry* e = inbound_esp_begin(rs, pb, r);
    if (e == nullptr) return r;
    auto opened = esp::open_esp(*e->sa, pb, outer_ecn);
    return open_end(rs, pb, *e, opened.status(), opened ? *opened : esp::OpenInfo{}, r);
  }

 private:
  // burst_by_chunk: run(base, m) over chunks of at most kBurstChunk packets.
  template <typename Run>
  static void burst_by_chunk(size_t packets, size_t results, Run run) noexcept {
    const size_t n = std::min(packets, results);
    for (size_t base = 0; base < n; base += esp::detail::kBurstChunk) {
      run(base, std::min(esp::detail::kBurstChunk, n - base));
    }
  }

  template <typename Begin, typename EspOnly>
  void open_burst_impl(const ReadSection& rs, std::span<PacketBuffer> packets,
                       std::span<DatapathResult> results, Begin begin, EspOnly esp_only) noexcept {
    burst_by_chunk(packets.size(), results.size(), [&](size_t base, size_t m) {
      std::array<InboundEntry*, esp::detail::kBurstChunk> entries{};
      std::array<esp::OpenResult, esp::detail::kBurstChunk> opened{};
      for (size_t i = 0; i < m; ++i) {
        results[base + i] = DatapathResult{};
        entries[i] = begin(base + i);
      }
      esp::detail::open_many(
          m,
          [&](size_t i) {
            return esp::detail::BurstItem<esp::InboundSa, esp::OpenResult>{
                entries[i] != nullptr ? entries[i]->sa.get() : nullptr, &packets[base + i], &opened[i]};
          },
          [&](size_t i) { return esp_only(base + i); });
      for (size_t i = 0; i < m; ++i) {
        if (entries[i] == nullptr) continue;
        (void)open_end(rs, packets[base + i], *entries[i], opened[i].status, opened[i].info,
                       results[base + i]);
      }
    });
  }

  // inbound_begin: inbound up to the SA: the verdict is final (returned
  // nullptr) unless the packet is IPsec of a known SA.
  InboundEntry* inbound_begin(const ReadSection& rs, PacketBuffer& pb, DatapathResult& r) noexcept {
    auto kind = classify(pb.data());
    if (!kind) {
      (void)drop(r, Direction::inbound, nullptr, kind.status());
      return nullptr;
    }
    switch (kind->what) {
      case Classified::ike:
        r.verdict = Verdict::ike;
        r.esp_offset = kind->offset;
        return nullptr;
      case Classified::keepalive: r.verdict = Verdict::keepalive; return nullptr;
      case Classified::clear: (void)inbound_clear(rs, pb, r); return nullptr;
      case Classified::ipsec: break;
    }
    return sa_of(rs, kind->spi, r);
  }

  InboundEntry* inbound_esp_begin(const ReadSection& rs, PacketBuffer& pb, DatapathResult& r) noexcept {
    ByteReader reader(pb.data());
    uint32_t spi = 0;
    if (!reader.read_u32(&spi)) {
      (void)drop(r, Direction::inbound, nullptr, reader.status().with_field("esp spi"));
      return nullptr;
    }
    return sa_of(rs, spi, r);
  }

  InboundEntry* sa_of(const ReadSection& rs, uint32_t spi, DatapathResult& r) noexcept {
    r.spi = spi;
    InboundEntry* e = sad_->inbound(spi, rs);
    if (e == nullptr) {
      (void)drop(r, Direction::inbound, nullptr, Errc::unknown_spi);
      return nullptr;
    }
    r.reqid = e->binding.reqid;
    r.interface_id = e->binding.interface_id;
    return e;
  }

  // open_end: after the SA opened pb (status `opened`), RFC 4301 5.2
  // step 4 (the inner packet must be traffic of the SA).
  DatapathResult open_end(const ReadSection& rs, PacketBuffer& pb, InboundEntry& e, Status opened,
                          const esp::OpenInfo& info, DatapathResult& r) noexcept {
    if (!opened.ok()) {
      if (opened == Errc::lifetime_expired) sad_->note_limit(e, kHardLimitFlag);
      return drop(r, Direction::inbound, nullptr, opened);
    }
    r.soft_limit_reached = info.soft_limit_reached;
    if (r.soft_limit_reached) sad_->note_limit(e, kSoftLimitFlag);
    if (!e.binding.selectors.empty()) {
      // RFC 4301 5.2 step 4: the decrypted packet must be traffic of the SA.
      auto sel = extract_selectors(pb.data());
      if (!sel) return drop(r, Direction::inbound, nullptr, sel.status());
      if (!e.first_selector.matches(*sel, Direction::inbound) &&
          !any_matches(std::span(e.binding.selectors).subspan(1), *sel, Direction::inbound)) {
        return drop(r, Direction::inbound, nullptr, Errc::selector_mismatch);
      }
    }
    r.verdict = Verdict::deliver;
    pass_total(rs, Direction::inbound, pb.size());
    return r;
  }

  struct PolicyTable {
    std::unique_ptr<Spd> spd;
    std::vector<Counters*> counters;  // parallel to spd->policies(); owned by Datapath
  };
  struct Classified {
    enum What : uint8_t { ipsec, ike, keepalive, clear } what = clear;
    uint32_t spi = 0;
    size_t offset = 0;
  };

  explicit Datapath(const DatapathConfig& config)
      : epochs_(config.workers), worker_totals_(new WorkerTotals[epochs_.workers()]) {}

  void pass_total(const ReadSection& rs, Direction d, size_t bytes) noexcept {
    WorkerTotals& t = worker_totals_[rs.worker()];
    std::atomic<uint64_t>& p = t.packets[index(d)];
    std::atomic<uint64_t>& b = t.bytes[index(d)];
    p.store(p.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    b.store(b.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
  }

  static constexpr size_t index(Direction d) noexcept { return d == Direction::outbound ? 0 : 1; }

  static bool any_matches(std::span<const Selector> selectors, const PacketSelectors& p,
                          Direction d) noexcept {
    for (const Selector& s : selectors) {
      if (s.matches(p, d)) return true;
    }
    return false;
  }

  DatapathResult drop(DatapathResult& r, Direction d, Counters* pc, Status why) noexcept {
    r.verdict = Verdict::drop;
    r.status = why;
    const DropReason reason = drop_reason(why.code());
    totals_[index(d)].drop(reason);
    if (pc != nullptr) pc->drop(reason);
    return r;
  }

  // outbound_begin: the SPD's verdict; the SA to seal with for PROTECT
  // (nullptr: r is final).
  OutboundEntry* outbound_begin(const ReadSection& rs, PacketBuffer& pb, DatapathResult& r,
                                Counters** pc_out) noexcept {
    auto sel = extract_selectors(pb.data());
    if (!sel) {
      (void)drop(r, Direction::outbound, nullptr, sel.status());
      return nullptr;
    }
    const PolicyTable* table = tables_[0].load(std::memory_order_acquire);
    const Policy* policy = table->spd->lookup(*sel, Direction::outbound);
    if (policy == nullptr) {
      (void)drop(r, Direction::outbound, nullptr, Errc::no_policy);
      return nullptr;
    }
    Counters& pc = *table->counters[static_cast<size_t>(policy - table->spd->policies().data())];
    r.policy = policy;
    switch (policy->action) {
      case PolicyAction::discard:
        (void)drop(r, Direction::outbound, &pc, Errc::policy_discard);
        return nullptr;
      case PolicyAction::bypass:
        r.verdict = Verdict::bypass;
        pc.pass(pb.size());
        pass_total(rs, Direction::outbound, pb.size());
        return nullptr;
      case PolicyAction::protect: break;
    }
    *pc_out = &pc;
    // The policy's selector matched: the SA's (the same traffic) need not.
    return protect_begin(rs, pb, policy->reqid, &pc, /*check_selectors=*/false, r);
  }

  // protect_begin: the SA of reqid (nullptr: r is final: ACQUIRE or a drop).
  OutboundEntry* protect_begin(const ReadSection& rs, PacketBuffer& pb, uint32_t reqid, Counters* pc,
                               bool check_selectors, DatapathResult& r) noexcept {
    r.reqid = reqid;
    OutboundEntry* e = sad_->outbound(reqid, rs);
    if (e == nullptr) {
      r.verdict = Verdict::acquire;
      r.first_acquire = reqid < sad_->config().max_reqids &&
                        !acquire_sent_[reqid].exchange(true, std::memory_order_relaxed);
      totals_[0].drop(DropReason::no_sa);
      if (pc != nullptr) pc->drop(DropReason::no_sa);
      return nullptr;
    }
    if (acquire_sent_[reqid].load(std::memory_order_relaxed)) {
      acquire_sent_[reqid].store(false, std::memory_order_relaxed);
    }
    if (check_selectors && !e->binding.selectors.empty()) {
      // Route-based: the host's routing chose the SA; its selectors still
      // bound what it may carry (read only when it has any).
      auto sel = extract_selectors(pb.data());
      if (!sel) {
        (void)drop(r, Direction::outbound, pc, sel.status());
        return nullptr;
      }
      if (!any_matches(e->binding.selectors, *sel, Direction::outbound)) {
        (void)drop(r, Direction::outbound, pc, Errc::selector_mismatch);
        return nullptr;
      }
    }
    r.spi = e->sa->spi();
    r.interface_id = e->binding.interface_id;
    return e;
  }

  // protect_end: after e's SA sealed the packet (status `sealed`).
  DatapathResult protect_end(const ReadSection& rs, OutboundEntry& e, Counters* pc, size_t inner,
                             Status sealed, const esp::SealInfo& info, DatapathResult& r) noexcept {
    if (!sealed.ok()) {
      if (sealed == Errc::lifetime_expired || sealed == Errc::sequence_overflow) {
        sad_->note_limit(e, kHardLimitFlag);
      }
      return drop(r, Direction::outbound, pc, sealed);
    }
    r.verdict = Verdict::send;
    r.esp_offset = info.esp_offset;
    r.soft_limit_reached = info.soft_limit_reached;
    if (r.soft_limit_reached) sad_->note_limit(e, kSoftLimitFlag);
    if (pc != nullptr) pc->pass(inner);
    pass_total(rs, Direction::outbound, inner);
    return r;
  }

  DatapathResult inbound_clear(const ReadSection& rs, PacketBuffer& pb, DatapathResult& r) noexcept {
    auto sel = extract_selectors(pb.data());
    if (!sel) return drop(r, Direction::inbound, nullptr, sel.status());
    const PolicyTable* table = tables_[1].load(std::memory_order_acquire);
    const Policy* policy = table->spd->lookup(*sel, Direction::inbound);
    if (policy == nullptr) return drop(r, Direction::inbound, nullptr, Errc::no_policy);
    Counters& pc = *table->counters[static_cast<size_t>(policy - table->spd->policies().data())];
    r.policy = policy;
    switch (policy->action) {
      case PolicyAction::bypass:
        r.verdict = Verdict::bypass;
        pc.pass(pb.size());
        pass_total(rs, Direction::inbound, pb.size());
        return r;
      case PolicyAction::discard: return drop(r, Direction::inbound, &pc, Errc::policy_discard);
      case PolicyAction::protect: return drop(r, Direction::inbound, &pc, Errc::unprotected_traffic);
    }
    return drop(r, Direction::inbound, &pc, Errc::policy_discard);
  }

  // classify: ESP (protocol 50), AH (51), UDP to port 4500 (RFC 3948:
  // ESP, IKE behind the non-ESP marker, keepalive) or anything else.
  static Result<Classified> classify(ByteView packet) noexcept {
    size_t offset = 0;
    uint8_t protocol = 0;
    if (!packet.empty() && (packet[0] >> 4) == 4) {
      auto h = esp::detail::ipv4_fields(packet);
      if (!h) return h.status();
      // Fragments are not IPsec to us: the host's stack reassembles them
      // first (RFC 4303 3.4.1); the SPD decides about the rest.
      if (h->is_fragment()) return Classified{};
      offset = h->header_length;
      protocol = h->protocol;
      packet = packet.first(h->total_length);
    } else {
      auto h = esp::detail::ipv6_fields(packet);
      if (!h) return h.status();
      wire::Ipv6ExtensionWalker walk(h->next_header, h->payload);
      wire::Ipv6ExtensionHeader ext;
      bool ah = false;
      while (walk.next(&ext)) {
        if (ext.type == wire::IpProtocol::fragment) return Classified{};
        if (ext.type == wire::IpProtocol::ah) {
          ah = true;
          break;
        }
      }
      IPSEC_TRY(walk.status());
      protocol = ah ? uint8_t{51} : static_cast<uint8_t>(walk.upper_layer());
      offset = wire::Ipv6Header::kSize + (ah ? ext.offset : walk.upper_layer_offset());
      packet = packet.first(wire::Ipv6Header::kSize + h->payload_length);
    }
    ByteReader r(packet.subspan(offset), static_cast<uint32_t>(offset));
    Classified c;
    if (protocol == 50) {
      if (!r.read_u32(&c.spi)) return r.status().with_field("esp spi");
      c.what = Classified::ipsec;
      return c;
    }
    if (protocol == 51) {
      if (!r.skip(4) || !r.read_u32(&c.spi)) return r.status().with_field("ah spi");
      c.what = Classified::ipsec;
      return c;
    }
    uint16_t sport = 0, dport = 0, length = 0, checksum = 0;
    if (protocol != 17 || !r.read_u16(&sport) || !r.read_u16(&dport) || dport != wire::kNattPort) return c;
    if (!r.read_u16(&length) || !r.read_u16(&checksum)) return r.status().with_field("udp");
    ByteView payload;
    (void)r.read_rest(&payload);
    auto k = wire::classify_udp4500(payload);
    if (!k) {
      const Status s = k.status();
      return Status(s.code(), static_cast<uint32_t>(offset + 8 + (s.has_offset() ? s.offset() : 0)),
                    s.field());
    }
    switch (k->kind) {
      case wire::NattKind::keepalive: c.what = Classified::keepalive; break;
      case wire::NattKind::ike:
        c.what = Classified::ike;
        c.offset = offset + 8 + wire::kNonEspMarkerSize;
        break;
      case wire::NattKind::esp:
        c.what = Classified::ipsec;
        c.spi = load_be32(k->message.first<4>());
        break;
    }
    return c;
  }

  EpochDomain epochs_;
  std::unique_ptr<Sad> sad_;
  std::array<std::atomic<PolicyTable*>, 2> tables_{};
  std::array<std::unordered_map<uint32_t, Counters*>, 2> policy_counters_;
  std::array<Counters, 2> totals_{};  // drops; passes are per worker
  // WorkerTotals: packets and bytes passed, written only by their worker
  // (a plain load and store, no locked instruction), read by snapshot().
  struct alignas(64) WorkerTotals {
    std::array<std::atomic<uint64_t>, 2> packets{};
    std::array<std::atomic<uint64_t>, 2> bytes{};
  };
  std::unique_ptr<WorkerTotals[]> worker_totals_;
  std::unique_ptr<std::atomic<bool>[]> acquire_sent_;
};

}  // namespace ipsec::sa
