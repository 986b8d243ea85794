-- Wireshark / tshark dissector for OpenBSD pfsync, protocol version 6
-- (IP protocol 240), as tunpf speaks it. Wireshark has no pfsync dissector
-- of its own.
--
--   tshark -X lua_script:contrib/wireshark/pfsync.lua -r capture.pcap -V
--   wireshark -X lua_script:contrib/wireshark/pfsync.lua capture.pcap
--   (or copy it into ~/.local/lib/wireshark/plugins/)
--
-- The walk over the sections follows OpenBSD's receiver: sections of
-- unknown or obsolete actions, or with records shorter than known, are
-- skipped by len x count; records longer than known are read for their known
-- prefix. Anything malformed is reported as expert info, never a Lua error.
-- Field names: pfsync.*, e.g. pfsync.action, pfsync.count, pfsync.state.id,
-- pfsync.state.creatorid, pfsync.key.addr0 (pfsync.key.addr0_v6 for IPv6),
-- pfsync.src.seqlo; `tshark -G fields | grep pfsync` lists them all.

local pfsync = Proto("pfsync", "OpenBSD pfsync (protocol version 6)")

local HEADER_LEN = 20
local SUBHEADER_LEN = 4
local STATE_LEN = 264

local action_names = {
  [0] = "CLR", [1] = "OINS", [2] = "INS_ACK", [3] = "OUPD", [4] = "UPD_C", [5] = "UPD_REQ",
  [6] = "DEL", [7] = "DEL_C", [8] = "INS_F", [9] = "DEL_F", [10] = "BUS", [11] = "OTDB",
  [12] = "EOF", [13] = "INS", [14] = "UPD", [15] = "TDB",
}
-- bytes of one message; 0 = no layout (obsolete, EOF): skipped
local message_len = { [0] = 20, 0, 12, 0, 84, 12, 264, 12, 0, 0, 12, 0, 0, 264, 264, 52 }
local af_names = { [0] = "(as the state)", [2] = "IPv4", [24] = "IPv6" }
local direction_names = { [0] = "unknown", [1] = "in", [2] = "out" }
local timeout_names = {
  [0] = "tcp.first", "tcp.opening", "tcp.established", "tcp.closing", "tcp.finwait", "tcp.closed",
  "udp.first", "udp.single", "udp.multiple", "icmp.first", "icmp.error",
  "other.first", "other.single", "other.multiple",
}
local tcp_state_names = {
  [0] = "CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_1",
  "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT", "PROXY_SRC", "PROXY_DST",
}
local peer_state_names = { [0] = "NO_TRAFFIC", "SINGLE", "MULTIPLE" }
local bus_status_names = { [1] = "START", [2] = "END" }
local rt_names = { [0] = "none", [1] = "route-to", [2] = "dup-to", [3] = "reply-to" }

local f = pfsync.fields
f.version = ProtoField.uint8("pfsync.version", "Version", base.DEC)
f.len = ProtoField.uint16("pfsync.len", "Length", base.DEC)
f.pfcksum = ProtoField.bytes("pfsync.pfcksum", "Ruleset checksum")
f.action = ProtoField.uint8("pfsync.action", "Action", base.DEC, action_names)
f.mlen = ProtoField.uint8("pfsync.mlen", "Message length (words)", base.DEC)
f.count = ProtoField.uint16("pfsync.count", "Count", base.DEC)
f.skipped = ProtoField.bytes("pfsync.skipped", "Skipped messages")

-- identities (every message that names a state uses these)
f.id = ProtoField.uint64("pfsync.state.id", "State id", base.HEX)
f.creatorid = ProtoField.uint32("pfsync.state.creatorid", "Creator id", base.HEX)

