// SPDX-License-Identifier: Apache-2.0
#include "selector.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

static const char *const env_reasons[] = { "open-port", "pid", "exe", "pid-namespace" };

/* The environment's selectors that are set, in env_reasons order, into idx[]. */
static size_t env_entries(const struct obi_config *cfg, int idx[4])
{
	size_t n = 0;

	if (cfg->open_ports.count)
		idx[n++] = 0;
	if (cfg->n_target_pids)
		idx[n++] = 1;
	if (cfg->exe_glob[0])
		idx[n++] = 2;
	if (cfg->n_pidns)
		idx[n++] = 3;
	return n;
}

size_t selector_count(const struct obi_config *cfg, enum selector_which which)
{
	int idx[4];

	if (which == SELECTOR_EXCLUDE)
		return cfg->exclude.n + cfg->default_exclude.n;
	return cfg->instrument.n + env_entries(cfg, idx);
}

static void view_of(const struct selector *s, struct selector_view *v)
{
	v->ports = s->ports.count ? &s->ports : NULL;
	v->pids = s->pids;
	v->n_pids = s->n_pids;
	v->pidns = s->pidns;
	v->n_pidns = s->n_pidns;
	v->exe = s->exe[0] ? s->exe : NULL;
	v->containers_only = s->containers_only;
	v->name = s->name[0] ? s->name : NULL;
}

static void env_view(const struct obi_config *cfg, int which, struct selector_view *v)
{
	switch (which) {
	case 0:
		v->ports = &cfg->open_ports;
		break;
	case 1:
		v->pids = cfg->target_pids;
		v->n_pids = cfg->n_target_pids;
		break;
	case 2:
		v->exe = cfg->exe_glob;
		break;
	default:
		v->pidns = cfg->pidns;
		v->n_pidns = cfg->n_pidns;
		break;
	}
	snprintf(v->reason, sizeof(v->reason), "%s", env_reasons[which]);
}

void selector_get(const struct obi_config *cfg, enum selector_which which, size_t i,
		  struct selector_view *v)
{
	int idx[4];

	memset(v, 0, sizeof(*v));
	if (which == SELECTOR_EXCLUDE) {
		const struct selector_list *l = &cfg->exclude;
		const char *name = "exclude_instrument";

		if (i >= l->n) {
			i -= l->n;
			l = &cfg->default_exclude;
			name = "default_exclude_instrument";
		}
		view_of(&l->entry[i], v);
		snprintf(v->reason, sizeof(v->reason), "%s[%zu]", name, i);
		return;
	}
	if (i < cfg->instrument.n) {
		view_of(&cfg->instrument.entry[i], v);
		snprintf(v->reason, sizeof(v->reason), "instrument[%zu]", i);
		return;
	}
	env_entries(cfg, idx);
	env_view(cfg, idx[i - cfg->instrument.n], v);
}

/* Index of the '}' closing the '{' at pat[0], or 0 when there is none. */
static size_t brace_end(const char *pat)
{
	int depth = 0;

	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] == '{')
			depth++;
		else if (pat[i] == '}' && !--depth)
			return i;
	}
	return 0;
}

static bool glob_at(const char *pat, const char *s, int depth)
{
	const char *open = strchr(pat, '{');
	size_t close, start, i;
	char buf[CONFIG_ENTRY_EXE * 4 + 16];

	if (!open || depth > 8 || !(close = brace_end(open)))
		return fnmatch(pat, s, 0) == 0;
	/* each top-level alternative in its place, the rest of the pattern after it */
	for (start = 1, i = 1; i <= close; i++) {
		int nest = 0;

		for (; i < close && (open[i] != ',' || nest); i++)
			nest += open[i] == '{' ? 1 : open[i] == '}' ? -1 : 0;
		if ((size_t)snprintf(buf, sizeof(buf), "%.*s%.*s%s", (int)(open - pat), pat,
				     (int)(i - start), open + start, open + close + 1) < sizeof(buf) &&
		    glob_at(buf, s, depth + 1))
			return true;
		start = i + 1;
	}
	return false;
}

bool selector_glob(const char *pattern, const char *s)
{
	return glob_at(pattern, s, 0);
}

static bool has_port(const struct port_set *ps, const struct proc_facts *f)
{
	for (size_t i = 0; i < f->n_ports; i++)
		if (port_set_has(ps, f->ports[i]))
			return true;
	return false;
}

