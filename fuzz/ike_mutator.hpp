// SPDX-License-Identifier: Apache-2.0
// A structure-aware libFuzzer mutator for IKEv2 messages and payload chains
// (LLVMFuzzerCustomMutator / LLVMFuzzerCustomCrossOver of ike_message_fuzz,
// ike_inner_fuzz and ike_policy_fuzz).
//
// Byte-level mutation rarely gets past the length fields: one inserted octet
// breaks the payload's Length (RFC 7296 3.2), the proposal and transform
// lengths (3.3.1, 3.3.2) and the header's Length (3.1), so almost every
// input stops in the framing checks. This mutator parses the input leniently
// (any octets give some structure: lengths are clamped to what is there),
// mutates the structure, and serialises it again with every Length, Next
// Payload, Last Substruc, count and the header Length consistent:
//  - the payload list: insert one of a built-in table of well-formed
//    payloads, delete, duplicate, swap, move, change a payload's type or its
//    critical bit, mutate a body's octets with LLVMFuzzerMutate;
//  - the header: exchange type, flags, message ID, SPIs, version;
//  - inside SA payloads proposals/transforms/attributes (3.3), TS payloads'
//    selectors (3.13.1), Notify (3.10) and Delete (3.11) fields;
//  - crossover: a payload (or a tail of the chain) of a second input.
// One call in four hands the raw octets to LLVMFuzzerMutate instead, so
// inconsistent lengths keep being explored. Everything random comes from the
// seed libFuzzer passes (plus LLVMFuzzerMutate's own generator).
//
// Three framings: a whole message (28-octet header, then the chain), an
// inner chain (one octet with the first payload type, then the chain:
// ike_inner's chain mode) and an inner chain after one opaque octet
// (ike_policy's policy selector). Only libFuzzer builds include this file.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <utility>
#include <vector>

