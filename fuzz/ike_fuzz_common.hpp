// SPDX-License-Identifier: Apache-2.0
// Checks shared by the IKEv2 fuzz targets (ike_message_fuzz.cpp,
// ike_inner_fuzz.cpp) and the fixed SK keys that make_ike_seeds.cpp seals
// its seeds with. Everything here traps (__builtin_trap) on a violated
// invariant:
//  - every payload the chain parser accepted decodes, its ranges iterate to
//    exactly their counts, and every view it hands out lies in its body;
//  - the payloads tile the chain: contiguous, in order, each one's Next
//    Payload the type of the one after it;
//  - differential round trip: the payloads rebuilt with PayloadChainWriter
//    from their decoded models (unknown ones from their bodies) take exactly
//    as many octets, parse again, and decode to the same models.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "ipsec/bytes/bytes.hpp"
#include "ipsec/bytes/writer.hpp"
#include "ipsec/core/limits.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_payloads.hpp"
#include "ipsec/wire/ike_sk.hpp"
#include "ipsec/wire/ike_summary.hpp"

namespace ike_fuzz {

using namespace ipsec;
using namespace ipsec::wire;

inline void require(bool ok) {
  if (!ok) __builtin_trap();
}

inline bool inside(ByteView part, ByteView whole) {
  if (part.empty()) return true;
  const uint8_t* b = whole.data();
  return part.data() >= b && part.data() + part.size() <= b + whole.size();
}

// ---------------------------------------------------------------------------
// The fixed SK keys (test keys, protect nothing). The inner target's first
// octet picks one: 0xff AES-CBC-128 + HMAC-SHA2-256-128, 0xfe AES-GCM-16-128.
enum class Suite : uint8_t { cbc_hmac = 0xff, gcm = 0xfe };

inline std::array<uint8_t, 64> fixed_key_bytes() {
  std::array<uint8_t, 64> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 13 + 7);
  return k;
}

inline Result<SkTransform> make_fixed_keys(crypto::Provider& provider, Suite suite) {
  static const std::array<uint8_t, 64> key = fixed_key_bytes();
  const ByteView k(key);
  if (suite == Suite::gcm) {
    return SkTransform::make(provider, crypto::EncrId::aes_gcm_16, 128, crypto::IntegId::none, k.first(20),
                             {});
  }
  return SkTransform::make(provider, crypto::EncrId::aes_cbc, 128, crypto::IntegId::hmac_sha2_256_128,
                           k.first(16), k.subspan(16, 32));
}

