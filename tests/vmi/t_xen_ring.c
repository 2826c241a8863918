/*
 * t_xen_ring.c: the monitor's end of the vm_event ring (vmi/xen_ring.c).
 *
 * The test plays Xen: it produces requests and consumes responses on a
 * page in memory with io/ring.h's front-ring macros, exactly as the
 * hypervisor does on the page xc_monitor_enable maps.  It pins the layout
 * (entry size, ring size, header size for interface version 7), a full
 * ring, wrap-around of slots and of the 32-bit indices, responses given
 * out of order, a request from another interface version, a producer index
 * that claims more than the ring holds, and the notification handshake.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"
#include "vmi/xen_ring.h"

#if !VSP_XEN_PUBLIC
int main(void)
{
	printf("1..0 # SKIP Xen public headers (libxen-dev) not installed\n");
	return 0;
}
#else

static _Alignas(4096) unsigned char page[4096];
static vm_event_front_ring_t front;	/* the hypervisor's side */

static int produce(uint32_t vcpu, uint64_t tag, uint32_t version)
{
	vm_event_request_t *q;

	if (RING_FULL(&front))
		return -1;
	q = RING_GET_REQUEST(&front, front.req_prod_pvt);
	memset(q, 0, sizeof(*q));
	q->version = version;
	q->flags = VM_EVENT_FLAG_VCPU_PAUSED;
	q->reason = VM_EVENT_REASON_SOFTWARE_BREAKPOINT;
	q->vcpu_id = vcpu;
	q->data.regs.x86.rip = 0xffffffff81000000ull + vcpu;
	q->data.regs.x86.rax = tag;
	front.req_prod_pvt++;
	return 0;
}

static int notify_front(void)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
	return notify;
}

/* Takes the next response as Xen would; 1 when there was one. */
static int consume(vm_event_response_t *rsp)
{
	if (!RING_HAS_UNCONSUMED_RESPONSES(&front))
		return 0;
	RING_COPY_RESPONSE(&front, front.rsp_cons, rsp);
	front.rsp_cons++;
	return 1;
}

/* The monitor's answer echoes the request's tag so the test can match. */
static int answer(struct vsp_xring *r, const vm_event_request_t *q)
{
	vm_event_response_t rsp;

	memset(&rsp, 0, sizeof(rsp));
	rsp.vcpu_id = q->vcpu_id;
	rsp.reason = q->reason;
	rsp.flags = q->flags & VM_EVENT_FLAG_VCPU_PAUSED;
	rsp.data.regs.x86.rax = q->data.regs.x86.rax;
	return vsp_xring_answer(r, &rsp);
}

static void test_layout(void)
{
	struct vsp_xring r;

	ok(sizeof(vm_event_request_t) == 400,
	   "vm_event entry is 400 bytes (interface version 7)");
	ok(offsetof(vm_event_sring_t, ring) == 64, "ring header is 64 bytes");
	ok(vsp_xring_init(&r, page, sizeof(page), true) == 0 &&
	   vsp_xring_size(&r) == 8, "a 4 KiB page holds 8 entries");
	ok(vsp_xring_init(&r, page, 64, true) == -EINVAL,
	   "a page too small for one entry is refused");
	ok(vsp_xring_init(&r, NULL, 4096, true) == -EINVAL, "no page refused");
}

static void test_round_trip(void)
{
	struct vsp_xring r;
	vm_event_request_t q;
	vm_event_response_t rsp;
	vm_event_sring_t *s = (vm_event_sring_t *)page;

	memset(page, 0x5a, sizeof(page));
	vsp_xring_init(&r, page, sizeof(page), true);
	FRONT_RING_INIT(&front, s, sizeof(page));
	ok(s->req_event == 1 && s->rsp_event == 1 && s->req_prod == 0,
	   "fresh ring is initialised as SHARED_RING_INIT does");
	ok(vsp_xring_take(&r, &q) == 0, "empty ring gives nothing");
	ok(!vsp_xring_pending(&r) && s->req_event == 1,
	   "final check asks for a signal at the next request");

	produce(3, 77, VM_EVENT_INTERFACE_VERSION);
	ok(notify_front() == 1, "Xen notifies for the first request");
	ok(vsp_xring_pending(&r), "a produced request is pending");
	memset(&q, 0, sizeof(q));
	ok(vsp_xring_take(&r, &q) == 1 && q.vcpu_id == 3 &&
	   q.data.regs.x86.rax == 77 &&
	   q.data.regs.x86.rip == 0xffffffff81000003ull,
	   "request taken with its fields");
	/* The copy is ours: scribbling on the slot changes nothing. */
	memset(RING_GET_REQUEST(&front, 0), 0xff, sizeof(q));
	ok(q.vcpu_id == 3, "a taken request is a private copy");
	ok(vsp_xring_outstanding(&r) == 1, "one request awaits its answer");
	ok(answer(&r, &q) == 0, "answer queued");
	ok(consume(&rsp) == 0, "unpublished answers are invisible to Xen");
	ok(vsp_xring_push(&r), "push asks to notify Xen");
	ok(consume(&rsp) == 1 && rsp.vcpu_id == 3 &&
	   rsp.version == VM_EVENT_INTERFACE_VERSION &&
	   (rsp.flags & VM_EVENT_FLAG_VCPU_PAUSED) &&
	   rsp.data.regs.x86.rax == 77,
	   "Xen reads the response with version and unpause flag");
	ok(answer(&r, &q) == -ENOSPC,
	   "a second answer to one request is refused");
	ok(vsp_xring_outstanding(&r) == 0, "nothing outstanding");
}

