// SPDX-License-Identifier: Apache-2.0
// SK and SKF protection (RFC 7296 3.14, RFC 5282, RFC 7383): round trips for
// every transform the provider offers, tampering, padding and length errors,
// IV generation, and fragmentation/reassembly rules. Interoperability with a
// real peer is in ike_strongswan_test.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "ike_test_util.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_fragment.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_sk.hpp"
#include "test_util.hpp"

using ipsec::ByteView;
using ipsec::Errc;
using ipsec::test::Bytes;
using namespace ipsec::wire;
namespace crypto = ipsec::crypto;

namespace {

struct SuiteCase {
  const char* name;
  crypto::EncrId encr;
  uint16_t key_bits;
  crypto::IntegId integ;
};

constexpr SuiteCase kSuites[] = {
    {"AES-GCM-16-128", crypto::EncrId::aes_gcm_16, 128, crypto::IntegId::none},
    {"AES-GCM-16-256", crypto::EncrId::aes_gcm_16, 256, crypto::IntegId::none},
    {"AES-GCM-8-256", crypto::EncrId::aes_gcm_8, 256, crypto::IntegId::none},
    {"AES-CCM-16-256", crypto::EncrId::aes_ccm_16, 256, crypto::IntegId::none},
    {"ChaCha20-Poly1305", crypto::EncrId::chacha20_poly1305, 0, crypto::IntegId::none},
    {"AES-CBC-128 HMAC-SHA2-256-128", crypto::EncrId::aes_cbc, 128, crypto::IntegId::hmac_sha2_256_128},
    {"AES-CBC-256 HMAC-SHA2-512-256", crypto::EncrId::aes_cbc, 256, crypto::IntegId::hmac_sha2_512_256},
    {"AES-CBC-192 HMAC-SHA1-96", crypto::EncrId::aes_cbc, 192, crypto::IntegId::hmac_sha1_96},
    {"AES-CBC-128 AES-XCBC-96", crypto::EncrId::aes_cbc, 128, crypto::IntegId::aes_xcbc_96},
    {"AES-CTR-256 HMAC-SHA2-384-192", crypto::EncrId::aes_ctr, 256, crypto::IntegId::hmac_sha2_384_192},
};

Bytes key_bytes(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed * 31 + i);
  return b;
}

// keys_for: an SkTransform of a suite; `seed` picks the key material.
SkTransform keys_for(const SuiteCase& s, uint8_t seed = 1) {
  static crypto::DefaultProvider provider;
  const auto info = crypto::encr_info(s.encr);
  REQUIRE(info);
  const Bytes e = key_bytes(info->keymat_size(s.key_bits), seed);
  Bytes a;
  if (s.integ != crypto::IntegId::none)
    a = key_bytes(crypto::integ_info(s.integ)->key_size, static_cast<uint8_t>(seed + 100));
  auto t = SkTransform::make(provider, s.encr, s.key_bits, s.integ, e, a);
  REQUIRE(t.ok());
  return std::move(*t);
}

IkeHeader auth_header(uint32_t mid = 1) {
  IkeHeader h;
  h.spi_i = 0x1122334455667788;
  h.spi_r = 0x99aabbccddeeff00;
  h.exchange = ExchangeType::ike_auth;
  h.flags = ike_flag::kInitiator;
  h.message_id = mid;
  return h;
}

