#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""NAT traversal framing (RFC 3948, RFC 8229) against tshark's dissectors.

  udp:  esp_tool natt-udp writes what our port 4500 socket sends: ESP-in-UDP
        datagrams sealed by esp::seal (IPv4 and IPv6 outer, several sizes),
        NAT-keepalives (wire::nat_keepalive) and IKE messages behind the
        non-ESP marker (wire::frame_ike_udp4500); the IKE messages are
        well-formed IKEv2 messages built here by hand. Scapy puts IP/UDP
        headers around the keepalive and IKE payloads. tshark must dissect
        them as UDPENCAP/ESP (with every ICV good under the SA's key),
        UDPENCAP keepalive and UDPENCAP/ISAKMP.
  tcp:  esp_tool tcp-stream writes both directions of an RFC 8229 stream with
        the library's encoders ("IKETCP" from the initiator, IKE messages and
        ESP packets); Scapy cuts them into the TCP segments of an IPv4
        connection to port 4500 (three-way handshake, the prefix and length
        fields split across segments, messages split across segments and
        several in one segment, ACKs, FIN). tshark 4.0 has no RFC 8229
        dissector: its "tcpencap" is Cisco's proprietary IPsec-over-TCP
        (a 16-octet trailer per segment, no reassembly), which reads our
        streams as garbage, and ISAKMP on a TCP port expects bare IKE
        messages. So rfc8229.lua (next to this file) splits the stream with
        tshark's TCP reassembly and hands each message to tshark's ISAKMP or
        ESP dissector; tshark must find every IKE and ESP message, in order,
        every ESP ICV good (a boundary off by one octet fails it). A copy
        with one length field off by one must fail these checks.
In both: no malformed packet and no expert info of severity error or above
(-Y '_ws.malformed || _ws.expert.severity >= error' matches nothing), with
IP, UDP and TCP checksum validation on (a copy with a bad UDP checksum must
be flagged); frame.protocols shows the layers.

Run with Debian's /usr/bin/python3 (python3-scapy, tshark; scripts/setup.sh
installs them):
  /usr/bin/python3 natt_tshark.py --tool build/dev/tests/interop/esp_tool [--work DIR] [-v]
Without Scapy or tshark: exit 77 (ctest SKIP), or 1 when CI=true.
"""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

from interop_common import SKIP, Failure, check, missing as missing_tool


def missing(what):
    missing_tool("natt_tshark", what)


try:
    import logging

    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
    from scapy.packet import Raw, raw
    from scapy.utils import wrpcap
except ImportError as e:
    missing(f"python3-scapy ({e})")

LINKTYPE_RAW = 101
NATT_PORT = 4500

# One tunnel-mode AES-256-GCM-16 SA for everything (tshark checks its ICVs).
SPI = 0x4500C0DE
KEY = bytes((0x42 + 5 * i) & 0xFF for i in range(32 + 4))  # key | salt
ENDPOINTS = {4: ("192.0.2.1", "198.51.100.2"), 6: ("2001:db8::1", "2001:db8::2")}
INNER = {4: ("10.1.1.1", "10.2.2.2"), 6: ("2001:db8:1::1", "2001:db8:2::1")}
FIRST_SEQ = 1

# IKEv2 (RFC 7296 3): exchange types, payload types, header flags.
IKE_SA_INIT, IKE_AUTH, INFORMATIONAL = 34, 35, 37
PAYLOAD_NONE, PAYLOAD_NONCE, PAYLOAD_VENDOR_ID, PAYLOAD_SK = 0, 40, 43, 46
FLAG_INITIATOR, FLAG_RESPONSE = 0x08, 0x20
SPI_I, SPI_R = 0x0123456789ABCDEF, 0xFEDCBA9876543210


def ike_message(exchange, flags, message_id, payloads, spi_r=SPI_R):
    """A well-formed IKEv2 message: the 28-octet header, then the payloads
    [(type, body)], each behind its generic payload header (RFC 7296 3.2)."""
    body = b""
    for i, (_ptype, data) in enumerate(payloads):
        following = payloads[i + 1][0] if i + 1 < len(payloads) else PAYLOAD_NONE
        body += struct.pack("!BBH", following, 0, 4 + len(data)) + data
    first = payloads[0][0] if payloads else PAYLOAD_NONE
    return struct.pack("!QQBBBBLL", SPI_I, spi_r, first, 0x20, exchange, flags, message_id, 28 + len(body)) + body


def pattern(n, seed):
    return bytes((seed + 13 * i) & 0xFF for i in range(n))


def ike_messages():
    """(label, message): an exchange's worth of IKEv2 messages."""
    nonce = pattern(32, 0x10)
    sa_init_req = ike_message(IKE_SA_INIT, FLAG_INITIATOR, 0, [(PAYLOAD_NONCE, nonce)], spi_r=0)
    sa_init_resp = ike_message(IKE_SA_INIT, FLAG_RESPONSE, 0, [(PAYLOAD_NONCE, pattern(32, 0x20)),
                                                               (PAYLOAD_VENDOR_ID, b"ipsec natt_tshark")])
    # The SK payload's generic header carries the first inner payload type, so
    # build it by hand: next payload 35 (IDi) inside.
    sk = pattern(1180, 0x31)
    auth_req = (struct.pack("!QQBBBBLL", SPI_I, SPI_R, PAYLOAD_SK, 0x20, IKE_AUTH, FLAG_INITIATOR, 1,
                            28 + 4 + len(sk)) + struct.pack("!BBH", 35, 0, 4 + len(sk)) + sk)
    info_req = ike_message(INFORMATIONAL, FLAG_INITIATOR, 2, [])  # no payloads: next payload 0
    big_vid = ike_message(INFORMATIONAL, FLAG_INITIATOR, 3, [(PAYLOAD_VENDOR_ID, pattern(3000, 0x55))])
    return {"sa_init_req": sa_init_req, "sa_init_resp": sa_init_resp, "auth_req": auth_req,
            "info_req": info_req, "big_vid": big_vid}