-- the full state
f.ifname = ProtoField.string("pfsync.state.ifname", "Interface")
f.rt_addr = ProtoField.ipv4("pfsync.state.rt_addr", "Route-to address")
f.rt_addr6 = ProtoField.ipv6("pfsync.state.rt_addr_v6", "Route-to address")
f.rule = ProtoField.uint32("pfsync.state.rule", "Rule", base.DEC)
f.anchor = ProtoField.uint32("pfsync.state.anchor", "Anchor rule", base.DEC)
f.nat_rule = ProtoField.uint32("pfsync.state.nat_rule", "NAT rule", base.DEC)
f.creation = ProtoField.uint32("pfsync.state.creation", "Age (s)", base.DEC)
f.expire = ProtoField.uint32("pfsync.state.expire", "Expires in (s)", base.DEC)
f.packets0 = ProtoField.uint64("pfsync.state.packets0", "Packets (forward)", base.DEC)
f.packets1 = ProtoField.uint64("pfsync.state.packets1", "Packets (reverse)", base.DEC)
f.bytes0 = ProtoField.uint64("pfsync.state.bytes0", "Bytes (forward)", base.DEC)
f.bytes1 = ProtoField.uint64("pfsync.state.bytes1", "Bytes (reverse)", base.DEC)
f.rtableid0 = ProtoField.int32("pfsync.state.rtableid0", "Routing table (wire)", base.DEC)
f.rtableid1 = ProtoField.int32("pfsync.state.rtableid1", "Routing table (stack)", base.DEC)
f.max_mss = ProtoField.uint16("pfsync.state.max_mss", "Max MSS", base.DEC)
f.af = ProtoField.uint8("pfsync.state.af", "Address family", base.DEC, af_names)
f.proto = ProtoField.uint8("pfsync.state.proto", "Protocol", base.DEC)
f.direction = ProtoField.uint8("pfsync.state.direction", "Direction", base.DEC, direction_names)
f.log = ProtoField.uint8("pfsync.state.log", "Log", base.HEX)
f.rt = ProtoField.uint8("pfsync.state.rt", "Route", base.DEC, rt_names)
f.timeout = ProtoField.uint8("pfsync.state.timeout", "Timeout class", base.DEC, timeout_names)
f.sync_flags = ProtoField.uint8("pfsync.state.sync_flags", "Sync flags", base.HEX)
f.updates = ProtoField.uint8("pfsync.state.updates", "Updates", base.DEC)
f.min_ttl = ProtoField.uint8("pfsync.state.min_ttl", "Min TTL", base.DEC)
f.set_tos = ProtoField.uint8("pfsync.state.set_tos", "Set TOS", base.HEX)
f.state_flags = ProtoField.uint16("pfsync.state.state_flags", "State flags", base.HEX)
f.sf_allowopts = ProtoField.bool("pfsync.state.state_flags.allowopts", "ALLOWOPTS", 16, nil, 0x0001)
f.sf_sloppy = ProtoField.bool("pfsync.state.state_flags.sloppy", "SLOPPY", 16, nil, 0x0002)
f.sf_pflow = ProtoField.bool("pfsync.state.state_flags.pflow", "PFLOW", 16, nil, 0x0004)
f.sf_nosync = ProtoField.bool("pfsync.state.state_flags.nosync", "NOSYNC", 16, nil, 0x0008)
f.sf_ack = ProtoField.bool("pfsync.state.state_flags.ack", "ACK (sender deferred the packet)", 16, nil, 0x0010)
f.sf_nodf = ProtoField.bool("pfsync.state.state_flags.nodf", "NODF", 16, nil, 0x0020)
f.sf_settos = ProtoField.bool("pfsync.state.state_flags.settos", "SETTOS", 16, nil, 0x0040)
f.sf_randomid = ProtoField.bool("pfsync.state.state_flags.randomid", "RANDOMID", 16, nil, 0x0080)
f.sf_scrubtcp = ProtoField.bool("pfsync.state.state_flags.scrub_tcp", "SCRUB_TCP", 16, nil, 0x0100)
f.sf_setprio = ProtoField.bool("pfsync.state.state_flags.setprio", "SETPRIO", 16, nil, 0x0200)
f.sf_inpunlinked = ProtoField.bool("pfsync.state.state_flags.inp_unlinked", "INP_UNLINKED", 16, nil, 0x0400)
f.set_prio0 = ProtoField.uint8("pfsync.state.set_prio0", "Priority 0", base.DEC)
f.set_prio1 = ProtoField.uint8("pfsync.state.set_prio1", "Priority 1", base.DEC)

-- keys
f.key_addr0 = ProtoField.ipv4("pfsync.key.addr0", "Address 0")
f.key_addr1 = ProtoField.ipv4("pfsync.key.addr1", "Address 1")
f.key_addr0_6 = ProtoField.ipv6("pfsync.key.addr0_v6", "Address 0")
f.key_addr1_6 = ProtoField.ipv6("pfsync.key.addr1_v6", "Address 1")
f.key_port0 = ProtoField.uint16("pfsync.key.port0", "Port 0", base.DEC)
f.key_port1 = ProtoField.uint16("pfsync.key.port1", "Port 1", base.DEC)
f.key_rdomain = ProtoField.uint16("pfsync.key.rdomain", "Routing domain", base.DEC)
f.key_af = ProtoField.uint8("pfsync.key.af", "Address family", base.DEC, af_names)

