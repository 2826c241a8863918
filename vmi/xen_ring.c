/*
 * xen_ring.c: the back end of the vm_event ring (see xen_ring.h).
 *
 * Every index and slot computation is one of io/ring.h's macros over
 * vm_event_back_ring_t; what this file adds is the checking a monitor
 * owes a page another party writes: the producer index is read once and
 * bounded, a request is copied out before it is looked at, and a response
 * is only written into a slot whose request has been taken (the slot is
 * shared: response i overwrites request i).
 */
#include "vmi/xen_ring.h"

#if VSP_XEN_PUBLIC

#include <errno.h>
#include <string.h>

int vsp_xring_init(struct vsp_xring *r, void *page, size_t size, bool fresh)
{
	vm_event_sring_t *s = page;

	memset(r, 0, sizeof(*r));
	if (!page || size < offsetof(vm_event_sring_t, ring) +
			    sizeof(s->ring[0]))
		return -EINVAL;
	if (fresh) {
		SHARED_RING_INIT(s);
		BACK_RING_INIT(&r->back, s, size);
	} else {
		BACK_RING_ATTACH(&r->back, s, s->rsp_prod, size);
	}
	return 0;
}

unsigned vsp_xring_size(const struct vsp_xring *r)
{
	return RING_SIZE(&r->back);
}

unsigned vsp_xring_outstanding(const struct vsp_xring *r)
{
	return r->back.req_cons - r->back.rsp_prod_pvt;
}

int vsp_xring_take(struct vsp_xring *r, vm_event_request_t *req)
{
	RING_IDX prod = *(volatile RING_IDX *)&r->back.sring->req_prod;

	/* See the entries only after the index that covers them. */
	xen_rmb();
	if (RING_REQUEST_PROD_OVERFLOW(&r->back, prod))
		return -EOVERFLOW;
	if (prod == r->back.req_cons)
		return 0;
	RING_COPY_REQUEST(&r->back, r->back.req_cons, req);
	r->back.req_cons++;
	r->taken++;
	if (req->version != VM_EVENT_INTERFACE_VERSION) {
		r->bad_version++;
		return -EPROTO;
	}
	return 1;
}

int vsp_xring_answer(struct vsp_xring *r, vm_event_response_t *rsp)
{
	if (r->back.rsp_prod_pvt == r->back.req_cons)
		return -ENOSPC;
	rsp->version = VM_EVENT_INTERFACE_VERSION;
	memcpy(RING_GET_RESPONSE(&r->back, r->back.rsp_prod_pvt), rsp,
	       sizeof(*rsp));
	r->back.rsp_prod_pvt++;
	r->answered++;
	return 0;
}

void vsp_xring_answer_unasked(struct vsp_xring *r, vm_event_response_t *rsp)
{
	rsp->version = VM_EVENT_INTERFACE_VERSION;
	memcpy(RING_GET_RESPONSE(&r->back, r->back.rsp_prod_pvt), rsp,
	       sizeof(*rsp));
	r->back.rsp_prod_pvt++;
}

bool vsp_xring_push(struct vsp_xring *r)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&r->back, notify);
	return notify != 0;
}

bool vsp_xring_pending(struct vsp_xring *r)
{
	int work;

	RING_FINAL_CHECK_FOR_REQUESTS(&r->back, work);
	return work != 0;
}

#endif /* VSP_XEN_PUBLIC */
