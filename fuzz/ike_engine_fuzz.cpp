// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the IKEv2 engine (ike/engine.hpp) driven by a peer's
// datagrams, its timers and the host's requests. A fresh engine per input
// (PSK, DefaultProvider, SeededRng with fixed seeds, virtual time),
// destroyed at the end: no state crosses inputs, so every finding
// reproduces from its file.
//
// Input: a mode octet, then a sequence of datagrams, each
//   flags (1) | time step (1) | length (2, big endian) | octets
// (a length past the end takes what is left; at most kMaxDatagrams). Before
// each one virtual time advances by step^2 x 4 ms (0 to 260 s) and
// on_timer runs; at the end the timers are run dry. Flags:
//   bits 0-1  path: 0 port 500; 1 port 4500; 2 port 4500 from a NAT
//             (203.0.113.5:44500); 3 port 500 from another address
//   bit 2     on port 4500, no non-ESP marker is prepended (raw)
//   bit 3     patch the IKE header's SPIs (28 octets or more) with a pair
//             the engine sent, the live IKE SA's, so the datagram passes
//             the SPI lookup (a zero SPIr in the pair keeps the datagram's)
//   bit 4     which pair: the latest (0) or the one before (1)
//   bit 5     a token, not a datagram; its first octet op says what to do:
//             op & 0x80: close() an IKE SA the engine reported (op & 15
//             picks it; an unknown handle when there is none); op & 0x40:
//             acquire() reqid 1 (op & 1) or 7, which does not exist (the
//             responder serves any address, so it can't initiate);
//             otherwise replay the op-th authentic datagram the peer of the
//             engine's role sent in a recorded exchange (below), on its
//             recorded path, or on the one bits 0-1 pick when not 0
//   bit 6     set the IKE header's Length to the datagram's size
//   bit 7     deliver the datagram twice
// Modes: the first octet % 3, with variant bits v = first octet / 3:
//   0: a responder: IKE_SA_INIT requests, cookies, INVALID_KE, half-open
//      SAs and their expiry, forged IKE_AUTH requests and fragments;
//   1: an initiator that called initiate() (twice when v & 1) gets the
//      datagrams as answers: COOKIE, INVALID_KE, NO_PROPOSAL_CHOSEN,
//      IKE_SA_INIT responses (any suite it offered), forged IKE_AUTH
//      responses, retransmissions and giving up;
//   2: an IKE SA established first by replaying a recorded handshake (the
//      initiator's when v & 2, else the responder's), then the datagrams:
//      established-state dispatch, retransmitted requests answered from the
//      cache, Delete, close(), new IKE_SA_INIT requests beside it.
//   v & 1: the responder's cookie_threshold is 0 (else 10; in mode 2 the
//   recorded handshake has the COOKIE round trip); v & 4: fragment_size 160,
//   so IKE_AUTH messages travel as SKF fragments (RFC 7383); v & 8 (modes 0
//   and 1): the host's SpiAllocator refuses child SPIs.
// The recorded exchanges: at start-up, two real engines with the same
// configurations and seeds run by direct delivery: the handshake with and
// without cookies and fragments, each side closing, and INVALID_KE either
// way. The engines are deterministic, so what one side sent is authentic
// for a fresh engine of the other: the fuzzer can't forge SK payloads, but
// can replay real ones (and fragments) in any order, any number of times,
// at any time and on any path.
// Invariants (abort with a message): an IKE SA comes up only after an
// authentic IKE_AUTH datagram arrived (forged data never authenticates),
// and child SAs are installed only under an IKE SA that came up; an
// established IKE SA goes down only when closed, or deleted (or replaced,
// INITIAL_CONTACT) by an authentic message; no event names an IKE SA after its ike_sa_down; a dropped
// datagram is dropped silently, and a datagram is answered with at most one
// message (one datagram, or the SKF fragments of one message); everything
// the engine sends parses, with the marker on port 4500; installed child
// SAs make valid ESP SAs; every child SPI reserved from the host's
// allocator is released or installed, once; every IKE SA not established
// has a timer; on_timer leaves no deadline in the past and a spurious call
// does nothing; the timers run dry, leaving only established IKE SAs; a
// recorded handshake replays byte for byte. Event views are read in full.
//
// Seeds: IPSEC_FUZZ_IKE_ENGINE_SEEDS=<dir> writes the seed corpus (recorded
// datagrams in this format) into <dir> on the first input, runs each seed,
// and exits:
//   IPSEC_FUZZ_IKE_ENGINE_SEEDS=fuzz/corpus/ike_engine build/fuzz/fuzz/fuzz_ike_engine -runs=1
// IPSEC_SIM_LOG=1 prints the engines' log lines (ike_sim.hpp), and
// IPSEC_FUZZ_IKE_ENGINE_TRACE=1 what each input did.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ike_sim.hpp"
#include "ipsec/crypto/provider.hpp"
#include "ipsec/esp/sa.hpp"
#include "ipsec/ike/engine.hpp"
#include "ipsec/sa/sad.hpp"
#include "ipsec/wire/ike_builder.hpp"
#include "ipsec/wire/ike_message.hpp"
#include "ipsec/wire/natt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

using namespace ipsec;

namespace {

using Bytes = std::vector<uint8_t>;
using ike::EventKind;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "ike_engine_fuzz: invariant violated: %s\n", what);
  std::abort();
}

crypto::Provider& provider() {
  static crypto::DefaultProvider p;
  return p;
}

