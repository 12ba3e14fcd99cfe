// SPDX-License-Identifier: Apache-2.0
// The Security Policy Database (RFC 4301 4.4.1): an ordered list of policies
// per direction, each a selector and an action (PROTECT with an SA template,
// BYPASS, DISCARD). A packet gets the action of the FIRST policy that matches
// it. RFC 4301 4.4.1 allows that instead of decorrelating the entries, as
// long as the order is the one the administrator gave: the Spd keeps that
// order exactly, and only makes finding the first match fast.
//
// Lookup is tuple-space search: each policy's address ranges are split into
// CIDR prefixes, and policies are grouped by the pair of prefix lengths
// (local, remote). A lookup masks the packet's addresses once per group and
// finds candidates with one hash probe, visiting groups in the order of
// their best policy and stopping as soon as no group can beat the match in
// hand. Its cost grows with the number of distinct prefix-length pairs (a
// handful in real configurations), not with the number of policies. Ranges
// that split into many prefixes stay in a short list scanned in order.
//
// An Spd is immutable once built: the datapath swaps whole tables
// (sa/datapath.hpp), so lookups need no lock.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "ipsec/core/ip.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/sa/selector.hpp"

namespace ipsec::sa {

enum class PolicyAction : uint8_t { protect, bypass, discard };

[[nodiscard]] constexpr std::string_view to_string(PolicyAction a) noexcept {
  switch (a) {
    case PolicyAction::protect: return "protect";
    case PolicyAction::bypass: return "bypass";
    case PolicyAction::discard: return "discard";
  }
  return "unknown";
}

// SaTemplate: what an SA for a PROTECT policy must be (RFC 4301 4.4.1.2):
// what the IKE engine negotiates when the datapath asks (ACQUIRE).
struct SaTemplate {
  esp::SecurityProtocol protocol = esp::SecurityProtocol::esp;
  esp::Mode mode = esp::Mode::tunnel;
  std::optional<IpAddress> tunnel_local;
  std::optional<IpAddress> tunnel_remote;
};

struct Policy {
  uint32_t id = 0;  // the host's name for it; unique within one Spd
  Selector selector;
  PolicyAction action = PolicyAction::discard;
  // PROTECT: the SAs carrying this traffic are installed for this reqid
  // (several policies may share one, as the selectors of one child SA).
  uint32_t reqid = 0;
  SaTemplate sa;
};

namespace detail {

__extension__ using U128 = unsigned __int128;

[[nodiscard]] constexpr U128 to_u128(const IpAddress& a) noexcept {
  U128 v = 0;
  for (size_t i = 0; i < a.size(); ++i) v = v << 8 | a.byte(i);
  return v;
}

struct Prefix {
  U128 base;
  uint8_t length;
};

// split_range: the fewest CIDR prefixes covering first..last exactly, at
// most `max` of them (nullopt when more are needed).
inline std::optional<std::vector<Prefix>> split_range(const AddressRange& r, size_t max) {
  const unsigned bits = r.first.is_v4() ? 32u : 128u;
  U128 first = to_u128(r.first);
  const U128 last = to_u128(r.last);
  std::vector<Prefix> out;
  while (true) {
    // The largest block aligned at `first` that ends at or before `last`.
    unsigned size_log2 = 0;
    while (size_log2 < bits) {
      const unsigned next = size_log2 + 1;
      const U128 block_minus_one = next == 128 ? ~U128{0} : (U128{1} << next) - 1;
      if ((first & block_minus_one) != 0 || last - first < block_minus_one) break;
      size_log2 = next;
    }
    if (out.size() == max) return std::nullopt;
    out.push_back(Prefix{first, static_cast<uint8_t>(bits - size_log2)});
    const U128 span_minus_one = size_log2 == 128 ? ~U128{0} : (U128{1} << size_log2) - 1;
    if (last - first <= span_minus_one) break;
    first += span_minus_one + 1;
  }
  return out;
}

[[nodiscard]] constexpr U128 mask(U128 v, unsigned length, unsigned bits) noexcept {
  if (length == 0) return 0;
  const unsigned host = bits - length;
  return host == 0 ? v : (v >> host) << host;
}

// Candidate: a policy's index and the selector fields the tuple key does not
// already decide (a packet whose masked addresses equal the key is inside
// the policy's address ranges: the prefixes were cut from them).
struct Candidate {
  uint32_t index = 0;
  UpperLayerSelector upper;
};

// TupleTable: the policies of one (local, remote) prefix-length pair, in an
// open-addressing table by masked address pair. Each slot holds the first
// (best) candidate, so a lookup usually reads one slot and nothing else;
// further candidates of the same key sit in `more`.
template <typename Key>
struct TupleTable {
  struct Slot {
    Key key{};
    uint32_t count = 0;  // 0: empty
    uint32_t more = 0;   // candidates 2..count start at more[this]
    Candidate first;
  };
  uint8_t local_length = 0;
  uint8_t remote_length = 0;
  uint32_t best = 0;  // the smallest policy index in this table
  unsigned shift = 0;
  std::vector<Slot> slots;  // a power of two, at most 3/4 full
  std::vector<Candidate> more;