def inner_packets(family, sizes):
    """Plaintext packets of the tunnel: ICMP echo, then UDP datagrams of the given total sizes."""
    src, dst = INNER[family]
    out = []
    for i, size in enumerate(sizes):
        if size == 0:
            out.append(IP(src=src, dst=dst, id=1) / ICMP(type=8, id=7, seq=1) if family == 4
                       else IPv6(src=src, dst=dst) / ICMPv6EchoRequest(id=7, seq=1))
            continue
        header = 20 + 8 if family == 4 else 40 + 8
        data = pattern(size - header, i)
        pkt = (IP(src=src, dst=dst, id=100 + i) if family == 4 else IPv6(src=src, dst=dst)) / UDP(
            sport=40000 + i, dport=9) / Raw(data)
        check(len(raw(pkt)) == size, f"inner packet of {len(raw(pkt))} octets, want {size}")
        out.append(pkt)
    return [raw(p) for p in out]


class Tool:
    def __init__(self, path, work, verbose):
        self.path, self.work, self.verbose = path, work, verbose
        self.n = 0

    def run(self, cmd, family, packets, items, extra=()):
        """esp_tool natt-udp|tcp-stream; returns the output file's bytes."""
        self.n += 1
        src = os.path.join(self.work, f"{self.n:02d}-{cmd}-in.pcap")
        dst = os.path.join(self.work, f"{self.n:02d}-{cmd}-out." + ("txt" if cmd == "natt-udp" else "bin"))
        wrpcap(src, [Raw(p) for p in packets], linktype=LINKTYPE_RAW)
        local, remote = ENDPOINTS[family]
        argv = [self.path, cmd, "--spi", hex(SPI), "--encr", "aes_gcm_16", "--encr-bits", "256",
                "--encr-key", KEY.hex(), "--mode", "tunnel", "--local", local, "--remote", remote,
                "--seq", str(FIRST_SEQ)] + list(extra)
        for kind, arg in items:
            argv += [f"--{kind}"] + ([arg.hex()] if arg is not None else [])
        argv += [src, dst]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if self.verbose:
            print("  $ " + " ".join(a if len(a) < 80 else a[:40] + "..." for a in argv))
            print("  " + r.stderr.strip().replace("\n", "\n  "))
        check(r.returncode == 0, f"esp_tool {cmd} exited {r.returncode}:\n{r.stderr}")
        with open(dst, "rb") as f:
            return f.read()