// ---------------------------------------------------------------------------
// check_payload: decode a payload the chain parser accepted (so decoding
// must succeed), iterate its ranges, and check what the views cover.
inline void check_payload(const PayloadView& p, const ParseLimits& lim) {
  if (!p.understood) {
    require(!is_known_payload(p.type) && !p.critical);
    return;
  }
  const ByteView body = p.body;
  switch (p.type) {
    case PayloadType::sa: {
      auto sa = decode_sa(p, lim);
      require(sa.ok());
      require(!sa->proposals.empty() && sa->proposals.size() <= lim.max_proposals);
      size_t n = 0;
      uint8_t number = 0;
      for (const ProposalView& v : sa->proposals) {
        require(inside(v.spi, body) && v.offset >= p.offset + 4);
        require(n == 0 ? v.number != 0 : v.number == static_cast<uint8_t>(number + 1));
        number = v.number;
        require(v.transforms.size() <= lim.max_transforms);
        size_t t = 0;
        for (const Transform& x : v.transforms) {
          require(inside(x.attributes, body));
          require(x.key_length.has_value() || x.unknown_attributes > 0 ? !x.attributes.empty()
                                                                       : x.attributes.empty());
          (void)transform_id_name(x.type, x.id);
          (void)to_string(x.type);
          ++t;
        }
        require(t == v.transforms.size());
        (void)to_string(v.protocol);
        ++n;
      }
      require(n == sa->proposals.size());
      break;
    }
    case PayloadType::ke: {
      auto ke = decode_ke(p);
      require(ke.ok() && !ke->data.empty() && inside(ke->data, body) && ke->data.size() + 4 == body.size());
      break;
    }
    case PayloadType::id_i:
    case PayloadType::id_r: {
      auto id = decode_id(p);
      require(id.ok() && inside(id->data, body) && id->data.size() + 4 == body.size());
      if (id->type == IdType::ipv4_addr) require(id->data.size() == 4);
      if (id->type == IdType::ipv6_addr) require(id->data.size() == 16);
      if (id->type == IdType::null_id) require(id->data.empty());
      (void)to_string(id->type);
      break;
    }
    case PayloadType::cert: {
      auto c = decode_cert(p);
      require(c.ok() && !c->data.empty() && inside(c->data, body));
      (void)to_string(c->encoding);
      break;
    }
    case PayloadType::certreq: {
      auto c = decode_certreq(p);
      require(c.ok() && inside(c->data, body));
      if (c->encoding == CertEncoding::x509_signature) require(c->data.size() % 20 == 0);
      break;
    }
    case PayloadType::auth: {
      auto a = decode_auth(p);
      require(a.ok() && !a->data.empty() && inside(a->data, body));
      (void)to_string(a->method);
      if (a->method == AuthMethod::digital_signature) {
        auto s = decode_signature_auth(a->data, p.offset + 8);
        require(s.ok());
        require(s->algorithm_identifier.size() == a->data[0]);
        require(inside(s->algorithm_identifier, a->data) &&
                inside(s->algorithm_oid, s->algorithm_identifier) &&
                inside(s->parameters, s->algorithm_identifier) && inside(s->signature, a->data));
        require(!s->algorithm_oid.empty() && !s->signature.empty());
        require(1 + s->algorithm_identifier.size() + s->signature.size() == a->data.size());
      }
      break;
    }
    case PayloadType::nonce: {
      auto n = decode_nonce(p);
      require(n.ok() && n->size() >= limits::kMinNonceSize && n->size() <= limits::kMaxNonceSize);
      break;
    }
    case PayloadType::notify: {
      auto n = decode_notify(p);
      require(n.ok() && inside(n->spi, body) && inside(n->data, body));
      require(n->spi.size() == 0 || n->spi.size() == 4 || n->spi.size() == 8);
      require(4 + n->spi.size() + n->data.size() == body.size());
      (void)to_string(n->type);
      (void)short_name(n->type);
      break;
    }
    case PayloadType::del: {
      auto d = decode_delete(p, lim);
      require(d.ok() && inside(d->spis, body) && d->spis.size() == size_t{d->spi_count} * d->spi_size);
      uint32_t x = 0;
      if (d->spi_size == 4) {
        for (size_t i = 0; i < d->spi_count; ++i) x ^= d->spi32(i);
      }
      (void)x;
      break;
    }
    case PayloadType::ts_i:
    case PayloadType::ts_r: {
      auto ts = decode_ts(p, lim);
      require(ts.ok() && !ts->selectors.empty() && ts->selectors.size() <= lim.max_traffic_selectors);
      size_t n = 0;
      for (const TrafficSelector& s : ts->selectors) {
        require(inside(s.start_address, body) && inside(s.end_address, body) && inside(s.opaque, body));
        const size_t a = s.type == TsType::ipv4_addr_range ? 4 : s.type == TsType::ipv6_addr_range ? 16 : 0;
        require(s.start_address.size() == a && s.end_address.size() == a);
        if (a != 0) require(s.opaque.empty());
        ++n;
      }
      require(n == ts->selectors.size());
      break;
    }
    case PayloadType::cp: {
      auto cp = decode_cp(p, lim);
      require(cp.ok() && cp->attributes.size() <= lim.max_config_attributes);
      size_t n = 0;
      for (const ConfigAttribute& a : cp->attributes) {
        require(inside(a.value, body) && cfg_attribute_length_ok(a.type, a.value.size()));
        require((static_cast<uint16_t>(a.type) & 0x8000) == 0);
        ++n;
      }
      require(n == cp->attributes.size());
      (void)short_name(cp->type);
      break;
    }
    case PayloadType::eap: {
      auto e = decode_eap(p);
      require(e.ok() && e->message.size() == body.size() && e->message.data() == body.data());
      break;
    }
    case PayloadType::skf: {
      auto f = decode_skf(p);
      require(f.ok() && f->number >= 1 && f->number <= f->total && f->total <= limits::kMaxIkeFragments);
      require(inside(f->protected_data, body) && f->protected_data.size() + 4 == body.size());
      break;
    }
    default: break;  // SK: opened elsewhere
  }
}