namespace ike_mutator {

// MutateFn: LLVMFuzzerMutate's signature. nullptr (an engine without it):
// a small byte mutator of our own stands in.
using MutateFn = size_t (*)(uint8_t* data, size_t size, size_t max_size);

inline constexpr size_t kHeaderSize = 28;
inline constexpr size_t kMaxBody = 65535 - 4;
inline constexpr size_t kMaxPayloads = 64;  // more gives no new paths, only slower inputs
inline constexpr uint8_t kSk = 46, kSkf = 53;

// disabled: IPSEC_FUZZ_NO_CUSTOM_MUTATOR=1 makes the targets use only
// LLVMFuzzerMutate (for measuring what this mutator adds).
inline bool disabled() {
  static const bool off = [] {
    const char* v = std::getenv("IPSEC_FUZZ_NO_CUSTOM_MUTATOR");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  return off;
}

// Rng: splitmix64 from libFuzzer's seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x2545f4914f6cdd1dull + 0x1ce) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
  bool one_in(size_t n) { return below(n) == 0; }
  uint8_t u8() { return static_cast<uint8_t>(next()); }
  uint16_t u16() { return static_cast<uint16_t>(next()); }
  template <typename T>
  T pick(std::initializer_list<T> values) {
    return *(values.begin() + below(values.size()));
  }

 private:
  uint64_t s_;
};

using Bytes = std::vector<uint8_t>;

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline void put16(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}
inline Bytes random_bytes(Rng& rng, size_t n) {
  Bytes b(n);
  for (uint8_t& x : b) x = rng.u8();
  return b;
}

// fallback_mutate: for engines without LLVMFuzzerMutate: flip, set, insert
// or erase one octet.
inline size_t fallback_mutate(uint8_t* data, size_t size, size_t max_size, Rng& rng) {
  if (size == 0) {
    data[0] = rng.u8();
    return 1;
  }
  const size_t at = rng.below(size);
  switch (rng.below(4)) {
    case 0: data[at] = static_cast<uint8_t>(data[at] ^ (1u << rng.below(8))); return size;
    case 1: data[at] = rng.u8(); return size;
    case 2:
      if (size >= max_size) return size;
      std::memmove(data + at + 1, data + at, size - at);
      data[at] = rng.u8();
      return size + 1;
    default: std::memmove(data + at, data + at + 1, size - at - 1); return size - 1;
  }
}

// mutate_bytes: v through LLVMFuzzerMutate, growing by at most `grow` and
// never beyond `limit` octets. LLVMFuzzerMutate wants at least one octet.
inline void mutate_bytes(Bytes& v, size_t grow, size_t limit, MutateFn fn, Rng& rng) {
  if (limit == 0) {
    v.clear();
    return;
  }
  if (v.empty()) v.push_back(rng.u8());
  if (v.size() > limit) v.resize(limit);
  const size_t old = v.size();
  const size_t cap = std::max(old, std::min(limit, old + grow));
  v.resize(cap);
  const size_t n = fn != nullptr ? fn(v.data(), old, cap) : fallback_mutate(v.data(), old, cap, rng);
  v.resize(std::min(n, cap));
}

// ---------------------------------------------------------------------------
// The generic structure.

enum class Framing : uint8_t {
  message,         // IKE header (RFC 7296 3.1), then the chain
  inner,           // first payload type, then the chain
  prefixed_inner,  // one opaque octet, the first payload type, then the chain
};

struct Payload {
  uint8_t type = 0;
  uint8_t flags = 0;    // the octet after Next Payload: C bit and RESERVED
  uint8_t sk_next = 0;  // SK/SKF: their Next Payload (the first inner type), kept as found
  Bytes body;
};

struct Message {
  Framing framing = Framing::message;
  std::array<uint8_t, kHeaderSize> header{};  // Next Payload and Length are rewritten
  uint8_t prefix = 0;                         // prefixed_inner's opaque octet
  std::vector<Payload> payloads;
};

inline std::array<uint8_t, kHeaderSize> default_header() {
  // SPIi set, SPIr zero, version 2.0, IKE_SA_INIT, Initiator flag.
  return {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 34, 0x08, 0, 0, 0, 0, 0, 0, 0, 28};
}

inline bool is_sk(uint8_t type) { return type == kSk || type == kSkf; }

// parse: any octets as a message. Lengths below 4 count as 4, beyond the
// input as the rest of it; the chain ends at Next Payload 0, after SK/SKF,
// or when fewer than 4 octets remain (those are dropped).
inline Message parse(Framing framing, const uint8_t* data, size_t size) {
  Message m;
  m.framing = framing;
  size_t at = 0;
  uint8_t next = 0;
  if (framing == Framing::message) {
    m.header = default_header();
    if (size >= kHeaderSize) {
      std::memcpy(m.header.data(), data, kHeaderSize);
      next = data[16];
      at = kHeaderSize;
    } else {
      at = size;
    }
  } else {
    if (framing == Framing::prefixed_inner && at < size) m.prefix = data[at++];
    if (at < size) next = data[at++];
  }
  while (next != 0 && size - at >= 4 && m.payloads.size() < kMaxPayloads) {
    Payload p;
    p.type = next;
    p.flags = data[at + 1];
    const size_t len = std::min<size_t>(std::max<size_t>(be16(data + at + 2), 4), size - at);
    p.body.assign(data + at + 4, data + at + len);
    next = data[at];
    at += len;
    if (is_sk(p.type)) {
      p.sk_next = next;
      next = 0;
    }
    m.payloads.push_back(std::move(p));
  }
  return m;
}

// first_type: the type the framing announces; in the inner framings never
// 0xfe/0xff, which ike_inner reads as its keyed modes.
inline uint8_t first_type(const Message& m) {
  if (m.payloads.empty()) return 0;
  const uint8_t t = m.payloads.front().type;
  return (m.framing != Framing::message && t >= 0xfe) ? uint8_t{0xfd} : t;
}

// serialize: the message with every Length and Next Payload consistent.
inline Bytes serialize(const Message& m) {
  Bytes out;
  if (m.framing == Framing::message) {
    out.assign(m.header.begin(), m.header.end());
    out[16] = first_type(m);
  } else {
    if (m.framing == Framing::prefixed_inner) out.push_back(m.prefix);
    out.push_back(first_type(m));
  }
  for (size_t i = 0; i < m.payloads.size(); ++i) {
    const Payload& p = m.payloads[i];
    uint8_t next = i + 1 < m.payloads.size() ? m.payloads[i + 1].type : uint8_t{0};
    if (is_sk(p.type) && i + 1 == m.payloads.size()) next = p.sk_next;
    out.push_back(next);
    out.push_back(p.flags);
    const size_t body = std::min(p.body.size(), kMaxBody);
    put16(out, body + 4);
    out.insert(out.end(), p.body.begin(), p.body.begin() + static_cast<std::ptrdiff_t>(body));
  }
  if (m.framing == Framing::message) {
    const auto n = static_cast<uint32_t>(out.size());
    out[24] = static_cast<uint8_t>(n >> 24);
    out[25] = static_cast<uint8_t>(n >> 16);
    out[26] = static_cast<uint8_t>(n >> 8);
    out[27] = static_cast<uint8_t>(n);
  }
  return out;
}

inline size_t serialized_size(const Message& m) {
  size_t n = m.framing == Framing::message ? kHeaderSize : m.framing == Framing::inner ? 1 : 2;
  for (const Payload& p : m.payloads) n += 4 + std::min(p.body.size(), kMaxBody);
  return n;
}

// consistent: the self-check of serialize: walking the chain by Length
// alone ends exactly at the end, each Next Payload names the payload after
// it, and a message's header Length is its size.
inline bool consistent(const Message& m, const Bytes& out) {
  size_t at = 0;
  uint8_t expected = 0;
  if (m.framing == Framing::message) {
    if (out.size() < kHeaderSize) return false;
    const uint32_t length =
        uint32_t{out[24]} << 24 | uint32_t{out[25]} << 16 | uint32_t{out[26]} << 8 | out[27];
    if (length != out.size()) return false;
    at = kHeaderSize;
    expected = out[16];
  } else {
    at = m.framing == Framing::prefixed_inner ? 2 : 1;
    if (out.size() < at) return false;
    expected = out[at - 1];
  }
  if (expected != first_type(m)) return false;
  size_t count = 0;
  while (at < out.size()) {
    if (out.size() - at < 4 || count >= m.payloads.size()) return false;
    const size_t len = be16(&out[at + 2]);
    if (len < 4 || len > out.size() - at) return false;
    if (count > 0 && expected != m.payloads[count].type) return false;
    expected = out[at];
    at += len;
    ++count;
  }
  const bool sk_last = count > 0 && is_sk(m.payloads[count - 1].type);
  return count == m.payloads.size() && (count == 0 || sk_last || expected == 0);
}

// ---------------------------------------------------------------------------
// SA payloads (RFC 7296 3.3): proposals, transforms, attributes.

struct Attribute {
  uint16_t type = 0;  // with the AF bit: TV, the value is 2 octets
  Bytes value;
};
struct Transform {
  uint8_t type = 0;
  uint8_t reserved = 0;
  uint16_t id = 0;
  std::vector<Attribute> attributes;
};
struct Proposal {
  uint8_t number = 1;
  uint8_t protocol = 1;
  Bytes spi;
  std::vector<Transform> transforms;
};

inline std::vector<Attribute> parse_attributes(const uint8_t* p, size_t n) {
  std::vector<Attribute> out;
  size_t at = 0;
  while (n - at >= 4 && out.size() < 16) {
    Attribute a;
    a.type = be16(p + at);
    if (a.type & 0x8000) {
      a.value.assign(p + at + 2, p + at + 4);
      at += 4;
    } else {
      const size_t len = std::min<size_t>(be16(p + at + 2), n - at - 4);
      a.value.assign(p + at + 4, p + at + 4 + len);
      at += 4 + len;
    }
    out.push_back(std::move(a));
  }
  return out;
}

// parse_sa: leniently, as serialize_sa writes (clamped lengths, counts
// ignored: the substructures are walked by Length).
inline std::vector<Proposal> parse_sa(const Bytes& body) {
  std::vector<Proposal> out;
  size_t at = 0;
  const size_t n = body.size();
  while (n - at >= 8 && out.size() < 16) {
    const uint8_t* p = body.data() + at;
    const size_t len = std::min<size_t>(std::max<size_t>(be16(p + 2), 8), n - at);
    Proposal prop;
    prop.number = p[4];
    prop.protocol = p[5];
    const size_t spi = std::min<size_t>(p[6], len - 8);
    prop.spi.assign(p + 8, p + 8 + spi);
    size_t t = 8 + spi;
    while (len - t >= 8 && prop.transforms.size() < 32) {
      const uint8_t* x = p + t;
      const size_t tlen = std::min<size_t>(std::max<size_t>(be16(x + 2), 8), len - t);
      Transform tr;
      tr.type = x[4];
      tr.reserved = x[5];
      tr.id = be16(x + 6);
      tr.attributes = parse_attributes(x + 8, tlen - 8);
      prop.transforms.push_back(std::move(tr));
      t += tlen;
    }
    out.push_back(std::move(prop));
    at += len;
  }
  return out;
}

inline Bytes serialize_sa(const std::vector<Proposal>& props) {
  Bytes out;
  for (size_t i = 0; i < props.size(); ++i) {
    const Proposal& p = props[i];
    Bytes ts;
    const size_t count = std::min<size_t>(p.transforms.size(), 255);
    for (size_t j = 0; j < count; ++j) {
      const Transform& t = p.transforms[j];
      Bytes attrs;
      for (const Attribute& a : t.attributes) {
        put16(attrs, a.type);
        if (a.type & 0x8000) {
          attrs.push_back(a.value.size() > 0 ? a.value[0] : uint8_t{0});
          attrs.push_back(a.value.size() > 1 ? a.value[1] : uint8_t{0});
        } else {
          put16(attrs, a.value.size());
          attrs.insert(attrs.end(), a.value.begin(), a.value.end());
        }
      }
      ts.push_back(j + 1 < count ? uint8_t{3} : uint8_t{0});  // Last Substruc (3.3.2)
      ts.push_back(t.reserved);
      put16(ts, 8 + attrs.size());
      ts.push_back(t.type);
      ts.push_back(0);
      put16(ts, t.id);
      ts.insert(ts.end(), attrs.begin(), attrs.end());
    }
    const size_t spi = std::min<size_t>(p.spi.size(), 255);
    out.push_back(i + 1 < props.size() ? uint8_t{2} : uint8_t{0});  // Last Substruc (3.3.1)
    out.push_back(0);
    put16(out, 8 + spi + ts.size());
    out.push_back(p.number);
    out.push_back(p.protocol);
    out.push_back(static_cast<uint8_t>(spi));
    out.push_back(static_cast<uint8_t>(count));
    out.insert(out.end(), p.spi.begin(), p.spi.begin() + static_cast<std::ptrdiff_t>(spi));
    out.insert(out.end(), ts.begin(), ts.end());
  }
  return out;
}

inline Attribute key_length(uint16_t bits) {
  return {0x800e, {static_cast<uint8_t>(bits >> 8), static_cast<uint8_t>(bits)}};
}

// A transform of `type` with an ID this library implements, mostly.
inline Transform some_transform(Rng& rng, uint8_t type) {
  Transform t;
  t.type = type;
  switch (type) {
    case 1:  // ENCR
      t.id = rng.pick<uint16_t>({3, 11, 12, 13, 14, 16, 18, 19, 20, 21, 28, 23, 0});
      if (t.id != 28 && t.id != 11 && t.id != 3 && !rng.one_in(8))
        t.attributes.push_back(key_length(rng.pick<uint16_t>({128, 192, 256, 0, 64, 512})));
      break;
    case 2: t.id = rng.pick<uint16_t>({2, 4, 5, 6, 7, 8, 1, 0}); break;
    case 3: t.id = rng.pick<uint16_t>({0, 2, 5, 8, 12, 13, 14, 1, 9}); break;
    case 4: t.id = rng.pick<uint16_t>({0, 14, 15, 16, 19, 20, 21, 28, 31, 32, 2, 35}); break;
    case 5: t.id = rng.pick<uint16_t>({0, 1, 2}); break;
    default: t.id = rng.u16(); break;
  }
  return t;
}

inline Proposal some_proposal(Rng& rng, uint8_t number) {
  Proposal p;
  p.number = number;
  p.protocol = rng.pick<uint8_t>({1, 1, 3, 3, 2});
  if (p.protocol != 1) p.spi = random_bytes(rng, 4);
  if (rng.one_in(2)) {
    p.transforms.push_back(some_transform(rng, 1));
  } else {
    Transform gcm;
    gcm.type = 1;
    gcm.id = 20;
    gcm.attributes.push_back(key_length(256));
    p.transforms.push_back(gcm);
  }
  if (p.protocol == 1) p.transforms.push_back(some_transform(rng, 2));
  if (p.transforms.front().id == 12 || p.transforms.front().id == 13 || p.protocol == 2)
    p.transforms.push_back(some_transform(rng, 3));
  if (p.protocol == 1 || rng.one_in(3)) p.transforms.push_back(some_transform(rng, 4));
  if (p.protocol != 1) p.transforms.push_back(some_transform(rng, 5));
  return p;
}

template <typename T>
void swap_two(std::vector<T>& v, Rng& rng) {
  const size_t i = rng.below(v.size()), j = rng.below(v.size());
  if (i != j) std::swap(v[i], v[j]);
}

template <typename T>
void list_op(std::vector<T>& v, Rng& rng, size_t max, const T& fresh) {
  const size_t n = v.size();
  switch (rng.below(5)) {
    case 0:  // insert
      if (n < max) v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng.below(n + 1)), fresh);
      return;
    case 1:  // delete
      if (n > 0) v.erase(v.begin() + static_cast<std::ptrdiff_t>(rng.below(n)));
      return;
    case 2:  // duplicate
      if (n > 0 && n < max) {
        const T copy = v[rng.below(n)];
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng.below(n + 1)), copy);
      }
      return;
    case 3:  // swap
      if (n > 1) swap_two(v, rng);
      return;
    default:  // move
      if (n > 1) {
        const size_t from = rng.below(n);
        T x = std::move(v[from]);
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(from));
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng.below(n)), std::move(x));
      }
      return;
  }
}

