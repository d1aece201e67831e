/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pgwalk: the user page tables of one process, walked from BPF.
 * Shared by pgwalk.bpf.c and its loader (userspace/mlbpf/pgwalk.c).
 * Definitions of every field: docs/bpf.md (the module's pid/PID/pagetable
 * and pid/PID/vmas keys, docs/debugfs.md).
 */
#ifndef MEMLENS_BPF_PGWALK_H
#define MEMLENS_BPF_PGWALK_H

#define PGWALK_NAME_LEN 256

/* The pagetable summary of the whole user address space. */
struct pgwalk_summary {
	__u64 tables_pgd;
	__u64 tables_p4d; /* 0 with 4-level paging (folded) */
	__u64 tables_pud;
	__u64 tables_pmd;
	__u64 tables_pte;
	__u64 tables_pte_deposited; /* PTE tables behind anonymous huge PMDs */
	__u64 leaf_4k;              /* present PTEs (pte_present(): P or PROTNONE) */
	__u64 leaf_2m;              /* present huge PMDs */
	__u64 leaf_1g;              /* present huge PUDs */
	__u64 resident_bytes;       /* present leaves mapping normal pages
				 * (no special PTEs, no hugetlb), as smaps Rss */
	__u64 anon_thp_bytes;       /* huge PMDs in anonymous VMAs */
	__u64 hugetlb_bytes;        /* huge PMDs and PUDs in hugetlb VMAs */
	__u64 swap_entries;         /* non-present entries of a real swap type */
	__u64 migration_entries;
	__u64 other_nonpresent; /* any other non-zero non-present entry */
	__u64 present_dirty;    /* present leaves with _PAGE_DIRTY */
	__u64 present_young;    /* ... _PAGE_ACCESSED */
	__u64 present_writable; /* ... _PAGE_RW */
	__u64 vmas;
	__u64 read_errors; /* table pages that could not be read */
};

enum pgwalk_kind {
	PGWALK_ANON,
	PGWALK_FILE,
	PGWALK_SHMEM,
	PGWALK_STACK,
	PGWALK_HEAP,
	PGWALK_VDSO,
	PGWALK_VVAR,
	PGWALK_OTHER,
};

/* One record per VMA, written by the task_vma iterator. */
struct pgwalk_vma {
	__u64 start;
	__u64 end;
	__u64 flags;          /* vm_flags */
	__u64 resident_pages; /* 4 KiB units, as smaps Rss counts them */
	__u64 thp_pages;      /* 4 KiB units in anonymous huge PMDs */
	__u64 swap_pages;
	__u64 pte_tables; /* PTE tables the VMA's range uses */
	__u32 kind;       /* enum pgwalk_kind */
	__u32 pad;
	char name[PGWALK_NAME_LEN];
};

/* The BPF walk's position (in .bss; the loader never touches it). */
struct pgwalk_state {
	__u64 addr;
	__u64 end;
	__u64 table_pa[5]; /* physical address of the table in table[l] */
	__u32 level;
	__u32 anon;    /* vma_is_anonymous(): huge PMDs are THP */
	__u32 hugetlb; /* smaps does not count hugetlb in Rss */
	__u32 done;
};

#endif /* MEMLENS_BPF_PGWALK_H */
