// SPDX-License-Identifier: Apache-2.0
// ike_handshake_bench: complete IKEv2 handshakes (IKE_SA_INIT + IKE_AUTH,
// the first child SA up on both sides) between two IkeEngines in one
// process, beside the cryptography one handshake needs, measured in the same
// run, so that handshake / crypto_sum - 1 is what the protocol engine adds:
//
//   handshake/<case>        initiate() on engine A, then every datagram
//                           handed straight to the other engine until both
//                           report child_sa_up (DirectSink: no simulator);
//                           the IKE SA is closed again under PauseTiming
//   handshake_close/<case>  the same with the close timed: close() and the
//                           INFORMATIONAL Delete exchange until both report
//                           ike_sa_down
//   timer/pause_resume      what one PauseTiming/ResumeTiming adds to the
//                           timed part of an iteration (handshake/'s baseline)
//   crypto_sum/<case>       every primitive call of one handshake, both
//                           sides, in the engine's order, with the sizes of a
//                           real handshake of that case (the recipe is in the
//                           run's context, "recipe crypto_sum/<case>")
//   prim/<primitive>[/<n>]  each of those calls on its own (n: octets)
//   engine_extra/<what>     crypto the engine repeats per handshake although
//                           its result is fixed per engine (not in the sum)
//
// <case>: psk_x25519_aesgcm (crypto_sum/psk): PSK on both sides,
// aes256gcm16-prfsha256-x25519 for the IKE SA, aes256gcm16 for ESP;
// ecdsa_p256_certs (crypto_sum/ecdsa): the same proposals, RFC 7427 ECDSA
// P-256 signatures and certificates on both sides (tests/data/ike/pki).
// Everything comes from DefaultProvider; each engine draws from its own
// SeededRng, and so does each side of crypto_sum. benchmarks/README.md
// "IKE handshakes" has the figures; benchmarks/ike_handshake_ratios.py
// prints the overhead and checks the 30 % target.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../tests/ike/ike_sim.hpp"
#include "bench_util.hpp"
#include "ipsec/bytes/bytes.hpp"
#include "ipsec/core/result.hpp"
#include "ipsec/core/secret.hpp"
#include "ipsec/core/time.hpp"
#include "ipsec/crypto/hash.hpp"
#include "ipsec/crypto/keymat.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/signature.hpp"
#include "ipsec/crypto/suites.hpp"
#include "ipsec/crypto/x509.hpp"
#include "ipsec/ike/auth.hpp"
#include "ipsec/ike/config.hpp"
#include "ipsec/ike/engine.hpp"
#include "ipsec/ike/events.hpp"
#include "ipsec/ike/nat_detection.hpp"
#include "ipsec/wire/ike_header.hpp"
#include "ipsec/wire/ike_message.hpp"