inline void mutate_transform(Transform& t, Rng& rng, MutateFn fn) {
  switch (rng.below(6)) {
    case 0: t.type = rng.one_in(4) ? rng.u8() : rng.pick<uint8_t>({1, 2, 3, 4, 5, 6, 13, 0}); break;
    case 1: t = some_transform(rng, t.type); break;
    case 2: t.id = rng.one_in(2) ? static_cast<uint16_t>(t.id ^ (1u << rng.below(16))) : rng.u16(); break;
    case 3: {  // Key Length attribute present / absent / odd, or an unknown one
      Attribute a = rng.one_in(3) ? Attribute{rng.one_in(2) ? uint16_t(0x8000 | rng.u16()) : rng.u16(),
                                              random_bytes(rng, rng.below(3) * 2)}
                                  : key_length(rng.pick<uint16_t>({128, 192, 256, 0, 1, 65535}));
      list_op(t.attributes, rng, 8, a);
      break;
    }
    case 4:
      if (!t.attributes.empty()) {
        Attribute& a = t.attributes[rng.below(t.attributes.size())];
        if (rng.one_in(3)) a.type = static_cast<uint16_t>(a.type ^ 0x8000);  // TV <-> TLV
        mutate_bytes(a.value, 8, 64, fn, rng);
      }
      break;
    default: t.reserved = rng.u8(); break;
  }
}

