// SPDX-License-Identifier: GPL-2.0
/*
 * The options every inspector command accepts after its name:
 * --backend auto|module|bpf|proc, --json, --prometheus, -v.  Commands add
 * ml_common_argp as a child of their own argp and pass a struct
 * ml_common_opts as the child's input.
 *
 * --json and --prometheus are one argp of their own, ml_format_argp (input:
 * an enum ml_format), that ml_common_argp, the counting commands'
 * ml_count_format_argp (cmd_bpf.c), pagetable, vmas and doctor share.
 */
#include <argp.h>
#include <errno.h>

#include "mlbpf.h"
#include "report.h"

enum {
	OPT_JSON = 0x2000,
	OPT_PROM,
	OPT_BACKEND
};

static const struct argp_option format_options[] = {
	{ "json", OPT_JSON, NULL, 0, "print JSON (schema memlens/1, docs/inspector.md)", 0 },
	{ "prometheus", OPT_PROM, NULL, 0,
	  "print Prometheus text exposition (node_exporter textfile)", 0 },
	{ 0 }
};

static error_t parse_format(int key, char *arg, struct argp_state *state)
{
	enum ml_format *fmt = state->input;

	switch (key) {
	case OPT_JSON:
	case OPT_PROM:
		if (*fmt != ML_FMT_TEXT) {
			argp_error(state, "--json and --prometheus exclude each other");
			return EINVAL;
		}
		*fmt = key == OPT_JSON ? ML_FMT_JSON : ML_FMT_PROM;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp ml_format_argp = {
	.options = format_options,
	.parser = parse_format,
};

static const struct argp_option common_options[] = {
	{ "backend", OPT_BACKEND, "NAME", 0, "auto (default), module, bpf or proc", 0 },
	{ "verbose", 'v', NULL, 0,
	  "show libbpf's messages, and the verifier's log when a BPF load fails", 0 },
	{ 0 }
};

static const struct argp_child common_children[] = { { &ml_format_argp, 0, NULL, 0 }, { 0 } };

static error_t parse_common(int key, char *arg, struct argp_state *state)
{
	struct ml_common_opts *o = state->input;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = &o->format;
		return 0;
	case OPT_BACKEND:
		if (ml_backend_parse(arg, &o->backend)) {
			argp_error(state, "unknown backend '%s' (auto, module, bpf, proc)", arg);
			return EINVAL;
		}
		return 0;
	case 'v':
		o->verbose = true;
		ml_bpf_set_verbose(true);
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp ml_common_argp = {
	.options = common_options,
	.parser = parse_common,
	.children = common_children,
};

error_t ml_parse_one_pid(struct argp_state *state, int key, char *arg, const char **pid)
{
	if (key == ARGP_KEY_ARG) {
		if (*pid) {
			argp_error(state, "one PID only");
			return EINVAL;
		}
		*pid = arg;
	} else if (key == ARGP_KEY_END && !*pid) {
		argp_error(state, "no PID given");
		return EINVAL;
	}
	return 0;
}