constexpr uint64_t kInitiatorSeed = 0x1ce1;
constexpr uint64_t kResponderSeed = 0x1ce2;
constexpr uint64_t kPartnerSeed = 0x1ce3;  // recorded partners the fuzzer never drives
constexpr size_t kMaxDatagrams = 48;
constexpr size_t kSmallFragments = 160;  // every IKE_AUTH message is fragmented
constexpr uint16_t kNattPort = 4500;
constexpr Timestamp kStart = Timestamp::from_nanoseconds(1'000'000'000);

namespace flag {
constexpr uint8_t kPath = 0x03;
constexpr uint8_t kRaw = 0x04;
constexpr uint8_t kPatchSpis = 0x08;
constexpr uint8_t kSpiPair = 0x10;
constexpr uint8_t kToken = 0x20;
constexpr uint8_t kFixLength = 0x40;
constexpr uint8_t kTwice = 0x80;
}  // namespace flag

// CountingSpis: the host's SpiAllocator, keeping the books: every SPI the
// engine reserves is released or installed, once.
class CountingSpis final : public ike::SpiAllocator {
 public:
  explicit CountingSpis(bool refuse) : refuse_(refuse) {}
  [[nodiscard]] Result<uint32_t> allocate() override {
    if (refuse_) return Errc::limit_exceeded;
    const uint32_t spi = next_++;
    reserved.insert(spi);
    return spi;
  }
  void release(uint32_t spi) override {
    require(reserved.erase(spi) == 1, "SpiAllocator::release of an SPI the engine holds");
  }
  std::set<uint32_t> reserved;   // allocated, not yet released or installed
  std::set<uint32_t> installed;  // child_sa_install (inbound) until child_sa_delete

 private:
  bool refuse_;
  uint32_t next_ = 0x1000;
};

// ---------------------------------------------------------------------------
// The two configurations the fuzzer drives (ike_sim.hpp peers with PSK: no
// files are read).

sim::PeerSetup initiator_setup(bool fragments, CountingSpis* spis) {
  sim::PeerSetup s;
  s.name = "a";
  s.address = "192.0.2.1";
  s.subnet = "10.1.0.0/16";
  // KEi for X25519; ECP-256 for an INVALID_KE_PAYLOAD retry; a second,
  // AES-CBC + HMAC proposal a forged response may pick.
  s.ike_proposals = "aes256gcm16-prfsha256-x25519-ecp256,aes128-sha256-x25519";
  if (fragments) s.fragment_size = kSmallFragments;
  s.spi_allocator = spis;
  return s;
}

sim::PeerSetup responder_setup(bool cookies, bool fragments, CountingSpis* spis) {
  sim::PeerSetup s;
  s.name = "b";
  s.address = "198.51.100.2";
  s.subnet = "10.2.0.0/16";
  s.ike_proposals = "aes256gcm16-prfsha256-x25519,aes128-sha256-x25519,chacha20poly1305-prfsha256-x25519";
  s.cookie_threshold = cookies ? 0 : 10;
  // Any peer address (NAT traversal, RFC 7296 2.23): requests from behind a
  // NAT are served; the responder can then not initiate (acquire fails).
  s.any_remote_address = true;
  if (fragments) s.fragment_size = kSmallFragments;
  s.spi_allocator = spis;
  return s;
}

std::unique_ptr<sim::Peer> make(const sim::PeerSetup& self, const sim::PeerSetup& other, uint64_t seed) {
  std::string error;
  auto p = sim::make_peer(self, other, provider(), seed, "", &error);
  if (!p) std::fprintf(stderr, "make_peer: %s\n", error.c_str());
  require(p != nullptr, "make_peer");
  return p;
}

bool natt(const ike::Path& p) { return p.local.port == kNattPort || p.remote.port == kNattPort; }

bool same_endpoint(const ike::Endpoint& a, const ike::Endpoint& b) {
  return a.address == b.address && a.port == b.port;
}

// ike_part: the IKE message of a datagram on `path` (after the non-ESP
// marker on port 4500).
ByteView ike_part(const ike::Path& path, ByteView datagram) {
  if (!natt(path)) return datagram;
  return datagram.size() >= wire::kNonEspMarkerSize ? datagram.subspan(wire::kNonEspMarkerSize) : ByteView{};
}

Bytes frame(const ike::Path& path, ByteView message, bool raw) {
  Bytes d;
  if (natt(path) && !raw) d.assign(wire::kNonEspMarkerSize, 0);
  d.insert(d.end(), message.begin(), message.end());
  return d;
}

std::optional<wire::IkeHeader> header_of(ByteView message) {
  auto h = wire::parse_ike_header(message);
  if (!h) return std::nullopt;
  return *h;
}

volatile uint8_t g_touched = 0;
void touch(ByteView b) {
  uint8_t x = 0;
  for (uint8_t c : b) x = static_cast<uint8_t>(x ^ c);
  g_touched = x;
}
void touch(std::string_view s) { touch(as_bytes(s)); }

// ---------------------------------------------------------------------------
// Recorded exchanges.

struct Datagram {
  int from = 0;    // 0: the initiator's side, 1: the responder's
  ike::Path path;  // as the receiver sees it
  Bytes bytes;     // as sent (with the marker on port 4500)
};

struct Scenario {
  std::vector<Datagram> log;  // in send order
  size_t handshake_end = 0;   // log[0, handshake_end): until both sides were up
  // sent: what `side` sent, in order.
  [[nodiscard]] std::vector<const Datagram*> sent(int side) const {
    std::vector<const Datagram*> out;
    for (const Datagram& d : log) {
      if (d.from == side) out.push_back(&d);
    }
    return out;
  }
};

class RecordSink final : public ike::Sink {
 public:
  RecordSink(std::vector<Datagram>& log, std::deque<size_t>& queue, int side)
      : log_(log), queue_(queue), side_(side) {}
  void send(const ike::OutDatagram& d) override {
    Datagram r;
    r.from = side_;
    r.path.local = d.path.remote;
    r.path.remote = d.path.local;
    r.bytes.assign(d.bytes.begin(), d.bytes.end());
    queue_.push_back(log_.size());
    log_.push_back(std::move(r));
  }
  void on_event(const ike::Event& e) override {
    if (e.kind == EventKind::ike_sa_up) {
      up = true;
      handle = e.ike_sa;
    }
  }
  bool up = false;
  uint64_t handle = 0;

 private:
  std::vector<Datagram>& log_;
  std::deque<size_t>& queue_;
  int side_;
};

// record: a handshake between two engines by direct delivery (the setups'
// allocators are replaced by fresh ones, as each target gets), then, when
// closer is 0 or 1, that side closes the IKE SA.
Scenario record(sim::PeerSetup a, uint64_t seed_a, sim::PeerSetup b, uint64_t seed_b, int closer) {
  Scenario sc;
  std::deque<size_t> queue;
  CountingSpis spis_a(false), spis_b(false);
  a.spi_allocator = &spis_a;
  b.spi_allocator = &spis_b;
  auto pa = make(a, b, seed_a);
  auto pb = make(b, a, seed_b);
  RecordSink sa(sc.log, queue, 0), sb(sc.log, queue, 1);
  auto pump = [&] {
    while (!queue.empty()) {
      Datagram d = sc.log[queue.front()];
      queue.pop_front();
      if (d.from == 0) {
        pb->engine->receive(kStart, d.path, d.bytes, sb);
      } else {
        pa->engine->receive(kStart, d.path, d.bytes, sa);
      }
    }
  };
  require(pa->engine->initiate("a-b", kStart, sa).ok(), "recording: initiate");
  pump();
  require(sa.up && sb.up, "recording: the handshake completes");
  sc.handshake_end = sc.log.size();
  if (closer == 0) require(pa->engine->close(sa.handle, kStart, sa).ok(), "recording: close");
  if (closer == 1) require(pb->engine->close(sb.handle, kStart, sb).ok(), "recording: close");
  pump();
  if (closer >= 0) {
    require(pa->engine->ike_sa_count() == 0 && pb->engine->ike_sa_count() == 0, "recording: close completes");
  }
  return sc;
}

bool same_prefix(const Scenario& x, const Scenario& y) {
  if (x.handshake_end != y.handshake_end) return false;
  for (size_t i = 0; i < x.handshake_end; ++i) {
    if (x.log[i].from != y.log[i].from || x.log[i].bytes != y.log[i].bytes) return false;
  }
  return true;
}

bool contains(const std::vector<Bytes>& set, ByteView m) {
  return std::any_of(set.begin(), set.end(), [&](const Bytes& b) { return equal_bytes(b, m); });
}

struct Transcripts {
  // pair[cookies][fragments][closer]: the two configurations (the
  // responder's cookie_threshold 0 when cookies, fragment_size
  // kSmallFragments on both sides when fragments), the initiator (closer 0)
  // or the responder (1) closing the IKE SA after the handshake.
  Scenario pair[2][2][2];
  Scenario ke_to_responder;  // KEi for ECP-256: the responder asks for X25519
  Scenario ke_to_initiator;  // a responder for ECP-256 only asks the initiator for it
  // For an engine on side s (0 initiator, 1 responder):
  std::vector<Datagram> from_peer[2];   // every datagram the other side sent, once
  std::vector<Bytes> completing[2];     // the IKE_AUTH messages (and fragments) among them
  std::vector<Bytes> info_requests[2];  // the INFORMATIONAL requests among them

  [[nodiscard]] uint8_t index_of(int side, const Datagram* d) const {
    const auto& v = from_peer[side];
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i].bytes == d->bytes) return static_cast<uint8_t>(i);
    }
    require(false, "seed: a datagram not in the transcripts");
    return 0;
  }
};

