// The worked CARP examples of shared/spec/carp.md §13, as bytes.

export const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** §13.1: the whole Ethernet frame of a constructed advertisement (vhid 1, 192.0.2.1, passphrase tunpf-secret). */
export const FRAME_13_1 = hex(`
01 00 5e 00 00 12 00 00 5e 00 01 01 08 00 45 10
00 38 1c 46 40 00 ff 70 bc ea c0 00 02 02 e0 00
00 12 21 01 00 07 00 01 91 76 01 23 45 67 89 ab
cd ef b9 07 6c 5c ba 76 98 23 f2 3f 9e 34 53 d3
f3 36 63 7b fc 61`);