def tshark_env(work):
    """tshark with an empty personal configuration (no user preferences get in)."""
    config = os.path.join(work, "wireshark-config")
    os.makedirs(config, exist_ok=True)
    return dict(os.environ, WIRESHARK_CONFIG_DIR=config)


class Tshark:
    # Validate every checksum tshark knows (a bad one is an error-severity
    # expert item), decrypt and authenticate ESP with our SA.
    COMMON = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
              "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"]

    def __init__(self, path, work, verbose):
        self.path, self.work, self.verbose = path, work, verbose

    def esp_sa_args(self):
        args = []
        for family, (a, b) in ENDPOINTS.items():
            ipv = "IPv4" if family == 4 else "IPv6"
            for src, dst in ((a, b), (b, a)):
                args += ["-o", f'uat:esp_sa:"{ipv}","{src}","{dst}","{SPI:#010x}",'
                               f'"AES-GCM with 16 octet ICV [RFC4106]","0x{KEY.hex()}","NULL",""']
        return args

    def run(self, pcap, extra, tail):
        argv = [self.path, "-n", "-r", pcap] + self.COMMON + self.esp_sa_args() + list(extra) + list(tail)
        if self.verbose:
            print("  $ " + " ".join(a if len(a) < 80 else a[:40] + "..." for a in argv))
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=tshark_env(self.work))
        check(r.returncode == 0, f"tshark exited {r.returncode}:\n{r.stderr}")
        return r.stdout

    FILTER = "_ws.malformed || _ws.expert.severity >= error"

    def errors(self, pcap, extra=()):
        """The frames -Y '_ws.malformed || _ws.expert.severity >= error'
        matches (two passes, so that reassembled PDUs are judged whole)."""
        return self.run(pcap, extra, ["-2", "-Y", self.FILTER, "-T", "fields", "-e", "frame.number", "-e",
                                      "frame.protocols", "-e", "_ws.expert.message"]).strip()

    def no_errors(self, pcap, extra=()):
        out = self.errors(pcap, extra)
        check(out == "", f"tshark reports malformed packets or errors in {pcap}:\n{out}")

    def fields(self, pcap, names, extra=()):
        out = self.run(pcap, extra, ["-2", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a",
                                     "-E", "aggregator=,"] + [a for n in names for a in ("-e", n)])
        return [line.split("|") for line in out.splitlines()]


# ---- UDP port 4500 ----------------------------------------------------------------------------


