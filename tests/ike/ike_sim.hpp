// SPDX-License-Identifier: Apache-2.0
// A deterministic network simulator for the IKE engine: two engines joined
// by a virtual link with virtual time and a seeded random generator (loss,
// duplication, reordering, delay, MTU, an optional NAT in front of peer 0).
// Every run is reproducible from its seed. Also used by the engine fuzzer
// and benchmark (peer setup only).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ipsec/crypto/provider.hpp"
#include "ipsec/crypto/rng.hpp"
#include "ipsec/crypto/signature.hpp"
#include "ipsec/crypto/x509.hpp"
#include "ipsec/ike/engine.hpp"
#include "ipsec/sa/pad.hpp"

namespace ipsec::sim {

using Bytes = std::vector<uint8_t>;

inline Bytes read_file(const std::string& path) {
  Bytes out;
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    uint8_t buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
    std::fclose(f);
  }
  return out;
}

// 2027-06-01, inside the validity of tests/data/ike/pki.
inline constexpr int64_t kTestUnixTime = 1811808000;

// ed25519: RFC 8420 signatures with raw public keys (Credentials::peer_keys),
// each peer's key generated from its name.
// ed25519_cert: the same with Ed25519 certificates (tests/data/ike/pki).
enum class Auth : uint8_t { psk, ecdsa, rsa, ed25519, ed25519_cert };

inline crypto::PrivateKey ed25519_key_of(const std::string& name) {
  crypto::SeededRng rng(name == "a" ? uint64_t{8420} : uint64_t{8421});
  return crypto::PrivateKey::generate(crypto::KeyType::ed25519, rng).value();
}

// PeerSetup: one side of a test tunnel.
struct PeerSetup {
  std::string name = "a";  // a or b: a.example.test / b.example.test and the PKI files
  std::string address = "192.0.2.1";
  std::string subnet = "10.1.0.0/16";
  Auth auth = Auth::psk;
  Auth peer_auth = Auth::psk;
  std::string psk = "correct horse battery staple";
  std::string ike_proposals = "aes256gcm16-prfsha256-x25519";
  std::string esp_proposals = "aes256gcm16";
  wire::ProtocolId child_protocol = wire::ProtocolId::esp;
  esp::Mode mode = esp::Mode::tunnel;
  size_t cookie_threshold = 10;
  size_t max_half_open = 5000;
  size_t fragment_size = 1280;  // EngineConfig::fragment_size
  bool fragmentation = true;
  bool signature_authentication = true;  // EngineConfig::signature_authentication
  bool rsa_pss = false;                  // Credentials::rsa_pss
  ike::SpiAllocator* spi_allocator = nullptr;
  bool any_remote_address = false;  // respond to the peer from any address (a peer behind a NAT)
  ike::RetransmitPolicy retransmit;
  // configure: a last change to the engine's configuration (lifetimes,
  // windows, DPD, more children...) before the engine is made.
  std::function<void(ike::EngineConfig&)> configure;
};

// StderrLog: the engines' log lines on stderr when IPSEC_SIM_LOG is set.
class StderrLog final : public ike::LogSink {
 public:
  explicit StderrLog(std::string prefix) : prefix_(std::move(prefix)) {}
  void log(ike::LogLevel, std::string_view line) override {
    std::fprintf(stderr, "%s %.*s\n", prefix_.c_str(), static_cast<int>(line.size()), line.data());
  }

 private:
  std::string prefix_;
};

// Peer: the engine of one side with everything it owns.
struct Peer {
  PeerSetup setup;
  sa::Pad pad;
  std::vector<crypto::Certificate> chain;
  std::vector<crypto::Certificate> anchors_storage;
  std::vector<ike::TrustAnchor> anchors;
  std::optional<crypto::PrivateKey> key;
  std::optional<crypto::PublicKey> peer_public;
  std::vector<ike::PeerKey> peer_keys;
  std::unique_ptr<crypto::SeededRng> rng;
  std::unique_ptr<ike::IkeEngine> engine;
  ike::Endpoint endpoint;
  std::unique_ptr<StderrLog> log;
};

