// SPDX-License-Identifier: Apache-2.0
// ike_bench: what the IKEv2 message codec costs per message. Messages are
// rare next to ESP packets, so the question is only whether parsing and
// building are cheap enough to never matter (and stay allocation-free):
//
//   ike_sa_init/build      MessageBuilder: HDR, SA (AES-GCM and AES-CBC
//                          proposals), KE (x25519), Ni (32), N(NATD_S_IP),
//                          N(NATD_D_IP), N(FRAG_SUP), N(HASH_ALG)
//   ike_sa_init/parse      parse_message on that message, then every payload
//                          decoded and its ranges iterated (what a consumer does)
//   ike_auth_chain/build   ChainBuilder: IDi, CERT (~600 octets), CERTREQ,
//                          N(INIT_CONTACT), IDr, AUTH (RFC 7427), SA (ESP),
//                          TSi, TSr: the plaintext of an IKE_AUTH request
//   ike_auth_chain/parse   parse_payload_chain on it (as decrypted), decode all
//   ike_auth_sk/build      the chain built, then build_protected_message with
//                          AES-GCM-16-256 (DefaultProvider: libsodium)
//   ike_auth_sk/open       copy the sealed message into the receive buffer
//                          (opening is in place), parse_message,
//                          open_protected_message, decode all
//   ike_auth_sk/aead_only  the same copy and the raw AEAD open of the same
//                          octets: the baseline the SK path is built on
//
// items_per_second is messages/s; bytes_per_second counts the message (for
// the chain benchmarks, the chain). benchmarks/README.md "IKE message codec"
// has the figures.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/transform_ids.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_enums.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/ike_payloads.hpp"
#include "ipsec/wire/ike_sk.hpp"

namespace {

using namespace ipsec;
using namespace ipsec::wire;

crypto::Provider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 31 * i);
  return v;
}

using ipsec::bench::fail;

// The contents of the messages.
struct Data {
  std::vector<uint8_t> ke = pattern(32, 0x31);
  std::vector<uint8_t> nonce = pattern(32, 0x45);
  std::vector<uint8_t> natd_s = pattern(20, 0x51);
  std::vector<uint8_t> natd_d = pattern(20, 0x62);
  std::array<uint8_t, 6> hash_algs = {0, 2, 0, 3, 0, 4};
  std::vector<uint8_t> cert = [] {
    std::vector<uint8_t> c = {0x30, 0x82, 0x02, 0x54};  // one DER SEQUENCE of 600 octets in all
    const auto body = pattern(0x254, 0x13);
    c.insert(c.end(), body.begin(), body.end());
    return c;
  }();
  std::vector<uint8_t> certreq = pattern(20, 0x77);
  std::array<uint8_t, 14> fqdn = {'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 't', 'e', 's', 't'};
  std::array<uint8_t, 14> fqdn_r = {'b', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 't', 'e', 's', 't'};
  std::vector<uint8_t> auth = [] {
    // RFC 7427: length, AlgorithmIdentifier (Ed25519), 64-octet signature.
    std::vector<uint8_t> a = {7, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
    const auto sig = pattern(64, 0x99);
    a.insert(a.end(), sig.begin(), sig.end());
    return a;
  }();
  std::array<uint8_t, 4> esp_spi = {0xc0, 0x01, 0xd0, 0x0d};
  std::array<uint8_t, 4> a1 = {10, 1, 0, 0}, a2 = {10, 1, 255, 255}, b1 = {10, 2, 0, 0},
                         b2 = {10, 2, 255, 255};
  std::array<Transform, 3> ike_gcm = {{
      {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_gcm_16), 256, {}, 0},
      {TransformType::prf, static_cast<uint16_t>(crypto::PrfId::hmac_sha2_256), std::nullopt, {}, 0},
      {TransformType::ke, static_cast<uint16_t>(crypto::KeGroup::curve25519), std::nullopt, {}, 0},
  }};
  std::array<Transform, 4> ike_cbc = {{
      {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_cbc), 128, {}, 0},
      {TransformType::prf, static_cast<uint16_t>(crypto::PrfId::hmac_sha2_256), std::nullopt, {}, 0},
      {TransformType::integ, static_cast<uint16_t>(crypto::IntegId::hmac_sha2_256_128), std::nullopt, {}, 0},
      {TransformType::ke, static_cast<uint16_t>(crypto::KeGroup::curve25519), std::nullopt, {}, 0},
  }};
  std::array<Transform, 2> esp_gcm = {{
      {TransformType::encr, static_cast<uint16_t>(crypto::EncrId::aes_gcm_16), 256, {}, 0},
      {TransformType::esn, static_cast<uint16_t>(EsnId::no_esn), std::nullopt, {}, 0},
  }};
};