def udp_case(tool, tshark, work):
    ike = ike_messages()
    pcap_packets = []
    want = []  # per frame: ("esp", seq) | ("keepalive",) | ("ike", message)
    for family in (4, 6):
        sizes = [0, 200, 576, 1400]
        inner = inner_packets(family, sizes)
        items = [("keepalive", None), ("esp", None), ("ike", ike["sa_init_req"]), ("esp", None),
                 ("esp", None), ("keepalive", None), ("ike", ike["info_req"]), ("esp", None),
                 ("ike", ike["auth_req"])]
        out = tool.run("natt-udp", family, inner, items, ["--udp", f"{NATT_PORT}:{NATT_PORT}"])
        lines = out.decode().splitlines()
        check(len(lines) == len(items), f"esp_tool wrote {len(lines)} lines for {len(items)} items")
        local, remote = ENDPOINTS[family]
        seq = FIRST_SEQ
        for (kind, arg), line in zip(items, lines):
            got_kind, offset, data = line.split(" ")
            data = bytes.fromhex(data)
            check(got_kind == kind, f"esp_tool wrote a {got_kind} line for a {kind} item")
            if kind == "esp":
                # Our datagram, as seal built it: check its UDP header with Scapy.
                pkt = IP(data) if family == 4 else IPv6(data)
                check(UDP in pkt and pkt[UDP].sport == NATT_PORT and pkt[UDP].dport == NATT_PORT,
                      f"sealed datagram without UDP 4500: {pkt.summary()}")
                check(pkt[UDP].len == len(data) - (20 if family == 4 else 40), "UDP length")
                check(int(offset) == (28 if family == 4 else 48), f"ESP at offset {offset}")
                check(data[int(offset):int(offset) + 4] == struct.pack("!L", SPI), "SPI")
                pcap_packets.append(data)
                want.append(("esp", seq))
                seq += 1
            else:
                check(offset == "0", "payload offset")
                if kind == "keepalive":
                    check(data == b"\xff", f"keepalive payload {data.hex()}")
                else:
                    check(data == bytes(4) + arg, "IKE payload is not marker | message")
                ip = IP(src=local, dst=remote) if family == 4 else IPv6(src=local, dst=remote)
                pcap_packets.append(raw(ip / UDP(sport=NATT_PORT, dport=NATT_PORT) / Raw(data)))
                want.append((kind, arg))
    path = os.path.join(work, "natt_udp.pcap")
    wrpcap(path, [Raw(p) for p in pcap_packets], linktype=LINKTYPE_RAW)

    tshark.no_errors(path)
    # Negative control: the filter and the checksum validation do catch a
    # broken datagram (our IPv6 ESP-in-UDP one with its UDP checksum off by one).
    bad = bytearray(next(p for p, w in zip(pcap_packets, want) if w[0] == "esp" and p[0] >> 4 == 6))
    bad[46:48] = struct.pack("!H", (struct.unpack("!H", bad[46:48])[0] + 1) & 0xFFFF)
    bad_path = os.path.join(work, "natt_udp_bad_checksum.pcap")
    wrpcap(bad_path, [Raw(bytes(bad))], linktype=LINKTYPE_RAW)
    caught = tshark.errors(bad_path)
    check(caught.startswith("1\t"), f"tshark does not flag a bad UDP checksum: {caught!r}")

    rows = tshark.fields(path, ["frame.protocols", "udpencap.nat_keepalive", "udpencap.non_esp_marker",
                                "esp.spi", "esp.sequence", "esp.icv_good", "isakmp.ispi", "isakmp.exchangetype",
                                "isakmp.messageid", "isakmp.length"])
    check(len(rows) == len(want), f"tshark shows {len(rows)} frames, want {len(want)}")
    counts = {"esp": 0, "keepalive": 0, "ike": 0}
    for i, (row, w) in enumerate(zip(rows, want)):
        protocols, keepalive, marker, spi, sequence, icv_good, ispi, exch, msgid, length = row
        tag = f"UDP frame {i + 1} ({w[0]})"
        layers = protocols.split(":")
        check("udpencap" in layers and layers[layers.index("udpencap") - 1] == "udp",
              f"{tag}: tshark dissects {protocols}")
        after = layers[layers.index("udpencap") + 1:]
        if w[0] == "esp":
            check(after[:1] == ["esp"], f"{tag}: tshark dissects {protocols}")
            check(int(spi, 0) == SPI and int(sequence) == w[1], f"{tag}: SPI/seq {spi} {sequence}")
            check(icv_good == "1", f"{tag}: ICV not verified (esp.icv_good={icv_good!r})")
            check(not keepalive and not marker, f"{tag}: keepalive/marker fields on an ESP packet")
        elif w[0] == "keepalive":
            check(after == [], f"{tag}: tshark dissects {protocols}")
            check(keepalive != "", f"{tag}: no udpencap.nat_keepalive")
        else:
            check(after[:1] == ["isakmp"], f"{tag}: tshark dissects {protocols}")
            check(marker != "", f"{tag}: no udpencap.non_esp_marker")
            message = w[1]
            want_ispi, _, _, _, want_exch, _, want_id, want_len = struct.unpack("!QQBBBBLL", message[:28])
            check(int(ispi.replace(":", ""), 16) == want_ispi and int(exch) == want_exch
                  and int(msgid, 0) == want_id and int(length) == want_len,
                  f"{tag}: ISAKMP fields {ispi} {exch} {msgid} {length}")
        counts[w[0]] += 1
    return (f"{len(rows)} frames: {counts['esp']} ESP (ICVs good), {counts['keepalive']} keepalives, "
            f"{counts['ike']} IKE; a bad UDP checksum is caught ({caught.split(chr(9))[-1]})")