static bool has_u32(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static bool has_u64(const uint64_t *v, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

bool selector_matches(const struct selector_view *v, const struct proc_facts *f)
{
	bool any = false;

	if (v->ports) {
		if (!has_port(v->ports, f))
			return false;
		any = true;
	}
	if (v->n_pids) {
		if (!has_u32(v->pids, v->n_pids, f->pid))
			return false;
		any = true;
	}
	if (v->n_pidns) {
		if (!f->pidns || !has_u64(v->pidns, v->n_pidns, f->pidns))
			return false;
		any = true;
	}
	if (v->exe) {
		if (!f->exe || !selector_glob(v->exe, f->exe))
			return false;
		any = true;
	}
	if (v->containers_only) {
		if (!f->in_container)
			return false;
		any = true;
	}
	return any;		/* an entry without criteria matches nothing */
}

bool selector_excluded(const struct obi_config *cfg, const struct proc_facts *f,
		       struct selector_view *by)
{
	size_t n = selector_count(cfg, SELECTOR_EXCLUDE);

	for (size_t i = 0; i < n; i++) {
		selector_get(cfg, SELECTOR_EXCLUDE, i, by);
		if (selector_matches(by, f))
			return true;
	}
	return false;
}

enum selector_verdict selector_decide(const struct obi_config *cfg, const struct proc_facts *f,
				      struct selector_view *by)
{
	size_t n = selector_count(cfg, SELECTOR_INSTRUMENT), i;
	struct selector_view excl;

	for (i = 0; i < n; i++) {
		selector_get(cfg, SELECTOR_INSTRUMENT, i, by);
		if (selector_matches(by, f))
			break;
	}
	if (i == n)
		return SELECTOR_NONE;
	if (selector_excluded(cfg, f, &excl)) {
		*by = excl;
		return SELECTOR_EXCLUDED;
	}
	return SELECTOR_SELECTED;
}

static void port_set_union(struct port_set *dst, const struct port_set *src)
{
	dst->count = 0;
	for (size_t w = 0; w < sizeof(dst->bits) / sizeof(dst->bits[0]); w++) {
		dst->bits[w] |= src->bits[w];
		dst->count += __builtin_popcountll(dst->bits[w]);
	}
}

void selector_kernel_plan(const struct obi_config *cfg, struct selector_kernel *k)
{
	size_t n = selector_count(cfg, SELECTOR_INSTRUMENT);
	struct selector_view v;

	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < n; i++) {
		bool other;

		selector_get(cfg, SELECTOR_INSTRUMENT, i, &v);
		other = v.n_pids || v.exe || v.containers_only;
		if (v.ports && !other && !v.n_pidns)
			port_set_union(&k->select_ports, v.ports);
		else if (v.ports)
			port_set_union(&k->watch_ports, v.ports);
		if (v.n_pidns && !other && !v.ports)
			for (size_t j = 0; j < v.n_pidns && k->n_pidns < CONFIG_MAX_PIDNS; j++)
				if (!has_u64(k->pidns, k->n_pidns, v.pidns[j]))
					k->pidns[k->n_pidns++] = v.pidns[j];
		if (v.exe || v.containers_only)
			k->want_exec = true;
	}
	/* a port some entry selects on its own needs no watching */
	k->watch_ports.count = 0;
	for (size_t w = 0; w < sizeof(k->watch_ports.bits) / sizeof(k->watch_ports.bits[0]); w++) {
		k->watch_ports.bits[w] &= ~k->select_ports.bits[w];
		k->watch_ports.count += __builtin_popcountll(k->watch_ports.bits[w]);
	}
}

void selector_needs(const struct obi_config *cfg, struct selector_needs *nd)
{
	struct selector_view v;

	memset(nd, 0, sizeof(*nd));
	for (int which = SELECTOR_INSTRUMENT; which <= SELECTOR_EXCLUDE; which++) {
		size_t n = selector_count(cfg, which);

		for (size_t i = 0; i < n; i++) {
			selector_get(cfg, which, i, &v);
			nd->exe |= v.exe != NULL;
			nd->pidns |= v.n_pidns > 0;
			nd->container |= v.containers_only;
			if (v.ports) {
				nd->ports = true;
				port_set_union(&nd->ports_of_interest, v.ports);
			}
		}
	}
}
