// SPDX-License-Identifier: GPL-2.0
// reqtrace's kernel side (x86_64): the sys_exit raw tracepoint for the thread groups user
// space follows; forks, execs and exits followed in the kernel; at each traced call's exit
// one record on a ring buffer: the raw call with its arguments (still in the saved
// registers), its path strings (read at exit: at entry the page may not be resident yet)
// and the first bytes of a read or write buffer. No program on sys_enter: every syscall of
// every task on the machine would run it. Nothing here stops a task; a full ring buffer
// drops and counts.
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define MAX_NR 512
#define PATH_LEN 512
#define DATA_LEN 1024
// calls[nr] bits: which syscalls are traced, which args are strings, how bytes move.
#define C_TRACED 1u
#define C_PATH_SHIFT 1 /* 6 bits: args holding a path or string */
#define C_IO_BUF (1u << 8) /* (fd, buf, count): read, write, recvfrom, sendto */
#define C_IO_IOV (1u << 9) /* (fd, iov, iovcnt): readv, writev */
/* execve, execveat: after a successful exec the memory that held the path is gone, so its
   path comes from sched_process_exec. */
#define C_EXEC (1u << 11)
/* An output string of `ret` bytes the call filled (readlink's target, getcwd's directory):
   C_OUT_STR, and the argument holding the buffer in the 3 bits from C_OUT_SHIFT. */
#define C_OUT_SHIFT 12
#define C_OUT_STR (1u << 15)

struct path_buf {
	char s[512];
};

#define K_SYSCALL 1
#define K_FORK 2
#define K_EXIT 3
#define K_EXEC 4
#define K_COMPAT 5

struct rec {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__u32 aux; /* fork: child tid; exec: former tid */
	__u64 ts; /* CLOCK_MONOTONIC ns */
	__u64 nr;
	__s64 ret;
	__u64 args[6];
	__u64 iov[2]; /* readv/writev: the first iovec */
	__u16 len[3]; /* path 1, path 2, data; 0xffff: unreadable */
	__u8 idx[2]; /* which args the paths are */
	char buf[PATH_LEN * 2 + DATA_LEN * 2];
};

#define HDR_LEN (sizeof(struct rec) - PATH_LEN * 2 - DATA_LEN * 2)

/* A fork, exit or exec: the first fields of a rec. */
struct note {
	__u32 kind;
	__u32 tgid;
	__u32 tid;
	__u32 aux;
	__u64 ts;
};

static __always_inline void note(__u32 kind, __u64 id, __u32 aux);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_NR);
	__type(key, __u32);
	__type(value, __u32);
} calls SEC(".maps");

/* 0: offset of child_pid in sched_process_fork; 1: of group_dead in sched_process_exit
   (0: absent); 2: of old_pid in sched_process_exec; 3: follow forks; 4: of thread_info's
   status in task_struct (0: unknown, no compat check); 5: of filename (a __data_loc) in
   sched_process_exec. Tracepoint layouts vary between kernels: user space reads them from tracefs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} follow SEC(".maps");

/* The path a successful execve ran, from sched_process_exec, by tid, until its exit. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct path_buf);
} exec_paths SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dropped SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rec);
} scratch SEC(".maps");

static __always_inline void drop(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&dropped, &zero);
	if (n)
		*n += 1;
}

/* Whether the current syscall came in through the 32-bit ABI (a 32-bit program, or int
   0x80): its number is from another table. x86's thread_info (first in task_struct) has
   `status` at config[4]; TS_COMPAT is set on a 32-bit entry and cleared on return to user
   space. */
#define TS_COMPAT 0x0002
static __always_inline __u32 config_at(__u32 key);
static __always_inline int compat_call(void)
{
	__u32 off = config_at(4);
	__u32 status = 0;
	if (off == 0 || off > 64)
		return 0;
	bpf_probe_read_kernel(&status, sizeof(status), (char *)bpf_get_current_task() + off);
	return (status & TS_COMPAT) != 0;
}


static __always_inline int followed(__u32 tgid)
{
	return bpf_map_lookup_elem(&follow, &tgid) != 0;
}

static __always_inline void output(struct rec *r, __u64 len)
{
	// BPF_RB_NO_WAKEUP: user space polls every 20 ms; a wake-up per record tripled the cost.
	if (len > sizeof(struct rec))
		len = sizeof(struct rec);
	if (bpf_ringbuf_output(&events, r, len, BPF_RB_NO_WAKEUP))
		drop();
}

/* The raw tracepoint's arguments: sys_exit(struct pt_regs *regs, long ret). A raw
   tracepoint rather than the raw_syscalls tracepoint event: every syscall of every task on
   the machine runs this program, and a tracepoint event first fills a perf record for each;
   a raw tracepoint calls the program with the two values, and the followed check returns
   before anything is copied. */