# ---- TCP port 4500 (RFC 8229) ------------------------------------------------------------------


def cut(stream, points, mss=1460):
    """stream in segments ending at the given offsets, then at most mss each."""
    pieces, at = [], 0
    for end in sorted(set(points)) + [len(stream)]:
        end = min(end, len(stream))
        while at < end:
            n = min(end - at, mss)
            pieces.append(stream[at:at + n])
            at += n
    return pieces


def frame_bounds(stream, prefix):
    """Where each RFC 8229 message starts and ends in our stream."""
    at = 6 if prefix else 0
    bounds = []
    while at < len(stream):
        length = struct.unpack("!H", stream[at:at + 2])[0]
        bounds.append((at, at + length))
        at += length
    return bounds


def tcp_case(tool, tshark, work):
    ike = ike_messages()
    inner = inner_packets(4, [0, 100, 1400, 576, 1400, 64, 300, 1000])
    # Initiator -> responder: "IKETCP", then IKE and ESP messages.
    i_items = [("ike", ike["sa_init_req"]), ("ike", ike["auth_req"]), ("esp", None), ("esp", None),
               ("ike", ike["info_req"]), ("esp", None), ("esp", None), ("ike", ike["big_vid"]), ("esp", None),
               ("esp", None)]
    i_stream = tool.run("tcp-stream", 4, inner[:6], i_items, ["--prefix"])
    # Responder -> initiator: no prefix (RFC 8229 4: the initiator sends it).
    r_items = [("ike", ike["sa_init_resp"]), ("esp", None), ("esp", None)]
    local, remote = ENDPOINTS[4]
    r_stream = tool.run("tcp-stream", 4, inner[6:], r_items, ["--local", remote, "--remote", local])
    check(i_stream[:6] == b"IKETCP", "the initiator's stream does not start with IKETCP")
    i_bounds = frame_bounds(i_stream, True)
    check(len(i_bounds) == len(i_items), "esp_tool's stream has the wrong number of messages")

    # Segments: the prefix split (3 | 3 + the first length octet | the
    # second), messages split across segments (in the body, and between the
    # two length octets), several whole messages in one segment, the 3 KB
    # IKE message over three segments; at most 1460 octets each.
    b = i_bounds
    i_segments = cut(i_stream, [3, 7, 8, b[0][1] - 10, b[1][0] + 200, b[1][1] + 1, b[4][1], b[6][1] - 5])
    check(len(i_segments) >= 10, f"only {len(i_segments)} segments")
    # The responder packs its three messages into two segments.
    r_bounds = frame_bounds(r_stream, False)
    r_segments = cut(r_stream, [r_bounds[1][1] + 3])
    check(all(0 < len(p) <= 1460 for p in i_segments + r_segments), "segment sizes")

    # The connection: handshake, the initiator's data (the responder ACKs
    # every segment), then the responder's, then FIN / FIN-ACK / ACK.
    client, server = (local, 51000), (remote, NATT_PORT)
    isn_c, isn_s = 1000, 5000
    pkts = []
    ip_id = [0]

    def seg(src, dst, flags, seq, ack, data=b""):
        ip_id[0] += 1
        pkts.append(raw(IP(src=src[0], dst=dst[0], id=ip_id[0], flags="DF")
                        / TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack, window=65535)
                        / (Raw(data) if data else b"")))

    seg(client, server, "S", isn_c, 0)
    seg(server, client, "SA", isn_s, isn_c + 1)
    seg(client, server, "A", isn_c + 1, isn_s + 1)
    c_seq, s_seq = isn_c + 1, isn_s + 1
    for p in i_segments:
        seg(client, server, "PA", c_seq, s_seq, p)
        c_seq += len(p)
        seg(server, client, "A", s_seq, c_seq)
    for p in r_segments:
        seg(server, client, "PA", s_seq, c_seq, p)
        s_seq += len(p)
        seg(client, server, "A", c_seq, s_seq)
    seg(client, server, "FA", c_seq, s_seq)
    seg(server, client, "FA", s_seq, c_seq + 1)
    seg(client, server, "A", c_seq + 1, s_seq + 1)
    path = os.path.join(work, "natt_tcp.pcap")
    wrpcap(path, [Raw(p) for p in pkts], linktype=LINKTYPE_RAW)

    found, packed, reassembled = tcp_analyze(tshark, path, pkts, local, i_items, r_items)

    # Negative control: the same connection with one length field one too
    # long must fail those checks (they are not vacuous).
    bad = bytearray(i_stream)
    at = i_bounds[2][0]
    bad[at:at + 2] = struct.pack("!H", struct.unpack("!H", bad[at:at + 2])[0] + 1)
    bad_pkts, off = [], 0
    for p in pkts:
        ip = IP(p)
        if ip.src == local and len(ip[TCP].payload):
            n = len(ip[TCP].payload)
            ip[TCP].remove_payload()
            ip = ip / Raw(bytes(bad[off:off + n]))
            off += n
            del ip[IP].len, ip[IP].chksum, ip[TCP].chksum
        bad_pkts.append(raw(ip))
    bad_path = os.path.join(work, "natt_tcp_bad_length.pcap")
    wrpcap(bad_path, [Raw(p) for p in bad_pkts], linktype=LINKTYPE_RAW)
    try:
        tcp_analyze(tshark, bad_path, bad_pkts, local, i_items, r_items)
        caught = None
    except Failure as e:
        caught = str(e).splitlines()[0]
    check(caught is not None, "a corrupted length field passed every check")

    n_ike = sum(1 for x in found["i"] + found["r"] if x[0] == "ike")
    n_esp = sum(1 for x in found["i"] + found["r"] if x[0] == "esp")
    return (f"{len(pkts)} frames, {len(i_segments)} + {len(r_segments)} data segments ({packed} with several "
            f"messages, {len(reassembled)} messages reassembled from {'/'.join(map(str, reassembled))} segments): "
            f"{n_ike} IKE and {n_esp} ESP messages in order (ICVs good); a corrupted length is caught ({caught})")