const Data& data() {
  static const Data d;
  return d;
}

IkeHeader sa_init_header() {
  IkeHeader h;
  h.spi_i = 0x0102030405060708ull;
  h.exchange = ExchangeType::ike_sa_init;
  h.flags = ike_flag::kInitiator;
  return h;
}

IkeHeader auth_header() {
  IkeHeader h = sa_init_header();
  h.spi_r = 0x1112131415161718ull;
  h.exchange = ExchangeType::ike_auth;
  h.message_id = 1;
  return h;
}

Result<ByteView> build_sa_init(MutableByteView out) noexcept {
  const Data& d = data();
  MessageBuilder b(out, sa_init_header());
  const Proposal proposals[] = {{1, ProtocolId::ike, {}, d.ike_gcm}, {2, ProtocolId::ike, {}, d.ike_cbc}};
  PayloadChainWriter& w = b.payloads();
  w.add_sa(proposals);
  w.add_ke({crypto::KeGroup::curve25519, d.ke});
  w.add_nonce(d.nonce);
  w.add_notify(NotifyType::nat_detection_source_ip, d.natd_s);
  w.add_notify(NotifyType::nat_detection_destination_ip, d.natd_d);
  w.add_notify(NotifyType::ikev2_fragmentation_supported);
  w.add_notify(NotifyType::signature_hash_algorithms, d.hash_algs);
  return b.finish();
}

// build_auth_chain: IDi, CERT, CERTREQ, N(INITIAL_CONTACT), IDr, AUTH, SA, TSi, TSr.
Result<ByteView> build_auth_chain(MutableByteView out, PayloadType* first) noexcept {
  const Data& d = data();
  ChainBuilder c(out);
  PayloadChainWriter& w = c.payloads();
  w.add_id(PayloadType::id_i, {IdType::fqdn, d.fqdn});
  w.add_cert({CertEncoding::x509_signature, d.cert});
  w.add_certreq({CertEncoding::x509_signature, d.certreq});
  w.add_notify(NotifyType::initial_contact);
  w.add_id(PayloadType::id_r, {IdType::fqdn, d.fqdn_r});
  w.add_auth({AuthMethod::digital_signature, d.auth});
  const Proposal proposals[] = {{1, ProtocolId::esp, d.esp_spi, d.esp_gcm}};
  w.add_sa(proposals);
  TrafficSelector tsi, tsr;
  tsi.start_address = d.a1;
  tsi.end_address = d.a2;
  tsr.start_address = d.b1;
  tsr.end_address = d.b2;
  w.add_ts(PayloadType::ts_i, std::span<const TrafficSelector>(&tsi, 1));
  w.add_ts(PayloadType::ts_r, std::span<const TrafficSelector>(&tsr, 1));
  *first = c.first_type();
  return c.finish();
}