// An IKE_AUTH request's inner chain (IDi, AUTH, SA, TSi, TSr) padded out
// with a vendor ID of `extra` octets.
Bytes auth_chain(size_t extra = 0, PayloadType* first = nullptr) {
  Bytes out(70000);
  ChainBuilder b(out);
  const Bytes id = {'c', 'l', 'i', 'e', 'n', 't'};
  const Bytes auth(32, 0xab);
  const Bytes spi = {1, 2, 3, 4};
  const Transform t[] = {{TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_gcm_16), 256, {}, 0},
                         {TransformType::esn, 0, std::nullopt, {}, 0}};
  const Proposal p[] = {{1, ProtocolId::esp, spi, t}};
  const Bytes a = {10, 0, 0, 0}, z = {10, 0, 0, 255};
  const TrafficSelector ts[] = {{TsType::ipv4_addr_range, 0, 0, 65535, a, z, {}}};
  b.payloads().add_id(PayloadType::id_i, {IdType::fqdn, id});
  b.payloads().add_auth({AuthMethod::shared_key_mic, auth});
  b.payloads().add_sa(p);
  b.payloads().add_ts(PayloadType::ts_i, ts);
  b.payloads().add_ts(PayloadType::ts_r, ts);
  if (extra > 0) b.payloads().add_vendor_id(Bytes(extra, 0x5c));
  if (first != nullptr) *first = b.first_type();
  auto chain = b.finish();
  REQUIRE(chain.ok());
  return Bytes(chain->begin(), chain->end());
}

Bytes seal(SkTransform& keys, ByteView chain, crypto::Rng& rng, uint32_t mid = 1) {
  Bytes out(70000);
  auto m = build_protected_message(auth_header(mid), PayloadType::id_i, chain, keys, rng, out);
  REQUIRE(m.ok());
  return Bytes(m->begin(), m->end());
}

}  // namespace

TEST_CASE("SK round trip for every transform: encrypt, verify, decrypt, parse") {
  crypto::SeededRng rng(7);
  const Bytes chain = auth_chain();
  for (const SuiteCase& s : kSuites) {
    INFO(s.name);
    SkTransform sender = keys_for(s);
    SkTransform receiver = keys_for(s);
    Bytes m = seal(sender, chain, rng);
    // Layout (3.14): HDR | SK hdr | IV | encrypted, whole blocks | ICV.
    CHECK(m.size() == kIkeHeaderSize + 4 + sender.overhead(chain.size()) + chain.size());
    CHECK((m.size() - kIkeHeaderSize - 4 - sender.iv_size() - sender.icv_size()) % sender.block_size() == 0);
    ParsedMessage pm;
    REQUIRE(parse_message(m, &pm).ok());
    REQUIRE(pm.size() == 1);
    CHECK(pm.payloads()[0].type == PayloadType::sk);
    CHECK(pm.payloads()[0].next == PayloadType::id_i);
    // The plaintext is not in the message.
    CHECK(std::search(m.begin(), m.end(), chain.begin() + 4, chain.begin() + 10) == m.end());
    REQUIRE(open_protected_message(receiver, m, pm).ok());
    CHECK(pm.decrypted);
    REQUIRE(pm.size() == 6);
    std::vector<PayloadView> inner(pm.payloads().begin() + 1, pm.payloads().end());
    CHECK(ipsec::test::rebuild_chain(inner) == chain);
    // Inner views point at the decrypted bytes in the datagram.
    CHECK(inner[0].offset == kIkeHeaderSize + 4 + receiver.iv_size());
    // Keys of the other direction (or another SA) do not open it.
    SkTransform other = keys_for(s, 2);
    Bytes again = seal(sender, chain, rng);
    ParsedMessage pm2;
    REQUIRE(parse_message(again, &pm2).ok());
    CHECK(open_protected_message(other, again, pm2).code() == Errc::integrity_check_failed);
  }
}

TEST_CASE("SK: every bit of the message is authenticated") {
  crypto::SeededRng rng(8);
  const Bytes chain = auth_chain();
  for (const SuiteCase& s : {kSuites[1], kSuites[5]}) {
    INFO(s.name);
    SkTransform sender = keys_for(s);
    const Bytes original = seal(sender, chain, rng);
    for (size_t i = 0; i < original.size(); ++i) {
      for (uint8_t bit : {uint8_t{0x01}, uint8_t{0x80}}) {
        Bytes m = original;
        m[i] ^= bit;
        ParsedMessage pm;
        if (!parse_message(m, &pm).ok() || pm.protected_payload() == nullptr) continue;
        SkTransform receiver = keys_for(s);
        INFO("byte " << i);
        CHECK_FALSE(open_protected_message(receiver, m, pm).ok());
      }
    }
  }
}

