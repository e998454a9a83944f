/* SPDX-License-Identifier: MIT */
/*
 * costs: the machine's unit prices, to read the other rows with.
 *   null system call (getppid via syscall(2)), 1e6 times;
 *   a wake-up: 1-byte ping-pong over two pipes between two processes,
 *   20000 round trips (each: 2 writes, 2 reads, 2 sleeps and wake-ups).
 * Prints: syscall_ns=N wakeup_roundtrip_us=N
 */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "common.h"

int main(void)
{
	const int n = 1000000, rt = 20000;
	double t0 = now_s();
	for (int i = 0; i < n; i++)
		syscall(SYS_getppid);
	double sys_ns = (now_s() - t0) / n * 1e9;

	int a[2], b[2];
	if (pipe(a) < 0 || pipe(b) < 0)
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		alarm(30);
		for (int i = 0; i < rt; i++)
			if (read(a[0], &c, 1) != 1 || write(b[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	char c = 'x';
	t0 = now_s();
	for (int i = 0; i < rt; i++)
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			die("ping-pong");
	double rt_us = (now_s() - t0) / rt * 1e6;
	waitpid(pid, NULL, 0);
	printf("syscall_ns=%.0f wakeup_roundtrip_us=%.1f\n", sys_ns, rt_us);
	return 0;
}