-- peers: src (the initiator) and dst
local function peer_fields(side, label)
  local p = "pfsync." .. side .. "."
  return {
    scrub_flags = ProtoField.uint16(p .. "scrub_flags", label .. " scrub flags", base.HEX),
    scrub_ttl = ProtoField.uint8(p .. "scrub_ttl", label .. " scrub TTL", base.DEC),
    scrub_flag = ProtoField.uint8(p .. "scrub_flag", label .. " scrub valid", base.HEX),
    ts_mod = ProtoField.uint32(p .. "ts_mod", label .. " timestamp modulation", base.HEX),
    seqlo = ProtoField.uint32(p .. "seqlo", label .. " seqlo", base.DEC),
    seqhi = ProtoField.uint32(p .. "seqhi", label .. " seqhi", base.DEC),
    seqdiff = ProtoField.uint32(p .. "seqdiff", label .. " seqdiff", base.DEC),
    max_win = ProtoField.uint16(p .. "max_win", label .. " max window", base.DEC),
    mss = ProtoField.uint16(p .. "mss", label .. " MSS", base.DEC),
    state = ProtoField.uint8(p .. "state", label .. " state", base.DEC),
    wscale = ProtoField.uint8(p .. "wscale", label .. " window scale", base.HEX),
  }
end
local peer_f = { src = peer_fields("src", "Source"), dst = peer_fields("dst", "Destination") }
for side, fields in pairs(peer_f) do
  for name, field in pairs(fields) do f[side .. "_" .. name] = field end
end

-- UPD_C's own byte of flags
f.updc_state_flags = ProtoField.uint8("pfsync.upd_c.state_flags", "State flags", base.HEX)
-- CLR
f.clr_ifname = ProtoField.string("pfsync.clr.ifname", "Interface")
f.clr_creatorid = ProtoField.uint32("pfsync.clr.creatorid", "Creator id", base.HEX)
-- BUS
f.bus_creatorid = ProtoField.uint32("pfsync.bus.creatorid", "Creator id", base.HEX)
f.bus_endtime = ProtoField.uint32("pfsync.bus.endtime", "End time", base.DEC)
f.bus_status = ProtoField.uint8("pfsync.bus.status", "Status", base.DEC, bus_status_names)
-- TDB
f.tdb_spi = ProtoField.uint32("pfsync.tdb.spi", "SPI", base.HEX)
f.tdb_dst = ProtoField.bytes("pfsync.tdb.dst", "Destination (sockaddr)")
f.tdb_rpl = ProtoField.uint64("pfsync.tdb.rpl", "Replay counter", base.DEC)
f.tdb_cur_bytes = ProtoField.uint64("pfsync.tdb.cur_bytes", "Byte counter", base.DEC)
f.tdb_sproto = ProtoField.uint8("pfsync.tdb.sproto", "Security protocol", base.DEC)
f.tdb_updates = ProtoField.uint8("pfsync.tdb.updates", "Updates", base.DEC)
f.tdb_rdomain = ProtoField.uint16("pfsync.tdb.rdomain", "Routing domain", base.DEC)

local ef_short = ProtoExpert.new("pfsync.short", "Shorter than the pfsync header (hdrops)", expert.group.MALFORMED, expert.severity.ERROR)
local ef_version = ProtoExpert.new("pfsync.bad_version", "Not pfsync version 6 (badver)", expert.group.MALFORMED, expert.severity.ERROR)
local ef_len = ProtoExpert.new("pfsync.bad_len", "Length beyond the bytes present (badlen)", expert.group.MALFORMED, expert.severity.ERROR)
local ef_action = ProtoExpert.new("pfsync.bad_action", "Section cannot be skipped (badact)", expert.group.MALFORMED, expert.severity.ERROR)
local ef_skipped = ProtoExpert.new("pfsync.skipped_section", "Section skipped", expert.group.PROTOCOL, expert.severity.NOTE)
local ef_value = ProtoExpert.new("pfsync.bad_value", "Value out of range (badval)", expert.group.PROTOCOL, expert.severity.WARN)
local ef_trailing = ProtoExpert.new("pfsync.trailing", "Bytes after the last section", expert.group.PROTOCOL, expert.severity.NOTE)
local ef_error = ProtoExpert.new("pfsync.dissector_error", "Dissector error", expert.group.MALFORMED, expert.severity.ERROR)
pfsync.experts = { ef_short, ef_version, ef_len, ef_action, ef_skipped, ef_value, ef_trailing, ef_error }