Transcripts build_transcripts() {
  Transcripts t;
  for (int cookies = 0; cookies < 2; ++cookies) {
    for (int fragments = 0; fragments < 2; ++fragments) {
      for (int closer = 0; closer < 2; ++closer) {
        t.pair[cookies][fragments][closer] =
            record(initiator_setup(fragments != 0, nullptr), kInitiatorSeed,
                   responder_setup(cookies != 0, fragments != 0, nullptr), kResponderSeed, closer);
      }
      // Determinism: the same engines run the same handshake.
      require(same_prefix(t.pair[cookies][fragments][0], t.pair[cookies][fragments][1]),
              "recording: handshakes are deterministic");
    }
  }
  sim::PeerSetup a_ecp = initiator_setup(false, nullptr);
  a_ecp.ike_proposals = "aes256gcm16-prfsha256-ecp256-x25519";
  t.ke_to_responder = record(a_ecp, kPartnerSeed, responder_setup(false, false, nullptr), kResponderSeed, -1);
  sim::PeerSetup b_ecp = responder_setup(false, false, nullptr);
  b_ecp.ike_proposals = "aes256gcm16-prfsha256-ecp256";
  t.ke_to_initiator = record(initiator_setup(false, nullptr), kInitiatorSeed, b_ecp, kPartnerSeed, -1);
  require(t.pair[0][0][0].handshake_end == 4 && t.pair[1][0][0].handshake_end == 6 &&
              t.ke_to_responder.handshake_end == 6 && t.ke_to_initiator.handshake_end == 6,
          "recording: COOKIE and INVALID_KE round trips happened");
  require(t.pair[0][1][0].handshake_end > 6, "recording: IKE_AUTH messages are fragmented");

  std::vector<const Scenario*> all;
  for (const auto& by_cookies : t.pair) {
    for (const auto& by_fragments : by_cookies) {
      for (const Scenario& sc : by_fragments) all.push_back(&sc);
    }
  }
  all.push_back(&t.ke_to_responder);
  all.push_back(&t.ke_to_initiator);
  for (const Scenario* sc : all) {
    for (const Datagram& d : sc->log) {
      const int to = 1 - d.from;
      auto& v = t.from_peer[to];
      const bool seen =
          std::any_of(v.begin(), v.end(), [&](const Datagram& x) { return x.bytes == d.bytes; });
      if (seen) continue;
      v.push_back(d);
      const ByteView m = ike_part(d.path, d.bytes);
      auto h = header_of(m);
      require(h.has_value(), "recording: datagrams parse");
      if (h->exchange == wire::ExchangeType::ike_auth) t.completing[to].emplace_back(m.begin(), m.end());
      if (h->exchange == wire::ExchangeType::informational && !h->response())
        t.info_requests[to].emplace_back(m.begin(), m.end());
    }
  }
  require(t.from_peer[0].size() <= 256 && t.from_peer[1].size() <= 256,
          "recording: a token octet indexes it");
  return t;
}