// check_chain: payloads[first..] were parsed from `chain`, whose first octet
// is at absolute offset `base`: they tile it in order.
inline void check_chain(std::span<const PayloadView> payloads, PayloadType first, ByteView chain,
                        uint32_t base, bool encrypted, const ParseLimits& lim) {
  size_t at = 0;
  PayloadType expected = first;
  for (const PayloadView& p : payloads) {
    require(p.type == expected && p.encrypted == encrypted);
    require(p.offset == base + at);
    require(at + 4 + p.body.size() <= chain.size());
    require(p.body.size() == 0 || p.body.data() == chain.data() + at + 4);
    require(p.understood == (is_known_payload(p.type) || p.type == PayloadType::sk));
    at += 4 + p.body.size();
    expected = p.next;
    check_payload(p, lim);
  }
  require(at == chain.size());
  const bool ends_with_sk = !payloads.empty() && (payloads.back().type == PayloadType::sk ||
                                                  payloads.back().type == PayloadType::skf);
  require(ends_with_sk || expected == PayloadType::none);
  if (payloads.empty()) require(first == PayloadType::none && chain.empty());
}

// ---------------------------------------------------------------------------
// Differential round trip.

// rebuild: append p to w from its decoded model.
inline void rebuild(PayloadChainWriter& w, const PayloadView& p, const ParseLimits& lim) {
  if (!p.understood) {
    w.add_raw(p.type, p.body, p.critical);
    return;
  }
  switch (p.type) {
    case PayloadType::sa: {
      auto sa = decode_sa(p, lim);
      require(sa.ok());
      std::vector<std::vector<Transform>> transforms;
      std::vector<Proposal> proposals;
      transforms.reserve(sa->proposals.size());
      for (const ProposalView& v : sa->proposals) {
        transforms.emplace_back();
        for (const Transform& x : v.transforms) transforms.back().push_back(x);
        proposals.push_back(Proposal{v.number, v.protocol, v.spi, transforms.back()});
      }
      w.add_sa(proposals);
      return;
    }
    case PayloadType::ke: w.add_ke(decode_ke(p).value()); return;
    case PayloadType::id_i:
    case PayloadType::id_r: w.add_id(p.type, decode_id(p).value()); return;
    case PayloadType::cert: w.add_cert(decode_cert(p).value()); return;
    case PayloadType::certreq: w.add_certreq(decode_certreq(p).value()); return;
    case PayloadType::auth: w.add_auth(decode_auth(p).value()); return;
    case PayloadType::nonce: w.add_nonce(decode_nonce(p).value()); return;
    case PayloadType::notify: w.add_notify(decode_notify(p).value()); return;
    case PayloadType::del: w.add_delete(decode_delete(p, lim).value()); return;
    case PayloadType::ts_i:
    case PayloadType::ts_r: {
      auto ts = decode_ts(p, lim);
      require(ts.ok());
      std::vector<TrafficSelector> selectors;
      for (const TrafficSelector& s : ts->selectors) selectors.push_back(s);
      w.add_ts(p.type, selectors);
      return;
    }
    case PayloadType::cp: {
      auto cp = decode_cp(p, lim);
      require(cp.ok());
      std::vector<ConfigAttribute> attributes;
      for (const ConfigAttribute& a : cp->attributes) attributes.push_back(a);
      w.add_cp(cp->type, attributes);
      return;
    }
    case PayloadType::eap: w.add_eap(decode_eap(p).value().message); return;
    default: w.add_raw(p.type, p.body); return;  // SK, SKF: opaque here
  }
}

