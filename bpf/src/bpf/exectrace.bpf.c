// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * exectrace: exec, fork and exit of the processes of one container, as ring-buffer records
 * (struct et_event, exectrace.h).
 *
 * Scope is decided in the kernel, before anything is copied:
 *   - by cgroup v2: the current task's cgroup id equals `target_cgid`, or (with `subtree`)
 *     its ancestor at `target_level` does, which also catches sub-cgroups;
 *   - or, when `target_cgid` is 0, by the `tracked` hash map of tgids: seeded by the loader
 *     (and `seed_tgid`), grown on fork, shrunk on exit. This misses processes that join the
 *     container by setns (`runc exec`).
 *
 * Two sets of entry points share one body. `tp_btf/` (the default) needs BTF-typed
 * tracepoints (kernel 5.5+ with CONFIG_DEBUG_INFO_BTF). `raw_tp/` is the fallback for kernels
 * without BTF tracepoints (given an external BTF for CO-RE); the loader picks one set and
 * disables the other's autoload. Every pointer walk goes through BPF_CORE_READ, which the
 * raw_tp verifier requires and tp_btf accepts.
 *
 * Records are submitted with BPF_RB_NO_WAKEUP: user space polls on a timer, because a wakeup
 * per event costs more than the event. A record that does not fit counts in `stats[0]`.
 *
 * Deliberately not here: path resolution (bpf_d_path is not allowed in tp_btf, so `filename`
 * is the raw string given to execve), thread events (forks that create threads and exits of
 * non-leader threads are dropped: threads fold into their leader).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "exectrace.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Settings, fixed before load (the verifier sees them as constants). */
const volatile __u64 target_cgid = 0;
const volatile __u32 target_level = 0;
const volatile bool subtree = false;
const volatile __u32 seed_tgid = 0;
const volatile __u32 argv_max = 32768;
/* Read back by the loader to check that Rust and C agree on the record layout. */
const volatile __u32 et_event_size = sizeof(struct et_event);

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* tgids in scope when filtering by descent rather than by cgroup. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} tracked SEC(".maps");

/* [0] records dropped because the ring buffer was full, [1] records submitted. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/*
 * Where a record is assembled before bpf_ringbuf_output copies exactly its used length into
 * the ring. One slot per CPU (max_entries set to the CPU count at open); a per-CPU array
 * cannot hold values over 32 KiB. Tracepoint programs run with preemption disabled, so a
 * slot has one user at a time.
 */
struct scratch {
	char buf[sizeof(struct et_event) + ET_ARGV_CAP];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&stats, &which);

	if (n)
		*n += 1;
}

static __always_inline bool cgroup_in_scope(void)
{
	if (subtree)
		return bpf_get_current_ancestor_cgroup_id(target_level) == target_cgid;
	return bpf_get_current_cgroup_id() == target_cgid;
}

static __always_inline bool tgid_tracked(__u32 tgid)
{
	if (seed_tgid && tgid == seed_tgid)
		return true;
	return bpf_map_lookup_elem(&tracked, &tgid) != 0;
}

static __always_inline struct et_event *scratch_event(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);

	if (!s)
		return 0;
	__builtin_memset(s->buf, 0, sizeof(struct et_event));
	return (struct et_event *)s->buf;
}