local function name_of(tbl, v)
  return tbl[v] or tostring(v)
end

local function add_id(tree, tvb, off, creator_off)
  tree:add(f.id, tvb(off, 8))
  tree:add(f.creatorid, tvb(creator_off, 4))
end

local function add_peer(tree, tvb, off, side, label, tcp)
  local pf = peer_f[side]
  local st = tvb(off + 24, 1):uint()
  local t = tree:add(tvb(off, 32), label)
  t:add(pf.scrub_flags, tvb(off, 2))
  t:add(pf.scrub_ttl, tvb(off + 2, 1))
  t:add(pf.scrub_flag, tvb(off + 3, 1))
  t:add(pf.ts_mod, tvb(off + 4, 4))
  t:add(pf.seqlo, tvb(off + 8, 4))
  t:add(pf.seqhi, tvb(off + 12, 4))
  t:add(pf.seqdiff, tvb(off + 16, 4))
  t:add(pf.max_win, tvb(off + 20, 2))
  t:add(pf.mss, tvb(off + 22, 2))
  local si = t:add(pf.state, tvb(off + 24, 1))
  si:append_text(" (" .. name_of(tcp and tcp_state_names or peer_state_names, st) .. ")")
  if st > 12 then si:add_proto_expert_info(ef_value, "peer state above 12") end
  local ws = tvb(off + 25, 1):uint()
  local wi = t:add(pf.wscale, tvb(off + 25, 1))
  if ws >= 0x80 then wi:append_text(string.format(" (shift %d, option seen)", ws % 16)) end
  t:append_text(string.format(": %s seqlo %u seqhi %u", name_of(tcp and tcp_state_names or peer_state_names, st), tvb(off + 8, 4):uint(), tvb(off + 12, 4):uint()))
end

local function addr_text(tvb, off, af)
  if af == 24 then return tostring(tvb(off, 16):ipv6()) end
  return tostring(tvb(off, 4):ipv4())
end

local function add_key(tree, tvb, off, label, state_af)
  local kaf = tvb(off + 38, 1):uint()
  local af = kaf ~= 0 and kaf or state_af
  local t = tree:add(tvb(off, 40), label)
  if af == 24 then
    t:add(f.key_addr0_6, tvb(off, 16))
    t:add(f.key_addr1_6, tvb(off + 16, 16))
  else
    t:add(f.key_addr0, tvb(off, 4))
    t:add(f.key_addr1, tvb(off + 16, 4))
  end
  t:add(f.key_port0, tvb(off + 32, 2))
  t:add(f.key_port1, tvb(off + 34, 2))
  t:add(f.key_rdomain, tvb(off + 36, 2))
  local ai = t:add(f.key_af, tvb(off + 38, 1))
  if kaf ~= 0 and kaf ~= 2 and kaf ~= 24 then ai:add_proto_expert_info(ef_value, "address family neither 2 nor 24") end
  t:append_text(string.format(": %s:%u - %s:%u", addr_text(tvb, off, af), tvb(off + 32, 2):uint(), addr_text(tvb, off + 16, af), tvb(off + 34, 2):uint()))
end

