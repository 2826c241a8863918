/*
 * xen_ring.h: the monitor's end of Xen's vm_event ring.
 *
 * Xen writes one request per guest event into a shared page and pauses the
 * vCPU; the monitor answers with a response in the same ring, then kicks
 * the event channel.  In io/ring.h's terms Xen is the front end (it
 * produces requests and consumes responses) and the monitor is the back
 * end.  The page layout, the entry type and the index arithmetic are Xen's
 * own: this file includes <xen/vm_event.h> and uses DEFINE_RING_TYPES'
 * vm_event_back_ring_t and the RING_* macros, so nothing here restates the
 * ABI.  The same code runs over the page xc_monitor_enable maps and over a
 * page in memory that a test fills with Xen's front-ring macros.
 *
 * Xen's public headers are header-only; they ship with libxen-dev.  Where
 * they are absent VSP_XEN_PUBLIC is 0 and the ring is not built.
 */
#ifndef VSP_XEN_RING_H
#define VSP_XEN_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(VSP_XEN_NO_PUBLIC_HEADERS) && defined(__has_include)
#if __has_include(<xen/vm_event.h>) && __has_include(<xen/io/ring.h>)
#define VSP_XEN_PUBLIC 1
#endif
#endif
#ifndef VSP_XEN_PUBLIC
#define VSP_XEN_PUBLIC 0
#endif

#if VSP_XEN_PUBLIC
/* The ring types are tools-only in Xen's headers. */
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
/*
 * io/ring.h leaves the barriers to its includer; xenctrl.h defines them
 * when it comes first.  x86 orders stores with stores and loads with
 * loads, so the read and write barriers only stop the compiler.
 */
#ifndef xen_mb
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_signal_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_signal_fence(__ATOMIC_RELEASE)
#endif
#include <xen/xen.h>
#include <xen/vm_event.h>

struct vsp_xring {
	vm_event_back_ring_t back;
	/* Counters for statistics and for tests. */
	uint64_t taken, answered, bad_version;
};

/*
 * Sets up the back end over `page` (`size` bytes, normally one 4 KiB
 * page).  `fresh`: the page is new and gets SHARED_RING_INIT, as a monitor
 * does right after xc_monitor_enable; otherwise the back end attaches at
 * the page's current response index.  Returns 0, or -EINVAL when the page
 * cannot hold one entry.  Borrows `page`.
 */
int vsp_xring_init(struct vsp_xring *r, void *page, size_t size, bool fresh);

/* Entries the ring holds (a power of two; 8 on a 4 KiB page). */
unsigned vsp_xring_size(const struct vsp_xring *r);

/*
 * Takes the next request into `*req` (a copy: the shared page cannot
 * change it afterwards).  Returns 1 when one was taken, 0 when the ring is
 * empty, -EOVERFLOW when the producer index claims more requests than the
 * ring holds (nothing is taken), -EPROTO when the request carries another
 * VM_EVENT_INTERFACE_VERSION (it is taken and copied, so the caller can
 * still unpause its vCPU, but no other field can be trusted).
 */
int vsp_xring_take(struct vsp_xring *r, vm_event_request_t *req);

/*
 * Queues one response.  Responses need not follow the order of requests:
 * Xen matches them by vcpu_id.  Returns 0, or -ENOSPC when every taken
 * request already has its response (a reply with no question would
 * overwrite a request Xen has not seen answered).  Sets rsp->version.
 */
int vsp_xring_answer(struct vsp_xring *r, vm_event_response_t *rsp);

/*
 * Queues a response no request asked for, on a fresh ring that is used
 * for nothing else and given up afterwards (its counts no longer agree):
 * how a monitor frees vCPUs a dead one's events paused (vmi/xen.c).
 * Publish them a ring's size at a time.  Sets rsp->version.
 */
void vsp_xring_answer_unasked(struct vsp_xring *r, vm_event_response_t *rsp);

/*
 * Publishes the queued responses.  Returns true when Xen asked to be
 * told (the caller then notifies the event channel; doing so anyway is
 * harmless).
 */
bool vsp_xring_push(struct vsp_xring *r);

/* Requests taken and not yet answered. */
unsigned vsp_xring_outstanding(const struct vsp_xring *r);

/*
 * True when requests wait.  Before saying no it sets req_event, so Xen
 * signals the next one (the final check io/ring.h describes).
 */
bool vsp_xring_pending(struct vsp_xring *r);
#endif /* VSP_XEN_PUBLIC */

#endif