/* Identity of `task` as seen from the host and from its own pid namespace. */
static __always_inline void fill_task(struct et_event *ev, struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	struct pid *tp = BPF_CORE_READ(leader, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	struct upid up = {};

	ev->pid = BPF_CORE_READ(task, pid);
	ev->tgid = BPF_CORE_READ(task, tgid);
	ev->ppid = BPF_CORE_READ(parent, tgid);
	ev->start_ns = BPF_CORE_READ(leader, start_time);
	ev->start_boot_ns = BPF_CORE_READ(leader, start_boottime);
	ev->parent_start_ns = BPF_CORE_READ(parent, group_leader, start_time);
	ev->uid = BPF_CORE_READ(task, cred, uid.val);
	ev->gid = BPF_CORE_READ(task, cred, gid.val);
	/* A variable index into numbers[] is rejected by the verifier: read it as memory. */
	bpf_core_read(&up, sizeof(up), &tp->numbers[level]);
	ev->ns_tgid = up.nr;
	ev->ns_pid = up.nr;
	ev->pidns_ino = BPF_CORE_READ(up.ns, ns.inum);
	BPF_CORE_READ_STR_INTO(&ev->comm, task, comm);
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->ktime_ns = bpf_ktime_get_ns();
}

static __always_inline void submit(struct et_event *ev, __u64 argv_len)
{
	__u64 size = sizeof(*ev) + argv_len;

	if (size > sizeof(struct scratch))
		size = sizeof(struct scratch);
	if (bpf_ringbuf_output(&events, ev, size, BPF_RB_NO_WAKEUP))
		count(0);
	else
		count(1);
}

static __always_inline int on_exec(struct task_struct *task, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct et_event *ev;
	struct mm_struct *mm;
	unsigned long start, end;
	__u64 len;
	long n;

	if (target_cgid ? !cgroup_in_scope() : !tgid_tracked(tgid))
		return 0;
	ev = scratch_event();
	if (!ev)
		return 0;
	ev->kind = ET_EXEC;
	fill_task(ev, task);
	n = bpf_probe_read_kernel_str(ev->filename, sizeof(ev->filename), BPF_CORE_READ(bprm, filename));
	if (n == sizeof(ev->filename))
		ev->flags |= ET_F_FILENAME_TRUNCATED;

	mm = BPF_CORE_READ(task, mm);
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > argv_max) {
		len = argv_max;
		ev->flags |= ET_F_ARGV_TRUNCATED;
	}
	if (len > ET_ARGV_CAP) {
		len = ET_ARGV_CAP;
		ev->flags |= ET_F_ARGV_TRUNCATED;
	}
	if (len && bpf_probe_read_user(ev->argv, len, (void *)start)) {
		len = 0;
		ev->flags |= ET_F_ARGV_UNREADABLE;
	}
	ev->argv_len = len;
	submit(ev, len);
	return 0;
}

static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 pid = BPF_CORE_READ(child, pid);
	__u32 tgid = BPF_CORE_READ(child, tgid);
	struct et_event *ev;
	__u8 one = 1;

	if (pid != tgid)
		return 0; /* a new thread: folded into its leader */
	if (target_cgid) {
		if (!cgroup_in_scope())
			return 0;
	} else {
		if (!tgid_tracked(ptgid))
			return 0;
		bpf_map_update_elem(&tracked, &tgid, &one, BPF_ANY);
	}
	ev = scratch_event();
	if (!ev)
		return 0;
	ev->kind = ET_FORK;
	fill_task(ev, child);
	/* real_parent may differ (CLONE_PARENT): the edge is to the process that forked. */
	ev->ppid = ptgid;
	ev->parent_start_ns = BPF_CORE_READ(parent, group_leader, start_time);
	submit(ev, 0);
	return 0;
}

static __always_inline int on_exit(struct task_struct *task)
{
	__u32 pid = BPF_CORE_READ(task, pid);
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct et_event *ev;

	if (pid != tgid)
		return 0; /* a thread: its leader's exit stands for the process */
	if (target_cgid ? !cgroup_in_scope() : !tgid_tracked(tgid))
		return 0;
	if (!target_cgid)
		bpf_map_delete_elem(&tracked, &tgid);
	ev = scratch_event();
	if (!ev)
		return 0;
	ev->kind = ET_EXIT;
	fill_task(ev, task);
	ev->exit_code = BPF_CORE_READ(task, exit_code);
	submit(ev, 0);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(btf_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(p, bprm);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(btf_fork, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(btf_exit, struct task_struct *p)
{
	return on_exit(p);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(raw_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return on_exec(p, bprm);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(raw_fork, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(raw_exit, struct task_struct *p)
{
	return on_exit(p);
}
