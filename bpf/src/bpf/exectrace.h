/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event record shared by exectrace.bpf.c (which writes it into the ring buffer) and the
 * Rust loader (which reads it back: `bpf/src/event.rs` mirrors this layout and checks its
 * size). Fixed-size header, then `argv_len` bytes of argv: the words NUL-separated exactly as
 * the kernel keeps them between mm->arg_start and mm->arg_end (empty words stay empty).
 */
#ifndef ENTRYTRACE_EXECTRACE_H
#define ENTRYTRACE_EXECTRACE_H

#define ET_COMM_LEN 16
#define ET_FILENAME_LEN 256
/* Hard cap on the argv bytes one record may carry; `argv_max` (set at load) is at most this. */
#define ET_ARGV_CAP (128 * 1024)

enum et_kind {
	ET_EXEC = 1,
	ET_FORK = 2,
	ET_EXIT = 3,
};

/* flags */
#define ET_F_ARGV_TRUNCATED (1u << 0)
#define ET_F_FILENAME_TRUNCATED (1u << 1)
#define ET_F_ARGV_UNREADABLE (1u << 2)

struct et_event {
	__u32 kind;        /* enum et_kind */
	__u32 flags;       /* ET_F_* */
	__u32 pid;         /* host thread id */
	__u32 tgid;        /* host thread-group id (the process) */
	__u32 ppid;        /* host tgid of the parent (fork: the forking process) */
	__u32 ns_pid;      /* pid in the task's own pid namespace */
	__u32 ns_tgid;     /* tgid in the task's own pid namespace (NStgid) */
	__u32 pidns_ino;   /* inode of that pid namespace */
	__u32 uid;
	__u32 gid;
	__u32 exit_code;   /* raw wait status (exit 5 -> 0x500), ET_EXIT only */
	__u32 argv_len;    /* bytes of argv that follow the header */
	__u64 start_ns;        /* task->start_time of the process (its leader), CLOCK_MONOTONIC */
	__u64 start_boot_ns;   /* task->start_boottime, what /proc/PID/stat's starttime counts */
	__u64 parent_start_ns; /* start_time of the parent process */
	__u64 cgroup_id;       /* cgroup v2 id of the current task */
	__u64 ktime_ns;        /* bpf_ktime_get_ns() when the event fired */
	char comm[ET_COMM_LEN];
	char filename[ET_FILENAME_LEN]; /* the path given to execve, ET_EXEC only */
	char argv[];
};

#endif