inline std::string peer_name_of(const std::string& name) { return name == "a" ? "b" : "a"; }
inline std::string pki_prefix(Auth a) {
  return a == Auth::rsa ? "rsa" : a == Auth::ed25519_cert ? "ed25519" : "ec";
}

// make_peer: the engine for `setup`, whose peer is the other name, with
// `remote` its peer's setup (for addresses and subnets). data_dir is
// tests/data. Returns nullptr with a message on a setup error.
inline std::unique_ptr<Peer> make_peer(const PeerSetup& setup, const PeerSetup& remote,
                                       crypto::Provider& provider, uint64_t seed, const std::string& data_dir,
                                       std::string* error) {
  auto p = std::make_unique<Peer>();
  p->setup = setup;
  p->rng = std::make_unique<crypto::SeededRng>(seed);
  const std::string other = peer_name_of(setup.name);
  const std::string pki = data_dir + "/ike/pki/";
  auto fail = [&](const std::string& what) -> std::unique_ptr<Peer> {
    *error = what;
    return nullptr;
  };
  if (setup.auth == Auth::ed25519) {
    p->key = ed25519_key_of(setup.name);
  } else if (setup.auth != Auth::psk) {
    auto cert =
        crypto::Certificate::parse_der(read_file(pki + pki_prefix(setup.auth) + "-" + setup.name + ".der"));
    auto key =
        crypto::PrivateKey::parse(read_file(pki + pki_prefix(setup.auth) + "-" + setup.name + ".key.der"));
    if (!cert || !key) return fail("cannot read our certificate or key");
    p->chain.push_back(std::move(*cert));
    p->key = std::move(*key);
  }
  if (setup.peer_auth == Auth::ed25519) {
    p->peer_public = ed25519_key_of(other).public_key().value();
    p->peer_keys.push_back({7, &*p->peer_public});
  } else if (setup.peer_auth != Auth::psk) {
    auto ca = crypto::Certificate::parse_der(read_file(pki + pki_prefix(setup.peer_auth) + "-ca.der"));
    if (!ca) return fail("cannot read the CA");
    p->anchors_storage.push_back(std::move(*ca));
  }
  for (size_t i = 0; i < p->anchors_storage.size(); ++i)
    p->anchors.push_back({static_cast<uint32_t>(i + 1), &p->anchors_storage[i]});

  auto pattern = sa::IdPattern::parse("fqdn:" + other + ".example.test");
  if (!pattern) return fail("pattern");
  auto local_net = IpPrefix::parse(setup.subnet);
  auto remote_net = IpPrefix::parse(remote.subnet);
  if (!local_net || !remote_net) return fail("subnet");
  sa::Selector child;
  child.local = sa::AddressRange::of(*local_net);
  child.remote = sa::AddressRange::of(*remote_net);
  const uint32_t anchor_ids[] = {1};
  sa::PadEntryConfig pc;
  pc.id = 7;
  if (setup.peer_auth == Auth::psk) {
    pc.auth = sa::AuthMethodSet().allow(wire::AuthMethod::shared_key_mic);
  } else {
    pc.auth = sa::AuthMethodSet()
                  .allow(wire::AuthMethod::digital_signature)
                  .allow(wire::AuthMethod::rsa_signature)
                  .allow(wire::AuthMethod::ecdsa_sha256_p256);
  }
  pc.psk = as_bytes(std::string_view(setup.psk));
  if (setup.peer_auth != Auth::psk) pc.trust_anchors = anchor_ids;
  pc.id_must_match_certificate = true;
  pc.children = std::span<const sa::Selector>(&child, 1);
  auto entry = sa::PadEntry::make(std::move(*pattern), pc);
  if (!entry) return fail("pad entry: " + std::string(entry.status().name()));
  if (!p->pad.add(std::move(*entry)).ok()) return fail("pad add");

  ike::Connection c;
  c.children.resize(1);
  c.name = setup.name + "-" + other;
  c.local_address = IpAddress::parse(setup.address).value();
  if (!setup.any_remote_address) c.remote_address = IpAddress::parse(remote.address).value();
  auto local_id = ike::Identity::parse("fqdn:" + setup.name + ".example.test");
  if (!local_id) return fail("identity");
  c.local_id = *local_id;
  c.local_auth = setup.auth == Auth::psk ? ike::LocalAuth::psk : ike::LocalAuth::signature;
  c.peer = 7;
  auto ikep = ike::parse_proposals(setup.ike_proposals, wire::ProtocolId::ike);
  auto espp = ike::parse_proposals(setup.esp_proposals, setup.child_protocol);
  if (!ikep || !espp) return fail("proposals");
  c.ike_proposals = *ikep;
  c.children[0].proposals = *espp;
  ike::TsRange l, r;
  l.addresses = sa::AddressRange::of(*local_net);
  r.addresses = sa::AddressRange::of(*remote_net);
  c.children[0].local_ts = {l};
  c.children[0].remote_ts = {r};
  c.children[0].mode = setup.mode;
  c.children[0].reqid = 1;

  ike::EngineConfig config;
  config.connections.push_back(std::move(c));
  config.pad = &p->pad;
  config.credentials.private_key = p->key ? &*p->key : nullptr;
  config.credentials.local_chain = p->chain;
  config.credentials.trust_anchors = p->anchors;
  config.credentials.peer_keys = p->peer_keys;
  config.cookie_threshold = setup.cookie_threshold;
  config.max_half_open = setup.max_half_open;
  config.fragment_size = setup.fragment_size;
  config.fragmentation = setup.fragmentation;
  config.spi_allocator = setup.spi_allocator;
  config.signature_authentication = setup.signature_authentication;
  config.credentials.rsa_pss = setup.rsa_pss;
  config.retransmit = setup.retransmit;
  config.unix_time_at_zero = kTestUnixTime;
  if (std::getenv("IPSEC_SIM_LOG") != nullptr) {
    p->log = std::make_unique<StderrLog>("[" + setup.name + "]");
    config.log = p->log.get();
  }
  if (setup.configure) setup.configure(config);
  auto engine = ike::IkeEngine::create(std::move(config), provider, *p->rng);
  if (!engine) return fail("engine: " + std::string(engine.status().name()) + " " + engine.status().field());
  p->engine = std::move(*engine);
  p->endpoint = ike::Endpoint{IpAddress::parse(setup.address).value(), 500};
  return p;
}

