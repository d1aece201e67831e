// SPDX-License-Identifier: GPL-2.0
/*
 * The options every inspector command accepts after its name:
 * --backend auto|module|bpf|proc, --json, --prometheus, -v.  Commands add
 * ml_common_argp as a child of their own argp and pass a struct
 * ml_common_opts as the child's input.
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

static const struct argp_option common_options[] = {
	{ "backend", OPT_BACKEND, "NAME", 0, "auto (default), module, bpf or proc", 0 },
	{ "json", OPT_JSON, NULL, 0, "print JSON (schema memlens/1, docs/inspector.md)", 0 },
	{ "prometheus", OPT_PROM, NULL, 0,
	  "print Prometheus text exposition (node_exporter textfile)", 0 },
	{ "verbose", 'v', NULL, 0,
	  "show libbpf's messages, and the verifier's log when a BPF load fails", 0 },
	{ 0 }
};

static error_t parse_common(int key, char *arg, struct argp_state *state)
{
	struct ml_common_opts *o = state->input;

	switch (key) {
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
	case OPT_JSON:
	case OPT_PROM:
		if (o->format != ML_FMT_TEXT) {
			argp_error(state, "--json and --prometheus exclude each other");
			return EINVAL;
		}
		o->format = key == OPT_JSON ? ML_FMT_JSON : ML_FMT_PROM;
		return 0;
	default:
		return ARGP_ERR_UNKNOWN;
	}
}

const struct argp ml_common_argp = {
	.options = common_options,
	.parser = parse_common,
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