const Transcripts& transcripts() {
  static const Transcripts t = build_transcripts();
  return t;
}

// ---------------------------------------------------------------------------
// The engine under test and what it hands its host.

struct Sent {
  ike::Path path;
  Bytes bytes;
  wire::IkeHeader header;
};
struct Recorded {
  EventKind kind{};
  uint64_t handle = 0;
};

class FuzzSink final : public ike::Sink {
 public:
  FuzzSink(const IpAddress& self, CountingSpis& books) : self_(self), spis_(books) {}

  void send(const ike::OutDatagram& d) override {
    require(d.path.local.address == self_, "datagrams leave from our address");
    if (natt(d.path)) {
      require(d.bytes.size() >= wire::kNonEspMarkerSize && d.bytes[0] == 0 && d.bytes[1] == 0 &&
                  d.bytes[2] == 0 && d.bytes[3] == 0,
              "IKE on port 4500 starts with the non-ESP marker");
    }
    const ByteView m = ike_part(d.path, d.bytes);
    require(m.size() <= limits::kMaxIkeMessageSize, "sent message size");
    require(wire::parse_message(m, &parsed_).ok(), "the engine's datagrams parse");
    remember(parsed_.header.spi_i, parsed_.header.spi_r);
    sent.push_back(Sent{d.path, Bytes(d.bytes.begin(), d.bytes.end()), parsed_.header});
  }

  void on_event(const ike::Event& e) override {
    touch(e.detail);
    touch(e.connection);
    switch (e.kind) {
      case EventKind::ike_sa_up: {
        require(e.ike != nullptr, "ike_sa_up carries the IKE SA");
        const ike::IkeSaInfo& i = *e.ike;
        require(i.spi_i != 0 && i.spi_r != 0, "ike_sa_up: SPIs");
        require(e.ike_sa == (i.initiator ? i.spi_i : i.spi_r), "ike_sa_up: the handle is our SPI");
        require(i.path.local.address == self_, "ike_sa_up: our address");
        touch(i.proposal);
        touch(i.local_id);
        touch(i.remote_id);
        break;
      }
      case EventKind::child_sa_install: {
        require(e.child != nullptr, "child_sa_install carries the child SA");
        const ike::ChildSa& c = *e.child;
        touch(c.inbound_encr_keymat);
        touch(c.inbound_integ_key);
        touch(c.outbound_encr_keymat);
        touch(c.outbound_integ_key);
        touch(c.proposal);
        for (const ike::TsRange& r : c.local_ts) touch(r.addresses.first.bytes());
        for (const ike::TsRange& r : c.remote_ts) touch(r.addresses.last.bytes());
        for (const sa::Selector& s : c.selectors) touch(s.local.first.bytes());
        require(!c.local_ts.empty() && !c.remote_ts.empty() && !c.selectors.empty(),
                "child_sa_install: traffic selectors");
        // What the engine installs must make ESP SAs, with the SPI the
        // host's allocator reserved for it.
        if (e.direction == sa::Direction::inbound) {
          require(spis_.reserved.erase(c.inbound_spi) == 1 && spis_.installed.insert(c.inbound_spi).second,
                  "child_sa_install: the inbound SPI was reserved for it");
          require(esp::InboundSa::create(c.inbound_config(), provider()).ok(),
                  "child_sa_install: inbound SA");
        } else {
          require(spis_.installed.count(c.inbound_spi) == 1, "child_sa_install: outbound after inbound");
          require(esp::OutboundSa::create(c.outbound_config(), provider()).ok(),
                  "child_sa_install: outbound SA");
        }
        break;
      }
      case EventKind::child_sa_delete:
        require(e.child != nullptr, "child_sa_delete carries the child SA");
        require(spis_.installed.erase(e.child->inbound_spi) == 1, "child_sa_delete: an installed child SA");
        break;
      case EventKind::child_sa_up:
        require(e.child != nullptr, "child_sa_up carries the child SA");
        touch(e.child->proposal);
        break;
      case EventKind::ike_sa_down:
      case EventKind::child_sa_failed:
      case EventKind::proposal_mismatch:
      case EventKind::authentication_failed:
      case EventKind::ike_sa_rekeyed:
      case EventKind::peer_address_changed:
      case EventKind::ike_sa_keys: break;
    }
    events.push_back(Recorded{e.kind, e.ike_sa});
  }

  // spis: (SPIi, SPIr) pairs the engine sent, the latest first.
  std::vector<std::pair<uint64_t, uint64_t>> spis;
  std::vector<Sent> sent;
  std::vector<Recorded> events;

 private:
  void remember(uint64_t spi_i, uint64_t spi_r) {
    const std::pair<uint64_t, uint64_t> p{spi_i, spi_r};
    spis.erase(std::remove(spis.begin(), spis.end(), p), spis.end());
    spis.insert(spis.begin(), p);
    if (spis.size() > 4) spis.pop_back();
  }
  IpAddress self_;
  CountingSpis& spis_;
  wire::ParsedMessage parsed_;
};

struct Target {
  int side = 0;  // 0: the initiator's configuration, 1: the responder's
  std::unique_ptr<CountingSpis> spis;
  std::unique_ptr<sim::Peer> peer;  // after spis: destroyed before it
  IpAddress self, other;
  std::unique_ptr<FuzzSink> sink;
  Timestamp now = kStart;
  size_t creations = 0;   // initiate() and acquire() calls that may start an IKE SA
  size_t deliveries = 0;  // receive() calls
  size_t authentic_auth = 0, authentic_info = 0;
  // auth_marks: events.size() when each authentic IKE_AUTH datagram arrived.
  std::vector<size_t> auth_marks;
  std::vector<uint64_t> handles;  // from initiate() and ike_sa_up
  std::set<uint64_t> closed;      // close() called on these

  ike::IkeEngine& engine() { return *peer->engine; }
};

