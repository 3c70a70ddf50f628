/*
 * Waiting on descriptors that belong to someone else (weft_wait_readable,
 * weft_wait_writable, weft_notify_closing; watch.c).
 *
 * While tasks wait on a descriptor, one record in a process-wide table
 * watches it: one uv_poll_t on one loop, that of its owner worker (the
 * worker of the first task that waited), and a slot per direction for the
 * task waiting.  A task waiting in the other direction moves to that owner,
 * so a descriptor is never in two loops' epoll sets at once.  The record
 * goes when the last waiter leaves: its poll handle is closed (removing the
 * descriptor from the loop's epoll set at once, under the table's lock)
 * before a new wait on the same descriptor can make another.
 */
#ifndef WEFT_IO_WATCH_H
#define WEFT_IO_WATCH_H

/* The index of the worker whose loop watches fd for a waiting task, or -1
 * when nothing watches it (for tests). */
int wf_watch_owner(int fd);

#endif