static void test_full(void)
{
	struct vsp_xring r;
	vm_event_request_t q[9];
	vm_event_response_t rsp;
	unsigned n = 0, order[8] = { 7, 3, 0, 5, 1, 6, 2, 4 };
	int good = 1;

	vsp_xring_init(&r, page, sizeof(page), true);
	FRONT_RING_INIT(&front, (vm_event_sring_t *)page, sizeof(page));
	for (uint32_t v = 0; v < 9; v++)
		if (produce(v, 100 + v, VM_EVENT_INTERFACE_VERSION) == 0)
			n++;
	notify_front();
	ok(n == 8 && RING_FULL(&front), "Xen fills the ring with 8 requests");
	n = 0;
	while (vsp_xring_take(&r, &q[n]) == 1)
		n++;
	ok(n == 8 && vsp_xring_outstanding(&r) == 8, "all 8 taken");
	ok(RING_FULL(&front),
	   "ring stays full for Xen until responses come back");

	/* Answer out of order: Xen matches by vcpu_id, not by slot. */
	for (unsigned i = 0; i < 4; i++)
		good &= answer(&r, &q[order[i]]) == 0;
	vsp_xring_push(&r);
	for (unsigned i = 0; i < 4; i++)
		good &= consume(&rsp) == 1 && rsp.vcpu_id == order[i] &&
			rsp.data.regs.x86.rax == 100 + order[i];
	ok(good, "first half answered out of order arrives in answer order");
	ok(RING_FREE_REQUESTS(&front) == 4, "Xen has 4 free slots again");
	ok(produce(20, 120, VM_EVENT_INTERFACE_VERSION) == 0,
	   "Xen produces into a freed slot");
	notify_front();
	for (unsigned i = 4; i < 8; i++)
		good &= answer(&r, &q[order[i]]) == 0;
	vsp_xring_push(&r);
	for (unsigned i = 4; i < 8; i++)
		good &= consume(&rsp) == 1 && rsp.vcpu_id == order[i];
	ok(good, "second half answered while a new request waits");
	ok(vsp_xring_take(&r, &q[8]) == 1 && q[8].vcpu_id == 20 &&
	   q[8].data.regs.x86.rax == 120,
	   "the request written over an answered slot is intact");
	answer(&r, &q[8]);
	vsp_xring_push(&r);
	ok(consume(&rsp) == 1 && rsp.vcpu_id == 20 && consume(&rsp) == 0,
	   "ring drained");
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 16;
}

/* Many batches with shuffled answers; every tag must come back once. */
static int churn(struct vsp_xring *r, unsigned batches, uint32_t seed)
{
	uint64_t tag = 1;

	for (unsigned b = 0; b < batches; b++) {
		vm_event_request_t q[8];
		vm_event_response_t rsp;
		unsigned n = 1 + lcg(&seed) % 8, got = 0;
		uint64_t first = tag, sum = 0, want = 0;

		for (unsigned i = 0; i < n; i++)
			if (produce(i, tag++, VM_EVENT_INTERFACE_VERSION) < 0)
				return 0;
		notify_front();
		while (got < 8 && vsp_xring_take(r, &q[got]) == 1)
			got++;
		if (got != n)
			return 0;
		for (unsigned i = n; i > 1; i--) {
			unsigned j = lcg(&seed) % i;
			vm_event_request_t t = q[i - 1];

			q[i - 1] = q[j];
			q[j] = t;
		}
		for (unsigned i = 0; i < n; i++)
			if (answer(r, &q[i]) < 0)
				return 0;
		vsp_xring_push(r);
		for (unsigned i = 0; i < n; i++) {
			if (consume(&rsp) != 1 ||
			    rsp.data.regs.x86.rax != q[i].data.regs.x86.rax)
				return 0;
			sum += rsp.data.regs.x86.rax;
			want += first + i;
		}
		if (sum != want || consume(&rsp) != 0)
			return 0;
	}
	return 1;
}