TEST_CASE("SK: IVs are never repeated (AEAD counter) and unpredictable (CBC)") {
  crypto::SeededRng rng(9);
  const Bytes chain = auth_chain();
  SkTransform gcm = keys_for(kSuites[1]);
  const Bytes a = seal(gcm, chain, rng), b = seal(gcm, chain, rng);
  const size_t iv_at = kIkeHeaderSize + 4;
  const uint64_t iv_a = ipsec::load_be64(std::span<const uint8_t, 8>(a.data() + iv_at, 8));
  const uint64_t iv_b = ipsec::load_be64(std::span<const uint8_t, 8>(b.data() + iv_at, 8));
  CHECK(iv_b == iv_a + 1);  // RFC 5282 3.1: a counter never repeats under one key
  SkTransform cbc = keys_for(kSuites[5]);
  const Bytes c = seal(cbc, chain, rng), d = seal(cbc, chain, rng);
  CHECK_FALSE(std::equal(c.begin() + iv_at, c.begin() + iv_at + 16, d.begin() + iv_at));
}

TEST_CASE("SK: malformed protected payloads") {
  crypto::SeededRng rng(10);
  const Bytes chain = auth_chain();
  SUBCASE("too short for IV, Pad Length and ICV") {
    SkTransform keys = keys_for(kSuites[1]);
    Bytes out(200);
    MessageBuilder b(out, auth_header());
    b.payloads().add_raw(PayloadType::sk, Bytes(8 + 16, 0));  // IV and ICV, no Pad Length
    auto m = b.finish();
    REQUIRE(m.ok());
    Bytes msg(m->begin(), m->end());
    ParsedMessage pm;
    REQUIRE(parse_message(msg, &pm).ok());
    const auto s = open_protected_message(keys, msg, pm);
    CHECK(s.code() == Errc::invalid_length);
    CHECK(s.offset() == kIkeHeaderSize + 4);
  }
  SUBCASE("CBC data that is not whole blocks") {
    SkTransform keys = keys_for(kSuites[5]);
    Bytes out(200);
    MessageBuilder b(out, auth_header());
    b.payloads().add_raw(PayloadType::sk, Bytes(16 + 17 + 16, 0));
    auto m = b.finish();
    Bytes msg(m->begin(), m->end());
    ParsedMessage pm;
    REQUIRE(parse_message(msg, &pm).ok());
    CHECK(open_protected_message(keys, msg, pm).code() == Errc::invalid_length);
  }
  SUBCASE("a Pad Length past the plaintext, under a valid ICV") {
    // Hand-made with the raw AEAD: plaintext of 8 octets whose last says 200.
    crypto::DefaultProvider provider;
    const Bytes key = key_bytes(36, 1);
    auto aead = provider.make_aead(crypto::EncrId::aes_gcm_16, 256, key);
    REQUIRE(aead.ok());
    Bytes out(200);
    MessageBuilder b(out, auth_header());
    b.payloads().add_raw(PayloadType::sk, Bytes(8 + 8 + 16, 0));
    auto m = b.finish();
    Bytes msg(m->begin(), m->end());
    const size_t iv_at = kIkeHeaderSize + 4;
    msg[iv_at + 8 + 7] = 200;
    std::span<uint8_t> all(msg);
    REQUIRE((*aead)
                ->seal(all.subspan(iv_at, 8), all.first(iv_at), all.subspan(iv_at + 8, 8),
                       all.subspan(iv_at + 16, 16))
                .ok());
    ParsedMessage pm;
    REQUIRE(parse_message(msg, &pm).ok());
    SkTransform keys = keys_for(kSuites[1]);
    const auto s = open_protected_message(keys, msg, pm);
    CHECK(s.code() == Errc::bad_padding);
    CHECK(s.offset() == iv_at + 8 + 7);
  }
  SUBCASE("an inner chain that does not parse is refused after decryption") {
    SkTransform sender = keys_for(kSuites[1]);
    Bytes bad = chain;
    bad[3] = 3;  // first payload's length below its header
    Bytes msg = seal(sender, bad, rng);
    ParsedMessage pm;
    REQUIRE(parse_message(msg, &pm).ok());
    SkTransform receiver = keys_for(kSuites[1]);
    const auto s = open_protected_message(receiver, msg, pm);
    CHECK(s.code() == Errc::invalid_length);
    CHECK(s.offset() == kIkeHeaderSize + 4 + 8 + 2);  // in the datagram
  }
  SUBCASE("the parsed message must be of these bytes, and have SK") {
    SkTransform keys = keys_for(kSuites[1]);
    Bytes msg = seal(keys, chain, rng);
    Bytes copy = msg;
    ParsedMessage pm;
    REQUIRE(parse_message(copy, &pm).ok());
    CHECK(open_protected_message(keys, msg, pm).code() == Errc::invalid_argument);
    Bytes out(100);
    MessageBuilder b(out, auth_header());
    auto plain = b.finish();
    Bytes p(plain->begin(), plain->end());
    REQUIRE(parse_message(p, &pm).ok());
    CHECK(open_protected_message(keys, p, pm).code() == Errc::invalid_argument);
  }
  SUBCASE("transform combinations RFC 7296 3.3.3 does not allow") {
    crypto::DefaultProvider provider;
    const Bytes k36 = key_bytes(36, 1), k32 = key_bytes(32, 2), k16 = key_bytes(16, 3);
    CHECK(SkTransform::make(provider, crypto::EncrId::aes_gcm_16, 256, crypto::IntegId::hmac_sha2_256_128,
                            k36, k32)
              .status() == Errc::unsupported_algorithm);
    CHECK(
        SkTransform::make(provider, crypto::EncrId::aes_cbc, 128, crypto::IntegId::none, k16, {}).status() ==
        Errc::unsupported_algorithm);
    CHECK(SkTransform::make(provider, crypto::EncrId::null_auth_aes_gmac, 256, crypto::IntegId::none, k36, {})
              .status() == Errc::unsupported_algorithm);
    CHECK(SkTransform::make(provider, crypto::EncrId::aes_gcm_16, 256, crypto::IntegId::none, k32, {})
              .status() == Errc::invalid_key_length);
  }
}