  [[nodiscard]] size_t home(const Key& k) const noexcept { return k.hash() >> shift; }
  [[nodiscard]] const Slot* find(const Key& k) const noexcept {
    const size_t m = slots.size() - 1;
    for (size_t i = home(k);; i = (i + 1) & m) {
      const Slot& s = slots[i];
      if (s.count == 0) return nullptr;
      if (s.key == k) return &s;
    }
  }
};

// Keys: both masked addresses. IPv4 packs them into one word and hashes
// with one multiply (Fibonacci hashing); IPv6 mixes the four halves.
struct Key4 {
  uint64_t pair = 0;
  [[nodiscard]] uint64_t hash() const noexcept { return pair * 0x9e3779b97f4a7c15ULL; }
  friend bool operator==(const Key4&, const Key4&) noexcept = default;
};
struct Key6 {
  U128 local = 0;
  U128 remote = 0;
  [[nodiscard]] uint64_t hash() const noexcept {
    const auto lo = [](U128 v) { return static_cast<uint64_t>(v); };
    const auto hi = [](U128 v) { return static_cast<uint64_t>(v >> 64); };
    const uint64_t a = (lo(local) ^ (hi(local) * 0xc2b2ae3d27d4eb4fULL)) * 0x9e3779b97f4a7c15ULL;
    const uint64_t b = (lo(remote) ^ (hi(remote) * 0x165667b19e3779f9ULL)) * 0xff51afd7ed558ccdULL;
    return (a ^ (b >> 29) ^ b) * 0x9e3779b97f4a7c15ULL;
  }
  friend bool operator==(const Key6&, const Key6&) noexcept = default;
};

}  // namespace detail

class Spd {
 public:
  // Splitting limit: a range needing more prefixes than this is matched by
  // the ordered scan list instead.
  static constexpr size_t kMaxPrefixesPerRange = 8;

  // build: an Spd from policies in priority order (first match wins).
  // Errors: invalid_argument (a selector whose ranges are malformed or of two
  // families, or two policies with one id).
  [[nodiscard]] static Result<std::unique_ptr<Spd>> build(std::span<const Policy> ordered) {
    std::unique_ptr<Spd> spd(new Spd());
    spd->policies_.assign(ordered.begin(), ordered.end());
    std::vector<uint32_t> ids;
    for (const Policy& p : ordered) {
      if (!p.selector.valid()) return Status(Errc::invalid_argument, Status::kNoOffset, "policy.selector");
      ids.push_back(p.id);
    }
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      return Status(Errc::invalid_argument, Status::kNoOffset, "policy.id");
    }
    spd->index_family(IpFamily::v4, spd->v4_);
    spd->index_family(IpFamily::v6, spd->v6_);
    return spd;
  }

  // lookup: the first policy matching the packet seen in `direction`, or
  // nullptr (the caller's default applies; RFC 4301 5.1 says discard).
  [[nodiscard]] const Policy* lookup(const PacketSelectors& p, Direction direction) const noexcept {
    const bool out = direction == Direction::outbound;
    const IpAddress& local = out ? p.source : p.destination;
    const IpAddress& remote = out ? p.destination : p.source;
    uint32_t best = kNone;
    if (local.is_v4()) {
      const auto l = static_cast<uint32_t>(detail::to_u128(local)),
                 r = static_cast<uint32_t>(detail::to_u128(remote));
      for (const auto& t : v4_.tuples) {
        if (t.best >= best) break;
        const detail::Key4 k{uint64_t{mask32(l, t.local_length)} << 32 | mask32(r, t.remote_length)};
        probe(t, k, p, direction, best);
      }
      scan(v4_, p, direction, best);
    } else {
      const detail::U128 l = detail::to_u128(local), r = detail::to_u128(remote);
      for (const auto& t : v6_.tuples) {
        if (t.best >= best) break;
        const detail::Key6 k{detail::mask(l, t.local_length, 128), detail::mask(r, t.remote_length, 128)};
        probe(t, k, p, direction, best);
      }
      scan(v6_, p, direction, best);
    }
    return best == kNone ? nullptr : &policies_[best];
  }

  [[nodiscard]] std::span<const Policy> policies() const noexcept { return policies_; }
  [[nodiscard]] size_t size() const noexcept { return policies_.size(); }
  // find: a policy by id (control plane), or nullptr.
  [[nodiscard]] const Policy* find(uint32_t id) const noexcept {
    for (const Policy& p : policies_) {
      if (p.id == id) return &p;
    }
    return nullptr;
  }
  // tuple_count / scan_count: the lookup's work, for tests and reports.
  [[nodiscard]] size_t tuple_count() const noexcept { return v4_.tuples.size() + v6_.tuples.size(); }
  [[nodiscard]] size_t scan_count() const noexcept { return v4_.scan.size() + v6_.scan.size(); }

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  template <typename Key>
  struct Family {
    std::vector<detail::TupleTable<Key>> tuples;  // by ascending `best`
    std::vector<uint32_t> scan;                   // ascending
  };