static void test_wrap(void)
{
	struct vsp_xring r;
	vm_event_sring_t *s = (vm_event_sring_t *)page;
	const RING_IDX start = UINT_MAX - 20;

	vsp_xring_init(&r, page, sizeof(page), true);
	FRONT_RING_INIT(&front, s, sizeof(page));
	ok(churn(&r, 2000, 1), "2000 shuffled batches wrap the slots cleanly");
	ok(r.taken == r.answered && r.taken > 8000 && r.bad_version == 0,
	   "every taken request was answered once");

	/* Indices near 2^32: attach to a ring already in use. */
	s->req_prod = s->rsp_prod = start;
	FRONT_RING_ATTACH(&front, s, start, sizeof(page));
	vsp_xring_init(&r, page, sizeof(page), false);
	ok(vsp_xring_outstanding(&r) == 0, "attach picks up the shared index");
	ok(churn(&r, 40, 7), "32-bit index wrap-around");
	ok(s->req_prod < start, "the producer index did wrap");
}

static void test_hostile(void)
{
	struct vsp_xring r;
	vm_event_sring_t *s = (vm_event_sring_t *)page;
	vm_event_request_t q;
	vm_event_response_t rsp;

	vsp_xring_init(&r, page, sizeof(page), true);
	FRONT_RING_INIT(&front, s, sizeof(page));
	produce(1, 5, VM_EVENT_INTERFACE_VERSION - 1);
	notify_front();
	ok(vsp_xring_take(&r, &q) == -EPROTO && r.bad_version == 1,
	   "request of another interface version is reported");
	ok(q.vcpu_id == 1 && vsp_xring_outstanding(&r) == 1,
	   "it is still taken, so its vCPU can be answered");
	ok(answer(&r, &q) == 0 && vsp_xring_push(&r) && consume(&rsp) == 1 &&
	   rsp.version == VM_EVENT_INTERFACE_VERSION,
	   "the answer carries our version");

	/* A producer index far beyond what the ring can hold. */
	s->req_prod = r.back.req_cons + 9;
	ok(vsp_xring_take(&r, &q) == -EOVERFLOW && r.taken == 1,
	   "producer index past the ring size is refused, nothing taken");
	s->req_prod = r.back.req_cons - 1;
	ok(vsp_xring_take(&r, &q) == -EOVERFLOW,
	   "producer index behind the consumer is refused");
	ok(vsp_xring_answer(&r, &rsp) == -ENOSPC,
	   "no answer without a request");
}

/* A hostile page: random indices and bytes never break the back end. */
static void test_garbage(void)
{
	struct vsp_xring r;
	vm_event_sring_t *s = (vm_event_sring_t *)page;
	uint32_t seed = 99;
	int bad = 0;

	vsp_xring_init(&r, page, sizeof(page), true);
	for (int round = 0; round < 20000; round++) {
		vm_event_request_t q;
		vm_event_response_t rsp;
		int rc;

		for (size_t i = 64; i < sizeof(page); i += 2) {
			uint32_t x = lcg(&seed);

			page[i] = (unsigned char)x;
			page[i + 1] = (unsigned char)(x >> 8);
		}
		/* Often near the consumer, sometimes anywhere. */
		s->req_prod = (lcg(&seed) & 3) ? r.back.req_cons + lcg(&seed) % 12
					       : (lcg(&seed) << 16) ^ lcg(&seed);
		rc = vsp_xring_take(&r, &q);
		if (rc != 1 && rc != 0 && rc != -EOVERFLOW && rc != -EPROTO)
			bad++;
		if (vsp_xring_outstanding(&r) > vsp_xring_size(&r))
			bad++;
		memset(&rsp, 0, sizeof(rsp));
		if (lcg(&seed) & 1)
			while (vsp_xring_answer(&r, &rsp) == 0)
				;
		vsp_xring_push(&r);
		vsp_xring_pending(&r);
	}
	ok(bad == 0, "20000 garbage pages: only documented results, "
	   "never more outstanding than the ring holds");
}

int main(void)
{
	test_layout();
	test_round_trip();
	test_full();
	test_wrap();
	test_hostile();
	test_garbage();
	return done();
}
#endif