namespace {

using namespace ipsec;
using Bytes = std::vector<uint8_t>;
using ipsec::bench::fail;

crypto::Provider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

// The suite both cases negotiate (sim::PeerSetup's default proposals).
constexpr crypto::PrfId kPrf = crypto::PrfId::hmac_sha2_256;
constexpr crypto::EncrId kEncr = crypto::EncrId::aes_gcm_16;
constexpr uint16_t kKeyBits = 256;
constexpr crypto::KeGroup kGroup = crypto::KeGroup::curve25519;
constexpr crypto::SignatureScheme kScheme = crypto::SignatureScheme::ecdsa_sha256;

constexpr Timestamp kNow = Timestamp::from_nanoseconds(1'000'000'000);
constexpr const char* kConnection = "a-b";  // sim::make_peer names it <us>-<peer>

enum class Case : uint8_t { psk, ecdsa };
constexpr Case kCases[] = {Case::psk, Case::ecdsa};

const char* case_name(Case c) { return c == Case::psk ? "psk_x25519_aesgcm" : "ecdsa_p256_certs"; }
const char* sum_name(Case c) { return c == Case::psk ? "psk" : "ecdsa"; }

sim::PeerSetup setup_of(Case c, bool initiator) {
  sim::PeerSetup s;
  s.name = initiator ? "a" : "b";
  s.address = initiator ? "192.0.2.1" : "198.51.100.2";
  s.subnet = initiator ? "10.1.0.0/16" : "10.2.0.0/16";
  s.auth = s.peer_auth = c == Case::psk ? sim::Auth::psk : sim::Auth::ecdsa;
  return s;
}

// ---- Direct delivery -------------------------------------------------------

// DirectSink: the host of one engine with no network: each datagram is
// copied into the next slot of a small ring (the engine's bytes are valid
// during send() only), with the path turned around as the receiver's socket
// sees it, and deliver() hands the queue to the other engine in order.
// Events are counted; failures keep their text.
class DirectSink final : public ike::Sink {
 public:
  static constexpr size_t kSlots = 4;
  static constexpr size_t kSlotSize = 4096;

  void send(const ike::OutDatagram& d) override {
    if (queued_ == kSlots || d.bytes.size() > kSlotSize) {
      ++lost;
      return;
    }
    Slot& s = slots_[(first_ + queued_) % kSlots];
    s.path = ike::Path{d.path.remote, d.path.local};
    std::memcpy(s.bytes.data(), d.bytes.data(), d.bytes.size());
    s.size = d.bytes.size();
    ++queued_;
    if (capture != nullptr) capture->emplace_back(d.bytes.begin(), d.bytes.end());
  }

  void on_event(const ike::Event& e) override {
    switch (e.kind) {
      case ike::EventKind::ike_sa_up:
        ++ike_up;
        if (capture != nullptr) ike_proposal = std::string(e.ike->proposal);
        break;
      case ike::EventKind::child_sa_up:
        ++child_up;
        if (capture != nullptr) child_proposal = std::string(e.child->proposal);
        break;
      case ike::EventKind::child_sa_install: ++installs; break;
      case ike::EventKind::ike_sa_down: ++ike_down; break;
      case ike::EventKind::child_sa_delete: ++child_deletes; break;
      case ike::EventKind::ike_sa_rekeyed:
      case ike::EventKind::peer_address_changed:
      case ike::EventKind::ike_sa_keys: break;
      case ike::EventKind::child_sa_failed:
      case ike::EventKind::proposal_mismatch:
      case ike::EventKind::authentication_failed:
        if (failure.empty()) {
          failure = std::string(to_string(e.kind)) + ": " + std::string(e.detail);
        }
        ++failures;
        break;
    }
  }

  // deliver: every queued datagram to `to`, whose answers go to `answers`;
  // after each, the host re-arms its timer from next_timeout(), as a host's
  // receive loop does (ARCHITECTURE.md, "The data paths").
  void deliver(ike::IkeEngine& to, DirectSink& answers, Timestamp now) {
    while (queued_ > 0) {
      Slot& s = slots_[first_];
      to.receive(now, s.path, MutableByteView(s.bytes.data(), s.size), answers);
      if (answers.rearm) answers.deadline = to.next_timeout();
      first_ = (first_ + 1) % kSlots;
      --queued_;
    }
  }

  [[nodiscard]] bool idle() const { return queued_ == 0; }
  void clear_counts() { ike_up = child_up = installs = ike_down = child_deletes = failures = lost = 0; }

  size_t ike_up = 0, child_up = 0, installs = 0, ike_down = 0, child_deletes = 0, failures = 0, lost = 0;
  std::optional<Timestamp> deadline;  // the host's timer
  bool rearm = true;                  // false: skip next_timeout() (building busy_pair)
  std::string failure;
  // Setup only: every datagram sent, and the proposals of the up events.
  std::vector<Bytes>* capture = nullptr;
  std::string ike_proposal, child_proposal;

 private:
  struct Slot {
    ike::Path path;
    std::array<uint8_t, kSlotSize> bytes{};
    size_t size = 0;
  };
  std::array<Slot, kSlots> slots_{};
  size_t first_ = 0;
  size_t queued_ = 0;
};

// Pair: initiator a and responder b, each with the host side of its engine.
struct Pair {
  std::unique_ptr<sim::Peer> a, b;
  DirectSink out_a, out_b;  // what a (b) sends, and a's (b's) events
};

std::unique_ptr<Pair> make_pair(Case c, std::string* error) {
  auto p = std::make_unique<Pair>();
  const sim::PeerSetup a = setup_of(c, true), b = setup_of(c, false);
  p->a = sim::make_peer(a, b, provider(), 1, IPSEC_TEST_DATA_DIR, error);
  if (!p->a) return nullptr;
  p->b = sim::make_peer(b, a, provider(), 2, IPSEC_TEST_DATA_DIR, error);
  if (!p->b) return nullptr;
  return p;
}

// pump: deliver until neither side has anything left to send.
void pump(Pair& p) {
  for (int round = 0; round < 8 && !(p.out_a.idle() && p.out_b.idle()); ++round) {
    p.out_a.deliver(*p.b->engine, p.out_b, kNow);
    p.out_b.deliver(*p.a->engine, p.out_a, kNow);
  }
}

std::string describe(const Pair& p) {
  auto side = [](const char* name, const DirectSink& s) {
    return std::string(name) + ": ike_sa_up " + std::to_string(s.ike_up) + ", child_sa_up " +
           std::to_string(s.child_up) + ", ike_sa_down " + std::to_string(s.ike_down) + ", lost " +
           std::to_string(s.lost) + (s.failure.empty() ? "" : ", " + s.failure);
  };
  return side("initiator", p.out_a) + "; " + side("responder", p.out_b);
}

// handshake: one IKE SA from initiate() to child_sa_up on both sides, with
// every event of a success and nothing else. Returns the IKE SA's handle
// (the initiator's), or nullopt with `why`.
std::optional<uint64_t> handshake(Pair& p, std::string* why) {
  p.out_a.clear_counts();
  p.out_b.clear_counts();
  auto h = p.a->engine->initiate(kConnection, kNow, p.out_a);
  p.out_a.deadline = p.a->engine->next_timeout();
  if (!h) {
    *why = "initiate: " + std::string(h.status().name());
    return std::nullopt;
  }
  pump(p);
  const bool up = p.out_a.ike_up == 1 && p.out_b.ike_up == 1 && p.out_a.child_up == 1 &&
                  p.out_b.child_up == 1 && p.out_a.installs == 2 && p.out_b.installs == 2 &&
                  p.out_a.failures == 0 && p.out_b.failures == 0 && p.out_a.ike_down == 0 &&
                  p.out_b.ike_down == 0 && p.out_a.lost == 0 && p.out_b.lost == 0 && p.out_a.idle() &&
                  p.out_b.idle();
  if (!up) {
    *why = "handshake: " + describe(p);
    return std::nullopt;
  }
  return *h;
}

// close_sa: close() on the initiator and the INFORMATIONAL exchange, until
// both sides reported ike_sa_down and the child SA deleted.
bool close_sa(Pair& p, uint64_t handle, std::string* why) {
  p.out_a.clear_counts();
  p.out_b.clear_counts();
  if (const Status s = p.a->engine->close(handle, kNow, p.out_a); !s.ok()) {
    *why = "close: " + std::string(s.name());
    return false;
  }
  p.out_a.deadline = p.a->engine->next_timeout();
  pump(p);
  const bool down = p.out_a.ike_down == 1 && p.out_b.ike_down == 1 && p.out_a.child_deletes == 1 &&
                    p.out_b.child_deletes == 1 && p.out_a.failures == 0 && p.out_b.failures == 0 &&
                    p.out_a.lost == 0 && p.out_b.lost == 0;
  if (!down) *why = "close: " + describe(p);
  return down;
}

// Engines are created once per benchmark and reused for every handshake,
// as a gateway keeps its engine. Each iteration's IKE SA is closed again
// (with the Delete exchange) under PauseTiming, so that the session tables
// do not grow and the responder never finds a stale IKE SA of the same peer
// to drop for the INITIAL_CONTACT the initiator sends: every handshake
// meets the same engine state. handshake_close/ times that close as well;
// timer/pause_resume is what pausing costs the timed part per iteration.

void bm_handshake(benchmark::State& state, Case c) {
  std::string why;
  auto p = make_pair(c, &why);
  if (!p) return state.SkipWithError(why.c_str());
  for (auto _ : state) {
    const auto h = handshake(*p, &why);
    if (!h) {
      state.SkipWithError(why.c_str());
      break;
    }
    state.PauseTiming();
    const bool closed = close_sa(*p, *h, &why);
    state.ResumeTiming();
    if (!closed) {
      state.SkipWithError(why.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// busy_pair: engines that already hold `n` established IKE SAs between
// them: n handshakes b initiated to a, kept up (b holds them as initiator;
// a keeps them as responder too, as long as only b's first IKE_AUTH carries
// INITIAL_CONTACT: the counters show both). Built once per n and kept for
// the process (building takes seconds: every initiation visits all IKE
// SAs); each measured IKE SA is closed again, so the state does not drift
// between runs.
Pair* busy_pair(Case c, size_t n, std::string* why) {
  static std::map<std::pair<Case, size_t>, std::unique_ptr<Pair>> pairs;
  auto& kept = pairs[{c, n}];
  if (kept) return kept.get();
  auto p = make_pair(c, why);
  if (!p) return nullptr;
  // Without re-arming the timer while building: next_timeout() visits every
  // IKE SA, which would make building quadratic.
  p->out_a.rearm = p->out_b.rearm = false;
  for (size_t i = 0; i < n; ++i) {
    p->out_a.clear_counts();
    p->out_b.clear_counts();
    auto h = p->b->engine->initiate("b-a", kNow, p->out_b);
    if (!h) {
      *why = "initiate b-a: " + std::string(h.status().name());
      return nullptr;
    }
    pump(*p);
    if (p->out_a.child_up != 1 || p->out_b.child_up != 1) {
      *why = "b-a handshake: " + describe(*p);
      return nullptr;
    }
  }
  if (p->b->engine->established_count() != n) {
    *why = "the responder does not hold the IKE SAs it set up";
    return nullptr;
  }
  p->out_a.rearm = p->out_b.rearm = true;
  kept = std::move(p);
  return kept.get();
}

// bm_handshake_busy: handshake/<case> between engines that hold
// state.range(0) other established IKE SAs: what per-handshake work grows
// with the number of IKE SAs (scans of the session table).
void bm_handshake_busy(benchmark::State& state, Case c) {
  std::string why;
  const auto n = static_cast<size_t>(state.range(0));
  Pair* p = busy_pair(c, n, &why);
  if (p == nullptr) return state.SkipWithError(why.c_str());
  for (auto _ : state) {
    const auto h = handshake(*p, &why);
    if (!h) {
      state.SkipWithError(why.c_str());
      break;
    }
    state.PauseTiming();
    const bool closed = close_sa(*p, *h, &why);
    state.ResumeTiming();
    if (!closed) {
      state.SkipWithError(why.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["initiator_ike_sas"] = static_cast<double>(p->a->engine->ike_sa_count());
  state.counters["responder_ike_sas"] = static_cast<double>(p->b->engine->ike_sa_count());
}

void bm_handshake_close(benchmark::State& state, Case c) {
  std::string why;
  auto p = make_pair(c, &why);
  if (!p) return state.SkipWithError(why.c_str());
  for (auto _ : state) {
    const auto h = handshake(*p, &why);
    if (!h || !close_sa(*p, *h, &why)) {
      state.SkipWithError(why.c_str());
      break;
    }
  }
  if (p->a->engine->ike_sa_count() != 0 || p->b->engine->ike_sa_count() != 0) {
    state.SkipWithError("close left IKE SAs behind");
  }
  state.SetItemsProcessed(state.iterations());
}

// The baseline of PauseTiming / ResumeTiming: what a pause adds to the
// timed part of an iteration (the two clock reads on either side of it).
void bm_pause_resume(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    state.ResumeTiming();
  }
}

// ---- What one handshake needs ----------------------------------------------

// Plan: a real handshake of the case, run once at startup: the four
// datagrams and the sizes the primitives see.
struct Plan {
  Case which = Case::psk;
  std::unique_ptr<Pair> pair;  // its peers' credentials (keys, certificates, trust anchors)
  Bytes msg[4];                // IKE_SA_INIT request, response, IKE_AUTH request, response
  size_t iv_offset[4] = {};    // IKE_AUTH: where the IV starts (the AAD is everything before)
  Bytes id_i, id_r;            // ID payload bodies (RFC 7296 3.5: type, reserved, data)
  Bytes psk;
  size_t nonce_size = 0;
  size_t ike_keymat = 0, child_keymat = 0, encr_keymat = 0, prf_size = 0, icv_size = 16;
  ike::Endpoint ep_a, ep_b;
  std::string ike_proposal, child_proposal;

  // The octets each side signs or MACs: RealMessage | peer's nonce | prf(SK_p, ID).
  [[nodiscard]] size_t signed_size(int side) const { return msg[side].size() + nonce_size + prf_size; }
  // The SK payload's encrypted part (payloads, Pad Length) of IKE_AUTH message i.
  [[nodiscard]] size_t sealed_size(int i) const {
    return msg[i].size() - iv_offset[i] - crypto::Aead::kIvSize - icv_size;
  }
};

Bytes id_body(std::string_view text) {
  const ike::Identity id = ike::Identity::parse(text).value();
  Bytes b(4 + id.data.size());
  b[0] = static_cast<uint8_t>(id.type);
  std::copy(id.data.begin(), id.data.end(), b.begin() + 4);
  return b;
}

std::optional<Plan> make_plan(Case c, std::string* error) {
  Plan plan;
  plan.which = c;
  plan.pair = make_pair(c, error);
  if (!plan.pair) return std::nullopt;
  std::vector<Bytes> from_a, from_b;
  plan.pair->out_a.capture = &from_a;
  plan.pair->out_b.capture = &from_b;
  if (!handshake(*plan.pair, error)) return std::nullopt;
  plan.pair->out_a.capture = nullptr;
  plan.pair->out_b.capture = nullptr;
  if (from_a.size() != 2 || from_b.size() != 2) {
    *error = "expected two datagrams each way";
    return std::nullopt;
  }
  plan.msg[0] = from_a[0];
  plan.msg[1] = from_b[0];
  plan.msg[2] = from_a[1];
  plan.msg[3] = from_b[1];
  for (int i = 2; i < 4; ++i) {
    Bytes copy = plan.msg[i];
    wire::ParsedMessage m;
    if (!wire::parse_message(MutableByteView(copy), &m).ok() || m.protected_payload() == nullptr) {
      *error = "IKE_AUTH message does not parse";
      return std::nullopt;
    }
    plan.iv_offset[i] = size_t{m.protected_payload()->offset} + wire::kGenericPayloadHeaderSize;
  }
  plan.id_i = id_body("fqdn:a.example.test");
  plan.id_r = id_body("fqdn:b.example.test");
  const sim::PeerSetup a = setup_of(c, true), b = setup_of(c, false);
  plan.psk.assign(a.psk.begin(), a.psk.end());
  plan.nonce_size = ike::EngineConfig{}.nonce_size;
  const auto prf = crypto::prf_info(kPrf);
  const auto encr = crypto::encr_info(kEncr);
  plan.prf_size = prf->output_size;
  plan.encr_keymat = encr->keymat_size(kKeyBits);
  // RFC 7296 2.14: SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr (no SK_a with an AEAD);
  // 2.17: KEYMAT for ESP is one encryption key each way.
  plan.ike_keymat = 3 * prf->key_size + 2 * plan.encr_keymat;
  plan.child_keymat = 2 * plan.encr_keymat;
  plan.ep_a = ike::Endpoint{IpAddress::parse(a.address).value(), 500};
  plan.ep_b = ike::Endpoint{IpAddress::parse(b.address).value(), 500};
  plan.ike_proposal = plan.pair->out_a.ike_proposal;
  plan.child_proposal = plan.pair->out_a.child_proposal;
  return plan;
}

// ---- Primitives --------------------------------------------------------------

enum class Prim : uint8_t {
  rng,              // SeededRng::fill of n octets (SPIs, nonces, child SPIs, the first SK IV)
  x25519_keygen,    // make_key_exchange: private value and KE payload
  x25519_shared,    // g^ir from the peer's KE payload
  skeyseed,         // prf(Ni | Nr, g^ir)
  prf_plus_ike,     // make_prf(SKEYSEED), prf+ (SKEYSEED, Ni | Nr | SPIi | SPIr): n octets
  prf_plus_child,   // make_prf(SK_d), prf+ (SK_d, Ni | Nr): n octets
  aead_key,         // make_aead: one direction's SK_e
  natd_sha1,        // one NAT_DETECTION_*_IP hash
  prf_id,           // make_prf(SK_p), prf over the n-octet ID payload body
  psk_auth,         // prf(prf(PSK, "Key Pad for IKEv2"), n signed octets)
  gcm_seal,         // AES-GCM seal of an n-octet SK payload, header as AAD
  gcm_open,         // the same open (in the benchmark: a copy of the message first)
  ecdsa_sign,       // RFC 7427 ECDSA P-256 signature over n octets
  ecdsa_verify,     // its verification
  cert_parse,       // Certificate::parse_der of the peer's CERT
  cert_public_key,  // the public key out of it
  verify_chain,     // the peer's certificate to the trust anchor
};

struct PrimSpec {
  Prim kind = Prim::rng;
  size_t size = 0;
  std::string name;
};

PrimSpec spec(Prim kind, size_t size = 0) {
  static const std::map<Prim, const char*> names = {
      {Prim::rng, "rng"},
      {Prim::x25519_keygen, "x25519_keygen"},
      {Prim::x25519_shared, "x25519_shared"},
      {Prim::skeyseed, "skeyseed"},
      {Prim::prf_plus_ike, "prf_plus_ike"},
      {Prim::prf_plus_child, "prf_plus_child"},
      {Prim::aead_key, "aead_key"},
      {Prim::natd_sha1, "natd_sha1"},
      {Prim::prf_id, "prf_id"},
      {Prim::psk_auth, "psk_auth"},
      {Prim::gcm_seal, "gcm_seal"},
      {Prim::gcm_open, "gcm_open"},
      {Prim::ecdsa_sign, "ecdsa_sign"},
      {Prim::ecdsa_verify, "ecdsa_verify"},
      {Prim::cert_parse, "cert_parse"},
      {Prim::cert_public_key, "cert_public_key"},
      {Prim::verify_chain, "verify_chain"},
  };
  PrimSpec s{kind, size, std::string("prim/") + names.at(kind)};
  if (size != 0) s.name += "/" + std::to_string(size);
  return s;
}

// Tally: how many times crypto_sum calls each primitive (a dry run at
// startup; the timed runs pass none).
using Tally = std::map<std::string, std::pair<PrimSpec, int>>;

Bytes pattern(size_t n, uint8_t seed) {
  Bytes v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 31 * i);
  return v;
}

// CryptoSum: the primitive calls of one handshake, both sides, in the order
// src/ike/engine.cpp makes them, with the sizes of the plan's handshake.
// What a side keeps between its calls lives in Side. The checks an engine
// makes (equal shared secrets, AUTH values, ICVs, signatures, the chain) are
// made too.
class CryptoSum {
 public:
  Status init(const Plan& plan) {
    plan_ = &plan;
    const bool ecdsa = plan.which == Case::ecdsa;
    ni_.resize(plan.nonce_size);
    nr_.resize(plan.nonce_size);
    for (Side& side : sides_) {
      side.keymat.assign(plan.ike_keymat, 0);
      side.child_keymat.assign(plan.child_keymat, 0);
      // RealMessage | Nonce | prf(SK_p, ID): the message and nonce parts are
      // the plan's (their contents do not change the cost); the prf output
      // is written into the tail by each run.
      for (int who = 0; who < 2; ++who) {
        Bytes& octets = who == 0 ? side.octets_i : side.octets_r;
        octets = plan.msg[who];
        const Bytes nonce = pattern(plan.nonce_size, static_cast<uint8_t>(0x20 + who));
        octets.insert(octets.end(), nonce.begin(), nonce.end());
        octets.resize(plan.signed_size(who));
      }
    }
    for (int i = 2; i < 4; ++i) wire_[i] = plan.msg[i];
    if (ecdsa) {
      const sim::Peer& a = *plan.pair->a;
      const sim::Peer& b = *plan.pair->b;
      if (!a.key || !b.key || a.chain.empty() || b.chain.empty()) return Errc::invalid_argument;
      sides_[0].key = &*a.key;
      sides_[1].key = &*b.key;
      sides_[0].cert_der = a.chain.front().der();
      sides_[1].cert_der = b.chain.front().der();
      sides_[0].anchors = a.anchors_storage;
      sides_[1].anchors = b.anchors_storage;
      for (Side& side : sides_) side.signature.resize(side.key->max_signature_size());
    }
    specs_.rng8 = spec(Prim::rng, 8);
    specs_.rng4 = spec(Prim::rng, 4);
    specs_.nonce = spec(Prim::rng, plan.nonce_size);
    specs_.keygen = spec(Prim::x25519_keygen);
    specs_.shared = spec(Prim::x25519_shared);
    specs_.skeyseed = spec(Prim::skeyseed);
    specs_.prf_plus_ike = spec(Prim::prf_plus_ike, plan.ike_keymat);
    specs_.prf_plus_child = spec(Prim::prf_plus_child, plan.child_keymat);
    specs_.aead_key = spec(Prim::aead_key);
    specs_.natd = spec(Prim::natd_sha1);
    specs_.prf_id_i = spec(Prim::prf_id, plan.id_i.size());
    specs_.prf_id_r = spec(Prim::prf_id, plan.id_r.size());
    specs_.psk_i = spec(Prim::psk_auth, plan.signed_size(0));
    specs_.psk_r = spec(Prim::psk_auth, plan.signed_size(1));
    specs_.seal3 = spec(Prim::gcm_seal, plan.sealed_size(2));
    specs_.open3 = spec(Prim::gcm_open, plan.sealed_size(2));
    specs_.seal4 = spec(Prim::gcm_seal, plan.sealed_size(3));
    specs_.open4 = spec(Prim::gcm_open, plan.sealed_size(3));
    specs_.sign_i = spec(Prim::ecdsa_sign, plan.signed_size(0));
    specs_.sign_r = spec(Prim::ecdsa_sign, plan.signed_size(1));
    specs_.verify_i = spec(Prim::ecdsa_verify, plan.signed_size(0));
    specs_.verify_r = spec(Prim::ecdsa_verify, plan.signed_size(1));
    specs_.cert_parse = spec(Prim::cert_parse);
    specs_.cert_key = spec(Prim::cert_public_key);
    specs_.chain = spec(Prim::verify_chain);
    return Status::success();
  }

  // run: one handshake's primitives. With a tally, counts them as well.
  Status run(Tally* tally) {
    tally_ = tally;
    const Plan& plan = *plan_;
    Side& i = sides_[0];
    Side& r = sides_[1];
    // HDR, SAi1, KEi, Ni, N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP) -->
    fill(i.rng, spi_i_, specs_.rng8);
    IPSEC_TRY(keygen(i));
    fill(i.rng, ni_, specs_.nonce);
    IPSEC_TRY(natd(spi_i_, {}, plan.ep_a));
    IPSEC_TRY(natd(spi_i_, {}, plan.ep_b));
    // <-- HDR, SAr1, KEr, Nr, [CERTREQ,] N(NAT_DETECTION_*)
    fill(r.rng, spi_r_, specs_.rng8);
    fill(r.rng, nr_, specs_.nonce);
    IPSEC_TRY(keygen(r));
    IPSEC_TRY(shared(r, i.ke->public_value()));
    IPSEC_TRY(derive_ike(r, false));
    IPSEC_TRY(natd(spi_i_, {}, plan.ep_a));  // evaluate the request's hashes
    IPSEC_TRY(natd(spi_i_, {}, plan.ep_b));
    IPSEC_TRY(natd(spi_i_, spi_r_, plan.ep_b));  // the response's
    IPSEC_TRY(natd(spi_i_, spi_r_, plan.ep_a));
    // The initiator: g^ir, keys, NAT detection.
    IPSEC_TRY(shared(i, r.ke->public_value()));
    if (!ct_equal(i.secret.view(), r.secret.view())) return Errc::integrity_check_failed;
    IPSEC_TRY(derive_ike(i, true));
    IPSEC_TRY(natd(spi_i_, spi_r_, plan.ep_b));
    IPSEC_TRY(natd(spi_i_, spi_r_, plan.ep_a));
    // HDR, SK {IDi, [CERT,] [CERTREQ,] AUTH, SAi2, TSi, TSr} -->
    IPSEC_TRY(own_auth(i, true));
    fill(i.rng, child_spi_i_, specs_.rng4);
    IPSEC_TRY(seal(i, 2, specs_.seal3));
    // The responder: open, verify the initiator, its own AUTH.
    IPSEC_TRY(open(r, 2, specs_.open3));
    IPSEC_TRY(verify_auth(r, true));
    IPSEC_TRY(own_auth(r, false));
    fill(r.rng, child_spi_r_, specs_.rng4);
    // <-- HDR, SK {IDr, [CERT,] AUTH, SAr2, TSi, TSr}, KEYMAT
    IPSEC_TRY(seal(r, 3, specs_.seal4));
    IPSEC_TRY(derive_child(r));
    // The initiator: open, verify the responder, KEYMAT.
    IPSEC_TRY(open(i, 3, specs_.open4));
    IPSEC_TRY(verify_auth(i, false));
    IPSEC_TRY(derive_child(i));
    if (!ct_equal(i.child_keymat, r.child_keymat)) return Errc::integrity_check_failed;
    benchmark::DoNotOptimize(i.child_keymat.data());
    return Status::success();
  }

 private:
  struct Side {
    explicit Side(uint64_t seed) : rng(seed) {}
    crypto::SeededRng rng;
    std::unique_ptr<crypto::KeyExchange> ke;
    SecretBytes secret;
    Bytes keymat, child_keymat;
    std::unique_ptr<crypto::Aead> send, recv;
    Bytes octets_i,
        octets_r;  // the initiator's and the responder's signed octets, as this side computes them
    std::array<uint8_t, limits::kMaxPrfOutputSize> auth{};
    // ECDSA: our key, our certificate as sent, our trust anchors, the
    // signature we made and what we parsed of the peer's certificate.
    const crypto::PrivateKey* key = nullptr;
    ByteView cert_der;
    std::span<const crypto::Certificate> anchors;
    Bytes signature;
    size_t signature_size = 0;
  };

  void count(const PrimSpec& s) {
    if (tally_ == nullptr) return;
    auto [it, added] = tally_->try_emplace(s.name, s, 0);
    ++it->second.second;
  }

  void fill(crypto::Rng& rng, MutableByteView out, const PrimSpec& s) {
    count(s);
    rng.fill(out);
  }
  Status keygen(Side& s) {
    count(specs_.keygen);
    auto ke = provider().make_key_exchange(kGroup, s.rng);
    if (!ke) return ke.status();
    s.ke = std::move(*ke);
    return Status::success();
  }
  Status shared(Side& s, ByteView peer) {
    count(specs_.shared);
    auto secret = s.ke->shared_secret(peer);
    if (!secret) return secret.status();
    s.secret = std::move(*secret);
    return Status::success();
  }
  Status natd(ByteView spi_i, ByteView spi_r, const ike::Endpoint& e) {
    count(specs_.natd);
    auto h = ike::nat_detection_hash(load_be64(spi_i.first<8>()),
                                     spi_r.empty() ? 0 : load_be64(spi_r.first<8>()), e);
    if (!h) return h.status();
    benchmark::DoNotOptimize(h->data());
    return Status::success();
  }
  Status derive_ike(Side& s, bool initiator) {
    count(specs_.skeyseed);
    auto seed = crypto::skeyseed(provider(), kPrf, ni_, nr_, s.secret.view());
    if (!seed) return seed.status();
    count(specs_.prf_plus_ike);
    auto mac = provider().make_prf(kPrf, seed->view());
    if (!mac) return mac.status();
    const ByteView parts[] = {ni_, nr_, spi_i_, spi_r_};
    IPSEC_TRY(crypto::prf_plus(**mac, parts, s.keymat));
    const ByteView sk_ei = sk(s, 0), sk_er = sk(s, 1);
    count(specs_.aead_key);
    auto to_r = provider().make_aead(kEncr, kKeyBits, sk_ei);
    if (!to_r) return to_r.status();
    count(specs_.aead_key);
    auto to_i = provider().make_aead(kEncr, kKeyBits, sk_er);
    if (!to_i) return to_i.status();
    s.send = std::move(initiator ? *to_r : *to_i);
    s.recv = std::move(initiator ? *to_i : *to_r);
    return Status::success();
  }
  // sk: SK_ei (0), SK_er (1), SK_pi (2), SK_pr (3), SK_d (4) of a side's keymat.
  ByteView sk(const Side& s, int which) const {
    const size_t p = plan_->prf_size, e = plan_->encr_keymat;
    const ByteView k(s.keymat);
    switch (which) {
      case 0: return k.subspan(p, e);
      case 1: return k.subspan(p + e, e);
      case 2: return k.subspan(p + 2 * e, p);
      case 3: return k.subspan(2 * p + 2 * e, p);
      default: return k.first(p);
    }
  }
  // prf(SK_p, ID body) into the tail of the signed octets.
  Status prf_id(Side& s, bool initiators) {
    count(initiators ? specs_.prf_id_i : specs_.prf_id_r);
    auto mac = provider().make_prf(kPrf, sk(s, initiators ? 2 : 3));
    if (!mac) return mac.status();
    Bytes& octets = initiators ? s.octets_i : s.octets_r;
    return (*mac)->compute(initiators ? plan_->id_i : plan_->id_r,
                           MutableByteView(octets).last(plan_->prf_size));
  }
  Status own_auth(Side& s, bool initiator) {
    IPSEC_TRY(prf_id(s, initiator));
    const Bytes& octets = initiator ? s.octets_i : s.octets_r;
    if (plan_->which == Case::psk) {
      count(initiator ? specs_.psk_i : specs_.psk_r);
      return ike::psk_auth(provider(), kPrf, plan_->psk, octets,
                           MutableByteView(s.auth).first(plan_->prf_size));
    }
    count(initiator ? specs_.sign_i : specs_.sign_r);
    auto n = s.key->sign(kScheme, octets, s.rng, s.signature);
    if (!n) return n.status();
    s.signature_size = *n;
    return Status::success();
  }
  // verify_auth: `s` checks the AUTH of the other side (the initiator's
  // when `initiators`).
  Status verify_auth(Side& s, bool initiators) {
    IPSEC_TRY(prf_id(s, initiators));
    const Side& peer = initiators ? sides_[0] : sides_[1];
    const Bytes& octets = initiators ? s.octets_i : s.octets_r;
    if (plan_->which == Case::psk) {
      count(initiators ? specs_.psk_i : specs_.psk_r);
      return ike::verify_psk_auth(provider(), kPrf, plan_->psk, octets,
                                  ByteView(peer.auth).first(plan_->prf_size));
    }
    count(specs_.cert_parse);
    auto cert = crypto::Certificate::parse_der(peer.cert_der);
    if (!cert) return cert.status();
    count(specs_.chain);
    IPSEC_TRY(crypto::verify_chain(*cert, {}, s.anchors, sim::kTestUnixTime + 1));
    count(specs_.cert_key);
    auto key = cert->public_key();
    if (!key) return key.status();
    count(initiators ? specs_.verify_i : specs_.verify_r);
    return key->verify(kScheme, octets, ByteView(peer.signature).first(peer.signature_size));
  }
  Status seal(Side& s, int i, const PrimSpec& spec_) {
    std::array<uint8_t, 8> iv{};
    fill(s.rng, iv, specs_.rng8);  // SkTransform draws the IV counter's start once per key
    count(spec_);
    const size_t at = plan_->iv_offset[i];
    const MutableByteView m(wire_[i]);
    std::copy(iv.begin(), iv.end(), m.subspan(at).begin());
    return s.send->seal(iv, m.first(at), m.subspan(at + iv.size(), plan_->sealed_size(i)),
                        m.last(plan_->icv_size));
  }
  Status open(Side& s, int i, const PrimSpec& spec_) {
    count(spec_);
    const size_t at = plan_->iv_offset[i];
    const MutableByteView m(wire_[i]);
    return s.recv->open(m.subspan(at, crypto::Aead::kIvSize), m.first(at),
                        m.subspan(at + crypto::Aead::kIvSize, plan_->sealed_size(i)),
                        m.last(plan_->icv_size));
  }
  Status derive_child(Side& s) {
    count(specs_.prf_plus_child);
    auto mac = provider().make_prf(kPrf, sk(s, 4));
    if (!mac) return mac.status();
    const ByteView parts[] = {ni_, nr_};
    return crypto::prf_plus(**mac, parts, s.child_keymat);
  }

  const Plan* plan_ = nullptr;
  Tally* tally_ = nullptr;
  std::array<Side, 2> sides_ = {Side(11), Side(12)};
  Bytes ni_, nr_;
  std::array<uint8_t, 8> spi_i_{}, spi_r_{};
  std::array<uint8_t, 4> child_spi_i_{}, child_spi_r_{};
  Bytes wire_[4];  // the IKE_AUTH messages, sealed and opened in place
  struct {
    PrimSpec rng8, rng4, nonce, keygen, shared, skeyseed, prf_plus_ike, prf_plus_child, aead_key, natd;
    PrimSpec prf_id_i, prf_id_r, psk_i, psk_r, seal3, open3, seal4, open4;
    PrimSpec sign_i, sign_r, verify_i, verify_r, cert_parse, cert_key, chain;
  } specs_;
};

void bm_crypto_sum(benchmark::State& state, const Plan* plan) {
  auto sum = std::make_unique<CryptoSum>();
  if (const Status s = sum->init(*plan); !s.ok()) return fail(state, "init", s);
  for (auto _ : state) {
    if (const Status s = sum->run(nullptr); !s.ok()) return fail(state, "crypto_sum", s);
  }
  state.SetItemsProcessed(state.iterations());
}

// bm_prim: one primitive call per iteration, as crypto_sum makes it (same
// provider, sizes and kinds of keys). `plan` is the case it was tallied for
// (its credentials, for the certificate and signature primitives).
void bm_prim(benchmark::State& state, PrimSpec s, const Plan* plan) {
  crypto::SeededRng rng(uint64_t{21});
  const Bytes key32 = pattern(plan->prf_size, 0x11);
  const Bytes ni = pattern(plan->nonce_size, 0x21), nr = pattern(plan->nonce_size, 0x31);
  const Bytes spi_i = pattern(8, 0x41), spi_r = pattern(8, 0x51);
  const Bytes data = pattern(s.size, 0x61);
  const Bytes keymat = pattern(plan->encr_keymat, 0x71);
  Bytes out(std::max<size_t>(s.size, limits::kMaxPrfOutputSize));
  const MutableByteView prf_out = MutableByteView(out).first(plan->prf_size);
  const sim::Peer& a = *plan->pair->a;
  const sim::Peer& b = *plan->pair->b;
  switch (s.kind) {
    case Prim::rng:
      for (auto _ : state) {
        rng.fill(MutableByteView(out).first(s.size));
        benchmark::DoNotOptimize(out.data());
      }
      break;
    case Prim::x25519_keygen:
      for (auto _ : state) {
        auto ke = provider().make_key_exchange(kGroup, rng);
        if (!ke) return fail(state, "make_key_exchange", ke.status());
        benchmark::DoNotOptimize((*ke)->public_value().data());
      }
      break;
    case Prim::x25519_shared: {
      auto self = provider().make_key_exchange(kGroup, rng);
      auto peer = provider().make_key_exchange(kGroup, rng);
      if (!self || !peer) return fail(state, "make_key_exchange", Errc::crypto_backend_failure);
      for (auto _ : state) {
        auto secret = (*self)->shared_secret((*peer)->public_value());
        if (!secret) return fail(state, "shared_secret", secret.status());
        benchmark::DoNotOptimize(secret->view().data());
      }
      break;
    }
    case Prim::skeyseed: {
      const Bytes shared = pattern(32, 0x81);
      for (auto _ : state) {
        auto seed = crypto::skeyseed(provider(), kPrf, ni, nr, shared);
        if (!seed) return fail(state, "skeyseed", seed.status());
        benchmark::DoNotOptimize(seed->view().data());
      }
      break;
    }
    case Prim::prf_plus_ike:
    case Prim::prf_plus_child: {
      const ByteView ike_parts[] = {ni, nr, spi_i, spi_r};
      const ByteView child_parts[] = {ni, nr};
      const std::span<const ByteView> parts = s.kind == Prim::prf_plus_ike
                                                  ? std::span<const ByteView>(ike_parts)
                                                  : std::span<const ByteView>(child_parts);
      for (auto _ : state) {
        auto mac = provider().make_prf(kPrf, key32);
        if (!mac) return fail(state, "make_prf", mac.status());
        if (const Status st = crypto::prf_plus(**mac, parts, MutableByteView(out).first(s.size)); !st.ok())
          return fail(state, "prf_plus", st);
        benchmark::DoNotOptimize(out.data());
      }
      break;
    }
    case Prim::aead_key:
      for (auto _ : state) {
        auto aead = provider().make_aead(kEncr, kKeyBits, keymat);
        if (!aead) return fail(state, "make_aead", aead.status());
        benchmark::DoNotOptimize(aead->get());
      }
      if (auto aead = provider().make_aead(kEncr, kKeyBits, keymat)) state.SetLabel((*aead)->backend());
      break;
    case Prim::natd_sha1:
      for (auto _ : state) {
        auto h = ike::nat_detection_hash(0x0123456789abcdef, 0xfedcba9876543210, plan->ep_a);
        if (!h) return fail(state, "nat_detection_hash", h.status());
        benchmark::DoNotOptimize(h->data());
      }
      break;
    case Prim::prf_id:
      for (auto _ : state) {
        auto mac = provider().make_prf(kPrf, key32);
        if (!mac) return fail(state, "make_prf", mac.status());
        if (const Status st = (*mac)->compute(data, prf_out); !st.ok()) return fail(state, "prf", st);
        benchmark::DoNotOptimize(out.data());
      }
      break;
    case Prim::psk_auth:
      for (auto _ : state) {
        if (const Status st = ike::psk_auth(provider(), kPrf, plan->psk, data, prf_out); !st.ok())
          return fail(state, "psk_auth", st);
        benchmark::DoNotOptimize(out.data());
      }
      break;
    case Prim::gcm_seal:
    case Prim::gcm_open: {
      auto aead = provider().make_aead(kEncr, kKeyBits, keymat);
      if (!aead) return fail(state, "make_aead", aead.status());
      state.SetLabel((*aead)->backend());
      const size_t aad = wire::kIkeHeaderSize + wire::kGenericPayloadHeaderSize;
      Bytes message = pattern(aad + crypto::Aead::kIvSize + s.size + plan->icv_size, 0x91);
      const MutableByteView m(message);
      const MutableByteView iv = m.subspan(aad, crypto::Aead::kIvSize);
      const MutableByteView body = m.subspan(aad + crypto::Aead::kIvSize, s.size);
      const MutableByteView icv = m.last(plan->icv_size);
      uint64_t counter = 1;
      if (s.kind == Prim::gcm_seal) {
        for (auto _ : state) {
          store_be64(iv.first<8>(), counter++);
          if (const Status st = (*aead)->seal(iv, m.first(aad), body, icv); !st.ok())
            return fail(state, "seal", st);
          benchmark::DoNotOptimize(message.data());
        }
      } else {
        if (const Status st = (*aead)->seal(iv, m.first(aad), body, icv); !st.ok())
          return fail(state, "seal", st);
        const Bytes sealed = message;
        for (auto _ : state) {
          std::memcpy(message.data(), sealed.data(), sealed.size());  // opening is in place
          if (const Status st = (*aead)->open(iv, m.first(aad), body, icv); !st.ok())
            return fail(state, "open", st);
          benchmark::DoNotOptimize(message.data());
        }
      }
      state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(s.size));
      break;
    }
    case Prim::ecdsa_sign:
    case Prim::ecdsa_verify: {
      if (!a.key) return fail(state, "key", Errc::invalid_key);
      Bytes signature(a.key->max_signature_size());
      auto n = a.key->sign(kScheme, data, rng, signature);
      if (!n) return fail(state, "sign", n.status());
      if (s.kind == Prim::ecdsa_sign) {
        for (auto _ : state) {
          auto m = a.key->sign(kScheme, data, rng, signature);
          if (!m) return fail(state, "sign", m.status());
          benchmark::DoNotOptimize(signature.data());
        }
      } else {
        auto pub = a.chain.front().public_key();
        if (!pub) return fail(state, "public_key", pub.status());
        for (auto _ : state) {
          if (const Status st = pub->verify(kScheme, data, ByteView(signature).first(*n)); !st.ok())
            return fail(state, "verify", st);
        }
      }
      break;
    }
    case Prim::cert_parse:
      for (auto _ : state) {
        auto cert = crypto::Certificate::parse_der(a.chain.front().der());
        if (!cert) return fail(state, "parse_der", cert.status());
        benchmark::DoNotOptimize(&*cert);
      }
      break;
    case Prim::cert_public_key:
      for (auto _ : state) {
        auto key = a.chain.front().public_key();
        if (!key) return fail(state, "public_key", key.status());
        benchmark::DoNotOptimize(&*key);
      }
      break;
    case Prim::verify_chain:
      for (auto _ : state) {
        const Status st =
            crypto::verify_chain(a.chain.front(), {}, b.anchors_storage, sim::kTestUnixTime + 1);
        if (!st.ok()) return fail(state, "verify_chain", st);
      }
      break;
  }
}

// ---- What the engine does per handshake that could be done once ------------

// anchor_clone: verify_peer_auth copies every trust anchor of the PAD entry
// (Certificate::clone, a full parse) for each IKE_AUTH it verifies.
void bm_extra_anchor_clone(benchmark::State& state, const Plan* plan) {
  const crypto::Certificate& ca = plan->pair->b->anchors_storage.front();
  for (auto _ : state) {
    auto copy = ca.clone();
    if (!copy) return fail(state, "clone", copy.status());
    benchmark::DoNotOptimize(&*copy);
  }
}

// certreq_data: the CERTREQ payload's SHA-1 of each trust anchor's public
// key (RFC 7296 3.7), recomputed with the key parsed out of the anchor for
// each IKE_SA_INIT response and IKE_AUTH request.
void bm_extra_certreq(benchmark::State& state, const Plan* plan) {
  const crypto::Certificate& ca = plan->pair->b->anchors_storage.front();
  for (auto _ : state) {
    auto pk = ca.public_key();
    if (!pk) return fail(state, "public_key", pk.status());
    std::array<uint8_t, 20> h{};
    const ByteView parts[] = {pk->spki_der()};
    if (const Status st = crypto::hash(crypto::HashId::sha1, parts, h); !st.ok())
      return fail(state, "sha1", st);
    benchmark::DoNotOptimize(h.data());
  }
}

// psk_keypad: the part of a PSK AUTH value that depends on the PAD entry
// only, prf(PSK, "Key Pad for IKEv2") and keying the PRF with it (RFC 7296
// 2.15); psk_auth recomputes it for every AUTH it makes or checks (four
// per handshake), which this is part of the sum for.
void bm_extra_psk_keypad(benchmark::State& state, const Plan* plan) {
  static constexpr std::string_view kKeyPad = "Key Pad for IKEv2";
  std::array<uint8_t, limits::kMaxPrfOutputSize> key{};
  const MutableByteView k = MutableByteView(key).first(plan->prf_size);
  for (auto _ : state) {
    auto outer = provider().make_prf(kPrf, plan->psk);
    if (!outer) return fail(state, "make_prf", outer.status());
    if (const Status st = (*outer)->compute(as_bytes(kKeyPad), k); !st.ok()) return fail(state, "prf", st);
    auto inner = provider().make_prf(kPrf, k);
    if (!inner) return fail(state, "make_prf", inner.status());
    benchmark::DoNotOptimize(inner->get());
  }
}

// ---- Registration ------------------------------------------------------------

void bm_setup_failed(benchmark::State& state, std::string why) {
  for (auto _ : state) {
  }
  state.SkipWithError(why.c_str());
}

// recipe: "prim/x*2 prim/y*1 ...", the primitive calls of one crypto_sum
// iteration (benchmarks/ike_handshake_ratios.py adds their figures up as a
// cross-check of the measured sum).
std::string recipe(const Tally& tally) {
  std::string text;
  for (const auto& [name, entry] : tally) {
    if (!text.empty()) text += ' ';
    text += name + "*" + std::to_string(entry.second);
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // The plans live until the end: the benchmarks point into them.
  std::vector<std::unique_ptr<Plan>> plans;
  std::map<std::string, std::pair<PrimSpec, const Plan*>> prims;
  for (Case c : kCases) {
    const std::string name = case_name(c);
    std::string error;
    auto plan = make_plan(c, &error);
    CryptoSum dry;
    Tally tally;
    Status dry_status = Errc::invalid_argument;
    if (plan) {
      plans.push_back(std::make_unique<Plan>(std::move(*plan)));
      dry_status = dry.init(*plans.back());
      if (dry_status.ok()) dry_status = dry.run(&tally);
      if (!dry_status.ok()) error = "crypto_sum: " + std::string(dry_status.name());
    }
    if (!plan || !dry_status.ok()) {
      std::fprintf(stderr, "%s: setup failed: %s\n", name.c_str(), error.c_str());
      benchmark::RegisterBenchmark(("setup/" + name).c_str(), bm_setup_failed, error);
      continue;
    }
    const Plan* p = plans.back().get();
    const std::string label = p->ike_proposal + ", ESP " + p->child_proposal;
    benchmark::RegisterBenchmark(("handshake/" + name).c_str(), bm_handshake, c)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("handshake_close/" + name).c_str(), bm_handshake_close, c)
        ->Unit(benchmark::kMicrosecond);
    if (c == Case::psk) {
      benchmark::RegisterBenchmark(("handshake_busy/" + name).c_str(), bm_handshake_busy, c)
          ->ArgName("ike_sas")
          ->Arg(1000)
          ->Arg(5000)
          ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark((std::string("crypto_sum/") + sum_name(c)).c_str(), bm_crypto_sum, p)
        ->Unit(benchmark::kMicrosecond);
    benchmark::AddCustomContext(std::string("recipe crypto_sum/") + sum_name(c), recipe(tally));
    benchmark::AddCustomContext(
        "messages " + name, std::to_string(p->msg[0].size()) + " " + std::to_string(p->msg[1].size()) + " " +
                                std::to_string(p->msg[2].size()) + " " + std::to_string(p->msg[3].size()) +
                                " octets; " + label);
    for (const auto& [prim, entry] : tally) prims.try_emplace(prim, entry.first, p);
    if (c == Case::psk) {
      benchmark::RegisterBenchmark("engine_extra/psk_keypad", bm_extra_psk_keypad, p);
    }
    if (c == Case::ecdsa) {
      benchmark::RegisterBenchmark("engine_extra/anchor_clone", bm_extra_anchor_clone, p)
          ->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark("engine_extra/certreq_data", bm_extra_certreq, p)
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RegisterBenchmark("timer/pause_resume", bm_pause_resume);
  for (const auto& [name, entry] : prims) {
    const bool slow = entry.first.kind == Prim::ecdsa_sign || entry.first.kind == Prim::ecdsa_verify ||
                      entry.first.kind == Prim::verify_chain || entry.first.kind == Prim::x25519_keygen ||
                      entry.first.kind == Prim::x25519_shared;
    benchmark::RegisterBenchmark(name.c_str(), bm_prim, entry.first, entry.second)
        ->Unit(slow ? benchmark::kMicrosecond : benchmark::kNanosecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