inline void mutate_sa(Bytes& body, Rng& rng, MutateFn fn) {
  std::vector<Proposal> props = parse_sa(body);
  const size_t n = props.size();
  switch (n == 0 ? 0 : rng.below(8)) {
    case 0: list_op(props, rng, 8, some_proposal(rng, static_cast<uint8_t>(n + 1))); break;
    case 1:  // renumber: in order (3.3.1: the first is 1, each one more), or not
      for (size_t i = 0; i < n; ++i) props[i].number = rng.one_in(4) ? rng.u8() : static_cast<uint8_t>(i + 1);
      break;
    case 2: {
      Proposal& p = props[rng.below(n)];
      p.protocol = rng.one_in(4) ? rng.u8() : rng.pick<uint8_t>({1, 2, 3, 0});
      if (rng.one_in(2)) p.spi = random_bytes(rng, p.protocol == 1 ? rng.pick<size_t>({0, 8}) : 4);
      break;
    }
    case 3: props[rng.below(n)].spi = random_bytes(rng, rng.pick<size_t>({0, 4, 8, 1, 16})); break;
    case 4:
    case 5: {
      Proposal& p = props[rng.below(n)];
      list_op(p.transforms, rng, 24, some_transform(rng, rng.pick<uint8_t>({1, 2, 3, 4, 5, 6})));
      break;
    }
    default: {
      Proposal& p = props[rng.below(n)];
      if (p.transforms.empty()) {
        p.transforms.push_back(some_transform(rng, 1));
      } else {
        mutate_transform(p.transforms[rng.below(p.transforms.size())], rng, fn);
      }
      break;
    }
  }
  body = serialize_sa(props);
}

// ---------------------------------------------------------------------------
// TS payloads (RFC 7296 3.13, 3.13.1).

struct Selector {
  uint8_t type = 7;
  uint8_t protocol = 0;
  uint16_t start_port = 0, end_port = 65535;
  Bytes addresses;  // start then end
};

inline std::vector<Selector> parse_ts(const Bytes& body, std::array<uint8_t, 3>* reserved) {
  std::vector<Selector> out;
  if (body.size() < 4) return out;
  std::copy(body.begin() + 1, body.begin() + 4, reserved->begin());
  size_t at = 4;
  while (body.size() - at >= 8 && out.size() < 32) {
    const uint8_t* p = body.data() + at;
    const size_t len = std::min<size_t>(std::max<size_t>(be16(p + 2), 8), body.size() - at);
    Selector s;
    s.type = p[0];
    s.protocol = p[1];
    s.start_port = be16(p + 4);
    s.end_port = be16(p + 6);
    s.addresses.assign(p + 8, p + len);
    out.push_back(std::move(s));
    at += len;
  }
  return out;
}

