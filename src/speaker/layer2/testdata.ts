// Frames captured with tcpdump between two network namespaces (Linux 6.18, iputils arping 20221126, ndisc6 1.0.5):
// golden bytes for the codec and responder tests, one comment per field.

/** Hex with whitespace and `#` comments → bytes. */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|#.*$/gm, ''), 'hex');

// arping -I eth0 198.51.100.2 from 198.51.100.1 (02:00:00:77:00:01)
export const ARPING_REQUEST = hex(`
  ffffffffffff   # Ethernet destination: broadcast
  020000770001   # Ethernet source
  0806           # EtherType ARP
  0001           # htype 1 Ethernet
  0800           # ptype IPv4
  06 04          # hln 6, pln 4
  0001           # operation 1 request
  020000770001   # sha
  c6336401       # spa 198.51.100.1
  ffffffffffff   # tha (iputils puts broadcast here)
  c6336402       # tpa 198.51.100.2
`);
// The kernel's answer from 198.51.100.2 (02:00:00:77:00:02)
export const KERNEL_ARP_REPLY = hex(`
  020000770001 020000770002 0806   # to the requester, from us, ARP
  0001 0800 06 04                   # Ethernet/IPv4
  0002                              # operation 2 reply
  020000770002 c6336402             # sha = us, spa = 198.51.100.2
  020000770001 c6336401             # tha = requester, tpa = 198.51.100.1
`);
// ndisc6 2001:db8:77::2 eth0 from fe80::ff:fe77:1
export const NDISC6_NS = hex(`
  3333ff000002 020000770001 86dd   # to 33:33:ff:00:00:02 (solicited-node group MAC), IPv6
  60055c81                          # version 6, traffic class 0, flow label 0x55c81
  0020 3a ff                        # payload 32, next header 58 ICMPv6, hop limit 255
  fe80000000000000000000fffe770001  # source fe80::ff:fe77:1
  ff0200000000000000000001ff000002  # destination ff02::1:ff00:2
  87 00 4afa                        # type 135 NS, code 0, checksum
  00000000                          # reserved
  20010db8007700000000000000000002  # target 2001:db8:77::2
  01 01 020000770001                # option 1 SLLA, length 1 (8 bytes), 02:00:00:77:00:01
`);
// The kernel's NA (S=1, O=1) from 2001:db8:77::2
export const KERNEL_NA = hex(`
  020000770001 020000770002 86dd
  60000000 0020 3a ff
  20010db8007700000000000000000002  # source = target
  fe80000000000000000000fffe770001  # destination = the solicitor
  88 00 b8cd                        # type 136 NA, code 0, checksum
  60000000                          # R=0 S=1 O=1
  20010db8007700000000000000000002  # target
  02 01 020000770002                # option 2 TLLA
`);
