/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * synflood: raw TCP SYNs with spoofed sources, written with AF_PACKET
 * straight onto one interface of a lab namespace, the way a spoofed flood
 * reaches a mail host: every frame from one of N distinct sources, to one
 * port. The sources are BASE + i (IPv4) or BASE with i in bits 32..63
 * (IPv6: one /64 each, mxguard's default source prefix), visited in a
 * scrambled order that still sends every source once per N frames, so a
 * per-source limiter sees each source at the same low rate, as it would a
 * botnet's.
 *
 * Destinations and sources must be in 198.18.0.0/15 or 2001:db8::/32.
 * Stops at -c frames or -t time, whichever comes first; prints one JSON
 * line: frames sent, refused by the interface, seconds, frames per second.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include "loadgen.h"

#define TOOL "synflood"
#define BATCH 64		/* frames per sendmmsg */
#define TCP_HLEN 24		/* 20 + MSS option, as real SYNs carry */
#define FRAME_MAX (ETH_HLEN + 40 + TCP_HLEN)
#define SNDBUF_BYTES (64 << 20)	/* ~80,000 frames in flight */
#define PACE_SLACK_NS 1000000ULL	/* -r: how far behind before resyncing */

struct flood {
	int fd;
	struct sockaddr_ll ll;
	uint8_t smac[ETH_ALEN], dmac[ETH_ALEN];
	struct lg_addr dst, src_base;
	uint16_t dport;
	uint64_t sources, step, idx, rng;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " TOOL " -i IFACE -d DST -m DST-MAC [-s SRC-BASE] [-n SOURCES] [-p PORT]\n"
		"                [-c COUNT] [-t DURATION] [-r PPS]\n"
		"  spoofed TCP SYNs on IFACE (AF_PACKET, run it inside the lab namespace)\n"
		"  -d DST       destination, in 198.18.0.0/15 or 2001:db8::/32\n"
		"  -m DST-MAC   next hop's MAC address (the receiving veth end)\n"
		"  -s SRC-BASE  first spoofed source (default 198.19.0.0 or 2001:db8:8000::1)\n"
		"  -n SOURCES   distinct sources (default 1000; IPv4 at most what fits in\n"
		"               198.18.0.0/15 after SRC-BASE, IPv6 one /64 each)\n"
		"  -p PORT      destination port (default 25)\n"
		"  -c COUNT     stop after COUNT frames (default 100000000)\n"
		"  -t DURATION  stop after DURATION (default 5s, at most %ds)\n"
		"  -r PPS       send PPS frames per second, evenly (default: as fast as possible)\n",
		LG_MAX_SECONDS);
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static int parse_mac(const char *s, uint8_t mac[ETH_ALEN])
{
	unsigned int b[ETH_ALEN];
	char junk;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &junk) != ETH_ALEN)
		return -EINVAL;
	for (int i = 0; i < ETH_ALEN; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* A step coprime with n visits every index once per n frames, in an order
 * far from sequential (neighbouring sources land in different hash
 * buckets, as a real flood's do). Bounded: some step < n + 1 is coprime. */
static uint64_t scramble_step(uint64_t n)
{
	uint64_t step = n > 1 ? 2654435761ULL % n : 0;

	for (uint64_t i = 0; n > 1 && i <= n; i++, step = (step + 1) % n)
		if (step && gcd(step, n) == 1)
			return step;
	return n > 1 ? 1 : 0;
}

/* Source number idx, written into the frame's IP header (check_sources
 * made sure that every idx below f->sources is in the lab). */
static void put_source(const struct flood *f, uint64_t idx, uint8_t *saddr)
{
	uint8_t a[16];

	lg_source_nth(f->src_base.a16, f->dst.v4, idx, a);
	if (f->dst.v4)
		memcpy(saddr, a + 12, 4);
	else
		memcpy(saddr, a, 16);
}

/* One SYN from the next source: fresh source port and sequence number. */
static size_t build_frame(struct flood *f, uint8_t *fr)
{
	uint64_t r = lg_rand(&f->rng);
	uint8_t *ip = fr + ETH_HLEN, *tcp;
	uint16_t sport = (uint16_t)(1024 + r % 64000), ck;
	uint32_t seq = (uint32_t)(r >> 32), sum;
	size_t iplen = f->dst.v4 ? 20 : 40;

	memcpy(fr, f->dmac, ETH_ALEN);
	memcpy(fr + ETH_ALEN, f->smac, ETH_ALEN);
	fr[12] = f->dst.v4 ? 0x08 : 0x86;
	fr[13] = f->dst.v4 ? 0x00 : 0xdd;
	memset(ip, 0, iplen + TCP_HLEN);
	if (f->dst.v4) {
		ip[0] = 0x45;
		ip[3] = 20 + TCP_HLEN;
		ip[6] = 0x40;	/* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		put_source(f, f->idx, ip + 12);
		memcpy(ip + 16, f->dst.a16 + 12, 4);
		ck = csum_fold(csum_add(0, ip, 20));
		ip[10] = (uint8_t)(ck >> 8);
		ip[11] = (uint8_t)ck;
		sum = csum_add(0, ip + 12, 8) + IPPROTO_TCP + TCP_HLEN;
	} else {
		ip[0] = 0x60;
		ip[5] = TCP_HLEN;
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		put_source(f, f->idx, ip + 8);
		memcpy(ip + 24, f->dst.a16, 16);
		sum = csum_add(0, ip + 8, 32) + IPPROTO_TCP + TCP_HLEN;
	}
	tcp = ip + iplen;
	tcp[0] = (uint8_t)(sport >> 8);
	tcp[1] = (uint8_t)sport;
	tcp[2] = (uint8_t)(f->dport >> 8);
	tcp[3] = (uint8_t)f->dport;
	memcpy(tcp + 4, &seq, 4);
	tcp[12] = (TCP_HLEN / 4) << 4;
	tcp[13] = 0x02;		/* SYN */
	tcp[14] = 0xfa;		/* window 64240 */
	tcp[15] = 0xf0;
	tcp[20] = 2;		/* MSS 1460 */
	tcp[21] = 4;
	tcp[22] = 0x05;
	tcp[23] = 0xb4;
	ck = csum_fold(csum_add(sum, tcp, TCP_HLEN));
	tcp[16] = (uint8_t)(ck >> 8);
	tcp[17] = (uint8_t)ck;

	f->idx = f->sources > 1 ? (f->idx + f->step) % f->sources : 0;
	return ETH_HLEN + iplen + TCP_HLEN;
}

static int open_iface(struct flood *f, const char *ifname)
{
	struct ifreq ifr = { 0 };
	int one = 1, sndbuf = SNDBUF_BYTES;

	f->fd = socket(AF_PACKET, SOCK_RAW, 0);	/* protocol 0: never receives */
	if (f->fd < 0)
		return -errno;
	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(f->fd, SIOCGIFHWADDR, &ifr))
		return -errno;
	memcpy(f->smac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	f->ll.sll_family = AF_PACKET;
	f->ll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!f->ll.sll_ifindex)
		return -errno;
	f->ll.sll_protocol = htons(f->dst.v4 ? ETH_P_IP : ETH_P_IPV6);
	f->ll.sll_halen = ETH_ALEN;
	memcpy(f->ll.sll_addr, f->dmac, ETH_ALEN);
	/* Straight to the driver: the qdisc would only add a lock per frame
	 * on the sender's CPU, which is not what is measured. */
	if (setsockopt(f->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)))
		return -errno;
	/* Frames in flight are charged to our send buffer until the receiver
	 * frees them: with the default one, a slow receiver would throttle
	 * us (flow control no attacker obeys) and its queue would never
	 * overflow. A large one leaves the receiver's own queue as the only
	 * limit, as a NIC's ring is. */
	if (setsockopt(f->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) &&
	    setsockopt(f->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
		return -errno;
	return 0;
}

/* Does the last source stay inside the lab range? */
static int check_sources(struct flood *f, const char *base)
{
	uint8_t last[16];

	if (lg_source_nth(f->src_base.a16, f->dst.v4, f->sources - 1, last)) {
		fprintf(stderr, TOOL ": %llu sources from %s leave the lab range\n",
			(unsigned long long)f->sources, base);
		return -ERANGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *ifname = NULL, *dst = NULL, *mac = NULL, *base = NULL;
	uint64_t count = 100000000, dur_ns = 5000000000ULL, pps = 0, port = 25;
	uint64_t sent = 0, refused = 0, start, deadline, now, pace_start, pace_sent = 0;
	struct flood f = { .fd = -1, .sources = 1000 };
	uint8_t frames[BATCH][FRAME_MAX];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int opt, err;

	const struct lg_common common = { &port, &count, &dur_ns, LG_MAX_COUNT };

	while ((opt = getopt(argc, argv, "i:d:m:s:n:p:c:t:r:h")) != -1) {
		switch (opt) {
		case 'i': ifname = optarg; break;
		case 'd': dst = optarg; break;
		case 'm': mac = optarg; break;
		case 's': base = optarg; break;
		case 'n':
			if (lg_opt_u64(TOOL, 'n', optarg, 1, 0xffffffffULL, &f.sources))
				return 2;
			break;
		case 'r':
			if (lg_opt_u64(TOOL, 'r', optarg, 1, 100000000, &pps))
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default:
			if (lg_common_opt(TOOL, opt, optarg, &common, usage))
				return 2;
			break;
		}
	}
	if (!ifname || !dst || !mac || optind != argc) {
		usage(stderr);
		return 2;
	}
	f.dport = (uint16_t)port;
	if (lg_check_addr(TOOL, "destination", dst, f.dport, &f.dst))
		return 2;
	if (!base)
		base = f.dst.v4 ? "198.19.0.0" : "2001:db8:8000::1";
	if (lg_check_addr(TOOL, "source base", base, 0, &f.src_base))
		return 2;
	if (f.src_base.v4 != f.dst.v4) {
		fprintf(stderr, TOOL ": source base %s and destination %s differ in family\n",
			base, dst);
		return 2;
	}
	if (check_sources(&f, base))
		return 2;
	if (parse_mac(mac, f.dmac)) {
		fprintf(stderr, TOOL ": -m '%s' is not a MAC address\n", mac);
		return 2;
	}
	err = open_iface(&f, ifname);
	if (err) {
		fprintf(stderr, TOOL ": cannot send on %s: %s\n", ifname, strerror(-err));
		if (f.fd >= 0)
			close(f.fd);
		return 1;
	}
	f.step = scramble_step(f.sources);
	f.rng = lg_seed();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = frames[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &f.ll;
		msgs[i].msg_hdr.msg_namelen = sizeof(f.ll);
	}

	start = pace_start = now = lg_now_ns();
	deadline = start + dur_ns;
	/* Bounded twice: by frames and by the clock (and by a signal). */
	while (!stop && sent + refused < count && now < deadline) {
		uint64_t left = count - sent - refused;
		int n = left < BATCH ? (int)left : BATCH, done = 0;

		for (int i = 0; i < n; i++)
			iov[i].iov_len = build_frame(&f, frames[i]);
		while (done < n) {
			int r = sendmmsg(f.fd, msgs + done, (unsigned)(n - done), 0);

			if (r < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, TOOL ": send on %s: %s\n", ifname, strerror(errno));
				close(f.fd);
				return 1;
			}
			/* A frame the device refused (the receiver's backlog is
			 * full) is counted and skipped, not retried: a flood does
			 * not wait either. */
			done += r > 0 ? r : 0;
			sent += r > 0 ? (uint64_t)r : 0;
			if (done < n) {
				done++;
				refused++;
			}
		}
		now = lg_now_ns();
		if (pps) {
			uint64_t due = pace_start + (sent + refused - pace_sent) * 1000000000ULL / pps;

			/* Behind by more than a millisecond (we were not on the
			 * CPU): start the schedule again from now instead of
			 * catching up in one burst, which would overflow the
			 * receiver's queue at a rate it could otherwise take. */
			if (now > due + PACE_SLACK_NS) {
				pace_start = now;
				pace_sent = sent + refused;
			} else if (due > now) {
				uint64_t wait = (due < deadline ? due : deadline) - now;
				struct timespec ts = { (time_t)(wait / 1000000000ULL),
						       (long)(wait % 1000000000ULL) };

				nanosleep(&ts, NULL);
				now = lg_now_ns();
			}
		}
	}
	close(f.fd);
	{
		double secs = (double)(now - start) / 1e9;

		printf("{\"tool\":\"synflood\",\"sources\":%llu,\"sent\":%llu,\"refused\":%llu,"
		       "\"seconds\":%.3f,\"pps\":%.0f}\n",
		       (unsigned long long)f.sources, (unsigned long long)sent,
		       (unsigned long long)refused, secs,
		       secs > 0 ? (double)(sent + refused) / secs : 0.0);
	}
	return 0;
}