struct raw_args {
	__u64 regs;
	__s64 value;
};

/* x86_64's struct pt_regs, in the kernel's order (the same as user_regs_struct's): the
   syscall arguments are di, si, dx, r10, r8, r9; the number is orig_ax. The kernel returns
   in ax and leaves the others as the call found them, so a call's arguments are still
   there at its exit (exec excepted: then they are the new program's, sp its stack). */
#define REGS_WORDS 20
#define R_R10 7
#define R_R9 8
#define R_R8 9
#define R_DX 12
#define R_SI 13
#define R_DI 14
#define R_ORIG_AX 15
#define R_SP 19

SEC("raw_tracepoint/sys_exit")
int sys_exit(struct raw_args *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	if (!followed(tgid))
		return 0;
	__u64 regs[REGS_WORDS];
	if (bpf_probe_read_kernel(regs, sizeof(regs), (const void *)ctx->regs))
		return 0;
	__u32 nr = (__u32)regs[R_ORIG_AX];
	/* A 32-bit call: its number is from another table. Not decoded: said, counted by user
	   space, never silently missing. */
	if (compat_call()) {
		note(K_COMPAT, id, nr);
		return 0;
	}
	if (nr >= MAX_NR)
		return 0;
	__u32 *c = bpf_map_lookup_elem(&calls, &nr);
	if (!c || !*c)
		return 0;
	/* A new thread's or child's return from clone/fork (56-58, clone3 435) carries its
	   parent's arguments: not a call of its own (ptrace never shows it either). */
	if (ctx->value == 0 && (nr == 56 || nr == 57 || nr == 58 || nr == 435))
		return 0;
	__u32 bits = *c;
	__u32 zero = 0;
	struct rec *r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	r->kind = K_SYSCALL;
	r->tgid = tgid;
	r->tid = tid;
	r->aux = 0;
	r->ts = bpf_ktime_get_ns();
	r->nr = nr;
	r->ret = ctx->value;
	r->args[0] = regs[R_DI];
	r->args[1] = regs[R_SI];
	r->args[2] = regs[R_DX];
	r->args[3] = regs[R_R10];
	r->args[4] = regs[R_R8];
	r->args[5] = regs[R_R9];
	struct path_buf *pb = 0;
	if (bits & C_EXEC) {
		pb = bpf_map_lookup_elem(&exec_paths, &tid);
		if (pb && r->ret != 0) {
			/* Left by an exec whose exit was missed: not this (failed) one's. */
			bpf_map_delete_elem(&exec_paths, &tid);
			pb = 0;
		}
		if (pb) {
			/* The new program's stack: argc, then argv and envp. Its arguments' old
			   addresses are gone: these stand for them, and the path (below) is tied to
			   the path argument by the placeholder address 1. */
			__u64 sp = regs[R_SP], argc = 0;
			bpf_probe_read_user(&argc, sizeof(argc), (const void *)sp);
			__u32 at = nr == 322 ? 1 : 0; /* execveat(dirfd, path, argv, envp, flags) */
			r->args[at] = 1;
			/* The new program's registers hold zeros there: sched_process_exec's path
			   is the kernel's, relative to the cwd. Its flags are gone. */
			if (at == 1)
				r->args[0] = (__u64)-100; /* AT_FDCWD */
			r->args[at + 1] = sp + 8;
			r->args[at + 2] = sp + 8 + 8 * ((argc & 0xffff) + 1);
			r->aux = 2; /* a successful exec: its path is the one it ran */
		}
	}
	r->iov[0] = 0;
	r->iov[1] = 0;
	r->len[0] = 0;
	r->len[1] = 0;
	r->len[2] = 0;
	r->idx[0] = 0xff;
	r->idx[1] = 0xff;
	__u64 used = 0;
	int slot = 0;
#pragma unroll
	for (int i = 0; i < 6; i++) {
		if (slot < 2 && (bits >> (C_PATH_SHIFT + i)) & 1) {
			const void *p = (const void *)r->args[i];
			long n = -1;
			if (pb) {
				if (slot == 0)
					n = bpf_probe_read_kernel_str(r->buf, PATH_LEN, pb->s);
				bpf_map_delete_elem(&exec_paths, &tid);
				pb = 0;
			} else if (p) {
				if (slot == 0)
					n = bpf_probe_read_user_str(r->buf, PATH_LEN, p);
				else
					n = bpf_probe_read_user_str(r->buf + PATH_LEN, PATH_LEN, p);
			}
			// n counts the NUL; PATH_LEN without one within: cut (user space says so).
			r->len[slot] = n > 0 ? (__u16)(n - 1) : 0xffff;
			r->idx[slot] = i;
			// Only what was read goes on the ring: most records are a short path.
			used = PATH_LEN * slot + (n > 0 && n <= PATH_LEN ? n : 0);
			slot++;
		}
	}
	long ret = r->ret;
	if ((bits & (C_IO_BUF | C_IO_IOV | C_OUT_STR)) && ret > 0) {
		__u64 base = r->args[1];
		__u64 avail = (__u64)ret;
		if (bits & C_OUT_STR) {
			__u32 at = (bits >> C_OUT_SHIFT) & 7;
			base = at < 6 ? r->args[at] : 0;
			/* Where the bytes came from, as a readv's first iovec says it. */
			r->iov[0] = base;
			r->iov[1] = avail;
		} else if (bits & C_IO_IOV) {
			__u64 iov[2] = {};
			if (bpf_probe_read_user(iov, sizeof(iov), (const void *)r->args[1]) == 0) {
				r->iov[0] = iov[0];
				r->iov[1] = iov[1];
				base = iov[0];
				if (iov[1] < avail)
					avail = iov[1];
			} else {
				base = 0;
			}
		}
		if (avail > DATA_LEN)
			avail = DATA_LEN;
		__u32 n = (__u32)avail & (DATA_LEN * 2 - 1);
		// Read and write calls carry no path: their bytes start the buffer. (Constant
		// offsets in both branches keep the verifier's bounds simple.)
		if (base && n > 0) {
			if (slot == 0) {
				if (bpf_probe_read_user(r->buf, n, (const void *)base) == 0) {
					r->len[2] = n;
					used = n;
				}
			} else if (bpf_probe_read_user(r->buf + PATH_LEN * 2, n,
						       (const void *)base) == 0) {
				r->len[2] = n;
				used = PATH_LEN * 2 + n;
			}
		}
	}
	output(r, HDR_LEN + used);
	return 0;
}

