/* SPDX-License-Identifier: MIT */
#include "health/tally.h"

void tally_init(struct tally *t)
{
	t->state = HEALTH_UNKNOWN;
	t->run = 0;
}

enum tally_change tally_add(struct tally *t, bool ok, uint8_t rise, uint8_t fall)
{
	if (t->state == HEALTH_DOWN) {
		if (!ok) {
			t->run = 0;
			return TALLY_SAME;
		}
		if (++t->run < rise)
			return TALLY_SAME;
		t->state = HEALTH_UP;
		t->run = 0;
		return TALLY_UP;
	}
	/* up, or not known yet (counted as up by the readers) */
	if (ok) {
		t->run = 0;
		if (t->state == HEALTH_UP)
			return TALLY_SAME;
		t->state = HEALTH_UP;	/* first answer: known up, no change to log */
		return TALLY_SAME;
	}
	if (++t->run < fall)
		return TALLY_SAME;
	t->state = HEALTH_DOWN;
	t->run = 0;
	return TALLY_DOWN;
}