def tcp_analyze(tshark, path, pkts, local, i_items, r_items):
    """tshark's view of the connection in path must be exactly our messages."""
    lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rfc8229.lua")
    decode = ["-X", f"lua_script:{lua}", "-o", "tcp.desegment_tcp_streams:TRUE",
              "-o", "tcp.analyze_sequence_numbers:TRUE"]
    tshark.no_errors(path, decode)
    rows = tshark.fields(path, ["frame.number", "frame.protocols", "iketcp.prefix", "iketcp.kind", "esp.spi",
                                "esp.sequence", "esp.icv_good", "isakmp.exchangetype", "isakmp.messageid",
                                "isakmp.length", "tcp.analysis.flags", "tcp.segment.count"], decode)
    check(len(rows) == len(pkts), f"tshark shows {len(rows)} frames, want {len(pkts)}")
    # The messages tshark found, in stream order, per direction: a frame's
    # iketcp.kind occurrences give the order, the ESP and ISAKMP fields the
    # contents of each kind in that order.
    found = {"i": [], "r": []}
    prefix_frames = []
    packed = 0
    reassembled = []  # for each PDU tshark reassembled: how many segments it took
    for row in rows:
        number, protocols, prefix, kinds, spi, sequence, icv_good, exch, msgid, length, analysis, segments = row
        frame = int(number)
        direction = "i" if IP(pkts[frame - 1]).src == local else "r"
        check(not analysis, f"TCP frame {frame}: tshark's TCP analysis flags it ({analysis})")
        if prefix:
            check(prefix == "IKETCP", f"TCP frame {frame}: prefix {prefix!r}")
            prefix_frames.append((frame, direction))
        split_list = lambda v: [x for x in v.split(",") if x]  # noqa: E731
        kinds, spis, seqs, goods = split_list(kinds), split_list(spi), split_list(sequence), split_list(icv_good)
        exchs, ids, lengths = split_list(exch), split_list(msgid), split_list(length)
        check(len(spis) == len(seqs) == len(goods) == kinds.count("esp"),
              f"TCP frame {frame}: ESP fields {kinds} {spi} {sequence} {icv_good}")
        check(len(exchs) == len(ids) == len(lengths) == kinds.count("ike"),
              f"TCP frame {frame}: ISAKMP fields {kinds} {exch} {msgid} {length}")
        if kinds:
            layers = protocols.split(":")
            check(layers[:4] == ["raw", "ip", "tcp", "iketcp"], f"TCP frame {frame}: tshark dissects {protocols}")
            for k in set(kinds):
                check({"ike": "isakmp", "esp": "esp"}[k] in layers, f"TCP frame {frame}: {k} in {protocols}")
            packed += len(kinds) > 1
        ike_rows = iter(zip(exchs, ids, lengths))
        esp_rows = iter(zip(spis, seqs, goods))
        for k in kinds:
            if k == "esp":
                s_, q, g = next(esp_rows)
                check(int(s_, 0) == SPI, f"TCP frame {frame}: SPI {s_}")
                check(g == "1", f"TCP frame {frame}: ESP ICV not verified")
                found[direction].append(("esp", int(q)))
            else:
                e, m, n = next(ike_rows)
                found[direction].append(("ike", int(e), int(m, 0), int(n)))
        reassembled += [int(n) for n in segments.split(",") if n]
    check(prefix_frames and len(prefix_frames) == 1 and prefix_frames[0][1] == "i",
          f"tshark shows the IKETCP prefix in frames {prefix_frames}, want one of the initiator's")

    def expected(items, first_seq):
        out, seq = [], first_seq
        for kind, arg in items:
            if kind == "esp":
                out.append(("esp", seq))
                seq += 1
            else:
                _, _, _, _, exch_, _, mid, length_ = struct.unpack("!QQBBBBLL", arg[:28])
                out.append(("ike", exch_, mid, length_))
        return out

    for direction, items in (("i", i_items), ("r", r_items)):
        want = expected(items, FIRST_SEQ)
        name = "initiator" if direction == "i" else "responder"
        check(found[direction] == want, f"{name}: tshark found\n  {found[direction]}\nwant\n  {want}")
    check(packed >= 2, f"only {packed} frames with several messages")
    check(len(reassembled) >= 4 and max(reassembled) >= 3, f"reassembled PDUs: {reassembled}")
    return found, packed, reassembled