// A copy of an event, with the child SA's keys, kept after the call.
struct Recorded {
  ike::EventKind kind{};
  uint64_t ike_sa = 0;
  uint64_t previous_ike_sa = 0;  // ike_sa_rekeyed
  bool peer_dead = false;        // ike_sa_down
  sa::Direction direction = sa::Direction::inbound;
  ike::AuthFailure failure = ike::AuthFailure::none;
  std::string detail;
  std::optional<ike::ChildSa> child;  // views re-pointed into the copies below
  Bytes in_encr, in_integ, out_encr, out_integ;
  std::vector<ike::TsRange> local_ts, remote_ts;
  std::optional<ike::IkeSaInfo> ike;
  std::string proposal;
};

struct LinkConfig {
  double loss = 0;       // probability a datagram is dropped
  double duplicate = 0;  // probability it is delivered twice
  double corrupt = 0;    // probability one random bit of it is flipped
  Duration delay = std::chrono::milliseconds(10);
  Duration jitter{0};  // uniform extra delay: reorders datagrams
  size_t mtu = 65535;  // larger UDP payloads are dropped
  bool nat = false;    // peer 0 sits behind a NAT (RFC 7296 2.23)
};

class Simulation;

class SimSink final : public ike::Sink {
 public:
  SimSink(Simulation& sim, int side) : sim_(sim), side_(side) {}
  void send(const ike::OutDatagram& d) override;
  void on_event(const ike::Event& e) override {
    Recorded r;
    r.kind = e.kind;
    r.ike_sa = e.ike_sa;
    r.previous_ike_sa = e.previous_ike_sa;
    r.peer_dead = e.peer_dead;
    r.direction = e.direction;
    r.failure = e.auth_failure;
    r.detail = std::string(e.detail);
    if (e.child != nullptr) {
      r.child = *e.child;
      r.in_encr.assign(e.child->inbound_encr_keymat.begin(), e.child->inbound_encr_keymat.end());
      r.in_integ.assign(e.child->inbound_integ_key.begin(), e.child->inbound_integ_key.end());
      r.out_encr.assign(e.child->outbound_encr_keymat.begin(), e.child->outbound_encr_keymat.end());
      r.out_integ.assign(e.child->outbound_integ_key.begin(), e.child->outbound_integ_key.end());
      r.local_ts.assign(e.child->local_ts.begin(), e.child->local_ts.end());
      r.remote_ts.assign(e.child->remote_ts.begin(), e.child->remote_ts.end());
      r.proposal = std::string(e.child->proposal);
    }
    if (e.ike != nullptr) {
      r.ike = *e.ike;
      r.proposal = std::string(e.ike->proposal);
    }
    events.push_back(std::move(r));
    // Keep the child's views pointing at this record's own copies.
    Recorded& kept = events.back();
    if (kept.child) {
      kept.child->inbound_encr_keymat = kept.in_encr;
      kept.child->inbound_integ_key = kept.in_integ;
      kept.child->outbound_encr_keymat = kept.out_encr;
      kept.child->outbound_integ_key = kept.out_integ;
      kept.child->local_ts = kept.local_ts;
      kept.child->remote_ts = kept.remote_ts;
      kept.child->selectors = {};
      kept.child->proposal = kept.proposal;
    }
    if (kept.ike) {
      kept.ike->proposal = kept.proposal;
      kept.ike->local_id = {};
      kept.ike->remote_id = {};
    }
  }
  [[nodiscard]] size_t count(ike::EventKind k) const {
    return static_cast<size_t>(
        std::count_if(events.begin(), events.end(), [&](const Recorded& r) { return r.kind == k; }));
  }
  [[nodiscard]] const Recorded* find(ike::EventKind k) const {
    for (const Recorded& r : events) {
      if (r.kind == k) return &r;
    }
    return nullptr;
  }
  std::vector<Recorded> events;
  size_t sent = 0;