local function dissect_state(tree, tvb, off)
  local t = tree:add(tvb(off, STATE_LEN), "State")
  local af = tvb(off + 250, 1):uint()
  local proto = tvb(off + 251, 1):uint()
  local tcp = proto == 6
  add_id(t, tvb, off, off + 236)
  t:add(f.ifname, tvb(off + 8, 16), tvb(off + 8, 16):stringz())
  add_key(t, tvb, off + 24, "Wire key", af)
  add_key(t, tvb, off + 64, "Stack key", af)
  add_peer(t, tvb, off + 104, "src", "Source peer", tcp)
  add_peer(t, tvb, off + 136, "dst", "Destination peer", tcp)
  if af == 24 then t:add(f.rt_addr6, tvb(off + 168, 16)) else t:add(f.rt_addr, tvb(off + 168, 4)) end
  t:add(f.rule, tvb(off + 184, 4))
  t:add(f.anchor, tvb(off + 188, 4))
  t:add(f.nat_rule, tvb(off + 192, 4))
  t:add(f.creation, tvb(off + 196, 4))
  t:add(f.expire, tvb(off + 200, 4))
  t:add(f.packets0, tvb(off + 204, 8))
  t:add(f.packets1, tvb(off + 212, 8))
  t:add(f.bytes0, tvb(off + 220, 8))
  t:add(f.bytes1, tvb(off + 228, 8))
  t:add(f.rtableid0, tvb(off + 240, 4))
  t:add(f.rtableid1, tvb(off + 244, 4))
  t:add(f.max_mss, tvb(off + 248, 2))
  local ai = t:add(f.af, tvb(off + 250, 1))
  if af ~= 2 and af ~= 24 then ai:add_proto_expert_info(ef_value, "address family neither 2 nor 24") end
  t:add(f.proto, tvb(off + 251, 1))
  local di = t:add(f.direction, tvb(off + 252, 1))
  if tvb(off + 252, 1):uint() > 2 then di:add_proto_expert_info(ef_value, "direction above 2") end
  t:add(f.log, tvb(off + 253, 1))
  t:add(f.rt, tvb(off + 254, 1))
  local ti = t:add(f.timeout, tvb(off + 255, 1))
  if tvb(off + 255, 1):uint() >= 20 then ti:add_proto_expert_info(ef_value, "timeout class 20 or above") end
  t:add(f.sync_flags, tvb(off + 256, 1))
  t:add(f.updates, tvb(off + 257, 1))
  t:add(f.min_ttl, tvb(off + 258, 1))
  t:add(f.set_tos, tvb(off + 259, 1))
  local fi = t:add(f.state_flags, tvb(off + 260, 2))
  for _, bit in ipairs({ f.sf_allowopts, f.sf_sloppy, f.sf_pflow, f.sf_nosync, f.sf_ack, f.sf_nodf, f.sf_settos, f.sf_randomid, f.sf_scrubtcp, f.sf_setprio, f.sf_inpunlinked }) do
    fi:add(bit, tvb(off + 260, 2))
  end
  t:add(f.set_prio0, tvb(off + 262, 1))
  t:add(f.set_prio1, tvb(off + 263, 1))
  if tvb(off + 236, 4):uint() == 0 then t:add_proto_expert_info(ef_value, "creator id 0") end
  t:append_text(string.format(": id %s creator %08x %s proto %u %s", tostring(tvb(off, 8):uint64():tohex()), tvb(off + 236, 4):uint(),
    name_of(af_names, af), proto, name_of(direction_names, tvb(off + 252, 1):uint())))
end

local function dissect_upd_c(tree, tvb, off)
  local t = tree:add(tvb(off, 84), "Compressed update")
  add_id(t, tvb, off, off + 72)
  -- UPD_C does not say the protocol: show TCP state names (the common case)
  add_peer(t, tvb, off + 8, "src", "Source peer", true)
  add_peer(t, tvb, off + 40, "dst", "Destination peer", true)
  t:add(f.expire, tvb(off + 76, 4))
  t:add(f.timeout, tvb(off + 80, 1))
  t:add(f.updc_state_flags, tvb(off + 81, 1))
  t:append_text(string.format(": id %s creator %08x", tostring(tvb(off, 8):uint64():tohex()), tvb(off + 72, 4):uint()))
end

local function dissect_id_message(label)
  return function(tree, tvb, off)
    local t = tree:add(tvb(off, 12), label)
    add_id(t, tvb, off, off + 8)
    local id = tvb(off, 8):uint64()
    local creator = tvb(off + 8, 4):uint()
    if label == "Update request" and id == UInt64(0, 0) and creator == 0 then
      t:append_text(": everything (bulk update request)")
    else
      t:append_text(string.format(": id %s creator %08x", tostring(id:tohex()), creator))
    end
  end
end

local function dissect_clr(tree, tvb, off)
  local t = tree:add(tvb(off, 20), "Clear")
  local name = tvb(off, 16):stringz()
  t:add(f.clr_ifname, tvb(off, 16), name)
  t:add(f.clr_creatorid, tvb(off + 16, 4))
  t:append_text(string.format(": creator %08x on %s", tvb(off + 16, 4):uint(), name == "" and "every interface" or name))
end