// decode_all: what a consumer of a parsed message does with it: every
// payload decoded, every range walked. Returns a checksum so that nothing
// is optimized away, or nullopt when a payload does not decode.
std::optional<uint64_t> decode_all(std::span<const PayloadView> payloads) noexcept {
  uint64_t sum = 0;
  for (const PayloadView& p : payloads) {
    switch (p.type) {
      case PayloadType::sa: {
        auto sa = decode_sa(p);
        if (!sa) return std::nullopt;
        for (const ProposalView& v : sa->proposals) {
          sum += v.number;
          for (const Transform& t : v.transforms) sum += uint64_t{t.id} + t.key_length.value_or(0);
        }
        break;
      }
      case PayloadType::ke: {
        auto ke = decode_ke(p);
        if (!ke) return std::nullopt;
        sum += ke->data.size();
        break;
      }
      case PayloadType::id_i:
      case PayloadType::id_r: {
        auto id = decode_id(p);
        if (!id) return std::nullopt;
        sum += id->data.size();
        break;
      }
      case PayloadType::cert: {
        auto c = decode_cert(p);
        if (!c) return std::nullopt;
        sum += c->data.size();
        break;
      }
      case PayloadType::certreq: {
        auto c = decode_certreq(p);
        if (!c) return std::nullopt;
        sum += c->data.size();
        break;
      }
      case PayloadType::auth: {
        auto a = decode_auth(p);
        if (!a) return std::nullopt;
        if (a->method == AuthMethod::digital_signature) {
          auto s = decode_signature_auth(a->data, p.offset + 8);
          if (!s) return std::nullopt;
          sum += s->signature.size();
        }
        break;
      }
      case PayloadType::nonce: {
        auto n = decode_nonce(p);
        if (!n) return std::nullopt;
        sum += n->size();
        break;
      }
      case PayloadType::notify: {
        auto n = decode_notify(p);
        if (!n) return std::nullopt;
        sum += static_cast<uint16_t>(n->type);
        break;
      }
      case PayloadType::ts_i:
      case PayloadType::ts_r: {
        auto ts = decode_ts(p);
        if (!ts) return std::nullopt;
        for (const TrafficSelector& s : ts->selectors) sum += s.end_port;
        break;
      }
      default: sum += p.body.size(); break;
    }
  }
  return sum;
}

void set_counters(benchmark::State& state, size_t bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}

void bm_sa_init_build(benchmark::State& state) {
  std::array<uint8_t, 1500> buf{};
  size_t size = 0;
  for (auto _ : state) {
    auto m = build_sa_init(buf);
    if (!m) return fail(state, "build", m.status());
    size = m->size();
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, size);
}

void bm_sa_init_parse(benchmark::State& state) {
  std::array<uint8_t, 1500> buf{};
  auto m = build_sa_init(buf);
  if (!m) return fail(state, "build", m.status());
  const ByteView message = *m;
  ParsedMessage parsed;
  for (auto _ : state) {
    benchmark::DoNotOptimize(message.data());
    if (const Status s = parse_message(message, &parsed); !s.ok()) return fail(state, "parse_message", s);
    auto sum = decode_all(parsed.payloads());
    if (!sum) return fail(state, "decode", Errc::invalid_value);
    benchmark::DoNotOptimize(*sum);
  }
  set_counters(state, message.size());
}

void bm_auth_chain_build(benchmark::State& state) {
  std::array<uint8_t, 2048> buf{};
  size_t size = 0;
  for (auto _ : state) {
    PayloadType first{};
    auto c = build_auth_chain(buf, &first);
    if (!c) return fail(state, "build", c.status());
    size = c->size();
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, size);
}

void bm_auth_chain_parse(benchmark::State& state) {
  std::array<uint8_t, 2048> buf{};
  PayloadType first{};
  auto c = build_auth_chain(buf, &first);
  if (!c) return fail(state, "build", c.status());
  const ByteView chain = *c;
  ParsedMessage parsed;
  for (auto _ : state) {
    benchmark::DoNotOptimize(chain.data());
    parsed.clear();
    if (const Status s = parse_payload_chain(first, chain, 0, true, &parsed); !s.ok()) {
      return fail(state, "parse_payload_chain", s);
    }
    auto sum = decode_all(parsed.payloads());
    if (!sum) return fail(state, "decode", Errc::invalid_value);
    benchmark::DoNotOptimize(*sum);
  }
  set_counters(state, chain.size());
}

Result<SkTransform> gcm256_keys() {
  static const std::vector<uint8_t> key = pattern(36, 0x0b);  // 32 octets of key, 4 of salt (RFC 5282 7.1)
  return SkTransform::make(provider(), crypto::EncrId::aes_gcm_16, 256, crypto::IntegId::none, key, {});
}

