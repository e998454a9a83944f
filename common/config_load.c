/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include "common/config_load.h"

static void config_load_print(void *userdata, const char *message)
{
	if (userdata)
		fprintf(userdata, "%s\n", message);
}

/* Whole file into a fresh buffer; reads until EOF rather than trusting
 * st_size, so pipes and /proc-like files work too. */
static int config_load_read(FILE *f, char **buf, size_t *len)
{
	size_t cap = 0, n = 0;
	char *b = NULL;

	for (;;) {
		size_t got;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb;

			/* one byte over the cap tells "too big" from "exactly full" */
			if (ncap > CONFIG_LOAD_MAX + 1)
				ncap = CONFIG_LOAD_MAX + 1;
			if (ncap == cap) {
				free(b);
				return -EFBIG;
			}
			nb = realloc(b, ncap);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap = ncap;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				int r = errno ? -errno : -EIO;

				free(b);
				return r;
			}
			break;
		}
	}
	if (n > CONFIG_LOAD_MAX) {
		free(b);
		return -EFBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

int config_load_snapshot(const char *path, FILE *errf, struct gh_config **out, int *snapshot)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	*out = NULL;
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		if (errf)
			fprintf(errf, "%s: %s\n", path, strerror(-r));
		return r;
	}
	errno = 0;
	r = config_load_read(f, &buf, &len);
	fclose(f);
	if (r < 0) {
		if (errf && r == -EFBIG)
			fprintf(errf, "%s: file too big (more than %u MiB)\n", path,
				CONFIG_LOAD_MAX >> 20);
		else if (errf)
			fprintf(errf, "%s: %s\n", path, strerror(-r));
		return r;
	}
	r = config_parse(path, buf, len, config_load_print, errf, out);
	if (r == 0 && snapshot) {
		/* the text just checked, frozen: later edits of the file
		 * cannot reach processes started from this snapshot */
		int fd = memfd_create("gatehouse.conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || write(fd, buf, len) != (ssize_t)len ||
		    fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
			r = -errno;
			if (fd >= 0)
				close(fd);
			config_free(*out);
			*out = NULL;
			if (errf)
				fprintf(errf, "%s: snapshot: %s\n", path, strerror(-r));
		} else {
			*snapshot = fd;
		}
	}
	free(buf);
	if (r == -ENOMEM && errf)
		fprintf(errf, "%s: %s\n", path, strerror(ENOMEM));
	return r;
}

int config_load_file(const char *path, FILE *errf, struct gh_config **out)
{
	return config_load_snapshot(path, errf, out, NULL);
}