inline Bytes serialize_ts(const std::vector<Selector>& v, const std::array<uint8_t, 3>& reserved) {
  Bytes out;
  out.push_back(static_cast<uint8_t>(v.size()));
  out.insert(out.end(), reserved.begin(), reserved.end());
  for (const Selector& s : v) {
    out.push_back(s.type);
    out.push_back(s.protocol);
    put16(out, 8 + s.addresses.size());
    put16(out, s.start_port);
    put16(out, s.end_port);
    out.insert(out.end(), s.addresses.begin(), s.addresses.end());
  }
  return out;
}

inline Bytes address_pair(Rng& rng, size_t n) {
  Bytes a(2 * n, 0);
  switch (n < 2 ? 3 : rng.below(4)) {
    case 0: std::fill(a.begin() + static_cast<std::ptrdiff_t>(n), a.end(), uint8_t{0xff}); break;  // any
    case 1:  // a /16-like range: 10.1.0.0 - 10.1.255.255 or 2001:db8::/32
      a[0] = a[n] = n == 4 ? 10 : 0x20;
      a[1] = a[n + 1] = n == 4 ? 1 : 0x01;
      for (size_t i = 2; i < n; ++i) a[n + i] = 0xff;
      break;
    case 2:  // one address
      for (size_t i = 0; i < n; ++i) a[i] = a[n + i] = rng.u8();
      break;
    default: a = random_bytes(rng, 2 * n); break;  // often start > end
  }
  return a;
}

inline Selector some_selector(Rng& rng) {
  Selector s;
  s.type = rng.one_in(8) ? rng.pick<uint8_t>({9, 10, 0, 255}) : rng.pick<uint8_t>({7, 8});
  s.protocol = rng.pick<uint8_t>({0, 0, 6, 17, 1, 58, 50});
  if (!rng.one_in(3)) {
    const uint16_t p = rng.pick<uint16_t>({500, 4500, 53, 1, 65535});
    s.start_port = rng.one_in(2) ? p : 0;
    s.end_port = p;
  }
  s.addresses = address_pair(rng, s.type == 8 ? 16 : s.type == 7 ? 4 : rng.below(20));
  return s;
}

inline void mutate_ts(Bytes& body, Rng& rng, MutateFn fn) {
  std::array<uint8_t, 3> reserved{};
  std::vector<Selector> v = parse_ts(body, &reserved);
  const size_t n = v.size();
  switch (n == 0 ? 0 : rng.below(7)) {
    case 0: list_op(v, rng, 16, some_selector(rng)); break;
    case 1: {
      Selector& s = v[rng.below(n)];
      s.type = rng.one_in(4) ? rng.u8() : rng.pick<uint8_t>({7, 8});
      if (rng.one_in(2)) s.addresses = address_pair(rng, s.type == 8 ? 16 : 4);
      break;
    }
    case 2: v[rng.below(n)].protocol = rng.one_in(4) ? rng.u8() : rng.pick<uint8_t>({0, 6, 17, 1, 58}); break;
    case 3: {  // ports: any, one, OPAQUE (65535-0), reversed, ICMP type/code
      Selector& s = v[rng.below(n)];
      switch (rng.below(5)) {
        case 0: s.start_port = 0, s.end_port = 65535; break;
        case 1: s.start_port = s.end_port = rng.u16(); break;
        case 2: s.start_port = 65535, s.end_port = 0; break;
        case 3: std::swap(s.start_port, s.end_port); break;
        default:
          s.start_port = s.end_port = static_cast<uint16_t>(rng.pick<uint16_t>({8, 0, 128, 135}) << 8);
          break;
      }
      break;
    }
    case 4: {
      Selector& s = v[rng.below(n)];
      const size_t half = s.addresses.size() / 2;
      if (half > 0 && rng.one_in(2)) {  // start <-> end
        std::rotate(s.addresses.begin(), s.addresses.begin() + static_cast<std::ptrdiff_t>(half),
                    s.addresses.end());
      } else {
        s.addresses = address_pair(rng, s.type == 8 ? 16 : 4);
      }
      break;
    }
    case 5: mutate_bytes(v[rng.below(n)].addresses, 8, 64, fn, rng); break;
    default: reserved[rng.below(3)] = rng.u8(); break;
  }
  body = serialize_ts(v, reserved);
}

// ---------------------------------------------------------------------------
// Notify (RFC 7296 3.10) and Delete (3.11).

inline uint16_t some_notify_type(Rng& rng) {
  if (rng.one_in(8)) return rng.u16();
  if (rng.one_in(3)) {  // errors
    return rng.pick<uint16_t>(
        {1, 4, 5, 7, 9, 11, 14, 17, 24, 34, 35, 36, 37, 38, 39, 40, 41, 43, 44, 46, 47, 48});
  }
  return static_cast<uint16_t>(16384 + rng.below(64));  // status types
}

// notify_data: what a few status types carry.
inline Bytes notify_data(Rng& rng, uint16_t type) {
  switch (type) {
    case 17: return {0, rng.pick<uint8_t>({14, 19, 31, 32, 2})};  // INVALID_KE_PAYLOAD: a group
    case 16385: {                                                 // SET_WINDOW_SIZE
      Bytes b;
      put32(b, static_cast<uint32_t>(rng.pick<uint32_t>({1, 0, 64, 0xffffffffu})));
      return b;
    }
    case 16388:
    case 16389: return random_bytes(rng, 20);                                 // NAT_DETECTION_*: SHA-1
    case 16390: return random_bytes(rng, rng.pick<size_t>({1, 32, 64, 65}));  // COOKIE
    case 16431: return {0, 2, 0, 3, 0, 4, 0, 5};                              // SIGNATURE_HASH_ALGORITHMS
    case 16403: return {0, 0, 0x0e, 0x10};                                    // AUTH_LIFETIME
    default: return rng.one_in(2) ? Bytes{} : random_bytes(rng, rng.below(8));
  }
}

