// Numeric constants of the netlink wire protocol, from the kernel's uapi headers
// (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if.h, linux/can/gw.h, linux/can/vxcan.h).

export const AF_UNSPEC = 0;
export const AF_NETLINK = 16;
export const AF_CAN = 29;
export const NETLINK_ROUTE = 0;

/** Sizes of fixed headers, in bytes. */
export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
export const IFINFOMSG_LEN = 16;
export const RTCANMSG_LEN = 4;
export const NLMSGERR_MIN_LEN = 4 + NLMSG_HDRLEN;

export const NlMsgType = {
  NOOP: 1,
  ERROR: 2,
  DONE: 3,
  OVERRUN: 4,
  RTM_NEWLINK: 16,
  RTM_DELLINK: 17,
  RTM_GETLINK: 18,
  RTM_SETLINK: 19,
  RTM_NEWROUTE: 24,
  RTM_DELROUTE: 25,
  RTM_GETROUTE: 26,
} as const;

export const NlmF = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  // Modifiers of GET requests.
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  // Modifiers of NEW requests.
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  // Flags of an NLMSG_ERROR message (acknowledgement).
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;

/** Attribute type bits that are flags, not part of the type number. */
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Extended acknowledgement attributes (enum nlmsgerr_attrs). */
export const NlMsgErrAttr = {
  MSG: 1,
  OFFS: 2,
  COOKIE: 3,
  POLICY: 4,
  MISS_TYPE: 5,
  MISS_NEST: 6,
} as const;

/** Socket options at level SOL_NETLINK. */
export const SOL_NETLINK = 270;
export const NETLINK_EXT_ACK = 11;
/** Error acks carry only the failed request's header, not the whole request back (linux/netlink.h). */
export const NETLINK_CAP_ACK = 10;
export const NETLINK_GET_STRICT_CHK = 12;

/** enum IFLA_* (linux/if_link.h). */
export const Ifla = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  QDISC: 6,
  STATS: 7,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKMODE: 17,
  LINKINFO: 18,
  NET_NS_PID: 19,
  IFALIAS: 20,
  GROUP: 27,
  NET_NS_FD: 28,
  LINK_NETNSID: 37,
  TARGET_NETNSID: 46,
} as const;

/** enum IFLA_INFO_* inside IFLA_LINKINFO. */
export const IflaInfo = {
  KIND: 1,
  DATA: 2,
  XSTATS: 3,
  SLAVE_KIND: 4,
  SLAVE_DATA: 5,
} as const;

/** enum VXCAN_INFO_* inside IFLA_INFO_DATA of a vxcan link (linux/can/vxcan.h). */
export const VXCAN_INFO_PEER = 1;

/** Interface flags (linux/if.h). */
export const Iff = {
  UP: 0x1,
  BROADCAST: 0x2,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  MULTICAST: 0x1000,
  LOWER_UP: 0x10000,
  DORMANT: 0x20000,
  ECHO: 0x40000,
} as const;

/** ARPHRD_CAN: the hardware type of every CAN interface. */
export const ARPHRD_CAN = 280;

/** IFNAMSIZ includes the terminating NUL. */
export const IFNAMSIZ = 16;

/** RFC 2863 operational states carried in IFLA_OPERSTATE. */
export const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;
export type OperState = (typeof OPERSTATES)[number];

/** can-gw (linux/can/gw.h). */
export const CGW_TYPE_CAN_CAN = 1;

export const CgwFlags = {
  ECHO: 0x01,
  SRC_TSTAMP: 0x02,
  IIF_TX_OK: 0x04,
  FD: 0x08,
} as const;

export const Cgw = {
  MOD_AND: 1,
  MOD_OR: 2,
  MOD_XOR: 3,
  MOD_SET: 4,
  CS_XOR: 5,
  CS_CRC8: 6,
  HANDLED: 7,
  DROPPED: 8,
  SRC_IF: 9,
  DST_IF: 10,
  FILTER: 11,
  DELETED: 12,
  LIM_HOPS: 13,
  MOD_UID: 14,
  FDMOD_AND: 15,
  FDMOD_OR: 16,
  FDMOD_XOR: 17,
  FDMOD_SET: 18,
} as const;

/** Bits of cgw_frame_mod.modtype: which fields of the frame a modification touches. */
export const CgwModType = {
  ID: 0x01,
  LEN: 0x02,
  DATA: 0x04,
  FLAGS: 0x08,
} as const;

/** Payload sizes of can-gw attributes. */
export const CGW_MODATTR_LEN = 17;
export const CGW_FDMODATTR_LEN = 73;
export const CGW_CS_XOR_LEN = 4;
export const CGW_CS_CRC8_LEN = 282;
export const CGW_CRC8PRF_DATA_LEN = 20;

/** Profiles of cgw_csum_crc8.profile. */
export const CgwCrc8Profile = {
  UNSPEC: 0,
  '1U8': 1,
  '16U8': 2,
  SFFID_XOR: 3,
} as const;