size_t count(const FuzzSink& s, EventKind k) {
  return static_cast<size_t>(
      std::count_if(s.events.begin(), s.events.end(), [&](const Recorded& r) { return r.kind == k; }));
}

void check_state(Target& t) {
  ike::IkeEngine& e = t.engine();
  const size_t n = e.ike_sa_count();
  require(e.half_open_count() <= n && e.established_count() <= n, "counts: half-open and established");
  require(n <= t.creations + t.deliveries, "at most one IKE SA per datagram or request");
  if (n > e.established_count() || e.half_open_count() > 0)
    require(e.next_timeout().has_value(), "every IKE SA not established has a timer");
  const ike::EngineStats& st = e.stats();
  require(st.received == t.deliveries && st.dropped <= st.received, "stats: received and dropped");
  const size_t up = count(*t.sink, EventKind::ike_sa_up);
  require(st.established == up, "stats: established counts ike_sa_up");
  require(up <= t.authentic_auth, "an IKE SA comes up only after an authentic IKE_AUTH datagram");
  for (const Recorded& r : t.sink->events) {
    if (r.kind == EventKind::ike_sa_up &&
        std::find(t.handles.begin(), t.handles.end(), r.handle) == t.handles.end()) {
      t.handles.push_back(r.handle);
    }
  }
}

void tick(Target& t) {
  ike::IkeEngine& e = t.engine();
  const std::optional<Timestamp> due = e.next_timeout();
  const size_t sent = t.sink->sent.size(), events = t.sink->events.size();
  e.on_timer(t.now, *t.sink);
  if (!due || *due > t.now) {
    require(t.sink->sent.size() == sent && t.sink->events.size() == events,
            "a spurious on_timer does nothing");
  }
  const std::optional<Timestamp> next = e.next_timeout();
  require(!next || *next > t.now, "on_timer leaves no deadline in the past");
  check_state(t);
}

// one_message: the datagrams sent since `from` are one message: a single
// datagram, or SKF fragments with the same header fields.
bool one_message(const std::vector<Sent>& sent, size_t from) {
  if (sent.size() <= from + 1) return true;
  const wire::IkeHeader& h = sent[from].header;
  for (size_t i = from; i < sent.size(); ++i) {
    const wire::IkeHeader& x = sent[i].header;
    if (x.next_payload != wire::PayloadType::skf || x.spi_i != h.spi_i || x.spi_r != h.spi_r ||
        x.message_id != h.message_id || x.exchange != h.exchange || x.flags != h.flags) {
      return false;
    }
  }
  return true;
}

void deliver(Target& t, const ike::Path& path, ByteView datagram) {
  const Transcripts& tr = transcripts();
  const ByteView m = ike_part(path, datagram);
  const bool auth = contains(tr.completing[t.side], m);
  const bool info = contains(tr.info_requests[t.side], m);
  Bytes buf(datagram.begin(), datagram.end());  // exactly sized: ASan sees any overread
  const ike::EngineStats before = t.engine().stats();
  const size_t sent = t.sink->sent.size(), events = t.sink->events.size();
  t.engine().receive(t.now, path, buf, *t.sink);
  ++t.deliveries;
  t.authentic_auth += auth ? 1 : 0;
  if (auth) t.auth_marks.push_back(events);
  t.authentic_info += info ? 1 : 0;
  const ike::EngineStats& after = t.engine().stats();
  require(one_message(t.sink->sent, sent), "a datagram is answered with one message at most");
  if (after.dropped != before.dropped) {
    require(
        after.dropped == before.dropped + 1 && t.sink->sent.size() == sent && t.sink->events.size() == events,
        "a dropped datagram is dropped silently");
  }
  check_state(t);
}

ike::Path path_for(const Target& t, unsigned sel) {
  static const IpAddress nat = IpAddress::parse("203.0.113.5").value();
  switch (sel & 3u) {
    case 0: return {{t.self, 500}, {t.other, 500}};
    case 1: return {{t.self, kNattPort}, {t.other, kNattPort}};
    case 2: return {{t.self, kNattPort}, {nat, 44500}};
    default: return {{t.self, 500}, {nat, 500}};
  }
}

void initiate(Target& t) {
  auto h = t.engine().initiate("a-b", t.now, *t.sink);
  require(h.ok(), "initiate");
  ++t.creations;
  t.handles.push_back(*h);
  check_state(t);
}

// establish: replay the handshake of `sc` to the engine; what it sends
// must be what its recorded twin sent.
void establish(Target& t, const Scenario& sc) {
  size_t cursor = t.sink->sent.size();
  if (t.side == 0) initiate(t);
  for (size_t i = 0; i < sc.handshake_end; ++i) {
    const Datagram& d = sc.log[i];
    if (d.from != t.side) {
      deliver(t, d.path, d.bytes);
      continue;
    }
    require(cursor < t.sink->sent.size(), "the handshake replays: a datagram is missing");
    const Sent& s = t.sink->sent[cursor++];
    require(s.bytes == d.bytes && same_endpoint(s.path.local, d.path.remote) &&
                same_endpoint(s.path.remote, d.path.local),
            "the handshake replays byte for byte");
  }
  require(cursor == t.sink->sent.size() && t.engine().established_count() == 1,
          "the replayed handshake establishes the IKE SA");
}

