/* fd.h - descriptor plumbing shared by every place a process starts.
 *
 * pd_close_from is for the child between fork and exec: it is
 * async-signal-safe (close_range(2) where the kernel has it, else close()
 * up to the open-file limit) and never fails.
 */
#ifndef PD_FD_H
#define PD_FD_H

/* Closes every descriptor >= lowfd. */
void pd_close_from(int lowfd);

#endif