TEST_CASE("fragmentation (RFC 7383): split to a size, reassemble in any order") {
  crypto::SeededRng rng(11);
  PayloadType first = PayloadType::none;
  const Bytes chain = auth_chain(1500, &first);
  for (const SuiteCase& s : {kSuites[1], kSuites[5], kSuites[4]}) {
    for (size_t max_size : {size_t{200}, size_t{576}, size_t{1280}}) {
      INFO(s.name << " at " << max_size);
      SkTransform sender = keys_for(s);
      auto frag = Fragmenter::make(auth_header(), first, chain, sender, max_size);
      REQUIRE(frag.ok());
      CHECK(frag->count() ==
            (chain.size() + frag->fragment_plaintext_size() - 1) / frag->fragment_plaintext_size());
      std::vector<Bytes> messages;
      for (uint16_t n = 1; n <= frag->count(); ++n) {
        Bytes out(2000);
        auto m = frag->build(n, sender, rng, out);
        REQUIRE(m.ok());
        CHECK(m->size() <= max_size);
        messages.emplace_back(m->begin(), m->end());
      }
      std::mt19937 shuffle(static_cast<unsigned>(max_size));
      std::shuffle(messages.begin(), messages.end(), shuffle);
      messages.push_back(messages.front());  // a retransmitted fragment
      SkTransform receiver = keys_for(s);
      FragmentReassembler reassembler;
      std::optional<ReassembledMessage> whole;
      size_t completions = 0;
      for (Bytes& m : messages) {
        ParsedMessage pm;
        REQUIRE(parse_message(m, &pm).ok());
        auto f = open_fragment(receiver, m, pm);
        REQUIRE(f.ok());
        auto r = reassembler.add(pm.header, *f);
        REQUIRE(r.ok());
        if (r->has_value()) {
          whole = std::move(*r);
          ++completions;
        }
      }
      REQUIRE(whole);
      // The duplicate after completion starts a new partial message that
      // the host's timer would discard.
      CHECK(completions == 1);
      CHECK(whole->first == first);
      CHECK(whole->message_id == 1);
      CHECK(ipsec::equal_bytes(whole->chain.view(), chain));
      ParsedMessage inner;
      CHECK(parse_payload_chain(whole->first, whole->chain.view(), 0, true, &inner).ok());
      CHECK(inner.size() == 6);
    }
  }
}