void token(Target& t, uint8_t flags, ByteView body) {
  const uint8_t op = body.empty() ? 0 : body[0];
  if ((op & 0x80) != 0) {
    if (t.handles.empty()) {
      require(t.engine().close(0x0123456789abcdefull, t.now, *t.sink).code() == Errc::invalid_argument,
              "close: an unknown handle");
      return;
    }
    const uint64_t h = t.handles[(op & 15u) % t.handles.size()];
    t.closed.insert(h);
    const Status s = t.engine().close(h, t.now, *t.sink);
    require(s.ok() || s.code() == Errc::invalid_argument, "close");
    check_state(t);
    return;
  }
  if ((op & 0x40) != 0) {
    const bool known = (op & 1) != 0;
    const Status s = t.engine().acquire(known ? 1 : 7, t.now, *t.sink);
    // Success without a new IKE SA when one for the connection exists; the
    // responder's connection has no remote address to initiate to.
    require(known ? s.ok() || (t.side == 1 && s.code() == Errc::invalid_argument)
                  : s.code() == Errc::invalid_argument,
            "acquire");
    t.creations += known ? 1 : 0;
    check_state(t);
    return;
  }
  const auto& v = transcripts().from_peer[t.side];
  const Datagram& d = v[op % v.size()];
  if ((flags & flag::kPath) == 0) {
    deliver(t, d.path, d.bytes);
    return;
  }
  const ike::Path path = path_for(t, flags & flag::kPath);
  deliver(t, path, frame(path, ike_part(d.path, d.bytes), false));
}

