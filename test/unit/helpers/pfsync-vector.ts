// The worked example of shared/spec/pfsync.md §14: one INS of an IPv4 TCP
// state, as a whole Ethernet frame (322 bytes).

const FRAME_HEX = `
01 00 5e 00 00 f0 02 00 00 00 00 02 08 00 45 10
01 34 2b 1f 40 00 ff f0 ab b7 c0 00 02 02 e0 00
00 f0 06 00 01 20 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 0d 42 00 01 67 44 d0 a1 00 00
00 07 61 6c 6c 00 00 00 00 00 00 00 00 00 00 00
00 00 0a 00 00 05 00 00 00 00 00 00 00 00 00 00
00 00 c0 00 02 50 00 00 00 00 00 00 00 00 00 00
00 00 c8 22 01 bb 00 00 02 00 0a 00 00 05 00 00
00 00 00 00 00 00 00 00 00 00 c0 00 02 50 00 00
00 00 00 00 00 00 00 00 00 00 c8 22 01 bb 00 00
02 00 00 00 00 00 00 00 00 00 00 0f 42 40 00 0f
42 42 00 00 00 00 fa f0 00 00 02 87 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00 01 00 00 00 00 00 01 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 03 ff ff ff ff ff ff ff ff 00 00
00 00 00 00 00 78 00 00 00 00 00 00 00 01 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 3c 00 00
00 00 00 00 00 00 1d 2c 3b 4a ff ff ff ff ff ff
ff ff 00 00 02 06 01 00 00 00 00 00 00 00 00 00
00 00`;

export const VECTOR_FRAME = Uint8Array.from(
  FRAME_HEX.trim()
    .split(/\s+/)
    .map((h) => parseInt(h, 16)),
);
/** What follows the Ethernet and IPv4 headers: the 288 pfsync bytes. */
export const VECTOR_PFSYNC = VECTOR_FRAME.subarray(34);
/** The 264-byte state record. */
export const VECTOR_RECORD = VECTOR_FRAME.subarray(34 + 24);