inline void mutate_notify(Bytes& body, Rng& rng, MutateFn fn) {
  if (body.size() < 4) body.resize(4, 0);
  uint8_t protocol = body[0];
  size_t spi_size = std::min<size_t>(body[1], body.size() - 4);
  uint16_t type = be16(&body[2]);
  Bytes spi(body.begin() + 4, body.begin() + 4 + static_cast<std::ptrdiff_t>(spi_size));
  Bytes data(body.begin() + 4 + static_cast<std::ptrdiff_t>(spi_size), body.end());
  switch (rng.below(5)) {
    case 0:
      type = some_notify_type(rng);
      if (rng.one_in(2)) data = notify_data(rng, type);
      break;
    case 1: protocol = rng.one_in(4) ? rng.u8() : rng.pick<uint8_t>({0, 1, 2, 3}); break;
    case 2: spi = random_bytes(rng, rng.pick<size_t>({0, 4, 8, 3})); break;
    case 3: data = notify_data(rng, type); break;
    default: mutate_bytes(data, 16, 256, fn, rng); break;
  }
  body = {protocol, static_cast<uint8_t>(spi.size())};
  put16(body, type);
  body.insert(body.end(), spi.begin(), spi.end());
  body.insert(body.end(), data.begin(), data.end());
}

inline void mutate_delete(Bytes& body, Rng& rng, MutateFn fn) {
  if (body.size() < 4) body.resize(4, 0);
  uint8_t protocol = body[0];
  uint8_t spi_size = body[1];
  Bytes spis(body.begin() + 4, body.end());
  switch (rng.below(4)) {
    case 0:  // a consistent IKE or ESP/AH delete
      protocol = rng.pick<uint8_t>({1, 2, 3});
      spi_size = protocol == 1 ? 0 : 4;
      spis = random_bytes(rng, spi_size * rng.below(4));
      break;
    case 1: protocol = rng.u8(); break;
    case 2:
      spi_size = rng.pick<uint8_t>({0, 4, 8, 2});
      spis = random_bytes(rng, spi_size * (1 + rng.below(3)));
      break;
    default: mutate_bytes(spis, 16, 512, fn, rng); break;
  }
  const size_t count = spi_size == 0 ? 0 : spis.size() / spi_size;
  body = {protocol, spi_size};
  put16(body, count);
  body.insert(body.end(), spis.begin(), spis.end());
}

// ---------------------------------------------------------------------------
// Built-in well-formed payloads.

inline Payload some_payload(Rng& rng) {
  Payload p;
  auto fill = [&](std::initializer_list<uint8_t> head, size_t random_tail) {
    p.body.assign(head.begin(), head.end());
    const Bytes tail = random_bytes(rng, random_tail);
    p.body.insert(p.body.end(), tail.begin(), tail.end());
  };
  switch (rng.below(20)) {
    case 0:
    case 1: {
      p.type = 33;  // SA
      std::vector<Proposal> props;
      const size_t n = 1 + rng.below(3);
      for (size_t i = 0; i < n; ++i) props.push_back(some_proposal(rng, static_cast<uint8_t>(i + 1)));
      p.body = serialize_sa(props);
      break;
    }
    case 2:  // KE: group, RESERVED, data of the group's size
      p.type = 34;
      switch (rng.below(3)) {
        case 0: fill({0, 31, 0, 0}, 32); break;
        case 1: fill({0, 19, 0, 0}, 64); break;
        default: fill({0, 14, 0, 0}, 256); break;
      }
      break;
    case 3:
      p.type = rng.pick<uint8_t>({35, 36});  // ID: FQDN, IPv4, DN, NULL, KEY_ID, RFC 822
      switch (rng.below(6)) {
        case 0:
          fill({2, 0, 0, 0, 'g', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 't', 'e', 's', 't'}, 0);
          break;
        case 1: fill({1, 0, 0, 0, 10, 0, 0, 2}, 0); break;
        case 2:
          fill(
              {9, 0, 0, 0, 0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, 'b'},
              0);
          break;
        case 3: fill({13, 0, 0, 0}, 0); break;
        case 4: fill({11, 0, 0, 0}, 8); break;
        default: fill({3, 0, 0, 0, 'a', '@', 'b', '.', 't', 'e', 's', 't'}, 0); break;
      }
      break;
    case 4: p.type = 37, fill({4, 0x30, 0x82, 0x01, 0x00}, 256); break;  // CERT (X.509 shaped)
    case 5: p.type = 38, fill({4}, 20 * (1 + rng.below(2))); break;      // CERTREQ: SHA-1 hashes
    case 6:                                                              // AUTH: PSK or RFC 7427
      p.type = 39;
      if (rng.one_in(2)) {
        fill({2, 0, 0, 0}, 32);
      } else {
        fill({14, 0, 0, 0, 7, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70}, 64);
      }
      break;
    case 7: p.type = 40, fill({}, rng.pick<size_t>({32, 16, 15, 256, 257})); break;  // Nonce
    case 8:
    case 9:
    case 10: {
      p.type = 41;
      const uint16_t type = some_notify_type(rng);
      const bool child = type == 16393 || rng.one_in(6);  // REKEY_SA names an ESP SPI
      p.body = {static_cast<uint8_t>(child ? 3 : 0), static_cast<uint8_t>(child ? 4 : 0)};
      put16(p.body, type);
      if (child) {
        const Bytes spi = random_bytes(rng, 4);
        p.body.insert(p.body.end(), spi.begin(), spi.end());
      }
      const Bytes data = notify_data(rng, type);
      p.body.insert(p.body.end(), data.begin(), data.end());
      break;
    }
    case 11:
      p.type = 42;  // Delete
      if (rng.one_in(2)) {
        fill({1, 0, 0, 0}, 0);
      } else {
        fill({3, 4, 0, 2}, 8);
      }
      break;
    case 12: p.type = 43, fill({}, 16); break;  // Vendor ID
    case 13:
    case 14: {
      p.type = rng.pick<uint8_t>({44, 45});  // TSi / TSr
      std::vector<Selector> v;
      const size_t n = 1 + rng.below(2);
      for (size_t i = 0; i < n; ++i) v.push_back(some_selector(rng));
      p.body = serialize_ts(v, {});
      break;
    }
    case 15:  // CP: REQUEST with empty attributes, or a REPLY with an address
      p.type = 47;
      if (rng.one_in(2)) {
        fill({1, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 8, 0, 0}, 0);
      } else {
        fill({2, 0, 0, 0, 0, 1, 0, 4, 10, 9, 0, 2, 0, 13, 0, 8, 10, 9, 0, 0, 255, 255, 0, 0}, 0);
      }
      break;
    case 16: p.type = 48, fill({2, 7, 0, 5, 1}, 0); break;  // EAP Response/Identity
    case 17: p.type = kSkf, p.sk_next = 35, fill({0, 1, 0, 2}, 48); break;
    case 18: p.type = kSk, p.sk_next = 35, fill({}, 48); break;
    default:
      p.type = static_cast<uint8_t>(rng.u8() | 0x80), p.flags = rng.one_in(2) ? 0x80 : 0,
      fill({}, rng.below(12));
      break;
  }
  return p;
}