static __always_inline void note(__u32 kind, __u64 id, __u32 aux)
{
	struct note n = {};
	n.kind = kind;
	n.tgid = id >> 32;
	n.tid = (__u32)id;
	n.aux = aux;
	n.ts = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, &n, sizeof(n), BPF_RB_NO_WAKEUP))
		drop();
}

static __always_inline __u32 config_at(__u32 key)
{
	__u32 *v = bpf_map_lookup_elem(&config, &key);
	return v ? *v : 0;
}

SEC("tracepoint/sched/sched_process_fork")
int on_fork(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!followed(tgid) || !config_at(3)) /* 3: follow children (not --no-follow) */
		return 0;
	__u32 off = config_at(0);
	if (off == 0 || off > 64)
		return 0;
	__s32 child = 0;
	bpf_probe_read_kernel(&child, sizeof(child), (char *)ctx + off);
	// A thread's tid as a key is never looked up (keys are tgids) and goes at its exit.
	__u8 one = 1;
	__u32 key = (__u32)child;
	if (bpf_map_update_elem(&follow, &key, &one, BPF_ANY))
		drop();
	note(K_FORK, id, key);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	if (!followed(tgid))
		return 0;
	__u32 off = config_at(1);
	__u8 group_dead = tid == tgid;
	if (off > 0 && off <= 64)
		bpf_probe_read_kernel(&group_dead, 1, (char *)ctx + off);
	bpf_map_delete_elem(&exec_paths, &tid);
	if (tid != tgid)
		bpf_map_delete_elem(&follow, &tid);
	if (group_dead)
		bpf_map_delete_elem(&follow, &tgid);
	note(K_EXIT, id, group_dead);
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	if (!followed(tgid))
		return 0;
	__s32 old = 0;
	__u32 off = config_at(2);
	if (off > 0 && off <= 64)
		bpf_probe_read_kernel(&old, sizeof(old), (char *)ctx + off);
	/* The path it ran, for the execve's exit record: a __data_loc (offset in the low 16
	   bits, from the record's start). */
	__u32 at = config_at(5), loc = 0;
	__u32 zero = 0;
	struct path_buf *pb = bpf_map_lookup_elem(&path_scratch, &zero);
	if (pb && at > 0 && at <= 64 &&
	    bpf_probe_read_kernel(&loc, sizeof(loc), (char *)ctx + at) == 0 &&
	    bpf_probe_read_kernel_str(pb->s, sizeof(pb->s), (char *)ctx + (loc & 0xffff)) > 0) {
		__u32 tid = (__u32)id;
		bpf_map_update_elem(&exec_paths, &tid, pb, BPF_ANY);
	}
	note(K_EXEC, id, (__u32)old);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