void bm_auth_sk_build(benchmark::State& state) {
  auto keys = gcm256_keys();
  if (!keys) return fail(state, "keys", keys.status());
  crypto::SeededRng rng(uint64_t{42});
  std::array<uint8_t, 2048> chain_buf{};
  std::array<uint8_t, 2048> out{};
  size_t size = 0;
  for (auto _ : state) {
    PayloadType first{};
    auto c = build_auth_chain(chain_buf, &first);
    if (!c) return fail(state, "build", c.status());
    auto m = build_protected_message(auth_header(), first, *c, *keys, rng, out);
    if (!m) return fail(state, "build_protected_message", m.status());
    size = m->size();
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, size);
}

// SkFixture: one sealed IKE_AUTH request and the receive buffer.
struct SkFixture {
  std::optional<SkTransform> keys;
  std::vector<uint8_t> sealed;
  std::array<uint8_t, 2048> rx{};

  Status init() {
    auto k = gcm256_keys();
    if (!k) return k.status();
    keys.emplace(std::move(*k));
    crypto::SeededRng rng(uint64_t{42});
    std::array<uint8_t, 2048> chain_buf{};
    std::array<uint8_t, 2048> out{};
    PayloadType first{};
    auto c = build_auth_chain(chain_buf, &first);
    if (!c) return c.status();
    auto m = build_protected_message(auth_header(), first, *c, *keys, rng, out);
    if (!m) return m.status();
    sealed.assign(m->begin(), m->end());
    // One round trip, outside the timing.
    std::memcpy(rx.data(), sealed.data(), sealed.size());
    ParsedMessage parsed;
    const MutableByteView datagram(rx.data(), sealed.size());
    IPSEC_TRY(parse_message(datagram, &parsed));
    IPSEC_TRY(open_protected_message(*keys, datagram, parsed));
    if (!decode_all(parsed.payloads()) || parsed.size() != 10) return Errc::invalid_value;
    return Status::success();
  }
};

void bm_auth_sk_open(benchmark::State& state) {
  SkFixture f;
  if (const Status s = f.init(); !s.ok()) return fail(state, "init", s);
  ParsedMessage parsed;
  const MutableByteView datagram(f.rx.data(), f.sealed.size());
  for (auto _ : state) {
    std::memcpy(f.rx.data(), f.sealed.data(), f.sealed.size());
    if (const Status s = parse_message(datagram, &parsed); !s.ok()) return fail(state, "parse_message", s);
    if (const Status s = open_protected_message(*f.keys, datagram, parsed); !s.ok()) {
      return fail(state, "open_protected_message", s);
    }
    auto sum = decode_all(parsed.payloads());
    if (!sum) return fail(state, "decode", Errc::invalid_value);
    benchmark::DoNotOptimize(*sum);
  }
  set_counters(state, f.sealed.size());
}

// The baseline: the same copy and the AEAD open of the same octets
// (SkTransform::open: ICV check, decryption, Pad Length).
void bm_auth_sk_aead_only(benchmark::State& state) {
  SkFixture f;
  if (const Status s = f.init(); !s.ok()) return fail(state, "init", s);
  const MutableByteView datagram(f.rx.data(), f.sealed.size());
  const size_t iv_offset = kIkeHeaderSize + kGenericPayloadHeaderSize;
  for (auto _ : state) {
    std::memcpy(f.rx.data(), f.sealed.data(), f.sealed.size());
    auto plain = f.keys->open(datagram, iv_offset);
    if (!plain) return fail(state, "open", plain.status());
    benchmark::DoNotOptimize(plain->data());
  }
  set_counters(state, f.sealed.size());
}

BENCHMARK(bm_sa_init_build)->Name("ike_sa_init/build");
BENCHMARK(bm_sa_init_parse)->Name("ike_sa_init/parse");
BENCHMARK(bm_auth_chain_build)->Name("ike_auth_chain/build");
BENCHMARK(bm_auth_chain_parse)->Name("ike_auth_chain/parse");
BENCHMARK(bm_auth_sk_build)->Name("ike_auth_sk/build");
BENCHMARK(bm_auth_sk_open)->Name("ike_auth_sk/open");
BENCHMARK(bm_auth_sk_aead_only)->Name("ike_auth_sk/aead_only");

}  // namespace

BENCHMARK_MAIN();
