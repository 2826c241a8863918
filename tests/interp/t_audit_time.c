/*
 * t_audit_time.c: the audit records' RFC 3339 "time".
 *
 * vsp_rfc3339 converts by arithmetic (no gmtime_r, whose time-zone lock
 * the decision path must not take); this checks it against glibc's
 * gmtime_r and strftime at the calendar's edges (leap days, century and
 * 400-year years, ends of months and years) and at a spread of instants
 * up to 2500, and checks that one decision's records share one time read
 * from the real clock.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/audit.h"
#include "tests/tap.h"

static int agree(uint64_t ns)
{
	char got[VSP_RFC3339_LEN + 1], want[64];
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;

	size_t n = vsp_rfc3339(ns, got);
	gmtime_r(&t, &tm);
	size_t w = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want + w, sizeof(want) - w, ".%09luZ",
		 (unsigned long)(ns % 1000000000u));
	if (n != VSP_RFC3339_LEN || strlen(got) != n || strcmp(got, want)) {
		diag("ns %llu: got '%s', want '%s'", (unsigned long long)ns, got,
		     want);
		return 0;
	}
	return 1;
}

static uint64_t at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			 .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (uint64_t)timegm(&tm) * 1000000000u;
}

int main(void)
{
	static const int edge[][6] = {
		{ 1970, 1, 1, 0, 0, 0 }, { 1972, 2, 29, 12, 0, 0 },
		{ 1999, 12, 31, 23, 59, 59 }, { 2000, 2, 29, 0, 0, 0 },
		{ 2000, 3, 1, 0, 0, 0 }, { 2000, 12, 31, 23, 59, 59 },
		{ 2024, 2, 29, 23, 59, 59 }, { 2026, 12, 1, 20, 26, 2 },
		{ 2038, 1, 19, 3, 14, 8 }, { 2100, 2, 28, 23, 59, 59 },
		{ 2100, 3, 1, 0, 0, 0 }, { 2400, 2, 29, 6, 7, 8 },
		{ 2499, 12, 31, 23, 59, 59 },
	};
	int bad = 0;

	ok(agree(0), "the epoch");
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		uint64_t ns = at(edge[i][0], edge[i][1], edge[i][2], edge[i][3],
				 edge[i][4], edge[i][5]);
		ok(agree(ns) && agree(ns + 999999999u) && agree(ns + 1),
		   "%04d-%02d-%02d %02d:%02d:%02d and its last nanosecond",
		   edge[i][0], edge[i][1], edge[i][2], edge[i][3], edge[i][4],
		   edge[i][5]);
	}
	/* Every day from 1970 to 2500, at a moving time of day. */
	uint64_t end = at(2500, 1, 1, 0, 0, 0);
	for (uint64_t ns = 0, k = 0; ns < end; ns += 86400ull * 1000000000u, k++)
		bad += !agree(ns + (k * 7919u % 86400u) * 1000000000u +
			      k * 104729u % 1000000000u);
	ok(bad == 0, "every day from 1970 to 2500 agrees with gmtime_r (%d off)",
	   bad);

	/* The clock is real and near now; the format parses back. */
	char now[VSP_RFC3339_LEN + 1];
	uint64_t w = vsp_wall_ns();
	vsp_rfc3339(w, now);
	time_t t = time(NULL);
	ok((int64_t)(w / 1000000000u) - (int64_t)t <= 1 &&
	   (int64_t)t - (int64_t)(w / 1000000000u) <= 1,
	   "vsp_wall_ns is the wall clock (%s)", now);
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *rest = strptime(now, "%Y-%m-%dT%H:%M:%S", &tm);
	ok(rest && rest[0] == '.' && strlen(rest) == 11 && rest[10] == 'Z' &&
	   timegm(&tm) == (time_t)(w / 1000000000u),
	   "strptime reads it back to the same second");
	return done();
}