inline uint8_t some_payload_type(Rng& rng) {
  if (rng.one_in(8)) return static_cast<uint8_t>(1 + rng.below(255));
  return static_cast<uint8_t>(33 + rng.below(22));  // SA .. PS
}

// mutate_payload: the fields of one payload.
inline void mutate_payload(Payload& p, Rng& rng, MutateFn fn, size_t budget) {
  const size_t limit = std::min(kMaxBody, p.body.size() + budget);
  if (rng.below(3) != 0) {
    switch (p.type) {
      case 33: mutate_sa(p.body, rng, fn); break;
      case 44:
      case 45: mutate_ts(p.body, rng, fn); break;
      case 41: mutate_notify(p.body, rng, fn); break;
      case 42: mutate_delete(p.body, rng, fn); break;
      default: mutate_bytes(p.body, 64, limit, fn, rng); break;
    }
  } else {
    mutate_bytes(p.body, 64, limit, fn, rng);
  }
  if (p.body.size() > limit) p.body.resize(limit);
}

inline void mutate_header(Message& m, Rng& rng) {
  auto& h = m.header;
  switch (rng.below(7)) {
    case 0: h[18] = rng.one_in(4) ? rng.u8() : static_cast<uint8_t>(34 + rng.below(11)); break;  // exchange
    case 1: h[19] = rng.pick<uint8_t>({0x08, 0x20, 0x28, 0x00, 0x10, 0x30}); break;              // I, R, V
    case 2: h[19] = static_cast<uint8_t>(h[19] ^ (1u << rng.below(8))); break;
    case 3: {  // message ID: 0, 1, next, max
      const uint32_t id =
          rng.pick<uint32_t>({0, 1, 2, 0x7fffffffu, 0xffffffffu, static_cast<uint32_t>(rng.next())});
      for (size_t i = 0; i < 4; ++i) h[20 + i] = static_cast<uint8_t>(id >> (24 - 8 * i));
      break;
    }
    case 4: h[17] = rng.pick<uint8_t>({0x20, 0x21, 0x10, 0x30, 0x2f}); break;  // version
    case 5:                                                                    // SPIr zero / set
      for (size_t i = 8; i < 16; ++i) h[i] = rng.one_in(2) ? 0 : static_cast<uint8_t>(0x11 + i);
      break;
    default:  // SPIi zero / set
      for (size_t i = 0; i < 8; ++i) h[i] = rng.one_in(8) ? 0 : static_cast<uint8_t>(i + 1);
      break;
  }
}

// mutate_message: one structural mutation; `budget` bounds the growth.
inline void mutate_message(Message& m, Rng& rng, MutateFn fn, size_t budget) {
  auto& v = m.payloads;
  const size_t n = v.size();
  const size_t op = rng.below(m.framing == Framing::message ? 11 : 10);
  switch (n == 0 && op != 9 ? 0 : op) {
    case 0:
      if (n < kMaxPayloads) {
        Payload p = some_payload(rng);
        if (p.body.size() + 4 <= budget)
          v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng.below(n + 1)), std::move(p));
      }
      break;
    case 1: v.erase(v.begin() + static_cast<std::ptrdiff_t>(rng.below(n))); break;
    case 2: {
      const Payload& p = v[rng.below(n)];
      if (n < kMaxPayloads && p.body.size() + 4 <= budget) {
        Payload copy = p;
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng.below(n + 1)), std::move(copy));
      }
      break;
    }
    case 3:
      if (n > 1) swap_two(v, rng);
      break;
    case 4:
      if (n > 1) {
        const size_t from = rng.below(n);
        Payload x = std::move(v[from]);
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(from));
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng.below(n)), std::move(x));
      }
      break;
    case 5: v[rng.below(n)].type = some_payload_type(rng); break;
    case 6: {
      Payload& p = v[rng.below(n)];
      p.flags = rng.one_in(4) ? rng.u8() : static_cast<uint8_t>(p.flags ^ 0x80);  // the C bit
      break;
    }
    case 7:
    case 8: mutate_payload(v[rng.below(n)], rng, fn, budget); break;
    case 9:  // the prefix octet of prefixed_inner (the policy selector), else a payload
      if (m.framing == Framing::prefixed_inner) {
        m.prefix = rng.one_in(2) ? rng.u8() : static_cast<uint8_t>(m.prefix ^ (1u << rng.below(8)));
      } else if (n > 0) {
        mutate_payload(v[rng.below(n)], rng, fn, budget);
      }
      break;
    default: mutate_header(m, rng); break;
  }
}

