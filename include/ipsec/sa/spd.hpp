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

[[nodiscard]] constexpr uint64_t mix64(uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

[[nodiscard]] constexpr uint64_t hash_pair(U128 local, U128 remote) noexcept {
  const auto lo = [](U128 v) { return static_cast<uint64_t>(v); };
  const auto hi = [](U128 v) { return static_cast<uint64_t>(v >> 64); };
  return mix64(lo(local) ^ mix64(hi(local) ^ mix64(lo(remote) ^ mix64(hi(remote)))));
}

// TupleTable: one prefix-length pair's policies, by masked address pair.
struct TupleTable {
  struct Slot {
    U128 local = 0;
    U128 remote = 0;
    uint32_t begin = 0;  // into members
    uint32_t count = 0;  // 0: empty slot
  };
  uint8_t local_length = 0;
  uint8_t remote_length = 0;
  uint32_t best = 0;        // the smallest policy index in this table
  std::vector<Slot> slots;  // power of two, at most half full
  std::vector<uint32_t> members;

  [[nodiscard]] std::span<const uint32_t> find(U128 local, U128 remote) const noexcept {
    const size_t m = slots.size() - 1;
    for (size_t i = hash_pair(local, remote) & m;; i = (i + 1) & m) {
      const Slot& s = slots[i];
      if (s.count == 0) return {};
      if (s.local == local && s.remote == remote) return {members.data() + s.begin, s.count};
    }
  }
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
    for (int f = 0; f < 2; ++f) spd->index_family(f == 0 ? IpFamily::v4 : IpFamily::v6);
    return spd;
  }

  // lookup: the first policy matching the packet seen in `direction`, or
  // nullptr (the caller's default applies; RFC 4301 5.1 says discard).
  [[nodiscard]] const Policy* lookup(const PacketSelectors& p, Direction direction) const noexcept {
    const bool out = direction == Direction::outbound;
    const IpAddress& local = out ? p.source : p.destination;
    const IpAddress& remote = out ? p.destination : p.source;
    const Family& fam = family_[local.is_v4() ? 0 : 1];
    const unsigned bits = local.is_v4() ? 32u : 128u;
    const detail::U128 l = detail::to_u128(local), r = detail::to_u128(remote);
    uint32_t best = kNone;
    for (const detail::TupleTable& t : fam.tuples) {
      if (t.best >= best) break;
      for (uint32_t index :
           t.find(detail::mask(l, t.local_length, bits), detail::mask(r, t.remote_length, bits))) {
        if (index >= best) break;
        if (policies_[index].selector.matches(p, direction)) {
          best = index;
          break;
        }
      }
    }
    for (uint32_t index : fam.scan) {
      if (index >= best) break;
      if (policies_[index].selector.matches(p, direction)) {
        best = index;
        break;
      }
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
  [[nodiscard]] size_t tuple_count() const noexcept {
    return family_[0].tuples.size() + family_[1].tuples.size();
  }
  [[nodiscard]] size_t scan_count() const noexcept { return family_[0].scan.size() + family_[1].scan.size(); }

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  struct Family {
    std::vector<detail::TupleTable> tuples;  // by ascending `best`
    std::vector<uint32_t> scan;              // ascending
  };

  Spd() = default;

  void index_family(IpFamily family) {
    struct Entry {
      uint8_t local_length, remote_length;
      detail::U128 local, remote;
      uint32_t index;
    };
    std::vector<Entry> entries;
    Family& fam = family_[family == IpFamily::v4 ? 0 : 1];
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
    // Group by prefix-length pair, then by address pair, members ascending.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      if (a.local_length != b.local_length) return a.local_length < b.local_length;
      if (a.remote_length != b.remote_length) return a.remote_length < b.remote_length;
      if (a.local != b.local) return a.local < b.local;
      if (a.remote != b.remote) return a.remote < b.remote;
      return a.index < b.index;
    });
    for (size_t i = 0; i < entries.size();) {
      size_t j = i;
      while (j < entries.size() && entries[j].local_length == entries[i].local_length &&
             entries[j].remote_length == entries[i].remote_length) {
        ++j;
      }
      detail::TupleTable t;
      t.local_length = entries[i].local_length;
      t.remote_length = entries[i].remote_length;
      t.best = kNone;
      size_t keys = 0;
      for (size_t k = i; k < j; ++k) {
        if (k == i || entries[k].local != entries[k - 1].local || entries[k].remote != entries[k - 1].remote)
          ++keys;
      }
      size_t capacity = 8;
      while (capacity < 2 * keys) capacity *= 2;
      t.slots.resize(capacity);
      for (size_t k = i; k < j;) {
        size_t e = k;
        while (e < j && entries[e].local == entries[k].local && entries[e].remote == entries[k].remote) ++e;
        const auto begin = static_cast<uint32_t>(t.members.size());
        for (size_t m = k; m < e; ++m) {
          if (t.members.size() == begin || t.members.back() != entries[m].index)
            t.members.push_back(entries[m].index);
        }
        t.best = std::min(t.best, t.members[begin]);
        const size_t mask = capacity - 1;
        size_t slot = detail::hash_pair(entries[k].local, entries[k].remote) & mask;
        while (t.slots[slot].count != 0) slot = (slot + 1) & mask;
        t.slots[slot] = {entries[k].local, entries[k].remote, begin,
                         static_cast<uint32_t>(t.members.size() - begin)};
        k = e;
      }
      fam.tuples.push_back(std::move(t));
      i = j;
    }
    std::sort(fam.tuples.begin(), fam.tuples.end(),
              [](const detail::TupleTable& a, const detail::TupleTable& b) { return a.best < b.best; });
  }

  std::vector<Policy> policies_;
  std::array<Family, 2> family_;
};

}  // namespace ipsec::sa