  Spd() = default;

  [[nodiscard]] static constexpr uint32_t mask32(uint32_t v, unsigned length) noexcept {
    return length == 0 ? 0 : v & (~uint32_t{0} << (32 - length));
  }

  template <typename Key>
  static void probe(const detail::TupleTable<Key>& t, const Key& k, const PacketSelectors& p, Direction d,
                    uint32_t& best) noexcept {
    const auto* slot = t.find(k);
    if (slot == nullptr) return;
    if (slot->first.index >= best) return;
    if (slot->first.upper.matches(p, d)) {
      best = slot->first.index;
      return;
    }
    for (uint32_t i = 0; i + 1 < slot->count; ++i) {
      const detail::Candidate& c = t.more[slot->more + i];
      if (c.index >= best) return;
      if (c.upper.matches(p, d)) {
        best = c.index;
        return;
      }
    }
  }
  template <typename Key>
  void scan(const Family<Key>& f, const PacketSelectors& p, Direction d, uint32_t& best) const noexcept {
    for (uint32_t index : f.scan) {
      if (index >= best) return;
      if (policies_[index].selector.matches(p, d)) {
        best = index;
        return;
      }
    }
  }

  template <typename Key>
  void index_family(IpFamily family, Family<Key>& fam) {
    struct Entry {
      uint8_t local_length, remote_length;
      detail::U128 local, remote;
      uint32_t index;
    };
    std::vector<Entry> entries;
    for (uint32_t i = 0; i < policies_.size(); ++i) {
      const Selector& s = policies_[i].selector;
      if (s.family() != family) continue;
      auto locals = detail::split_range(s.local, kMaxPrefixesPerRange);
      auto remotes = detail::split_range(s.remote, kMaxPrefixesPerRange);
      if (!locals || !remotes) {
        fam.scan.push_back(i);
        continue;
      }
      for (const detail::Prefix& lp : *locals) {
        for (const detail::Prefix& rp : *remotes)
          entries.push_back({lp.length, rp.length, lp.base, rp.base, i});
      }
    }
    // Group by prefix-length pair, then by address pair, candidates ascending.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      if (a.local_length != b.local_length) return a.local_length < b.local_length;
      if (a.remote_length != b.remote_length) return a.remote_length < b.remote_length;
      if (a.local != b.local) return a.local < b.local;
      if (a.remote != b.remote) return a.remote < b.remote;
      return a.index < b.index;
    });
    auto key_of = [](const Entry& e) {
      if constexpr (std::is_same_v<Key, detail::Key4>) {
        return detail::Key4{static_cast<uint64_t>(e.local) << 32 | static_cast<uint64_t>(e.remote)};
      } else {
        return detail::Key6{e.local, e.remote};
      }
    };
    for (size_t i = 0; i < entries.size();) {
      size_t j = i;
      while (j < entries.size() && entries[j].local_length == entries[i].local_length &&
             entries[j].remote_length == entries[i].remote_length) {
        ++j;
      }
      detail::TupleTable<Key> t;
      t.local_length = entries[i].local_length;
      t.remote_length = entries[i].remote_length;
      t.best = kNone;
      size_t keys = 0;
      for (size_t k = i; k < j; ++k) {
        if (k == i || entries[k].local != entries[k - 1].local || entries[k].remote != entries[k - 1].remote)
          ++keys;
      }
      // At most 3/4 full; small tables (the few BYPASS/DISCARD entries in
      // front, say) at most 1/4, so clustered hashes do not cost probes
      // where the memory is negligible.
      const size_t room = keys < 1024 ? keys * 4 : keys * 4 / 3 + 1;
      size_t capacity = 8;
      unsigned bits = 3;
      while (capacity < room) {
        capacity *= 2;
        ++bits;
      }
      t.shift = 64 - bits;
      t.slots.resize(capacity);
      for (size_t k = i; k < j;) {
        size_t e = k;
        while (e < j && entries[e].local == entries[k].local && entries[e].remote == entries[k].remote) ++e;
        typename detail::TupleTable<Key>::Slot slot;
        slot.key = key_of(entries[k]);
        slot.more = static_cast<uint32_t>(t.more.size());
        for (size_t m = k; m < e; ++m) {
          const uint32_t index = entries[m].index;
          const detail::Candidate c{index, policies_[index].selector.upper_layer()};
          if (slot.count == 0) {
            slot.first = c;
          } else {
            t.more.push_back(c);
          }
          ++slot.count;
        }
        t.best = std::min(t.best, slot.first.index);
        const size_t m = capacity - 1;
        size_t at = t.home(slot.key);
        while (t.slots[at].count != 0) at = (at + 1) & m;
        t.slots[at] = slot;
        k = e;
      }
      fam.tuples.push_back(std::move(t));
      i = j;
    }
    std::sort(fam.tuples.begin(), fam.tuples.end(),
              [](const auto& a, const auto& b) { return a.best < b.best; });
  }

  std::vector<Policy> policies_;
  Family<detail::Key4> v4_;
  Family<detail::Key6> v6_;
};

}  // namespace ipsec::sa