local function dissect_bus(tree, tvb, off)
  local t = tree:add(tvb(off, 12), "Bulk update status")
  t:add(f.bus_creatorid, tvb(off, 4))
  t:add(f.bus_endtime, tvb(off + 4, 4))
  t:add(f.bus_status, tvb(off + 8, 1))
  t:append_text(": " .. name_of(bus_status_names, tvb(off + 8, 1):uint()))
end

local function dissect_tdb(tree, tvb, off)
  local t = tree:add(tvb(off, 52), "IPsec SA counters")
  t:add(f.tdb_spi, tvb(off, 4))
  t:add(f.tdb_dst, tvb(off + 4, 28))
  t:add(f.tdb_rpl, tvb(off + 32, 8))
  t:add(f.tdb_cur_bytes, tvb(off + 40, 8))
  t:add(f.tdb_sproto, tvb(off + 48, 1))
  t:add(f.tdb_updates, tvb(off + 49, 1))
  t:add(f.tdb_rdomain, tvb(off + 50, 2))
end

local handlers = {
  [0] = dissect_clr, [2] = dissect_id_message("Insert acknowledgement"), [4] = dissect_upd_c,
  [5] = dissect_id_message("Update request"), [6] = dissect_state, [7] = dissect_id_message("Compressed delete"),
  [10] = dissect_bus, [13] = dissect_state, [14] = dissect_state, [15] = dissect_tdb,
}

local function dissect(tvb, pinfo, tree)
  local present = tvb:len()
  local root = tree:add(pfsync, tvb())
  if present < HEADER_LEN then
    root:add_proto_expert_info(ef_short, string.format("%d bytes, the header needs %d", present, HEADER_LEN))
    return
  end
  local version = tvb(0, 1):uint()
  local len = tvb(2, 2):uint()
  root:add(f.version, tvb(0, 1))
  local li = root:add(f.len, tvb(2, 2))
  root:add(f.pfcksum, tvb(4, 16))
  if version ~= 6 then
    root:add_proto_expert_info(ef_version, string.format("version %d (FreeBSD speaks 5)", version))
    pinfo.cols.info = string.format("pfsync version %d", version)
    return
  end
  if len > present or len < HEADER_LEN then
    li:add_proto_expert_info(ef_len, string.format("length %d with %d bytes present", len, present))
    return
  end
  local summary = {}
  local off = HEADER_LEN
  while len - off >= SUBHEADER_LEN do
    local action = tvb(off, 1):uint()
    local stride = tvb(off + 1, 1):uint() * 4
    local count = tvb(off + 2, 2):uint()
    local known = message_len[action]
    local st = root:add(tvb(off, SUBHEADER_LEN), string.format("%s x %d", name_of(action_names, action), count))
    st:add(f.action, tvb(off, 1))
    st:add(f.mlen, tvb(off + 1, 1)):append_text(string.format(" (%d bytes)", stride))
    st:add(f.count, tvb(off + 2, 2))
    local unreadable = known == nil or stride < known
    if unreadable and (count == 0 or stride == 0) then
      st:add_proto_expert_info(ef_action, string.format("action %d with len %d and count %d", action, stride, count))
      break
    end
    off = off + SUBHEADER_LEN
    local bytes = stride * count
    if bytes > len - off then
      st:add_proto_expert_info(ef_len, string.format("%d messages of %d bytes, %d bytes left", count, stride, len - off))
      break
    end
    if bytes > 0 then st:set_len(SUBHEADER_LEN + bytes) end
    local handler = handlers[action]
    if unreadable or handler == nil then
      if bytes > 0 then st:add(f.skipped, tvb(off, bytes)) end
      st:add_proto_expert_info(ef_skipped, unreadable and "unknown action or messages shorter than known" or "obsolete action")
    else
      for k = 0, count - 1 do handler(st, tvb, off + k * stride) end
    end
    summary[#summary + 1] = string.format("%s %d", name_of(action_names, action), count)
    off = off + bytes
  end
  if off < len then root:add_proto_expert_info(ef_trailing, string.format("%d bytes", len - off)) end
  pinfo.cols.info = "pfsync " .. (#summary > 0 and table.concat(summary, ", ") or "(empty)")
end

function pfsync.dissector(tvb, pinfo, tree)
  pinfo.cols.protocol = "PFSYNC"
  local ok, err = pcall(dissect, tvb, pinfo, tree)
  if not ok then tree:add_proto_expert_info(ef_error, tostring(err)) end
  return tvb:len()
end

DissectorTable.get("ip.proto"):add(240, pfsync)