 private:
  Simulation& sim_;
  int side_;
};

// NAT in front of peer 0: its private address is rewritten to this public
// one, each private port p to p + kNatPortOffset (500 -> 40500, 4500 -> 44500).
inline const IpAddress kNatPublic = IpAddress::parse("203.0.113.5").value();
inline constexpr uint16_t kNatPortOffset = 40000;

class Simulation {
 public:
  Simulation(uint64_t seed, LinkConfig link) : seed_(seed), link_(link), random_(seed) {}
  Peer* peers[2] = {nullptr, nullptr};
  SimSink sinks[2] = {SimSink(*this, 0), SimSink(*this, 1)};
  Timestamp now = Timestamp::from_nanoseconds(1'000'000'000);
  uint64_t delivered = 0;
  // The NAT's port mapping for peer 0 (change it to make the NAT forget
  // the old one, RFC 7296 2.23).
  uint16_t nat_port_offset = kNatPortOffset;

  void transmit(int from, const ike::OutDatagram& d) {
    ++sinks[from].sent;
    if (d.bytes.size() > link_.mtu) return;
    if (chance(link_.loss)) return;
    const int copies = chance(link_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      InFlight f;
      f.to = 1 - from;
      f.at = now + link_.delay + jitter();
      f.seq = next_seq_++;
      f.bytes.assign(d.bytes.begin(), d.bytes.end());
      if (!f.bytes.empty() && chance(link_.corrupt)) {
        const size_t bit = std::uniform_int_distribution<size_t>(0, f.bytes.size() * 8 - 1)(random_);
        f.bytes[bit / 8] = static_cast<uint8_t>(f.bytes[bit / 8] ^ (1u << (bit % 8)));
      }
      // The receiver sees the datagram's ends swapped.
      f.path.local = d.path.remote;
      f.path.remote = d.path.local;
      if (link_.nat) {
        if (from == 0) {
          f.path.remote.address = kNatPublic;
          f.path.remote.port = static_cast<uint16_t>(d.path.local.port + nat_port_offset);
        } else if (d.path.remote.address == kNatPublic) {
          f.path.local.address = peers[0]->endpoint.address;
          f.path.local.port = static_cast<uint16_t>(d.path.remote.port - nat_port_offset);
        }
      }
      queue_.push_back(std::move(f));
    }
  }

  // next_event: when the next delivery or timer is due (nullopt: none),
  // for a host that interleaves work of its own (traffic, SAD polls).
  [[nodiscard]] std::optional<Timestamp> next_event() const {
    std::optional<Timestamp> next;
    for (const InFlight& f : queue_) {
      if (!next || f.at < *next) next = f.at;
    }
    for (const Peer* p : peers) {
      if (auto t = p->engine->next_timeout(); t && (!next || *t < *next)) next = t;
    }
    return next;
  }

  // step: advance to the next delivery or timer; false when nothing is left.
  bool step() {
    const std::optional<Timestamp> next = next_event();
    if (!next) return false;
    if (*next > now) now = *next;
    // Deliver everything due, in time order (then send order).
    std::sort(queue_.begin(), queue_.end(), [](const InFlight& a, const InFlight& b) {
      return a.at != b.at ? a.at < b.at : a.seq < b.seq;
    });
    while (!queue_.empty() && queue_.front().at <= now) {
      InFlight f = std::move(queue_.front());
      queue_.erase(queue_.begin());
      ++delivered;
      peers[f.to]->engine->receive(now, f.path, f.bytes, sinks[f.to]);
    }
    for (int i = 0; i < 2; ++i) {
      if (auto t = peers[i]->engine->next_timeout(); t && *t <= now)
        peers[i]->engine->on_timer(now, sinks[i]);
    }
    return true;
  }

  // run: step until `done` holds or virtual time passes `limit`.
  template <typename Done>
  bool run(Done done, Duration limit) {
    const Timestamp end = now + limit;
    while (!done()) {
      if (!step() || now > end) return done();
    }
    return true;
  }
  // run_for: everything that happens in the next `d`, and nothing after.
  void run_for(Duration d) {
    const Timestamp end = now + d;
    while (true) {
      const std::optional<Timestamp> next = next_event();
      if (!next || *next > end) break;
      step();
    }
    if (now < end) now = end;
  }

  [[nodiscard]] uint64_t seed() const { return seed_; }

 private:
  struct InFlight {
    Timestamp at;
    uint64_t seq = 0;
    int to = 0;
    ike::Path path;
    Bytes bytes;
  };
  bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(random_) < p; }
  Duration jitter() {
    if (link_.jitter.count() == 0) return Duration(0);
    return Duration(std::uniform_int_distribution<int64_t>(0, link_.jitter.count())(random_));
  }
  uint64_t seed_;
  LinkConfig link_;
  std::mt19937_64 random_;
  std::vector<InFlight> queue_;
  uint64_t next_seq_ = 0;
};

inline void SimSink::send(const ike::OutDatagram& d) { sim_.transmit(side_, d); }

}  // namespace ipsec::sim
