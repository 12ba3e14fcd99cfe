// SPDX-License-Identifier: Apache-2.0
// demo: two IKEv2 gateways in one process negotiate an IKE SA and an ESP
// tunnel over an in-memory link, carry traffic through their datapaths and
// close the tunnel again, on the public API only.
//
// Gateway A (initiator) and gateway B (responder) each have an IkeEngine, a
// sa::Datapath (SPD and SAD) and a PAD entry for the other (PSK). Their
// Sinks queue datagrams into the other side's inbox and install the
// negotiated child SAs into their own SAD. Time is a virtual clock that the
// demo advances by a link delay; the report measures real time. Then 1000
// packets of 1400 bytes go each way through Datapath::outbound and
// Datapath::inbound in place in a host buffer, a tampered and a replayed
// packet are dropped, and A deletes the IKE SA. No key is printed.
#include <ipsec/ipsec.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace ipsec;

namespace {

using Clock = std::chrono::steady_clock;
using Bytes = std::vector<uint8_t>;

constexpr std::string_view kPsk = "correct horse battery staple";  // the demo's shared secret
constexpr uint32_t kReqid = 1;
constexpr Duration kLinkDelay = std::chrono::milliseconds(5);  // one way, virtual
constexpr size_t kPackets = 1000, kPacketSize = 1400;
constexpr size_t kHeadroom = limits::kEspMaxHeadroom, kTailroom = limits::kEspMaxTailroom;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}
double ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
std::string str(std::string_view v) { return std::string(v); }

// Setup steps must succeed; the demo stops at the first that does not.
void need(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "demo: %s failed: %s %s\n", what, str(s.name()).c_str(), s.field());
  std::exit(1);
}
template <typename T>
T take(Result<T> r, const char* what) {
  need(r.status(), what);
  return std::move(r).value();
}

// check: a verified step; a failure is printed where it happens and makes
// the exit status 1.
int g_passed = 0;
std::vector<std::string> g_failed;
void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    g_failed.push_back(what);
    std::printf("     FAILED: %s\n", what.c_str());
  }
}