// same_model: a and b decode to the same model (critical bits compared for
// payloads rebuilt raw; SK/SKF Next Payload is not part of the model).
inline bool same_model(const PayloadView& a, const PayloadView& b, const ParseLimits& lim) {
  if (a.type != b.type || a.understood != b.understood) return false;
  if (!a.understood) return a.critical == b.critical && equal_bytes(a.body, b.body);
  switch (a.type) {
    case PayloadType::sa: {
      auto x = decode_sa(a, lim);
      auto y = decode_sa(b, lim);
      if (!x || !y || x->proposals.size() != y->proposals.size()) return false;
      auto j = y->proposals.begin();
      for (const ProposalView& u : x->proposals) {
        if (j == y->proposals.end()) return false;
        const ProposalView& v = *j;
        if (u.number != v.number || u.protocol != v.protocol || !equal_bytes(u.spi, v.spi) ||
            u.transforms.size() != v.transforms.size()) {
          return false;
        }
        auto k = v.transforms.begin();
        for (const Transform& t : u.transforms) {
          if (k == v.transforms.end() || !(t == *k)) return false;
          ++k;
        }
        if (!(k == v.transforms.end())) return false;
        ++j;
      }
      return j == y->proposals.end();
    }
    case PayloadType::ke: {
      auto x = decode_ke(a);
      auto y = decode_ke(b);
      return x && y && x->group == y->group && equal_bytes(x->data, y->data);
    }
    case PayloadType::id_i:
    case PayloadType::id_r: {
      auto x = decode_id(a);
      auto y = decode_id(b);
      return x && y && x->type == y->type && equal_bytes(x->data, y->data);
    }
    case PayloadType::cert: {
      auto x = decode_cert(a);
      auto y = decode_cert(b);
      return x && y && x->encoding == y->encoding && equal_bytes(x->data, y->data);
    }
    case PayloadType::certreq: {
      auto x = decode_certreq(a);
      auto y = decode_certreq(b);
      return x && y && x->encoding == y->encoding && equal_bytes(x->data, y->data);
    }
    case PayloadType::auth: {
      auto x = decode_auth(a);
      auto y = decode_auth(b);
      return x && y && x->method == y->method && equal_bytes(x->data, y->data);
    }
    case PayloadType::notify: {
      auto x = decode_notify(a);
      auto y = decode_notify(b);
      return x && y && x->protocol == y->protocol && x->type == y->type && equal_bytes(x->spi, y->spi) &&
             equal_bytes(x->data, y->data);
    }
    case PayloadType::del: {
      auto x = decode_delete(a, lim);
      auto y = decode_delete(b, lim);
      return x && y && x->protocol == y->protocol && x->spi_size == y->spi_size &&
             x->spi_count == y->spi_count && equal_bytes(x->spis, y->spis);
    }
    case PayloadType::ts_i:
    case PayloadType::ts_r: {
      auto x = decode_ts(a, lim);
      auto y = decode_ts(b, lim);
      if (!x || !y || x->selectors.size() != y->selectors.size()) return false;
      auto j = y->selectors.begin();
      for (const TrafficSelector& s : x->selectors) {
        if (j == y->selectors.end() || !(s == *j)) return false;
        ++j;
      }
      return j == y->selectors.end();
    }
    case PayloadType::cp: {
      auto x = decode_cp(a, lim);
      auto y = decode_cp(b, lim);
      if (!x || !y || x->type != y->type || x->attributes.size() != y->attributes.size()) return false;
      auto j = y->attributes.begin();
      for (const ConfigAttribute& c : x->attributes) {
        if (j == y->attributes.end() || !(c == *j)) return false;
        ++j;
      }
      return j == y->attributes.end();
    }
    case PayloadType::eap: {
      auto x = decode_eap(a);
      auto y = decode_eap(b);
      return x && y && x->code == y->code && x->identifier == y->identifier && x->type == y->type &&
             equal_bytes(x->message, y->message);
    }
    case PayloadType::skf: {
      auto x = decode_skf(a);
      auto y = decode_skf(b);
      return x && y && x->number == y->number && x->total == y->total &&
             equal_bytes(x->protected_data, y->protected_data);
    }
    default: return equal_bytes(a.body, b.body);  // nonce, SK
  }
}

inline std::span<uint8_t> scratch() {
  static std::vector<uint8_t> buffer(limits::kMaxIkeMessageSize + 1024);
  return buffer;
}

inline size_t chain_size(std::span<const PayloadView> payloads) {
  size_t n = 0;
  for (const PayloadView& p : payloads) n += 4 + p.body.size();
  return n;
}

inline void require_same(std::span<const PayloadView> a, std::span<const PayloadView> b,
                         const ParseLimits& lim) {
  require(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) require(same_model(a[i], b[i], lim));
}

// round_trip_chain: rebuild `payloads` (a whole chain) with a ChainBuilder,
// parse the result as the same kind of chain, compare the models.
inline void round_trip_chain(std::span<const PayloadView> payloads, bool encrypted, const ParseLimits& lim) {
  if (payloads.empty()) return;
  ChainBuilder b(scratch());
  for (const PayloadView& p : payloads) rebuild(b.payloads(), p, lim);
  auto chain = b.finish();
  require(chain.ok() && chain->size() == chain_size(payloads));
  require(b.first_type() == payloads.front().type);
  static ParsedMessage again;
  again.clear();
  require(parse_payload_chain(b.first_type(), *chain, 0, encrypted, &again, lim).ok());
  require_same(payloads, again.payloads(), lim);
  check_chain(again.payloads(), b.first_type(), *chain, 0, encrypted, lim);
}

// summarize_all: the one-line summary fits its buffer and says what it
// should.
inline void check_summary(const ParsedMessage& m) {
  const MessageSummary s = summarize(m);
  const std::string_view v = s.view();
  require(v.size() <= MessageSummary::kCapacity);
  if (s.truncated()) {
    require(v.size() >= 3 && v.substr(v.size() - 3) == "...");
  } else {
    require(v.size() >= 2 && v.substr(v.size() - 2) == " ]");
  }
}

}  // namespace ike_fuzz