TEST_CASE("reassembly rules and limits (RFC 7383 2.6)") {
  crypto::SeededRng rng(12);
  PayloadType first = PayloadType::none;
  const Bytes chain = auth_chain(600, &first);
  SkTransform keys = keys_for(kSuites[1]);
  auto opened = [&](uint32_t mid, size_t max_size, uint16_t n, bool response = false) {
    IkeHeader h = auth_header(mid);
    if (response) h.flags = ike_flag::kResponse;
    auto frag = Fragmenter::make(h, first, chain, keys, max_size);
    REQUIRE(frag.ok());
    Bytes out(2000);
    auto m = frag->build(n, keys, rng, out);
    REQUIRE(m.ok());
    Bytes msg(m->begin(), m->end());
    ParsedMessage pm;
    REQUIRE(parse_message(msg, &pm).ok());
    SkTransform receiver = keys_for(kSuites[1]);
    auto f = open_fragment(receiver, msg, pm);
    REQUIRE(f.ok());
    // Keep the plaintext alive with the header.
    struct Opened {
      IkeHeader header;
      Bytes plain;
      OpenedFragment f;
    } o{pm.header, Bytes(f->plaintext.begin(), f->plaintext.end()), *f};
    return o;
  };
  auto add = [](FragmentReassembler& r, auto& o) {
    o.f.plaintext = o.plain;
    return r.add(o.header, o.f);
  };

  SUBCASE("a larger Total Fragments restarts, a smaller one is ignored") {
    FragmentReassembler r;
    auto big1 = opened(1, 600, 1);    // 2 fragments
    auto small1 = opened(1, 300, 1);  // more, smaller fragments
    REQUIRE(small1.f.total > big1.f.total);
    CHECK_FALSE(add(r, big1)->has_value());
    CHECK_FALSE(add(r, small1)->has_value());  // restarts with the larger total
    auto big2 = opened(1, 600, 2);
    CHECK_FALSE(add(r, big2)->has_value());  // smaller total: ignored
    std::optional<ReassembledMessage> done;
    for (uint16_t n = 2; n <= small1.f.total; ++n) {
      auto o = opened(1, 300, n);
      auto res = add(r, o);
      REQUIRE(res.ok());
      if (res->has_value()) done = std::move(*res);
    }
    REQUIRE(done);
    CHECK(ipsec::equal_bytes(done->chain.view(), chain));
    CHECK(r.pending() == 0);
  }
  SUBCASE("requests and responses with one message ID are kept apart; pending is bounded") {
    FragmentReassembler r(2);
    auto req = opened(1, 300, 1);
    auto resp = opened(1, 300, 1, true);
    CHECK_FALSE(add(r, req)->has_value());
    CHECK_FALSE(add(r, resp)->has_value());
    CHECK(r.pending() == 2);
    auto third = opened(2, 300, 1);
    const auto s = add(r, third);
    CHECK(s.status().code() == Errc::limit_exceeded);
    r.discard(1, true);
    CHECK(r.pending() == 1);
    CHECK(add(r, third).ok());
    r.clear();
    CHECK(r.pending() == 0);
  }
  SUBCASE("a reassembled size above the limit abandons the message") {
    FragmentReassembler r(4, 400);
    auto f1 = opened(1, 300, 1), f2 = opened(1, 300, 2);
    CHECK(add(r, f1).ok());
    const auto s = add(r, f2);
    CHECK(s.status().code() == Errc::limit_exceeded);
    CHECK(r.pending() == 0);
  }
  SUBCASE("a shared budget bounds what reassemblers hold together, and is refunded") {
    auto f1 = opened(1, 300, 1), f2 = opened(1, 300, 2), g1 = opened(1, 300, 1);
    ReassemblyBudget budget{f1.plain.size() + g1.plain.size() / 2, 0};
    {
      FragmentReassembler a(4, ipsec::limits::kMaxReassembledSize, &budget);
      FragmentReassembler b(4, ipsec::limits::kMaxReassembledSize, &budget);
      CHECK(add(a, f1).ok());
      CHECK(budget.used == a.bytes_held());
      CHECK(budget.used == f1.plain.size());
      // b's first fragment does not fit: dropped, nothing left pending.
      const auto s = add(b, g1);
      CHECK(s.status().code() == Errc::limit_exceeded);
      CHECK(std::string_view(s.status().field()) == "reassembly.budget");
      CHECK(b.pending() == 0);
      CHECK(budget.used == f1.plain.size());
      // a's reassembly neither: it keeps what it holds (f2 comes again).
      CHECK(add(a, f2).status().code() == Errc::limit_exceeded);
      CHECK(a.pending() == 1);
      // Lifted (the IKE SA authenticated): a holds outside the budget.
      a.set_budget(nullptr);
      CHECK(budget.used == 0);
      CHECK(add(b, g1).ok());
      CHECK(budget.used == g1.plain.size());
      a.set_budget(&budget);
      CHECK(budget.used == f1.plain.size() + g1.plain.size());
    }
    CHECK(budget.used == 0);  // destroyed reassemblers refund
    FragmentReassembler c(4, ipsec::limits::kMaxReassembledSize, &budget);
    std::optional<ReassembledMessage> done;
    for (uint16_t n = 1; n <= f1.f.total; ++n) {
      auto o = opened(1, 300, n);
      budget.limit = budget.used + o.plain.size();
      auto res = add(c, o);
      REQUIRE(res.ok());
      if (res->has_value()) done = std::move(*res);
    }
    CHECK(done.has_value());
    CHECK(budget.used == 0);  // a completed message is refunded
  }
  SUBCASE("fragment 1 must name the first payload") {
    auto frag = Fragmenter::make(auth_header(), first, chain, keys, 300);
    Bytes out(2000);
    auto m = frag->build(1, keys, rng, out);
    Bytes msg(m->begin(), m->end());
    msg[kIkeHeaderSize] = 0;  // SKF Next Payload
    ParsedMessage pm;
    REQUIRE(parse_message(msg, &pm).ok());
    SkTransform receiver = keys_for(kSuites[1]);
    const auto f = open_fragment(receiver, msg, pm);
    CHECK(f.status().code() == Errc::invalid_value);
    CHECK(f.status().offset() == kIkeHeaderSize);
  }
  SUBCASE("fragmenter limits") {
    CHECK(Fragmenter::make(auth_header(), first, chain, keys, 28 + 8 + 8 + 16 + 1).status() ==
          Errc::invalid_argument);
    CHECK(Fragmenter::make(auth_header(), first, {}, keys, 1280).status() == Errc::invalid_argument);
    const Bytes huge = auth_chain(20000, &first);
    CHECK(Fragmenter::make(auth_header(), first, huge, keys, 300).status() == Errc::limit_exceeded);
    auto frag = Fragmenter::make(auth_header(), first, chain, keys, 300);
    Bytes out(2000);
    CHECK(frag->build(0, keys, rng, out).status() == Errc::invalid_argument);
    CHECK(frag->build(static_cast<uint16_t>(frag->count() + 1), keys, rng, out).status() ==
          Errc::invalid_argument);
    Bytes tiny(100);
    CHECK(frag->build(1, keys, rng, tiny).status() == Errc::buffer_too_small);
  }
}