void datagram(Target& t, uint8_t flags, ByteView body) {
  Bytes m(body.begin(), body.end());
  if ((flags & flag::kPatchSpis) != 0 && m.size() >= wire::kIkeHeaderSize && !t.sink->spis.empty()) {
    const auto& spis = t.sink->spis;
    const auto& [spi_i, spi_r] = spis[((flags & flag::kSpiPair) != 0 ? 1u : 0u) % spis.size()];
    for (size_t i = 0; i < 8; ++i) m[i] = static_cast<uint8_t>(spi_i >> (56 - 8 * i));
    if (spi_r != 0) {
      for (size_t i = 0; i < 8; ++i) m[8 + i] = static_cast<uint8_t>(spi_r >> (56 - 8 * i));
    }
  }
  if ((flags & flag::kFixLength) != 0 && m.size() >= wire::kIkeHeaderSize) {
    const auto n = static_cast<uint32_t>(m.size());
    for (size_t i = 0; i < 4; ++i) m[24 + i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  }
  const ike::Path path = path_for(t, flags & flag::kPath);
  const Bytes d = frame(path, m, (flags & flag::kRaw) != 0);
  deliver(t, path, d);
  if ((flags & flag::kTwice) != 0) deliver(t, path, d);
}

// check_events: the event sequence of the whole input.
void check_events(const Target& t) {
  std::map<uint64_t, size_t> up;  // handle -> index of its ike_sa_up
  std::set<uint64_t> down;
  std::vector<std::pair<uint64_t, size_t>> installs;
  for (size_t k = 0; k < t.sink->events.size(); ++k) {
    const Recorded& r = t.sink->events[k];
    if (r.handle != 0) require(down.count(r.handle) == 0, "no event names an IKE SA after its ike_sa_down");
    switch (r.kind) {
      case EventKind::ike_sa_up: require(up.emplace(r.handle, k).second, "one ike_sa_up per IKE SA"); break;
      case EventKind::ike_sa_down: {
        down.insert(r.handle);
        auto u = up.find(r.handle);
        if (u == up.end()) break;
        // Closed, deleted by the peer, or replaced by a new IKE SA of the
        // same peer (INITIAL_CONTACT, RFC 7296 2.4): each needs the host or
        // an authentic message.
        const bool replaced = std::any_of(t.auth_marks.begin(), t.auth_marks.end(),
                                          [&](size_t mark) { return mark > u->second && mark <= k; });
        require(t.closed.count(r.handle) != 0 || t.authentic_info > 0 || replaced,
                "an established IKE SA goes down only when closed or deleted by its authentic peer");
        break;
      }
      case EventKind::child_sa_install: {
        auto it = std::find_if(installs.begin(), installs.end(),
                               [&](const std::pair<uint64_t, size_t>& p) { return p.first == r.handle; });
        if (it == installs.end()) {
          installs.emplace_back(r.handle, 1);
        } else {
          require(++it->second <= 2, "one child SA (two directions) per IKE SA");
        }
        break;
      }
      case EventKind::child_sa_up:
      case EventKind::child_sa_delete:
      case EventKind::child_sa_failed:
      case EventKind::proposal_mismatch:
      case EventKind::authentication_failed:
      case EventKind::ike_sa_rekeyed:
      case EventKind::peer_address_changed:
      case EventKind::ike_sa_keys: break;
    }
  }
  for (const auto& [handle, n] : installs) {
    require(up.count(handle) != 0, "child SAs are installed only under an IKE SA that came up");
  }
}

int run(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Transcripts& tr = transcripts();
  const unsigned mode = data[0] % 3u, v = data[0] / 3u;
  const bool cookies = (v & 1u) != 0, fragments = (v & 4u) != 0, no_spis = mode != 2 && (v & 8u) != 0;
  Target t;
  t.side = (mode == 1 || (mode == 2 && (v & 2u) != 0)) ? 0 : 1;
  t.spis = std::make_unique<CountingSpis>(no_spis);
  const sim::PeerSetup a = initiator_setup(fragments, t.spis.get());
  const sim::PeerSetup b = responder_setup(cookies, fragments, t.spis.get());
  t.peer = t.side == 0 ? make(a, b, kInitiatorSeed) : make(b, a, kResponderSeed);
  t.self = t.peer->endpoint.address;
  t.other = IpAddress::parse(t.side == 0 ? b.address : a.address).value();
  t.sink = std::make_unique<FuzzSink>(t.self, *t.spis);

  if (mode == 1) {
    initiate(t);
    if (cookies) initiate(t);
  } else if (mode == 2) {
    establish(t, tr.pair[cookies ? 1 : 0][fragments ? 1 : 0][0]);
  }

  size_t at = 1, n = 0;
  while (at + 4 <= size && n < kMaxDatagrams) {
    const uint8_t flags = data[at], step = data[at + 1];
    size_t len = size_t{data[at + 2]} << 8 | data[at + 3];
    at += 4;
    len = std::min(len, size - at);
    const ByteView body(data + at, len);
    at += len;
    ++n;
    t.now = t.now + std::chrono::milliseconds(4 * int64_t{step} * step);
    tick(t);
    if ((flags & flag::kToken) != 0) {
      token(t, flags, body);
    } else {
      datagram(t, flags, body);
    }
  }

  // Run the timers dry: retransmissions give up, half-open SAs expire.
  const size_t bound = 8 * (t.engine().ike_sa_count() + 1);
  for (size_t i = 0; i < bound; ++i) {
    const std::optional<Timestamp> next = t.engine().next_timeout();
    if (!next) break;
    if (*next > t.now) t.now = *next;
    tick(t);
  }
  require(!t.engine().next_timeout().has_value(), "the timers run dry");
  require(t.engine().ike_sa_count() == t.engine().established_count() && t.engine().half_open_count() == 0,
          "only established IKE SAs outlive their timers");
  require(t.spis->reserved.empty(), "every reserved child SPI is installed or released");
  check_events(t);
  static const bool trace = std::getenv("IPSEC_FUZZ_IKE_ENGINE_TRACE") != nullptr;
  if (trace) {
    const ike::EngineStats& st = t.engine().stats();
    std::fprintf(stderr, "mode %u v %u: %zu datagrams in, %zu out; received %llu dropped %llu resent %llu\n",
                 mode, v, t.deliveries, t.sink->sent.size(), static_cast<unsigned long long>(st.received),
                 static_cast<unsigned long long>(st.dropped),
                 static_cast<unsigned long long>(st.responses_resent));
    for (const Sent& d : t.sink->sent)
      std::fprintf(stderr, "  sent %zu octets to %s[%u]\n", d.bytes.size(),
                   std::string(d.path.remote.address.to_text().view()).c_str(), d.path.remote.port);
    for (const Recorded& r : t.sink->events)
      std::fprintf(stderr, "  %016llx %s\n", static_cast<unsigned long long>(r.handle),
                   std::string(ike::to_string(r.kind)).c_str());
  }
  t.peer.reset();
  require(t.spis->reserved.empty(), "destroying the engine releases nothing twice");
  return 0;
}

// ---------------------------------------------------------------------------
// Seeds (IPSEC_FUZZ_IKE_ENGINE_SEEDS).

class Input {
 public:
  explicit Input(uint8_t mode) { b_.push_back(mode); }
  Input& datagram(ByteView m, uint8_t flags = 0, uint8_t step = 0) {
    b_.push_back(flags);
    b_.push_back(step);
    b_.push_back(static_cast<uint8_t>(m.size() >> 8));
    b_.push_back(static_cast<uint8_t>(m.size()));
    b_.insert(b_.end(), m.begin(), m.end());
    return *this;
  }
  // msg: a recorded datagram as it was (port 500, or 4500 with the marker).
  Input& msg(const Datagram* d, uint8_t step = 0) {
    return datagram(ike_part(d->path, d->bytes), natt(d->path) ? 1 : 0, step);
  }
  Input& token(uint8_t op, uint8_t flags = 0, uint8_t step = 0) {
    const uint8_t o[] = {op};
    return datagram(o, static_cast<uint8_t>(flags | flag::kToken), step);
  }
  [[nodiscard]] const Bytes& bytes() const { return b_; }

 private:
  Bytes b_;
};

// The mode octet: mode + 3 * variant bits.
constexpr uint8_t mode_octet(unsigned mode, unsigned v) { return static_cast<uint8_t>(mode + 3 * v); }

// no_proposal_chosen: the answer of a responder without a common proposal.
Bytes no_proposal_chosen(uint64_t spi_i) {
  wire::IkeHeader h;
  h.spi_i = spi_i;
  h.exchange = wire::ExchangeType::ike_sa_init;
  h.flags = wire::ike_flag::kResponse;
  Bytes storage(128);
  wire::MessageBuilder b(storage, h);
  b.payloads().add_notify(wire::NotifyType::no_proposal_chosen);
  auto m = b.finish();
  require(m.ok(), "seed: build NO_PROPOSAL_CHOSEN");
  return Bytes(m->begin(), m->end());
}

void write_seeds(const std::string& dir) {
  const Transcripts& tr = transcripts();
  std::vector<std::pair<std::string, Input>> seeds;
  auto add = [&](const char* name, const Input& in) { seeds.emplace_back(name, in); };
  // x[k]: what side 0 (a) or 1 (b) sent in a recorded exchange, in order.
  const auto pa = tr.pair[0][0][0].sent(0), pb = tr.pair[0][0][0].sent(1);  // a closes: pa[2] Delete
  const auto qa = tr.pair[0][0][1].sent(0), qb = tr.pair[0][0][1].sent(1);  // b closes: qb[2] Delete
  const auto ca = tr.pair[1][0][0].sent(0), cb = tr.pair[1][0][0].sent(1);  // cookies
  const auto db = tr.pair[1][0][1].sent(1);
  const auto fa = tr.pair[0][1][0].sent(0), fb = tr.pair[0][1][0].sent(1);  // fragments
  const auto ka = tr.ke_to_responder.sent(0), kb = tr.ke_to_initiator.sent(1);
  auto r = [&](const Datagram* d) { return tr.index_of(1, d); };  // a token replaying d to a responder
  auto i = [&](const Datagram* d) { return tr.index_of(0, d); };  // to an initiator
  const ByteView deletion = ike_part(pa[2]->path, pa[2]->bytes);
  Bytes forged(deletion.begin(), deletion.end());
  forged.back() ^= 1;  // the ICV no longer verifies
  const uint64_t spi_a = header_of(ike_part(pa[0]->path, pa[0]->bytes))->spi_i;
  // The fragmented IKE_AUTH request: fa[1] .. fa[fa.size() - 2] (the last is the Delete).
  const size_t frags = fa.size() - 2;
  require(frags >= 2 && fb.size() >= 3, "seed: fragments");

  // Mode 0: a responder.
  add("resp-init", Input(0).msg(pa[0]));
  add("resp-init-4500", Input(0).datagram(ike_part(pa[0]->path, pa[0]->bytes), 1));
  add("resp-init-nat", Input(0).datagram(ike_part(pa[0]->path, pa[0]->bytes), 2));
  add("resp-init-other-address", Input(0).datagram(ike_part(pa[0]->path, pa[0]->bytes), 3));
  add("resp-handshake", Input(0).msg(pa[0]).msg(pa[1]));
  add("resp-handshake-retransmits", Input(0).msg(pa[0]).msg(pa[0], 30).msg(pa[1]).msg(pa[1], 20));
  add("resp-handshake-deleted", Input(0).msg(pa[0]).msg(pa[1]).msg(pa[2], 10));
  add("resp-half-open-expires", Input(0).msg(pa[0]).msg(pa[1], 100));
  add("resp-forged-auth", Input(0).msg(pa[0]).datagram(forged, flag::kPatchSpis));
  add("resp-invalid-ke", Input(0).msg(ka[0]));
  add("resp-invalid-ke-retry", Input(0).msg(ka[0]).msg(ka[1]).msg(ka[2]));
  add("resp-replay", Input(0).token(r(pa[0])).token(r(pa[1]), 1));
  add("resp-acquire", Input(0).token(0x41).token(0x40));
  add("resp-cookie", Input(mode_octet(0, 1)).msg(ca[0]));
  add("resp-cookie-echoed", Input(mode_octet(0, 1)).msg(ca[0]).msg(ca[1]));
  add("resp-cookie-handshake", Input(mode_octet(0, 1)).msg(ca[0]).msg(ca[1]).msg(ca[2]));
  add("resp-cookie-many", Input(mode_octet(0, 1)).msg(ca[0]).msg(ka[0]).msg(ka[1]).msg(ca[1]));
  add("resp-no-spi", Input(mode_octet(0, 8)).msg(pa[0]).msg(pa[1]));
  {
    Input in(mode_octet(0, 4));  // the fragments of IKE_AUTH backwards, one twice
    in.msg(fa[0]);
    for (size_t k = frags; k >= 1; --k) in.msg(fa[k]);
    in.msg(fa[frags]);
    add("resp-fragments-reversed", in);
  }
  {
    Input in(mode_octet(0, 4));  // all but the last fragment, then the half-open SA expires
    in.msg(fa[0]);
    for (size_t k = 1; k < frags; ++k) in.msg(fa[k]);
    add("resp-fragments-incomplete", in);
  }

  // Mode 1: an initiator.
  add("init-timeout", Input(1));
  add("init-response", Input(1).msg(pb[0]));
  add("init-response-patched",
      Input(mode_octet(1, 1)).datagram(ike_part(pb[0]->path, pb[0]->bytes), flag::kPatchSpis));
  add("init-handshake", Input(1).msg(pb[0]).msg(pb[1]));
  add("init-deleted", Input(1).msg(pb[0]).msg(pb[1]).msg(qb[2], 5));
  add("init-cookie", Input(1).msg(cb[0]));
  add("init-cookie-handshake", Input(1).msg(cb[0]).msg(cb[1]).msg(cb[2]));
  add("init-invalid-ke", Input(1).msg(kb[0]));
  add("init-invalid-ke-handshake", Input(1).msg(kb[0]).msg(kb[1]).msg(kb[2]));
  add("init-no-proposal", Input(1).datagram(no_proposal_chosen(spi_a)));
  add("init-replay", Input(1).token(i(pb[0])).token(i(pb[1]), 0, 40));
  add("init-no-spi", Input(mode_octet(1, 8)).msg(pb[0]).msg(pb[1]));
  {
    Input in(mode_octet(1, 4));  // the fragmented IKE_AUTH response, last fragment first
    in.msg(fb[0]).msg(fb[fb.size() - 2]);
    for (size_t k = 1; k + 2 < fb.size(); ++k) in.msg(fb[k]);
    add("init-fragments", in);
  }

  // Mode 2: established (v & 2: the initiator; v & 1: cookies; v & 4: fragments).
  add("est-resp-retransmit", Input(2).msg(pa[1]).msg(pa[1], 2));
  add("est-resp-deleted", Input(2).token(r(pa[2])));
  add("est-resp-close", Input(2).token(0x80).token(r(qa[2])));
  add("est-resp-close-timeout", Input(2).token(0x80));
  add("est-resp-forged", Input(2).datagram(forged, flag::kPatchSpis));
  add("est-resp-init-again", Input(2).msg(pa[0], 10).msg(pa[1]));
  add("est-resp-nat", Input(2).token(r(pa[2]), 2));
  add("est-resp-cookie", Input(mode_octet(2, 1)).msg(ca[2]).token(r(ca[3])).msg(ca[0]));
  add("est-resp-fragments-retransmit", Input(mode_octet(2, 4)).msg(fa[1]).msg(fa[2]).msg(fa[frags]));
  add("est-init-deleted", Input(mode_octet(2, 2)).token(i(qb[2])));
  add("est-init-close", Input(mode_octet(2, 2)).token(0x80).token(i(pb[2]), 0, 30));
  add("est-init-stale-response", Input(mode_octet(2, 2)).msg(pb[1]).msg(pb[0]));
  add("est-init-cookie", Input(mode_octet(2, 3)).msg(cb[0]).token(i(db[2])));
  add("est-init-fragments-stale", Input(mode_octet(2, 6)).msg(fb[1]).token(0x80).msg(fb[2]));

  for (const auto& [name, in] : seeds) {
    const std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    const Bytes& b = in.bytes();
    if (f == nullptr || std::fwrite(b.data(), 1, b.size(), f) != b.size()) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      std::exit(1);
    }
    if (std::fclose(f) != 0) {  // the buffered tail is written here
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      std::exit(1);
    }
    run(b.data(), b.size());  // every seed keeps the invariants
  }
  std::fprintf(stderr, "wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool seeded = [] {
    if (const char* dir = std::getenv("IPSEC_FUZZ_IKE_ENGINE_SEEDS")) {
      write_seeds(dir);
      std::fflush(stderr);
      std::_Exit(0);  // not exit(): libFuzzer reports a target that exits
    }
    return true;
  }();
  (void)seeded;
  return run(data, size);
}
