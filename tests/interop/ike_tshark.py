#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""IKEv2 messages built by the wire codecs, against tshark's ISAKMP dissector.

ike_tool (next to this file) builds IKEv2 messages through the public API:
MessageBuilder/PayloadChainWriter for the ones in the clear, ChainBuilder +
build_protected_message for SK (AES-CBC-256 + HMAC-SHA2-256-128, and
AES-GCM-16-256) and Fragmenter for SKF fragments (RFC 7383), with fixed
contents and keys. This script puts them into a pcap (UDP 500 in the clear;
UDP 4500 behind the non-ESP marker when protected), gives tshark the keys
through its ikev2_decryption_table UAT, and checks:
  - no malformed packet and no expert info of severity warning or above in
    the whole file (-Y '_ws.malformed || _ws.expert.severity >= warning'):
    among others "IKEv2 Integrity Checksum Data is incorrect", so every ICV
    (HMAC and GCM tag) tshark computed with our keys matched ours;
  - every field tshark shows (-T pdml, read as a tree of payloads) against
    what ike_tool was told to put in (EXPECTED below mirrors its inputs):
    header SPIs, exchange type, flags, message ID, length; the payload types
    in order and each Next Payload; proposals and transforms (IDs, Key
    Length), KE group and data, nonces, notify types/protocol/SPI/data,
    signature hash algorithms, CERTREQ hashes, ID type and data, CERT (the
    X.509 certificate tshark decodes), AUTH method and RFC 7427 fields, CP
    attributes, traffic selectors, Delete SPIs, the EAP message; for SK the
    decrypted inner payloads with the same checks; for SKF each fragment's
    number/total, decryption, and tshark's reassembly of the whole chain;
  - negative controls: with one octet of SK_ai wrong tshark reports the
    integrity warning on every AES-CBC message, and a copy of the messages
    with one Payload Length off by one fails the checks (they are not
    vacuous).

Run with Debian's /usr/bin/python3 (python3-scapy, tshark; scripts/setup.sh
installs them):
  /usr/bin/python3 ike_tshark.py --tool build/dev/tests/interop/ike_tool [--work DIR] [-v]
