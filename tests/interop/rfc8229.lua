-- SPDX-License-Identifier: Apache-2.0
-- A tshark dissector for IKE and ESP over TCP (RFC 8229, updated by RFC
-- 9329), written from the RFC for tests/interop/natt_tshark.py: tshark 4.0
-- has none (its "tcpencap" dissector is Cisco's proprietary IPsec-over-TCP
-- format, with a 16-octet trailer per segment, not RFC 8229).
--
-- This file only splits the stream, with tshark's own TCP reassembly
-- (dissect_tcp_pdus); tshark's ISAKMP and ESP dissectors judge the messages
-- (ESP with the SA's keys: a message boundary off by one octet fails the
-- ICV). Strict: a length below the smallest message, an IKE message whose
-- own length field disagrees with the framing, or an octet left over is an
-- error-severity expert item.
--
--   tshark -X lua_script:rfc8229.lua -o tcp.desegment_tcp_streams:TRUE ...
-- registers "iketcp" on TCP port 4500 (the Lua script argument
-- iketcp.port=N picks another: -X lua_script1:port=N).

local iketcp = Proto("iketcp", "IKE and ESP over TCP (RFC 8229)")

local f_prefix = ProtoField.string("iketcp.prefix", "Stream prefix")
local f_length = ProtoField.uint16("iketcp.length", "Length", base.DEC)
local f_marker = ProtoField.bytes("iketcp.non_esp_marker", "Non-ESP marker")
local f_kind = ProtoField.string("iketcp.kind", "Message")
iketcp.fields = { f_prefix, f_length, f_marker, f_kind }

local e_length = ProtoExpert.new("iketcp.bad_length", "RFC 8229 length field out of range",
  expert.group.MALFORMED, expert.severity.ERROR)
local e_ike_length = ProtoExpert.new("iketcp.ike_length", "IKE header length disagrees with the framing",
  expert.group.MALFORMED, expert.severity.ERROR)
iketcp.experts = { e_length, e_ike_length }

local PREFIX = "IKETCP"
local LENGTH_SIZE = 2
local ESP_MIN = 8    -- SPI, sequence number
local IKE_HEADER = 28

local isakmp = Dissector.get("isakmp")
local esp = Dissector.get("esp")

-- The stream prefix is 6 octets; every framed message is at least 10.
local MIN_PDU = 6

local function is_prefix(tvb, offset)
  return tvb:len() - offset >= #PREFIX and tvb(offset, #PREFIX):string() == PREFIX
end

local function pdu_length(tvb, _pinfo, offset)
  if is_prefix(tvb, offset) then
    return #PREFIX
  end
  local length = tvb(offset, LENGTH_SIZE):uint()
  if length < LENGTH_SIZE then
    return LENGTH_SIZE -- dissect_pdu reports it; the stream's framing is lost
  end
  return length
end

local function dissect_pdu(tvb, pinfo, tree)
  pinfo.cols.protocol = "IKETCP"
  if is_prefix(tvb, 0) and tvb:len() == #PREFIX then
    local t = tree:add(iketcp, tvb(), "IKE over TCP: stream prefix")
    t:add(f_prefix, tvb(0, #PREFIX))
    return #PREFIX
  end
  local length = tvb(0, LENGTH_SIZE):uint()
  local t = tree:add(iketcp, tvb(), "IKE over TCP")
  local item = t:add(f_length, tvb(0, LENGTH_SIZE))
  if length < LENGTH_SIZE + ESP_MIN or length ~= tvb:len() then
    item:add_proto_expert_info(e_length)
    return tvb:len()
  end
  local body = tvb(LENGTH_SIZE):tvb()
  if body(0, 4):uint() == 0 then
    t:add(f_marker, tvb(LENGTH_SIZE, 4))
    t:add(f_kind, "ike")
    t:append_text(", IKE message")
    local ike = body(4):tvb()
    if ike:len() < IKE_HEADER or ike(24, 4):uint() ~= ike:len() then
      item:add_proto_expert_info(e_ike_length)
    end
    isakmp:call(ike, pinfo, tree)
  else
    t:add(f_kind, "esp")
    t:append_text(", ESP packet")
    esp:call(body, pinfo, tree)
  end
  return tvb:len()
end

function iketcp.dissector(tvb, pinfo, tree)
  return dissect_tcp_pdus(tvb, tree, MIN_PDU, pdu_length, dissect_pdu, true)
end

local args = { ... }
local port = 4500
for _, a in ipairs(args) do
  local v = a:match("^port=(%d+)$")
  if v then port = tonumber(v) end
end
DissectorTable.get("tcp.port"):add(port, iketcp)