# ---- main -------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", required=True, help="the esp_tool executable")
    ap.add_argument("--work", help="directory for the pcap files (default: a temporary one)")
    ap.add_argument("-v", dest="verbose", action="store_true")
    args = ap.parse_args()

    tshark_path = shutil.which("tshark")
    if not tshark_path:
        missing("tshark")
    if not os.access(args.tool, os.X_OK):
        print(f"natt_tshark: FAIL: {args.tool} is not executable")
        return 1
    start = time.monotonic()
    if args.work:
        work = args.work
        os.makedirs(work, exist_ok=True)
        for f in os.listdir(work):  # the previous run's
            if f.endswith((".pcap", ".txt", ".bin")):
                os.remove(os.path.join(work, f))
    else:
        work = tempfile.mkdtemp(prefix="natt_tshark.")
    tool = Tool(args.tool, work, args.verbose)
    tshark = Tshark(tshark_path, work, args.verbose)

    failures = []
    for name, fn in (("udp 4500 (RFC 3948)", udp_case), ("tcp 4500 (RFC 8229)", tcp_case)):
        t0 = time.monotonic()
        try:
            summary = fn(tool, tshark, work)
            status = "ok"
        except Failure as e:
            status, summary = "FAIL", ""
            failures.append((name, str(e)))
        except Exception as e:  # a Scapy or tshark surprise fails this case, not the run
            status, summary = "FAIL", ""
            failures.append((name, f"{type(e).__name__}: {e}"))
        print(f"tshark {status:4}  {name}  ({time.monotonic() - t0:.2f} s)  {summary}", flush=True)

    for name, msg in failures:
        print(f"\nFAIL {name}:\n  " + msg.replace("\n", "\n  "))
    print(f"\nnatt_tshark: {len(failures)} of 2 cases failed, {time.monotonic() - start:.1f} s (pcaps in {work})")
    if not args.work and not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