// udp_packet: an IPv4 UDP datagram of `size` octets in all, as a host reads
// it from its TUN device (header checksum valid; UDP checksum 0, allowed
// over IPv4). Octets 28-31 carry a packet number (stamp).
Bytes udp_packet(const char* src, const char* dst, size_t size) {
  Bytes p(size);
  for (size_t i = 28; i < size; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
  const IpAddress from = take(IpAddress::parse(src), src), to = take(IpAddress::parse(dst), dst);
  ByteWriter w(p);
  w.put_u32(0x45000000 | static_cast<uint32_t>(size));  // version 4, IHL 5, total length
  w.put_u32(0x00004000);                                // id 0, DF
  w.put_u16(0x4011);                                    // TTL 64, UDP
  const auto checksum = w.reserve_u16();
  w.put_bytes(from.bytes());
  w.put_bytes(to.bytes());
  w.patch(checksum, wire::internet_checksum(w.written()));
  w.put_u32(40000u << 16 | 9);                        // ports 40000 -> 9 (discard)
  w.put_u32(static_cast<uint32_t>(size - 20) << 16);  // length, checksum 0
  return p;
}
void stamp(Bytes& p, size_t n) { store_be32(MutableByteView(p).subspan<28, 4>(), static_cast<uint32_t>(n)); }

struct Datagram {
  ike::Path path;  // as the receiver sees it
  Bytes bytes;
};

// World: what both gateways share: crypto, the virtual clock, the log.
struct World {
  crypto::DefaultProvider provider;
  crypto::SystemRng rng;
  Timestamp now = Timestamp::from_nanoseconds(1'000'000'000);
  std::vector<std::string> log;  // the engines' lines and the host's, in order
};

// Gateway: one side with everything it owns. It is the engine's Sink (it
// never calls the engine back) and its LogSink.
struct Gateway final : ike::Sink, ike::LogSink {
  Gateway(World& w, const char* n, const char* identity, const char* addr, const char* net)
      : world(w),
        name(n),
        id(identity),
        address(take(IpAddress::parse(addr), addr)),
        subnet(take(IpPrefix::parse(net), net)) {}

  World& world;
  std::string name, id;
  IpAddress address;
  IpPrefix subnet;
  Gateway* peer = nullptr;
  std::deque<Datagram> inbox;
  size_t sent = 0, sent_bytes = 0;
  sa::Pad pad;
  std::unique_ptr<sa::Datapath> datapath;
  std::unique_ptr<ike::SadSpiAllocator> spis;
  std::unique_ptr<ike::IkeEngine> engine;

  // What the events reported (copied: their views live during the call only).
  bool ike_up = false, child_up = false, ike_down = false;
  uint64_t ike_handle = 0;  // the current IKE SA (a rekey replaces it)
  size_t ike_rekeys = 0, child_rekeys = 0;
  bool narrowed = false;  // the child SA's traffic selectors differ from the subnets
  uint64_t spi_i = 0, spi_r = 0;
  uint32_t spi_in = 0, spi_out = 0;
  size_t deleted = 0;
  std::string ike_proposal, ids, child_proposal;

  // setup: the PAD entry for `peer`, the connection, the datapath with its
  // SPD (PROTECT subnet <-> subnet with reqid 1) and the engine.
  void setup(Gateway& other, bool initiator) {
    peer = &other;
    sa::Selector traffic;
    traffic.local = sa::AddressRange::of(subnet);
    traffic.remote = sa::AddressRange::of(peer->subnet);
    sa::PadEntryConfig pc;
    pc.id = 1;
    pc.auth = sa::AuthMethodSet().allow(wire::AuthMethod::shared_key_mic);
    pc.psk = as_bytes(kPsk);
    pc.children = std::span<const sa::Selector>(&traffic, 1);
    auto pattern = take(sa::IdPattern::parse("fqdn:" + peer->id), "PAD pattern");
    need(pad.add(take(sa::PadEntry::make(std::move(pattern), pc), "PAD entry")), "PAD add");

    ike::Connection c;
    c.children.resize(1);
    c.name = initiator ? "a-b" : "b-a";
    c.local_address = address;
    c.remote_address = peer->address;
    c.local_id = take(ike::Identity::parse("fqdn:" + id), "identity");
    c.local_auth = ike::LocalAuth::psk;
    c.peer = 1;
    c.ike_proposals =
        take(ike::parse_proposals("aes256gcm16-prfsha256-x25519", wire::ProtocolId::ike), "IKE");
    c.children[0].proposals = take(ike::parse_proposals("aes256gcm16", wire::ProtocolId::esp), "ESP");
    c.children[0].local_ts.resize(1);
    c.children[0].local_ts[0].addresses = traffic.local;
    c.children[0].remote_ts.resize(1);
    c.children[0].remote_ts[0].addresses = traffic.remote;
    c.children[0].mode = esp::Mode::tunnel;
    c.children[0].reqid = kReqid;

    datapath = take(sa::Datapath::create(sa::DatapathConfig{}), "datapath");
    sa::Policy protect;
    protect.id = 1;
    protect.selector = traffic;
    protect.action = sa::PolicyAction::protect;
    protect.reqid = kReqid;
    for (sa::Direction d : {sa::Direction::outbound, sa::Direction::inbound})
      need(datapath->set_policies(d, std::span<const sa::Policy>(&protect, 1)), "SPD");
    spis = std::make_unique<ike::SadSpiAllocator>(datapath->sad(), world.rng);

    ike::EngineConfig config;
    config.connections.push_back(std::move(c));
    config.pad = &pad;
    config.spi_allocator = spis.get();
    config.log = this;
    engine = take(ike::IkeEngine::create(std::move(config), world.provider, world.rng), "engine");
  }

  void log(ike::LogLevel, std::string_view line) override {
    // Drop the "<connection|SPI> " prefix: the report prints the SPIs once.
    if (const size_t end = line.find("> "); !line.empty() && line[0] == '<' && end != std::string_view::npos)
      line.remove_prefix(end + 2);
    world.log.push_back(name + "  " + str(line));
  }

  void send(const ike::OutDatagram& d) override {
    ++sent;
    sent_bytes += d.bytes.size();
    peer->inbox.push_back(Datagram{{d.path.remote, d.path.local}, Bytes(d.bytes.begin(), d.bytes.end())});
  }

  void on_event(const ike::Event& e) override {
    switch (e.kind) {
      case ike::EventKind::ike_sa_up:
        ike_up = true;
        ike_handle = e.ike_sa;
        spi_i = e.ike->spi_i;
        spi_r = e.ike->spi_r;
        ike_proposal = str(e.ike->proposal);
        ids = str(e.ike->local_id) + " (" + str(e.ike->path.local.address.to_text().view()) + ") <-> " +
              str(e.ike->remote_id) + " (" + str(e.ike->path.remote.address.to_text().view()) + ")";
        break;
      case ike::EventKind::child_sa_install: {
        const Status s =
            ike::install_child(datapath->sad(), world.provider, *e.child, e.direction, world.now);
        check(s.ok(), name + ": install the child SA into the SAD: " + str(s.name()));
        break;
      }
      case ike::EventKind::child_sa_up:
        child_up = true;
        if (e.child->rekeys != 0) ++child_rekeys;
        spi_in = e.child->inbound_spi;
        spi_out = e.child->outbound_spi;
        child_proposal = str(e.child->proposal);
        narrowed = e.child->local_ts.size() != 1 || e.child->remote_ts.size() != 1 ||
                   e.child->local_ts[0].addresses != sa::AddressRange::of(subnet) ||
                   e.child->remote_ts[0].addresses != sa::AddressRange::of(peer->subnet);
        break;
      case ike::EventKind::child_sa_delete: {
        ike::remove_child(datapath->sad(), *e.child);
        ++deleted;
        char text[80];  // what the host did, in the message log
        std::snprintf(text, sizeof text, "  (host) SAs %08x_i %08x_o removed from the SAD",
                      e.child->inbound_spi, e.child->outbound_spi);
        world.log.push_back(name + text);
        break;
      }
      case ike::EventKind::ike_sa_down: ike_down = true; break;
      case ike::EventKind::ike_sa_rekeyed:
        ike_handle = e.ike_sa;
        ++ike_rekeys;
        break;
      case ike::EventKind::peer_address_changed:
      case ike::EventKind::ike_sa_keys: break;
      case ike::EventKind::child_sa_failed:
      case ike::EventKind::proposal_mismatch:
      case ike::EventKind::authentication_failed:
        check(false, name + ": " + str(to_string(e.kind)) + ": " + str(e.detail));
        break;
    }
  }

  // send_packet: an inner packet from the TUN side through Datapath::outbound,
  // in place in `storage`: pb then holds outer IPv4 | ESP | ... | ICV.
  sa::DatapathResult send_packet(ByteView inner, Bytes& storage, PacketBuffer& pb) {
    (void)copy_bytes(MutableByteView(storage).subspan(kHeadroom), inner);
    pb = take(PacketBuffer::over(storage, kHeadroom, inner.size()), "packet buffer");
    const sa::ReadSection rs = datapath->enter(0);
    return datapath->outbound(rs, pb);
  }
  // receive_packet: a datagram from the wire through Datapath::inbound; on
  // deliver, pb holds the inner packet.
  sa::DatapathResult receive_packet(PacketBuffer& pb) {
    const sa::ReadSection rs = datapath->enter(0);
    return datapath->inbound(rs, pb);
  }
};

// pump: deliver what is on the link, one link delay per round, until done()
// holds or nothing is left to do; timers run as the clock passes them.
template <typename Done>
bool pump(Gateway& a, Gateway& b, Done done) {
  Timestamp& now = a.world.now;
  for (int round = 0; round < 100 && !done(); ++round) {
    if (a.inbox.empty() && b.inbox.empty()) {
      auto t = a.engine->next_timeout();
      if (auto tb = b.engine->next_timeout(); tb && (!t || *tb < *t)) t = tb;
      if (!t) break;
      if (*t > now) now = *t;
    } else {
      now = now + kLinkDelay;
    }
    std::deque<Datagram> for_a, for_b;  // in flight now; answers wait for the next round
    for_a.swap(a.inbox);
    for_b.swap(b.inbox);
    for (Datagram& d : for_a) a.engine->receive(now, d.path, d.bytes, a);
    for (Datagram& d : for_b) b.engine->receive(now, d.path, d.bytes, b);
    for (Gateway* g : {&a, &b}) {
      if (auto t = g->engine->next_timeout(); t && *t <= now) g->engine->on_timer(now, *g);
    }
  }
  return done();
}

void print_log(const std::vector<std::string>& lines, size_t from) {
  for (size_t i = from; i < lines.size(); ++i) std::printf("     %s\n", lines[i].c_str());
}

int finish() {
  std::printf(g_failed.empty() ? "\nall %d checks passed\n" : "\n%d checks passed; FAILED:\n", g_passed);
  for (const std::string& f : g_failed) std::printf("  %s\n", f.c_str());
  return g_failed.empty() ? 0 : 1;
}

}  // namespace

int main() {
  World world;
  Gateway a(world, "A", "a.example.test", "192.0.2.1", "10.1.0.0/16");
  Gateway b(world, "B", "b.example.test", "198.51.100.2", "10.2.0.0/16");
  a.setup(b, true);
  b.setup(a, false);
  Timestamp& now = world.now;

  std::printf("ipsec demo: two IKEv2 gateways in one process, an in-memory link between them\n\n");
  for (const Gateway* g : {&a, &b}) {
    std::printf("   gateway %s  %-9s  %-12s  %s  subnet %s\n", g->name.c_str(),
                g == &a ? "initiator" : "responder", str(g->address.to_text().view()).c_str(), g->id.c_str(),
                str(g->subnet.to_text().view()).c_str());
  }
  std::printf("   PSK through the PAD, IKE aes256gcm16-prfsha256-x25519, ESP aes256gcm16 tunnel\n\n");

  // 1. IKE_SA_INIT and IKE_AUTH.
  Timestamp t_virtual = now;
  auto t0 = Clock::now();
  const uint64_t handle = take(a.engine->initiate("a-b", now, a), "initiate");
  const bool up = pump(a, b, [&] { return a.child_up && b.child_up; });
  const double handshake_ms = ms_since(t0);
  std::printf("1. handshake  IKE_SA_INIT, IKE_AUTH: %zu datagrams, %zu bytes  %.2f ms (virtual %.0f ms)\n",
              a.sent + b.sent, a.sent_bytes + b.sent_bytes, handshake_ms, ms(now - t_virtual));
  print_log(world.log, 0);
  check(up && a.ike_up && b.ike_up, "both gateways report the IKE SA and the child SA up");
  if (!up) return finish();
  check(a.sent == 2 && b.sent == 2 && a.engine->stats().retransmitted == 0,
        "two exchanges, no retransmission");
  check(a.spi_i == b.spi_i && a.spi_r == b.spi_r && a.ike_proposal == b.ike_proposal,
        "both sides agree on the IKE SA");
  check(a.ike_proposal == "AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519", "the IKE proposal we asked for");
  check(a.spi_out == b.spi_in && a.spi_in == b.spi_out && a.child_proposal == b.child_proposal,
        "both sides agree on the child SA");
  check(!a.narrowed && !b.narrowed, "the child SA carries subnet <-> subnet as configured");
  for (Gateway* g : {&a, &b}) {
    check(g->datapath->sad().inbound_count() == 1 && g->datapath->sad().outbound_count() == 1,
          g->name + ": one inbound and one outbound SA in the SAD");
  }
  std::printf("   IKE SA    SPIs %016" PRIx64 "_i %016" PRIx64 "_r  %s\n", a.spi_i, a.spi_r,
              a.ike_proposal.c_str());
  std::printf("             %s\n", a.ids.c_str());
  std::printf("   child SA  SPIs %08x (A->B) %08x (B->A)  %s  tunnel %s === %s\n\n", a.spi_out, a.spi_in,
              a.child_proposal.c_str(), str(a.subnet.to_text().view()).c_str(),
              str(b.subnet.to_text().view()).c_str());

  // 2. ESP through the datapaths, in place in one host buffer: what A's
  // Datapath::outbound sealed is what B's Datapath::inbound opens.
  Bytes inner[2] = {udp_packet("10.1.0.5", "10.2.0.9", kPacketSize),
                    udp_packet("10.2.0.9", "10.1.0.5", kPacketSize)};
  Bytes storage(kHeadroom + kPacketSize + kTailroom), captured;
  PacketBuffer pb;
  size_t delivered[2] = {0, 0}, wire_bytes = 0;
  std::string first_error;
  t0 = Clock::now();
  for (size_t n = 0; n < kPackets; ++n) {
    for (int dir = 0; dir < 2; ++dir) {
      stamp(inner[dir], n);
      sa::DatapathResult r = (dir == 0 ? a : b).send_packet(inner[dir], storage, pb);
      if (r.verdict == sa::Verdict::send) {
        wire_bytes += pb.size();
        if (n == kPackets - 1 && dir == 0) captured.assign(pb.data().begin(), pb.data().end());
        r = (dir == 0 ? b : a).receive_packet(pb);
      }
      if (r.verdict == sa::Verdict::deliver && equal_bytes(pb.data(), inner[dir])) {
        ++delivered[dir];
      } else if (first_error.empty()) {
        first_error = " (first failure: " + str(to_string(r.verdict)) + " " + str(r.status.name()) + ")";
      }
    }
  }
  const double esp_ms = ms_since(t0), esp_s = esp_ms / 1e3;
  std::printf(
      "2. ESP        %zu A->B + %zu B->A packets of %zu bytes  %.2f ms  %.0f packets/s  %.2f Gbit/s\n",
      kPackets, kPackets, kPacketSize, esp_ms, 2 * kPackets / esp_s,
      2 * kPackets * kPacketSize * 8 / esp_s / 1e9);
  std::printf("     each sealed by one datapath, opened by the other; intact: A->B %zu, B->A %zu\n",
              delivered[0], delivered[1]);
  check(delivered[0] == kPackets && delivered[1] == kPackets,
        "every packet delivered intact both ways" + first_error);

  // A packet altered in flight is dropped before its plaintext is released;
  // one replayed from the wire is dropped too.
  stamp(inner[0], kPackets);
  check(a.send_packet(inner[0], storage, pb).verdict == sa::Verdict::send, "A seals one more packet");
  pb.data()[pb.size() / 2] ^= 0x01;
  const Status tampered = b.receive_packet(pb).status;
  (void)copy_bytes(MutableByteView(storage).subspan(kHeadroom), captured);
  pb = take(PacketBuffer::over(storage, kHeadroom, captured.size()), "packet buffer");
  const Status replayed = b.receive_packet(pb).status;
  const sa::DatapathSnapshot snap = b.datapath->snapshot();
  const uint64_t integrity = snap.inbound.drops[static_cast<size_t>(sa::DropReason::integrity)];
  const uint64_t replays = snap.inbound.drops[static_cast<size_t>(sa::DropReason::replayed)];
  std::printf("     a flipped bit in flight: %s; a replayed packet: %s\n", str(tampered.name()).c_str(),
              str(replayed.name()).c_str());
  std::printf("     B's datapath inbound: %" PRIu64 " packets, %" PRIu64 " bytes; dropped %" PRIu64
              " integrity, %" PRIu64 " replayed\n\n",
              snap.inbound.packets, snap.inbound.bytes, integrity, replays);
  check(tampered == Errc::integrity_check_failed, "the tampered packet is dropped (integrity_check_failed)");
  check(replayed == Errc::replayed, "the replayed packet is dropped (replayed)");
  check(snap.inbound.packets == kPackets && snap.inbound.bytes == kPackets * kPacketSize && integrity == 1 &&
            replays == 1,
        "B's datapath counters");

  // 3. CREATE_CHILD_SA: A rekeys the child SA (the new SAs are installed
  // before the old ones are deleted: no packet is lost), then B rekeys the
  // IKE SA (new keys from SK_d; the child SA moves to it).
  t_virtual = now;
  size_t sent_before = a.sent + b.sent, bytes_before = a.sent_bytes + b.sent_bytes;
  size_t log_from = world.log.size();
  const uint32_t old_spis[2] = {a.spi_in, b.spi_in};
  t0 = Clock::now();
  need(a.engine->rekey_child(a.spi_in, now, a), "A.rekey_child");
  bool rekeyed = pump(a, b, [&] { return a.deleted == 1 && b.deleted == 1; });
  need(b.engine->rekey_ike(b.ike_handle, now, b), "B.rekey_ike");
  rekeyed = rekeyed && pump(a, b, [&] {
              return a.ike_rekeys == 1 && b.ike_rekeys == 1 && a.engine->ike_sa_count() == 1 &&
                     b.engine->ike_sa_count() == 1;
            });
  const double rekey_ms = ms_since(t0);
  std::printf(
      "3. rekey      CREATE_CHILD_SA, child then IKE SA: %zu datagrams, %zu bytes  %.2f ms (virtual %.0f "
      "ms)\n",
      a.sent + b.sent - sent_before, a.sent_bytes + b.sent_bytes - bytes_before, rekey_ms,
      ms(now - t_virtual));
  print_log(world.log, log_from);
  check(rekeyed && a.child_rekeys == 1 && b.child_rekeys == 1, "both gateways rekeyed the child SA");
  check(a.spi_in != old_spis[0] && b.spi_in != old_spis[1] && a.spi_out == b.spi_in && a.spi_in == b.spi_out,
        "new SPIs, agreed by both sides");
  check(a.ike_rekeys == 1 && b.ike_rekeys == 1 && a.ike_handle != handle, "both gateways rekeyed the IKE SA");
  for (Gateway* g : {&a, &b}) {
    check(g->datapath->sad().inbound_count() == 1 && g->datapath->sad().outbound_count() == 1 &&
              g->engine->child_sa_count() == 1,
          g->name + ": the old child SA deleted, the new one in the SAD");
  }
  size_t after_rekey[2] = {0, 0};
  for (size_t n = 0; n < 100; ++n) {
    for (int dir = 0; dir < 2; ++dir) {
      stamp(inner[dir], kPackets + 1 + n);
      sa::DatapathResult r = (dir == 0 ? a : b).send_packet(inner[dir], storage, pb);
      if (r.verdict == sa::Verdict::send) r = (dir == 0 ? b : a).receive_packet(pb);
      if (r.verdict == sa::Verdict::deliver && equal_bytes(pb.data(), inner[dir])) ++after_rekey[dir];
    }
  }
  std::printf("     100 packets each way through the new child SA: A->B %zu, B->A %zu intact\n\n",
              after_rekey[0], after_rekey[1]);
  check(after_rekey[0] == 100 && after_rekey[1] == 100, "traffic flows through the rekeyed child SA");

  // 4. INFORMATIONAL: A deletes the IKE SA and with it the child SA.
  t_virtual = now;
  sent_before = a.sent + b.sent;
  bytes_before = a.sent_bytes + b.sent_bytes;
  log_from = world.log.size();
  t0 = Clock::now();
  need(a.engine->close(a.ike_handle, now, a), "A.close");
  const bool down = pump(a, b, [&] { return a.ike_down && b.ike_down; });
  const double close_ms = ms_since(t0);
  std::printf("4. delete     INFORMATIONAL: %zu datagrams, %zu bytes  %.2f ms (virtual %.0f ms)\n",
              a.sent + b.sent - sent_before, a.sent_bytes + b.sent_bytes - bytes_before, close_ms,
              ms(now - t_virtual));
  print_log(world.log, log_from);
  check(down, "both gateways report the IKE SA down");
  for (Gateway* g : {&a, &b}) {
    const sa::Sad& sad = g->datapath->sad();
    check(g->deleted == 2 && sad.inbound_count() == 0 && sad.outbound_count() == 0 &&
              g->engine->ike_sa_count() == 0,
          g->name + ": child SA removed from the SAD, no IKE SA left");
  }
  const sa::Verdict after = a.send_packet(inner[0], storage, pb).verdict;
  std::printf("     SAD inbound/outbound: A %zu/%zu, B %zu/%zu; A's next packet to 10.2.0.9: %s\n",
              a.datapath->sad().inbound_count(), a.datapath->sad().outbound_count(),
              b.datapath->sad().inbound_count(), b.datapath->sad().outbound_count(),
              str(to_string(after)).c_str());
  check(after == sa::Verdict::acquire, "after the delete, A's datapath asks for a new SA");

  std::printf("\nsummary  handshake %.2f ms, ESP %.2f ms, rekeys %.2f ms, delete %.2f ms: %.2f ms in all\n",
              handshake_ms, esp_ms, rekey_ms, close_ms, handshake_ms + esp_ms + rekey_ms + close_ms);
  std::printf("         IKE %zu datagrams, %zu bytes; ESP %zu packets, %zu bytes inside, %zu on the wire\n",
              a.sent + b.sent, a.sent_bytes + b.sent_bytes, 2 * kPackets, 2 * kPackets * kPacketSize,
              wire_bytes);
  return finish();
}
