/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The SMTP reader's own state: where each session's reader stands (the
 * mxg_flows map) and the per-CPU room it works in (mxg_smtp_scratch).
 * Only the reader reads either, so this is not part of the ABI in
 * mxguard.h; userspace includes it only where it stands in for the host's
 * TCP and starts a flow itself (tests/bpf/frames.h). Fixed-width types, as
 * there, so both compilers agree on the layout.
 */
#ifndef MXG_SMTP_STATE_H
#define MXG_SMTP_STATE_H

#include "mxguard.h"
#include "rcpt.h"

#define MXG_CHUNK 512		/* bytes read from the skb at a time */

/* mxg_flows key: one session, client to server. */
struct mxg_flow_key {
	__u8 saddr[MXG_ADDR_LEN];
	__u8 daddr[MXG_ADDR_LEN];
	__u16 sport;
	__u16 dport;		/* network order, as on the wire */
};

enum mxg_flow_state {
	MXG_FLOW_CMD = 0,	/* reading commands */
	MXG_FLOW_DATA,		/* message body, until CRLF . CRLF */
	MXG_FLOW_BDAT,		/* a BDAT chunk, bdat_left bytes */
	MXG_FLOW_TLS,		/* encrypted from here on */
	MXG_FLOW_LOST,		/* a gap in the stream: no longer followed */
};

/* Where in the argument of MAIL FROM / RCPT TO the reader is. */
enum mxg_arg {
	ARG_BLANKS = 0,		/* before the address */
	ARG_ADDR,		/* reading it */
	ARG_REST,		/* after it: ESMTP parameters */
};

/* mxg_flow.flags: about the current line. */
#define LINE_BRACKET 0x1	/* the argument opened with '<' */
#define LINE_DIGITS 0x4		/* BDAT: a size digit was read */
#define LINE_GIVEUP 0x8		/* the reader cannot be sure what the MTA
				 * makes of this line: stop following */

/* mxg_flows value: where one session's reader stands. All zero but
 * next_seq is a flow at the start of a line, reading commands. */
struct mxg_flow {
	__u32 next_seq;		/* next byte expected from the client */
	__u32 bdat_left;	/* BDAT chunk bytes still to skip */
	__u64 tail;		/* last bytes of the body, for CRLF . CRLF */
	struct mxg_rcpt_norm norm; /* the argument address, normalised as read */
	__u16 col;		/* bytes of the current line read so far */
	__u16 pad0;
	__u8 state;		/* enum mxg_flow_state */
	__u8 verb;		/* enum mxg_verb (smtp_verbs.h) */
	__u8 alive;		/* the keyword the line may be, index + 1 */
	__u8 arg;		/* enum mxg_arg */
	__u8 flags;		/* LINE_* */
	__u8 dropped;		/* the segment at drop_seq was dropped */
	__u8 pad[2];
	__u32 drop_seq;		/* its sequence number: a retransmission
				 * of it is not evidence again */
	__u64 budget_tat;	/* the reader's work on this flow: GCRA of
				 * command lines (smtp.bpf.h) */
	char addr[MXG_RCPT_BUF]; /* the address of MAIL FROM / RCPT TO */
};

/* What judging a recipient needs, and the segment's tally. It lives in
 * the per-CPU scratch, not on the stack: the reader's call chain (program,
 * segment, bpf_loop callbacks, line, judge, hash) would otherwise go past
 * the 512 bytes of BPF stack. */
struct mxg_judge {
	/* Read as 32-bit words by source_key(): keep it aligned. */
	__u8 saddr[MXG_ADDR_LEN] __attribute__((aligned(8)));
	struct mxg_hash_key key;
	struct mxg_mirror mirror;
	__u64 window_ns, penalty_ns;
	__u64 now;		/* read at the first recipient: 0 until then */
	__u32 class_idx;
	__u32 mode;
	__u32 threshold;
	/* This segment's tally, counted into the maps once at its end. */
	__u32 known, unknown, foreign, null_sender, not_judged, invalid;
	char delims[MXG_DELIM_MAX];
	__u8 delim1, delim2;	/* the delimiters for the word path */
	__u8 bytewise;		/* more than two delimiters: no word path */
	__u8 ready;		/* the mirror may be believed (once now is set) */
	__u8 is_v4;
	__u8 pad[3];
};

/* What the header walk found, for the reader (in the scratch too). */
struct mxg_segment {
	struct mxg_flow_key key;
	__u32 seq;
	__u32 hdr;		/* payload offset in the frame */
	__u32 len;		/* payload bytes */
	__u32 dport;		/* host order */
	__u8 syn;
	__u8 is_v4;
	__u8 pad[2];
};

/* mxg_smtp_scratch value, one per CPU: the room the reader works in. A
 * copy of the flow (committed only when the segment passes), a chunk of
 * payload, the normalised address. */
struct mxg_smtp_scratch {
	struct mxg_flow flow;
	/* Payload bytes [base, base + n) of the frame; 16 bytes of room past
	 * the chunk so that a word at any offset in it can be loaded. */
	__u8 chunk[MXG_CHUNK + 16];
	__u32 base, n;
	__u32 at;		/* the word reader's offset (see mxg_read_lines) */
	__u32 lines;		/* command lines read from this segment */
	__u64 opaque;		/* see opaque() */
	/* The address being judged, in normal form (MXG_RCPT_ROOM: the
	 * hash loads it a word at a time, the finish moves it so). */
	__u8 out[MXG_RCPT_ROOM];
	/* The mirror's value for the last address looked up. Held by value
	 * here, struct mxg_rcpt is described whole in BTF, which the inner
	 * maps need: with a global function in the object, clang otherwise
	 * describes it only as a forward declaration. */
	struct mxg_rcpt found;
	struct mxg_judge j;
	struct mxg_segment sg;
	/* Keys and values the judge writes to maps. */
	struct mxg_source_key skey;
	struct mxg_lpm_key ban_key;
	struct mxg_rcpt_source fresh;
	struct mxg_ban ban;
	__u32 stop;		/* the byte reader reached a line end */
};

_Static_assert(sizeof(struct mxg_flow_key) == 36, "mxg_flow_key layout");
_Static_assert(sizeof(struct mxg_flow) == 72 + MXG_RCPT_BUF, "mxg_flow layout");

#endif /* MXG_SMTP_STATE_H */