Without Scapy or tshark: exit 77 (ctest SKIP), or 1 when CI=true.
"""

import argparse
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

from interop_common import SKIP, Failure, check, missing as missing_tool


def missing(what):
    missing_tool("ike_tshark", what)


try:
    import logging

    logging.getLogger("scapy").setLevel(logging.ERROR)
    from scapy.layers.inet import IP, UDP
    from scapy.packet import Raw, raw
    from scapy.utils import wrpcap
except ImportError as e:
    missing(f"python3-scapy ({e})")

LINKTYPE_RAW = 101
HERE = os.path.dirname(os.path.abspath(__file__))
CERT_FILE = os.path.join(HERE, "..", "data", "x509", "ec-leaf.der")
INITIATOR, RESPONDER = "192.0.2.1", "198.51.100.2"


# ---- what ike_tool puts in (mirrors tests/interop/ike_tool.cpp) -------------------------------


def pattern(n, seed):
    return bytes((seed + 7 * i) & 0xFF for i in range(n))


SPI_I, SPI_R = 0x1122334455667788, 0x99AABBCCDDEEFF00
CBC_SPI_I, CBC_SPI_R = 0x0C0C0C0C00000001, 0x0C0C0C0C00000002
GCM_SPI_I, GCM_SPI_R = 0x0D0D0D0D00000001, 0x0D0D0D0D00000002
ESP_SPI, REKEY_OLD_SPI, REKEY_NEW_SPI = 0xC0FFEE01, 0xC0FFEE01, 0xC0FFEE02
DELETE_SPIS = (0xDEAD0001, 0xDEAD0002)

# IANA numbers (RFC 7296 3, RFC 7383, RFC 7427).
IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL = 34, 35, 36, 37
SA, KE, IDI, IDR, CERT, CERTREQ, AUTH, NONCE, N, D, V, TSI, TSR, SK, CP, EAP, SKF = (
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53)
PROPOSAL, TRANSFORM = 2, 3  # tshark shows substructures as payloads of these types
F_I, F_R = 0x08, 0x20
ENCR, PRF, INTEG, DH, ESN = 1, 2, 3, 4, 5
AES_CBC, AES_GCM_16, PRF_HMAC_SHA2_256, HMAC_SHA2_256_128, CURVE25519 = 12, 20, 5, 12, 31
PROTO_NONE, PROTO_IKE, PROTO_ESP = 0, 1, 3
NATD_S, NATD_D, COOKIE, REKEY_SA, INITIAL_CONTACT = 16388, 16389, 16390, 16393, 16384
FRAG_SUPPORTED, SIGNATURE_HASH_ALGORITHMS = 16430, 16431

KE_I, KE_R = pattern(32, 0x31), pattern(32, 0x32)
NONCE_I, NONCE_R = pattern(32, 0x41), pattern(32, 0x42)
NATD_SRC, NATD_DST = pattern(20, 0x51), pattern(20, 0x52)
VENDOR_ID = b"ipsec ike_tool"
CERTREQ_HASHES = pattern(40, 0x61)
COOKIE_DATA = pattern(32, 0x71)
ID_FQDN, ID_IPV4 = "client.example.com", "192.0.2.10"
ECDSA_SHA256_AI = bytes.fromhex("300a06082a8648ce3d040302")
SIGNATURE = pattern(64, 0x91)
PSK_AUTH = pattern(32, 0xA1)
EAP_IDENTITY = "user@example.com"


class P:
    """An expected payload: its type, fields (tshark field name -> the list of
    values tshark must show for it inside this payload, nested payloads
    excluded; [] means absent) and nested payloads (proposals in SA,
    transforms in proposals, inner payloads in SK/SKF)."""

    def __init__(self, ptype, fields=None, children=()):
        self.type, self.fields, self.children = ptype, dict(fields or {}), list(children)


def tf(ttype, tid, key_length=None):
    id_field = {ENCR: "isakmp.tf.id.encr", PRF: "isakmp.tf.id.prf", INTEG: "isakmp.tf.id.integ",
                DH: "isakmp.tf.id.dh", ESN: "isakmp.tf.id.esn"}[ttype]
    return P(TRANSFORM, {"isakmp.tf.type": [ttype], id_field: [tid],
                         "isakmp.ike2.attr.key_length": [key_length] if key_length else []})


def proposal(number, protocol, spi, *transforms):
    return P(PROPOSAL, {"isakmp.prop.number": [number], "isakmp.prop.protoid": [protocol],
                        "isakmp.spisize": [len(spi)], "isakmp.spi": [spi] if spi else [],
                        "isakmp.prop.transforms": [len(transforms)]}, transforms)


def be32(v):
    return v.to_bytes(4, "big")


IKE_GCM = [tf(ENCR, AES_GCM_16, 256), tf(PRF, PRF_HMAC_SHA2_256), tf(DH, CURVE25519)]
IKE_CBC = [tf(ENCR, AES_CBC, 256), tf(INTEG, HMAC_SHA2_256_128), tf(PRF, PRF_HMAC_SHA2_256), tf(DH, CURVE25519)]
ESP_GCM = [tf(ENCR, AES_GCM_16, 256), tf(ESN, 0), tf(ESN, 1)]
ESP_GCM_PFS = [tf(ENCR, AES_GCM_16, 256), tf(DH, CURVE25519), tf(ESN, 0), tf(ESN, 1)]


def ke(data):
    return P(KE, {"isakmp.key_exchange.dh_group": [CURVE25519], "isakmp.key_exchange.data": [data]})


def nonce(data):
    return P(NONCE, {"isakmp.nonce": [data]})


def notify(ntype, data=b"", protocol=PROTO_NONE, spi=b"", extra=None):
    fields = {"isakmp.notify.msgtype": [ntype], "isakmp.notify.protoid": [protocol],
              "isakmp.spisize": [len(spi)], "isakmp.spi": [spi] if spi else [], "isakmp.notify.data": [data]}
    fields.update(extra or {})
    return P(N, fields)


def ident(ptype, id_type, field, value):
    return P(ptype, {"isakmp.id.type": [id_type], field: [value]})


def ts(ptype, selectors):
    """selectors: (protocol, start port, end port, start address, end address)."""
    v4 = [s for s in selectors if ipaddress.ip_address(s[3]).version == 4]
    v6 = [s for s in selectors if ipaddress.ip_address(s[3]).version == 6]
    return P(ptype, {
        "isakmp.ts.number": [len(selectors)],
        "isakmp.ts.type": [7 if ipaddress.ip_address(s[3]).version == 4 else 8 for s in selectors],
        "isakmp.ts.protoid": [s[0] for s in selectors],
        "isakmp.ts.selector_length": [16 if ipaddress.ip_address(s[3]).version == 4 else 40 for s in selectors],
        "isakmp.ts.start_port": [s[1] for s in selectors], "isakmp.ts.end_port": [s[2] for s in selectors],
        "isakmp.ts.start_ipv4": [ipaddress.ip_address(s[3]) for s in v4],
        "isakmp.ts.end_ipv4": [ipaddress.ip_address(s[4]) for s in v4],
        "isakmp.ts.start_ipv6": [ipaddress.ip_address(s[3]) for s in v6],
        "isakmp.ts.end_ipv6": [ipaddress.ip_address(s[4]) for s in v6]})


TS_I = ts(TSI, [(0, 0, 65535, "10.1.0.0", "10.1.255.255"),
                (0, 0, 65535, "2001:db8:1::", "2001:db8:1:0:ffff:ffff:ffff:ffff")])
TS_R = ts(TSR, [(6, 443, 443, "10.2.0.0", "10.2.0.255"),
                (17, 500, 4500, "2001:db8:2::", "2001:db8:2:0:ffff:ffff:ffff:ffff")])


def cert(der):
    # tshark hands the data to its X.509 dissector: a certificate it decodes
    # shows x509af fields (a stand-in blob would be malformed).
    return P(CERT, {"isakmp.cert.encoding": [4], "isakmp.cert.data": [len(der)],
                    "x509af.signedCertificate_element": [True]})


def auth_signature():
    return P(AUTH, {"isakmp.auth.method": [14],
                    "isakmp.auth.data": [bytes([len(ECDSA_SHA256_AI)]) + ECDSA_SHA256_AI + SIGNATURE],
                    "isakmp.auth.data.sig.asn1.len": [len(ECDSA_SHA256_AI)],
                    "isakmp.auth.data.sig.asn1.data": [ECDSA_SHA256_AI],
                    "isakmp.auth.data.sig.value": [SIGNATURE]})


def auth_psk():
    return P(AUTH, {"isakmp.auth.method": [2], "isakmp.auth.data": [PSK_AUTH],
                    "isakmp.auth.data.sig.asn1.len": [], "isakmp.auth.data.sig.value": []})


CP_REQUEST = P(CP, {"isakmp.cfg.type": [1], "isakmp.cfg.attr.type": [1, 3, 8], "isakmp.cfg.attr.length": [0, 0, 0],
                    "isakmp.cfg.attr.format": [0, 0, 0]})
ESP_SA = P(SA, {}, [proposal(1, PROTO_ESP, be32(ESP_SPI), *ESP_GCM)])


def auth_request(der, psk=False):
    """HDR, IDi, [CERT,] N(INITIAL_CONTACT), IDr, AUTH, CP(CFG_REQUEST), SAi2, TSi, TSr"""
    return ([ident(IDI, 2, "isakmp.id.data.fqdn", ID_FQDN)] + ([] if psk else [cert(der)])
            + [notify(INITIAL_CONTACT), ident(IDR, 1, "isakmp.id.data.ipv4_addr", ipaddress.ip_address(ID_IPV4)),
               auth_psk() if psk else auth_signature(), CP_REQUEST, ESP_SA, TS_I, TS_R])


AUTH_RESPONSE = [ident(IDR, 1, "isakmp.id.data.ipv4_addr", ipaddress.ip_address(ID_IPV4)), auth_psk(), ESP_SA, TS_I,
                 TS_R]


def sk(inner, iv_size):
    return P(SK, {"isakmp.enc.iv": [iv_size], "isakmp.enc.icd": [16], "isakmp.enc.decrypted": [True]}, inner)


class Msg:
    def __init__(self, spi_i, spi_r, exchange, flags, message_id, payloads):
        self.spi_i, self.spi_r, self.exchange, self.flags, self.message_id = spi_i, spi_r, exchange, flags, message_id
        self.payloads = payloads


def expected(der, fragments, chain_length):
    """name -> Msg: the messages ike_tool prints, in order (fragments as
    skf_cbc_auth_req_1..N; N comes from the tool, at least 3)."""
    m = {
        "sa_init_req": Msg(SPI_I, 0, IKE_SA_INIT, F_I, 0, [
            P(SA, {}, [proposal(1, PROTO_IKE, b"", *IKE_GCM), proposal(2, PROTO_IKE, b"", *IKE_CBC)]),
            ke(KE_I), nonce(NONCE_I), notify(NATD_S, NATD_SRC), notify(NATD_D, NATD_DST), notify(FRAG_SUPPORTED),
            notify(SIGNATURE_HASH_ALGORITHMS, bytes.fromhex("0002000300040005"),
                   extra={"isakmp.notify.data.signature_hash_algorithms": [2, 3, 4, 5]}),
            P(V, {"isakmp.vid_bytes": [VENDOR_ID]})]),
        "sa_init_resp": Msg(SPI_I, SPI_R, IKE_SA_INIT, F_R, 0, [
            P(SA, {}, [proposal(1, PROTO_IKE, b"", *IKE_GCM)]), ke(KE_R), nonce(NONCE_R),
            P(CERTREQ, {"isakmp.certreq.type": [4],
                        "isakmp.ike.certreq.authority": [CERTREQ_HASHES[:20], CERTREQ_HASHES[20:]]}),
            notify(FRAG_SUPPORTED)]),
        "sa_init_cookie": Msg(SPI_I, 0, IKE_SA_INIT, F_R, 0, [notify(COOKIE, COOKIE_DATA)]),
        "auth_req": Msg(SPI_I, SPI_R, IKE_AUTH, F_I, 1, auth_request(der)),
        "auth_req_psk": Msg(SPI_I, SPI_R, IKE_AUTH, F_I, 1, auth_request(der, psk=True)),
        "create_child_rekey": Msg(SPI_I, SPI_R, CREATE_CHILD_SA, F_I, 2, [
            notify(REKEY_SA, b"", PROTO_ESP, be32(REKEY_OLD_SPI)),
            P(SA, {}, [proposal(1, PROTO_ESP, be32(REKEY_NEW_SPI), *ESP_GCM_PFS)]), nonce(NONCE_I), ke(KE_I), TS_I,
            TS_R]),
        "info_delete_esp": Msg(SPI_I, SPI_R, INFORMATIONAL, F_I, 3, [
            P(D, {"isakmp.delete.protoid": [PROTO_ESP], "isakmp.spisize": [4], "isakmp.spinum": [2],
                  "isakmp.delete.spi": [be32(s) for s in DELETE_SPIS]})]),
        "info_delete_ike": Msg(SPI_I, SPI_R, INFORMATIONAL, F_I, 4, [
            P(D, {"isakmp.delete.protoid": [PROTO_IKE], "isakmp.spisize": [0], "isakmp.spinum": [0],
                  "isakmp.delete.spi": []})]),
        # EAP-Response/Identity (RFC 3748 5.1), handed to tshark's EAP dissector.
        "auth_eap": Msg(SPI_I, SPI_R, IKE_AUTH, F_I, 2, [
            P(EAP, {"eap.code": [2], "eap.id": [0], "eap.len": [5 + len(EAP_IDENTITY)], "eap.type": [1],
                    "eap.identity": [EAP_IDENTITY]})]),
        "sk_cbc_auth_req": Msg(CBC_SPI_I, CBC_SPI_R, IKE_AUTH, F_I, 1, [sk(auth_request(der), 16)]),
        "sk_cbc_auth_resp": Msg(CBC_SPI_I, CBC_SPI_R, IKE_AUTH, F_R, 1, [sk(AUTH_RESPONSE, 16)]),
        "sk_gcm_auth_req": Msg(GCM_SPI_I, GCM_SPI_R, IKE_AUTH, F_I, 1, [sk(auth_request(der), 8)]),
    }
    for i in range(1, fragments + 1):
        inner = auth_request(der) if i == fragments else []
        fields = {"isakmp.frag.number": [i], "isakmp.frag.total": [fragments], "isakmp.enc.iv": [16],
                  "isakmp.enc.icd": [16], "isakmp.enc.decrypted": [True]}
        if i == fragments:  # tshark reassembles the chain in the last fragment
            fields["isakmp.fragment.count"] = [fragments]
            fields["isakmp.reassembled.length"] = [chain_length]
        m[f"skf_cbc_auth_req_{i}"] = Msg(CBC_SPI_I, CBC_SPI_R, IKE_AUTH, F_I, 1, [P(SKF, fields, inner)])
    return m


# ---- ike_tool ---------------------------------------------------------------------------------


def run_tool(tool, verbose):
    r = subprocess.run([tool, "--cert", CERT_FILE], capture_output=True, text=True, timeout=60)
    if verbose:
        print("  " + r.stderr.strip().replace("\n", "\n  "))
    check(r.returncode == 0, f"ike_tool exited {r.returncode}:\n{r.stderr}")
    messages, keys = [], {}
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == "keys":
            check(len(f) == 11, f"keys line: {line}")
            name, spi_i, spi_r, encr, bits, integ = f[1], int(f[2], 16), int(f[3], 16), int(f[4]), int(f[5]), int(f[6])
            keys[name] = (spi_i, spi_r, encr, bits, integ) + tuple("" if k == "-" else k for k in f[7:])
        else:
            check(len(f) == 2, f"message line: {line[:80]}")
            messages.append((f[0], bytes.fromhex(f[1])))
    return messages, keys


# ---- tshark -----------------------------------------------------------------------------------

UAT_ENCR = {(AES_CBC, 128): "AES-CBC-128 [RFC3602]", (AES_CBC, 256): "AES-CBC-256 [RFC3602]",
            (AES_GCM_16, 128): "AES-GCM-128 with 16 octet ICV [RFC5282]",
            (AES_GCM_16, 256): "AES-GCM-256 with 16 octet ICV [RFC5282]"}
UAT_INTEG = {0: "NONE [RFC4306]", HMAC_SHA2_256_128: "HMAC_SHA2_256_128 [RFC4868]"}


def decryption_rows(keys):
    """One ikev2_decryption_table row per IKE SA:
    SPIi,SPIr,SK_ei,SK_er,"encr",SK_ai,SK_ar,"integ" (hex without 0x)."""
    rows = {}
    for spi_i, spi_r, encr, bits, integ, sk_ei, sk_er, sk_ai, sk_ar in keys.values():
        check((encr, bits) in UAT_ENCR and integ in UAT_INTEG, f"no tshark name for encr {encr}/{bits}, integ {integ}")
        rows[(spi_i, spi_r)] = (f'{spi_i:016x},{spi_r:016x},{sk_ei},{sk_er},"{UAT_ENCR[(encr, bits)]}",'
                                f'{sk_ai},{sk_ar},"{UAT_INTEG[integ]}"')
    return list(rows.values())


class Tshark:
    def __init__(self, path, work, verbose):
        self.path, self.work, self.verbose = path, work, verbose
        config = os.path.join(work, "wireshark-config")  # an empty personal configuration
        os.makedirs(config, exist_ok=True)
        self.env = dict(os.environ, WIRESHARK_CONFIG_DIR=config)
        self.types = {}
        out = self.run(["-G", "fields"], options=False)  # -G must come first
        for line in out.splitlines():
            f = line.split("\t")
            if len(f) > 3 and f[0] == "F":
                self.types[f[2]] = f[3]

    def run(self, args, options=True):
        argv = [self.path] + (["-n"] if options else []) + list(args)
        if self.verbose:
            print("  $ " + " ".join(a if len(a) < 80 else a[:40] + "..." for a in argv))
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=self.env)
        check(r.returncode == 0, f"tshark exited {r.returncode}:\n{r.stderr}")
        return r.stdout

    FILTER = "_ws.malformed || _ws.expert.severity >= warning"

    def problems(self, pcap, rows):
        """Frames with a malformed packet or expert info >= warning (two passes,
        so that the reassembled message is judged whole)."""
        uat = [a for row in rows for a in ("-o", f"uat:ikev2_decryption_table:{row}")]
        return self.run(["-r", pcap, "-2"] + uat + ["-Y", self.FILTER, "-T", "fields", "-e", "frame.number", "-e",
                                                   "_ws.expert.message"]).strip()

    def pdml(self, pcap, rows):
        uat = [a for row in rows for a in ("-o", f"uat:ikev2_decryption_table:{row}")]
        return ET.fromstring(self.run(["-r", pcap, "-2"] + uat + ["-T", "pdml"]))

    def value(self, field):
        """A PDML field as a Python value, by its tshark type."""
        ftype = self.types.get(field.get("name"), "")
        show, value = field.get("show", ""), field.get("value", "")
        if ftype == "FT_BYTES":
            return bytes.fromhex(value)
        if ftype == "FT_NONE" or ftype == "FT_PROTOCOL":
            return True  # a structure: present (BY_SIZE ones are compared by size)
        if ftype.startswith(("FT_UINT", "FT_INT", "FT_FRAMENUM")):
            return int(show, 0)
        if ftype == "FT_BOOLEAN":
            return int(show, 0)
        if ftype in ("FT_IPv4", "FT_IPv6"):
            return ipaddress.ip_address(show)
        return show


# Fields compared by their size rather than contents: random IVs, ICVs (their
# correctness is the absence of tshark's integrity warning), the certificate
# (a structure tshark hands to its X.509 dissector).
BY_SIZE = {"isakmp.enc.iv", "isakmp.enc.icd", "isakmp.cert.data"}


def own_fields(elem):
    """The fields under elem, nested payloads excluded, in order."""
    out = []
    for child in elem:
        if child.tag == "proto":  # a protocol dissected inside a payload (EAP)
            out += own_fields(child)
        if child.tag != "field" or child.get("name") == "isakmp.typepayload":
            continue
        out.append(child)
        out += own_fields(child)
    return out


def payloads(elem):
    """The payloads directly under elem (through any non-payload fields:
    SK's Decrypted Data / Contained Data)."""
    out = []
    for child in elem:
        if child.tag != "field":
            continue
        if child.get("name") == "isakmp.typepayload":
            out.append(child)
        else:
            out += payloads(child)
    return out


def show(values):
    """values for a failure message (bytes in hex)."""
    return "[" + ", ".join(v.hex() if isinstance(v, bytes) else repr(v) for v in values) + "]"


def compare_payloads(tshark, where, got, want):
    types = [int(p.get("show")) for p in got]
    check(types == [w.type for w in want], f"{where}: payload types {types}, want {[w.type for w in want]}")
    for i, (g, w) in enumerate(zip(got, want)):
        tag = f"{where}/{i + 1}:{w.type}"
        fields = own_fields(g)
        values = {}
        for f in fields:
            v = tshark.value(f)
            if f.get("name") in BY_SIZE:
                v = int(f.get("size"))
            values.setdefault(f.get("name"), []).append(v)
        if w.type not in (PROPOSAL, TRANSFORM):
            # The chain: each payload names the next (0 ends it; SK/SKF name
            # the first inner payload, 0 in fragments after the first).
            if w.type == SK:
                following = w.children[0].type
            elif w.type == SKF:  # RFC 7383 2.5: the first inner payload in fragment 1, else 0
                following = IDI if w.fields["isakmp.frag.number"] == [1] else 0
            else:
                following = want[i + 1].type if i + 1 < len(want) else 0
            check(values.get("isakmp.nextpayload") == [following],
                  f"{tag}: Next Payload {values.get('isakmp.nextpayload')}, want {following}")
            check(values.get("isakmp.criticalpayload") == [0],
                  f"{tag}: critical bit {values.get('isakmp.criticalpayload')}")
        for name, want_values in w.fields.items():
            check(name in tshark.types, f"{tag}: tshark 4.0 has no field {name}")
            got_values = values.get(name, [])
            check(got_values == want_values, f"{tag}: {name} = {show(got_values)}, want {show(want_values)}")
        compare_payloads(tshark, tag, payloads(g), w.children)


def write_pcap(path, messages, keys):
    packets = []
    for name, msg in messages:
        if name in keys:  # protected: UDP 4500 behind the non-ESP marker (RFC 3948 2.2)
            pkt = IP(src=INITIATOR, dst=RESPONDER) / UDP(sport=4500, dport=4500) / Raw(bytes(4) + msg)
        else:
            pkt = IP(src=INITIATOR, dst=RESPONDER) / UDP(sport=500, dport=500) / Raw(msg)
        packets.append(Raw(raw(pkt)))
    wrpcap(path, packets, linktype=LINKTYPE_RAW)


def analyze(tshark, pcap, messages, keys, want):
    """Every check on one pcap; raises Failure. Returns a summary."""
    rows = decryption_rows(keys)
    bad = tshark.problems(pcap, rows)
    check(bad == "", f"tshark reports malformed packets or warnings in {pcap}:\n{bad}")
    root = tshark.pdml(pcap, rows)
    packets = root.findall("packet")
    check(len(packets) == len(messages), f"tshark shows {len(packets)} frames, want {len(messages)}")
    inner_total = 0
    for (name, msg), packet in zip(messages, packets):
        check(name in want, f"ike_tool printed an unexpected message {name}")
        w = want[name]
        protos = [p.get("name") for p in packet.findall("proto")]
        check("isakmp" in protos, f"{name}: tshark does not dissect it as ISAKMP ({protos})")
        check(("udpencap" in protos) == (name in keys), f"{name}: layers {protos}")
        isakmp = next(p for p in packet.findall("proto") if p.get("name") == "isakmp")
        header = {}
        for f in own_fields(isakmp):
            header.setdefault(f.get("name"), []).append(tshark.value(f))
        got = (header.get("isakmp.ispi"), header.get("isakmp.rspi"), header.get("isakmp.exchangetype"),
               header.get("isakmp.flags"), header.get("isakmp.messageid"), header.get("isakmp.length"),
               header.get("isakmp.mjver"), header.get("isakmp.mnver"), header.get("isakmp.nextpayload"))
        exp = ([w.spi_i.to_bytes(8, "big")], [w.spi_r.to_bytes(8, "big")], [w.exchange], [w.flags], [w.message_id],
               [len(msg)], [2], [0], [w.payloads[0].type])
        check(got == exp, f"{name}: header (SPIi, SPIr, exchange, flags, ID, length, version, next) {got}, want {exp}")
        compare_payloads(tshark, name, payloads(isakmp), w.payloads)
        inner_total += sum(len(p.children) for p in w.payloads if p.type in (SK, SKF))
    return inner_total


# ---- main -------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", required=True, help="the ike_tool executable")
    ap.add_argument("--work", help="directory for the pcap files (default: a temporary one)")
    ap.add_argument("-v", dest="verbose", action="store_true")
    args = ap.parse_args()

    tshark_path = shutil.which("tshark")
    if not tshark_path:
        missing("tshark")
    if not os.access(args.tool, os.X_OK):
        print(f"ike_tshark: FAIL: {args.tool} is not executable")
        return 1
    start = time.monotonic()
    if args.work:
        work = args.work
        os.makedirs(work, exist_ok=True)
        for f in os.listdir(work):  # the previous run's
            if f.endswith(".pcap"):
                os.remove(os.path.join(work, f))
    else:
        work = tempfile.mkdtemp(prefix="ike_tshark.")

    failures = []

    def case(name, fn):
        t0 = time.monotonic()
        try:
            summary = fn()
            status = "ok"
        except Failure as e:
            status, summary = "FAIL", ""
            failures.append((name, str(e)))
        except Exception as e:  # a tshark or Scapy surprise fails this case, not the run
            status, summary = "FAIL", ""
            failures.append((name, f"{type(e).__name__}: {e}"))
        print(f"tshark {status:4}  {name}  ({time.monotonic() - t0:.2f} s)  {summary}", flush=True)

    state = {}

    def setup():
        state["tshark"] = Tshark(tshark_path, work, args.verbose)
        messages, keys = run_tool(args.tool, args.verbose)
        with open(CERT_FILE, "rb") as f:
            der = f.read()
        fragments = sum(1 for n, _ in messages if n.startswith("skf_"))
        check(fragments >= 3, f"only {fragments} SKF fragments")
        # The chain the fragments carry is the unprotected request's, after its header.
        chain_length = len(dict(messages)["auth_req"]) - 28
        want = expected(der, fragments, chain_length)
        names = [n for n, _ in messages]
        check(names == list(want), f"ike_tool printed {names}, want {list(want)}")
        check(set(keys) == {n for n in names if n.startswith(("sk_", "skf_"))}, f"keys for {sorted(keys)}")
        state.update(messages=messages, keys=keys, want=want, fragments=fragments)
        return f"{len(messages)} messages, {len(keys)} protected ({fragments} SKF fragments)"

    def clean():
        path = os.path.join(work, "ike.pcap")
        write_pcap(path, state["messages"], state["keys"])
        inner = analyze(state["tshark"], path, state["messages"], state["keys"], state["want"])
        return (f"{len(state['messages'])} frames dissected as built, no malformed packet or warning, "
                f"every ICV good, {inner} decrypted inner payloads checked")

    def wrong_integrity_key():
        # One octet of SK_ai off: tshark must flag every AES-CBC message the
        # initiator sent, and only those (the response is checked with SK_ar).
        keys = dict(state["keys"])
        for name, k in keys.items():
            if k[2] == AES_CBC:
                sk_ai = bytes.fromhex(k[7])
                keys[name] = k[:7] + ((bytes([sk_ai[0] ^ 1]) + sk_ai[1:]).hex(),) + k[8:]
        path = os.path.join(work, "ike.pcap")
        out = state["tshark"].problems(path, decryption_rows(keys))
        flagged = {int(line.split("\t")[0]) for line in out.splitlines() if "Integrity Checksum" in line}
        want = {i + 1 for i, (n, m) in enumerate(state["messages"])
                if n in keys and keys[n][2] == AES_CBC and m[19] & F_I}
        check(flagged == want, f"wrong SK_ai: tshark flags frames {sorted(flagged)}, want {sorted(want)}:\n{out}")
        return f"a wrong SK_ai is caught in frames {sorted(flagged)}"

    def bad_length():
        # auth_req with its IDi Payload Length one too long must fail.
        messages = []
        for name, msg in state["messages"]:
            if name == "auth_req":
                b = bytearray(msg)
                b[31] += 1  # the first payload's length (low octet) at offset 28 + 2
                msg = bytes(b)
            messages.append((name, msg))
        path = os.path.join(work, "ike_bad_length.pcap")
        write_pcap(path, messages, state["keys"])
        try:
            analyze(state["tshark"], path, messages, state["keys"], state["want"])
        except Failure as e:
            return f"a Payload Length off by one is caught ({str(e).splitlines()[-1][:100]})"
        raise Failure("a Payload Length off by one passed every check")

    case("ike_tool", setup)
    if not failures:
        case("dissect and decrypt", clean)
        case("negative: wrong SK_ai", wrong_integrity_key)
        case("negative: bad Payload Length", bad_length)

    for name, msg in failures:
        print(f"\nFAIL {name}:\n  " + msg.replace("\n", "\n  "))
    print(f"\nike_tshark: {len(failures)} failed, {time.monotonic() - start:.1f} s (pcaps in {work})")
    if not args.work and not failures:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