// finish: serialise m into data (at most max_size octets, dropping payloads
// from the end while it does not fit), checking the serialisation.
inline size_t finish(Message& m, uint8_t* data, size_t max_size) {
  Bytes out = serialize(m);
  while (out.size() > max_size && !m.payloads.empty()) {
    m.payloads.pop_back();
    out = serialize(m);
  }
  if (!consistent(m, out) || out.size() != serialized_size(m)) __builtin_trap();  // a bug in this file
  if (out.size() > max_size) return 0;
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

inline size_t raw(uint8_t* data, size_t size, size_t max_size, MutateFn fn, Rng& rng) {
  if (size == 0) data[size++] = rng.u8();
  return fn != nullptr ? fn(data, size, max_size) : fallback_mutate(data, size, max_size, rng);
}

// custom_mutate: the body of LLVMFuzzerCustomMutator.
inline size_t custom_mutate(Framing framing, uint8_t* data, size_t size, size_t max_size, unsigned seed,
                            MutateFn fn) {
  if (max_size == 0) return 0;
  Rng rng(seed);
  if (disabled() || rng.one_in(4)) return raw(data, size, max_size, fn, rng);
  Message m = parse(framing, data, size);
  const size_t rounds = 1 + (rng.one_in(3) ? rng.below(4) : 0);
  for (size_t i = 0; i < rounds; ++i) {
    const size_t used = serialized_size(m);
    mutate_message(m, rng, fn, max_size > used ? max_size - used : 0);
  }
  const size_t n = finish(m, data, max_size);
  return n != 0 ? n : raw(data, std::min(size, max_size), max_size, fn, rng);
}

// custom_cross_over: the body of LLVMFuzzerCustomCrossOver: a payload of
// the second input inserted into (or replacing one of) the first, or the
// first's chain up to a point followed by the second's from a point.
inline size_t custom_cross_over(Framing framing, const uint8_t* data1, size_t size1, const uint8_t* data2,
                                size_t size2, uint8_t* out, size_t max_out_size, unsigned seed) {
  if (disabled() || max_out_size == 0) return 0;
  Rng rng(seed);
  Message a = parse(framing, data1, size1);
  const Message b = parse(framing, data2, size2);
  if (b.payloads.empty()) return 0;
  auto& v = a.payloads;
  const Payload& donor = b.payloads[rng.below(b.payloads.size())];
  switch (v.empty() ? 0 : rng.below(3)) {
    case 0:
      if (v.size() < kMaxPayloads)
        v.insert(v.begin() + static_cast<std::ptrdiff_t>(rng.below(v.size() + 1)), donor);
      break;
    case 1: v[rng.below(v.size())] = donor; break;
    default: {
      const size_t keep = rng.below(v.size() + 1), from = rng.below(b.payloads.size());
      v.resize(keep);
      for (size_t i = from; i < b.payloads.size() && v.size() < kMaxPayloads; ++i) v.push_back(b.payloads[i]);
      break;
    }
  }
  return finish(a, out, max_out_size);
}

// ---------------------------------------------------------------------------
// ike_inner's keyed modes: a mode octet, then datagrams each with a 2-octet
// length. The framing stays intact: one datagram is mutated as a message
// (header fields, payload order; its SK payload stays opaque) or as octets,
// or datagrams are dropped, duplicated or reordered (fragments arriving out
// of order, twice, or not at all).
inline size_t mutate_datagrams(uint8_t* data, size_t size, size_t max_size, unsigned seed, MutateFn fn) {
  if (max_size == 0) return 0;
  Rng rng(seed);
  if (disabled() || rng.one_in(4) || size == 0) return raw(data, size, max_size, fn, rng);
  std::vector<Bytes> grams;
  size_t at = 1;
  while (size - at >= 2 && grams.size() < 16) {
    const size_t len = std::min<size_t>(be16(data + at), size - at - 2);
    grams.emplace_back(data + at + 2, data + at + 2 + len);
    at += 2 + len;
  }
  const size_t n = grams.size();
  switch (n == 0 ? 0 : rng.below(6)) {
    case 0: {
      Bytes g = serialize(parse(Framing::message, nullptr, 0));
      grams.insert(grams.begin() + static_cast<std::ptrdiff_t>(rng.below(n + 1)), std::move(g));
      break;
    }
    case 1:
    case 2: {
      Bytes& g = grams[rng.below(n)];
      Message m = parse(Framing::message, g.data(), g.size());
      mutate_message(m, rng, fn, max_size > size ? max_size - size : 0);
      g = serialize(m);
      break;
    }
    case 3: mutate_bytes(grams[rng.below(n)], 32, 65535, fn, rng); break;
    default: list_op(grams, rng, 16, grams[rng.below(n)]); break;
  }
  Bytes out = {data[0]};
  for (const Bytes& g : grams) {
    const size_t len = std::min<size_t>(g.size(), 65535);
    if (out.size() + 2 + len > max_size) break;
    put16(out, len);
    out.insert(out.end(), g.begin(), g.begin() + static_cast<std::ptrdiff_t>(len));
  }
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

}  // namespace ike_mutator
