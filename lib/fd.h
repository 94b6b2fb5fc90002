/* fd.h - descriptor plumbing shared by every place a process starts.
 *
 * pd_close_from is for the child between fork and exec: it is
 * async-signal-safe (close_range(2) where the kernel has it, else close()
 * up to the open-file limit) and never fails.
 */
#ifndef PD_FD_H
#define PD_FD_H

#include <stddef.h>

/* Closes every descriptor >= lowfd. */
void pd_close_from(int lowfd);

/* Writes p[0..len) to fd (blocking), again after EINTR and short writes.
 * 0, or -errno (-EIO for a write of 0 bytes) with part of it written. For
 * the short texts handed to a child's stdin pipe (a connection text). */
int pd_write_all(int fd, const void *p, size_t len);

#endif
